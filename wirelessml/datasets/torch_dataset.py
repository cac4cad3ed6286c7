"""A ``torch.utils.data.Dataset`` over a wirelessml HDF5 file, safe with DataLoader workers."""

from __future__ import annotations

import copy
import math
import operator
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import torch
from torch.utils.data import Dataset

from wirelessml._typing import PathType
from wirelessml.datasets.reader import DatasetInfo, open_dataset_file, read_info, require_fields
from wirelessml.datasets.schema import FieldSpec
from wirelessml.errors import ConfigError, DatasetError

__all__ = ["H5Dataset", "split_ranges"]

Item = dict[str, Any]
"""One sample: field name → tensor (or ``str`` for a text field)."""


def split_ranges(n: int, fractions: Sequence[float]) -> list[range]:
    """Contiguous index ranges splitting ``0..n`` by fractions (train/val/test by index).

    Boundaries are ``round(n * cumulative_fraction)``; when the fractions sum to 1 the
    last range ends exactly at ``n``, so the ranges cover ``0..n`` with no overlap.

    Args:
        n: Number of samples.
        fractions: Non-negative fractions summing to at most 1.

    Examples:
        >>> split_ranges(10, (0.8, 0.1, 0.1))
        [range(0, 8), range(8, 9), range(9, 10)]
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ConfigError(f"split_ranges n={n!r} is not allowed: expected an int >= 0")
    fractions = tuple(fractions)
    total = math.fsum(fractions)
    if not fractions or any(not 0 <= f <= 1 for f in fractions) or total > 1 + 1e-9:
        raise ConfigError(
            f"split_ranges fractions={fractions!r} are not allowed: expected one or more "
            "fractions in [0, 1] summing to at most 1"
        )
    bounds = [0]
    for k in range(1, len(fractions) + 1):
        bounds.append(min(n, round(n * math.fsum(fractions[:k]))))
    if abs(total - 1) <= 1e-9:
        bounds[-1] = n
    return [range(a, b) for a, b in zip(bounds, bounds[1:], strict=False)]


class H5Dataset(Dataset):
    """Samples of a wirelessml dataset file as dicts of tensors, read lazily from HDF5.

    The file is validated at construction and opened on the first read in each process
    (reopened after a fork), so it works with ``DataLoader(num_workers=...)``.

    Args:
        path: Dataset file.
        fields: Fields to read (default: all).
        indices: Rows of the file this dataset exposes, in order (default: all committed rows).
        allow_incomplete: Read the committed rows of an unfinished file instead of refusing it.

    Shapes:
        ``item[name]``: ``field.shape``, complex64 for complex fields, float32 for floats
        (0-d for scalar fields), int64 for ints; a ``str`` for text (``"S<n>"``) fields.

    Examples:
        >>> ds = H5Dataset("ofdm.h5", fields=["h", "snr_db"])  # doctest: +SKIP
        >>> train, val = ds.split(0.9, 0.1)  # doctest: +SKIP
        >>> train[0]["h"].shape  # doctest: +SKIP
        torch.Size([2, 14, 72])
    """

    def __init__(
        self,
        path: PathType,
        fields: Sequence[str] | None = None,
        indices: range | Sequence[int] | None = None,
        allow_incomplete: bool = False,
    ) -> None:
        self._path = Path(path)
        info = read_info(self._path)
        if not info.complete and not allow_incomplete:
            raise DatasetError(
                f"{self._path} is incomplete ({info.num_committed} of {info.num_samples} samples "
                "committed); finish it with --resume, or pass allow_incomplete=True to read the "
                "committed rows"
            )
        names = list(info.fields) if fields is None else list(fields)
        require_fields(info, names)
        self._info = info
        self._specs = {name: info.fields[name] for name in names}
        self._indices = _checked_indices(self._path, indices, info.num_committed)
        self._file: h5py.File | None = None
        self._pid: int | None = None

    @property
    def info(self) -> DatasetInfo:
        """What the file said about itself at construction."""
        return self._info

    @property
    def fields(self) -> dict[str, FieldSpec]:
        """Specs of the fields each item holds."""
        return dict(self._specs)

    def __len__(self) -> int:
        return len(self._indices)

    def __getitem__(self, index: int) -> Item:
        row = int(self._indices[self._position(index)])
        file = self._handle()
        return {name: _to_torch(file[name][row], spec) for name, spec in self._specs.items()}

    def read_batch(self, indices: Sequence[int]) -> Item:
        """Read several items at once, as one contiguous slice when they are adjacent rows.

        Shapes:
            ``batch[name]``: ``[len(indices), *field.shape]``; a list of ``str`` for text.
        """
        rows = np.asarray([self._indices[self._position(i)] for i in indices], dtype=np.int64)
        if rows.size == 0:
            raise DatasetError("read_batch needs at least one index")
        unique, inverse = np.unique(rows, return_inverse=True)
        contiguous = unique[-1] - unique[0] + 1 == len(unique)
        selection = slice(int(unique[0]), int(unique[-1]) + 1) if contiguous else unique
        file = self._handle()
        return {
            name: _to_torch(file[name][selection][inverse], spec)
            for name, spec in self._specs.items()
        }

    def split(self, *fractions: float) -> list[H5Dataset]:
        """Split into contiguous parts by :func:`split_ranges` (e.g. ``split(0.8, 0.1, 0.1)``)."""
        parts = []
        for part in split_ranges(len(self), fractions):
            subset = copy.copy(self)
            subset._indices = self._indices[part.start : part.stop]
            subset._file, subset._pid = None, None
            parts.append(subset)
        return parts

    def close(self) -> None:
        """Close this process's file handle (it reopens on the next read)."""
        if self._file is not None and self._pid == os.getpid():
            self._file.close()
        self._file, self._pid = None, None

    def _position(self, index: int) -> int:
        position = operator.index(index)
        if position < 0:
            position += len(self)
        if not 0 <= position < len(self):
            raise IndexError(f"index {index} is out of range for {len(self)} samples")
        return position

    def _handle(self) -> h5py.File:
        # An HDF5 handle must not cross a fork: each worker process opens its own.
        if self._file is None or self._pid != os.getpid():
            self._file = open_dataset_file(self._path)
            self._pid = os.getpid()
        return self._file

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_file"], state["_pid"] = None, None
        return state

    def __repr__(self) -> str:
        return f"H5Dataset({str(self._path)!r}, len={len(self)}, fields={list(self._specs)})"


