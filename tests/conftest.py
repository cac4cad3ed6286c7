"""Shared fixtures: the devices to test on (CPU always, CUDA when present)."""

from __future__ import annotations

import pytest
import torch

DEVICES = ["cpu"] + (["cuda:0"] if torch.cuda.is_available() else [])


@pytest.fixture(params=DEVICES)
def device(request: pytest.FixtureRequest) -> str:
    return request.param
