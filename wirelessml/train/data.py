"""Feeding a task's datasets to the training loop: checks, batches, the epoch order."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset

from wirelessml._typing import PathType
from wirelessml.datasets import DatasetInfo, H5Dataset, read_info, require_fields
from wirelessml.errors import DatasetError

__all__ = ["check_dataset", "check_finite", "epoch_loader", "open_dataset", "to_device"]


def check_dataset(task: Any, path: PathType) -> DatasetInfo:
    """Describe a dataset file after checking it is of the task's family with its fields.

    Raises:
        DatasetError: one line naming the file and what is wrong.
    """
    info = read_info(path)
    require_fields(info, task.fields, family=task.family)
    return info


def open_dataset(path: PathType, task: Any, *, limit: int | None = None) -> H5Dataset:
    """The task's fields of a dataset file (its first ``limit`` rows if given), checked."""
    info = check_dataset(task, path)
    rows = range(min(limit, info.num_committed)) if limit is not None else None
    return H5Dataset(path, fields=task.fields, indices=rows)


def to_device(batch: dict[str, Any], device: torch.device) -> dict[str, Any]:
    """Every tensor of a batch on ``device`` (other values as they are)."""
    return {k: v.to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v
            for k, v in batch.items()}  # fmt: skip


def check_finite(batch: dict[str, Any], rows: Sequence[int], path: Path) -> None:
    """Refuse a batch holding NaN/Inf, naming the field, the file and the sample."""
    for name, value in batch.items():
        if isinstance(value, torch.Tensor) and (value.is_floating_point() or value.is_complex()):
            bad = ~torch.isfinite(value).reshape(len(value), -1).all(dim=1)
            if bool(bad.any()):
                row = rows[int(bad.nonzero()[0, 0])]
                raise DatasetError(f"NaN/Inf in field {name!r} of {path} (sample {row}); "
                                   "regenerate the dataset or remove that sample")  # fmt: skip


class _BatchReader(Dataset):
    """Reads a whole batch of rows per item (one HDF5 read per field, not one per sample)."""

    def __init__(self, data: H5Dataset) -> None:
        self.data = data

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, rows: list[int]) -> tuple[list[int], dict[str, Any]]:
        return rows, self.data.read_batch(rows)


def epoch_loader(data: H5Dataset, *, seed: int, epoch: int, batch_size: int, skip: int,
                 num_workers: int = 0, pin_memory: bool = False) -> tuple[DataLoader, int]:  # fmt: skip
    """The batches of epoch ``epoch`` after the first ``skip``, and the epoch's batch count.

    The order is ``randperm`` under ``Generator().manual_seed(seed + epoch)``: a pure function
    of the epoch, so a resumed run skips exactly the batches already done. Each item is
    ``(rows, batch)``: the dataset positions and the named tensors.
    """
    generator = torch.Generator().manual_seed(seed + epoch)
    order = torch.randperm(len(data), generator=generator)
    batches = [order[i : i + batch_size].tolist() for i in range(0, len(data), batch_size)]
    # Its own generator: a DataLoader otherwise draws its worker seed from the global RNG
    # when iterated, one draw more in a resumed epoch than in an uninterrupted one.
    loader = DataLoader(_BatchReader(data), sampler=batches[skip:], batch_size=None,
                        num_workers=num_workers, pin_memory=pin_memory, generator=generator)  # fmt: skip
    return loader, len(batches)
