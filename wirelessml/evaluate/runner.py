"""Run trained models and classical baselines over one test file, side by side.

Every estimator sees the same batches; its per-sample errors go through the task's
report (overall and per condition), and its inference time is measured per batch in the
same run: ``ms_per_frame`` is the median over batches of (batch time / batch size), the
batch time covering the estimator's call only (data already in memory on the device).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from wirelessml._typing import PathType
from wirelessml.datasets import DatasetInfo, read_arrays, read_info, require_fields
from wirelessml.errors import ConfigError
from wirelessml.train.data import check_finite, to_device
from wirelessml.train.run import dataset_fingerprint, load_run

__all__ = ["TIMING_DEFINITION", "evaluate"]

TIMING_DEFINITION = (
    "ms_per_frame: median over batches of (time of the estimator's call / frames in the "
    "batch), all estimators measured in the same run on the same device; total [s]: the sum "
    "of the calls over the whole file, which includes the filter construction of the "
    "baselines that build filters on first use (once per condition for genie LMMSE)"
)


def evaluate(
    runs: Sequence[PathType],
    data: PathType,
    *,
    baselines: Sequence[str] | None = None,
    batch_size: int = 256,
    device: str = "cpu",
    protocol: Any | None = None,
    test_time_average: bool = False,
) -> dict[str, Any]:
    """Evaluate trained runs and baselines on ``data``.

    Args:
        runs: Run folders written by ``wirelessml train`` (one task for all).
        data: The test dataset.
        baselines: Names of the task's baselines (default: all of them; ``[]`` for none).
        batch_size: Frames per batch.
        device: Torch device.
        protocol: For a task with a protocol (csi-prediction): its config
            (:class:`~wirelessml.evaluate.csi_protocol.CSIProtocolConfig`); the result is
            then the protocol's (see :func:`~wirelessml.evaluate.csi_protocol.evaluate_protocol`).
        test_time_average: Also score every model with test-time augmentation, as an
            extra row labelled ``... , test-time average`` (a task with a
            ``test_time_average(model)`` hook: radiomap, the mean over the grid's 8
            rotations/reflections).

    Returns:
        ``{"data": fingerprint, "task": name, "estimators": {label: {"report", "ms_per_frame",
        "total_s", "kind", "test_time_average"}}, "reference": the baseline gaps are measured against (or None),
        "timing_definition": ...}``.

    Raises:
        ConfigError: no estimator, runs of different tasks, an unknown baseline, a model
            that does not fit the data.
        DatasetError: a dataset of another family, missing a field, or holding NaN.
        RunError: a folder that is not a run.
    """
    if batch_size < 1:
        raise ConfigError(f"evaluate.batch_size={batch_size} is not allowed: expected >= 1")
    loaded = [(Path(r), *load_run(r, device)) for r in runs]
    tasks = {meta["task"] for _, _, _, meta in loaded}
    if len(tasks) > 1:
        raise ConfigError(f"runs of different tasks cannot share a table: {sorted(tasks)}")
    task = loaded[0][1] if loaded else None
    if task is None:
        raise ConfigError("nothing to evaluate: give at least one run folder")
    info = read_info(data)
    require_fields(info, task.eval_fields, family=task.family)
    if hasattr(task, "check_run_data"):  # e.g. a TDD-trained CSI predictor on FDD data
        for _, _, _, meta in loaded:
            task.check_run_data(meta, info)
    estimators: dict[str, tuple[str, Any]] = {}
    tags: dict[str, dict[str, Any]] = {}  # what a label says, as fields (no label parsing)
    for run_dir, _, model, meta in loaded:
        label = f"{meta['model']} ({run_dir.name})"
        estimators[label] = ("model", model)
        tags[label] = {"model": meta["model"], "run": run_dir.name, "test_time_average": False}
    if test_time_average:
        if not hasattr(task, "test_time_average"):
            raise ConfigError(f"evaluate.test_time_average=True is not allowed for task "
                              f"{task.name!r}: it has no test-time augmentation (radiomap has)")  # fmt: skip
        for run_dir, _, model, meta in loaded:
            label = f"{meta['model']} ({run_dir.name}, test-time average)"
            estimators[label] = ("model", task.test_time_average(model))
            tags[label] = {"model": meta["model"], "run": run_dir.name, "test_time_average": True}
    names = task.baselines if baselines is None else tuple(baselines)
    for name in names:
        if name not in task.baselines:
            raise ConfigError(f"unknown baseline {name!r} for task {task.name!r}; "
                              f"choose from: {', '.join(task.baselines)}")  # fmt: skip
        estimators[name] = ("baseline", task.build_baseline(name, info, device))
    if getattr(task, "protocol", None) == "csi-rrg":  # scenarios x noise, not one table
        from wirelessml.evaluate.csi_protocol import CSIProtocolConfig, evaluate_protocol

        train = loaded[0][3]["datasets"]["train"].get("config")
        protocol = protocol or CSIProtocolConfig(batch_size=batch_size)
        return evaluate_protocol(task, estimators, info, train_config=train, config=protocol,
                                 device=device)  # fmt: skip
    results = {
        label: {"kind": kind, **tags.get(label, {"test_time_average": False}),
                **_run(task, label, est, info, batch_size, torch.device(device))}
        for label, (kind, est) in estimators.items()
    }
    reference = getattr(task, "reference_baseline", None)
    return {
        "task": task.name,
        "reference": reference if reference in results else None,
        "data": dataset_fingerprint(info),
        "estimators": results,
        "timing_definition": TIMING_DEFINITION,
        "metric_definitions": dict(task.metric_definitions),
    }


@torch.no_grad()
def _run(task: Any, label: str, estimator: Any, info: DatasetInfo, batch_size: int,
         device: torch.device) -> dict[str, Any]:  # fmt: skip
    """Per-sample errors, conditions and per-batch timings of one estimator."""
    if isinstance(estimator, torch.nn.Module):
        estimator.eval()
    per_sample: dict[str, list[torch.Tensor]] = {}
    conditions: dict[str, list[torch.Tensor]] = {k: [] for k in task.condition_fields}
    times: list[float] = []
    for start in range(0, info.num_committed, batch_size):
        stop = min(start + batch_size, info.num_committed)
        arrays = read_arrays(info.path, list(task.eval_fields), start, stop)
        batch = to_device({k: torch.from_numpy(v) for k, v in arrays.items()}, device)
        check_finite(batch, range(start, stop), info.path)
        elapsed, h_hat = _timed(task, estimator, batch, device)
        target = task.target(batch)
        if h_hat.shape != target.shape:
            raise ConfigError(f"{label} does not fit the data of {info.path}: it outputs "
                              f"{tuple(h_hat.shape)} for a target of {tuple(target.shape)}")  # fmt: skip
        times.append(elapsed / (stop - start))
        for name, value in task.per_sample(h_hat.to(target.dtype), target).items():
            per_sample.setdefault(name, []).append(value.cpu())
        for name in conditions:
            conditions[name].append(batch[name].cpu())
    merged = {k: torch.cat(v) for k, v in per_sample.items()}
    conds = {k: torch.cat(v) for k, v in conditions.items()}
    return {
        "report": task.report(merged, conds),
        "ms_per_frame": 1000.0 * statistics.median(times),
        "total_s": sum(t * n for t, n in zip(times, _sizes(info.num_committed, batch_size),
                                              strict=True)),  # fmt: skip
    }


def _timed(task: Any, estimator: Any, batch: dict[str, Any], device: torch.device
           ) -> tuple[float, torch.Tensor]:  # fmt: skip
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    t0 = time.perf_counter()
    h_hat = task.predict(estimator, batch)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - t0, h_hat


def _sizes(n: int, batch_size: int) -> list[int]:
    return [min(batch_size, n - s) for s in range(0, n, batch_size)]
