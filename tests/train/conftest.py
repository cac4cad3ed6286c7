"""Fixtures of the training tests (the helpers are in ``train_helpers.py``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from train_helpers import TINY_MODEL, write_synthetic


@pytest.fixture
def make_data(tmp_path: Path) -> Callable[..., Path]:
    """``make_data(name, n, **kw)``: a synthetic dataset in this test's folder."""
    return lambda name, n, **kw: write_synthetic(tmp_path / name, n, **kw)


@pytest.fixture
def tiny_config():
    models = pytest.importorskip("wirelessml.models.adafortitran")
    return models.AdaFortiTranConfig.cpu(**TINY_MODEL)


@pytest.fixture(autouse=True)
def one_thread():
    """One intra-op thread: tiny models gain nothing from two, and lose much when the
    other core is busy; it also makes in-process sums match a subprocess's."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
