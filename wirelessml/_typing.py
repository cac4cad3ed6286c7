"""Semantic type aliases shared across the package."""

from __future__ import annotations

from os import PathLike
from typing import TypeAlias

import numpy as np
import torch

__all__ = ["ArrayDict", "PathType", "TensorDict"]

PathType: TypeAlias = str | PathLike[str]
"""A filesystem path."""

TensorDict: TypeAlias = dict[str, torch.Tensor]
"""Named tensors of one batch, sample axis first."""

ArrayDict: TypeAlias = dict[str, np.ndarray]
"""Named numpy arrays of one batch, sample axis first."""
