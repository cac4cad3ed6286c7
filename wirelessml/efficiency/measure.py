"""What a compression report measures: parameters, bytes, FLOPs, CPU latency, the task metric.

Definitions (written into every report):

- ``parameters``: elements of the model's parameters (float architecture; quantization
  changes their type, not their number).
- ``bytes_on_disk``: size of the run folder's ``model.safetensors``.
- ``flops_per_frame``: ``torch.utils.flop_counter.FlopCounterMode`` on one frame (batch 1)
  through the float architecture (a quantized model runs the same operations in int8).
- ``ms_per_frame``: median over ``repeats`` of (time of one call on a batch of
  ``batch`` frames / ``batch``), CPU, no autograd; the models are called alternately
  (original, compressed, original, ...) in the same process, so load on the machine hits
  both alike.
- ``nmse_db``/``mse_db``: the task's metrics (:mod:`wirelessml.tasks.channel_estimation`).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import torch
from torch import Tensor, nn

from wirelessml.datasets import read_arrays

__all__ = ["MEASURE_DEFINITIONS", "evaluate_metric", "flops_per_frame", "latency",
           "load_batches", "num_threads", "parameters"]  # fmt: skip

MEASURE_DEFINITIONS = {
    "parameters": "elements of the parameters of the float architecture",
    "bytes_on_disk": "size of model.safetensors",
    "flops_per_frame": "FlopCounterMode, one frame, float architecture (int8: same ops)",
    "ms_per_frame": "median over repeats of (call time on a batch / frames in it), CPU, "
    "models called alternately in one process",
}


def parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def load_batches(path: Any, fields: tuple[str, ...], *, limit: int | None = None,
                 batch_size: int = 256) -> list[dict[str, Tensor]]:  # fmt: skip
    """The first ``limit`` samples (all by default) of a dataset, as CPU batches."""
    from wirelessml.datasets import read_info

    n = read_info(path).num_committed
    n = n if limit is None else min(n, limit)
    out = []
    for start in range(0, n, batch_size):
        arrays = read_arrays(path, list(fields), start, min(start + batch_size, n))
        out.append({k: torch.from_numpy(v) for k, v in arrays.items()})
    return out


def _slice(batch: Mapping[str, Tensor], n: int) -> dict[str, Tensor]:
    return {k: v[:n] for k, v in batch.items()}


@torch.no_grad()
def flops_per_frame(model: nn.Module, task: Any, batch: Mapping[str, Tensor]) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter:
        task.predict(model, _slice(batch, 1))
    return int(counter.get_total_flops())


@contextmanager
def num_threads(threads: int | None) -> Iterator[None]:
    """Run with ``threads`` intra-op threads (``None``: unchanged), restored afterwards."""
    old = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(old)


@torch.no_grad()
def latency(models: Mapping[str, nn.Module], task: Any, batch: Mapping[str, Tensor], *,
            repeats: int = 21, frames: int = 64, threads: int | None = None,
            progress: Callable[[], None] | None = None) -> dict[str, float]:  # fmt: skip
    """Median ms per frame of each model on the same batch, called alternately."""
    batch = _slice(batch, frames)
    n = len(next(iter(batch.values())))
    with num_threads(threads):
        for model in models.values():  # warm-up (first-call allocations, oneDNN primitives)
            task.predict(model, batch)
        times: dict[str, list[float]] = {k: [] for k in models}
        for _ in range(repeats):
            for name, model in models.items():
                t0 = time.perf_counter()
                task.predict(model, batch)
                times[name].append(time.perf_counter() - t0)
            if progress is not None:
                progress()
    return {k: 1000.0 * statistics.median(v) / n for k, v in times.items()}


@torch.no_grad()
def evaluate_metric(model: nn.Module, task: Any, batches: list[dict[str, Tensor]],
                    progress: Callable[[int], None] | None = None) -> dict[str, Any]:  # fmt: skip
    """The task's report (overall and per condition) of ``model`` on ``batches``."""
    model.eval()
    per_sample: dict[str, list[Tensor]] = {}
    conditions: dict[str, list[Tensor]] = {k: [] for k in task.condition_fields}
    for batch in batches:
        target = task.target(batch)
        h_hat = task.predict(model, batch)
        for name, value in task.per_sample(h_hat.to(target.dtype), target).items():
            per_sample.setdefault(name, []).append(value)
        for name in conditions:
            if name in batch:
                conditions[name].append(batch[name])
        if progress is not None:
            progress(len(target))
    merged = {k: torch.cat(v) for k, v in per_sample.items()}
    conds = {k: torch.cat(v) for k, v in conditions.items() if v}
    return task.report(merged, conds)