def _checked_indices(
    path: Path, indices: range | Sequence[int] | None, num_rows: int
) -> range | np.ndarray:
    """Validate user indices against the committed rows ``0..num_rows-1``."""
    if indices is None:
        return range(num_rows)
    if isinstance(indices, range):
        checked: range | np.ndarray = indices
        values = [indices[0], indices[-1]] if len(indices) else []
    else:
        checked = np.asarray(indices)
        if checked.ndim != 1 or (checked.size and checked.dtype.kind not in "iu"):
            raise DatasetError(f"indices for {path} must be a 1-d sequence of ints")
        checked = checked.astype(np.int64)
        values = checked.tolist()
    for value in values:
        if not 0 <= value < num_rows:
            raise DatasetError(
                f"index {value} is outside the valid range 0..{num_rows - 1} of {path} "
                f"({num_rows} committed samples)"
            )
    return checked


def _decode(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.rstrip(b"\0").decode("ascii", errors="replace")
    return [_decode(v) for v in value]


def _to_torch(value: Any, spec: FieldSpec) -> Any:
    """One item's (or batch's) HDF5 value as a tensor of the public dtype, or text."""
    array = np.asarray(value)
    if spec.is_text:
        return _decode(array.tolist())
    kind = array.dtype.kind
    dtype = np.complex64 if kind == "c" else np.float32 if kind == "f" else np.int64
    return torch.from_numpy(np.asarray(array, dtype=dtype))
