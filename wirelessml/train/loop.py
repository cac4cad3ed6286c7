"""The one training loop for every task: :func:`train`.

A task supplies ``model_inputs``, ``target``, ``loss``, ``per_sample``, ``summarize`` and
``report``; a model is anything in the model registry. The loop is AdamW with a per-step
learning-rate schedule, gradient clipping, bf16 autocast on CUDA, per-epoch validation,
early stopping, a wall-clock budget and checkpoints from which ``resume=True`` continues
exactly, mid-epoch included: epoch ``e`` is shuffled by ``Generator().manual_seed(seed + e)``,
so a resumed run skips the batches its checkpoint says are done.
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from torch import nn

from wirelessml._typing import PathType
from wirelessml.config import config_to_json
from wirelessml.datasets import H5Dataset
from wirelessml.errors import ConfigError, WirelessMLError
from wirelessml.registry import get_model, get_task
from wirelessml.train import run as runfolder
from wirelessml.train.checkpoint import load_checkpoint, read_counters, save_checkpoint
from wirelessml.train.config import TrainConfig, lr_at
from wirelessml.train.data import check_finite, epoch_loader, open_dataset, to_device

__all__ = ["EpochHook", "train"]

EpochHook = Callable[[dict[str, Any]], None]
"""Called with each epoch's history record after it is written."""

_DONE = ("finished", "stopped-early")


def train(
    *,
    task: str | Any,
    model_name: str,
    model_config: Any,
    train_path: PathType,
    val_path: PathType,
    out: PathType,
    config: TrainConfig | None = None,
    device: str | torch.device = "cpu",
    resume: bool = False,
    on_epoch: EpochHook | None = None,
) -> dict[str, Any]:
    """Train a registered model on a task and write the run folder ``out``.

    The model config is used as given; the CLI first applies ``task.fit_model_config``.
    The caller's global torch RNG is left as it was (the run seeds a forked one).

    Args:
        task: Registered task name (``"channel-estimation"``) or a task object.
        model_name: Registered model name (``"adafortitran"``).
        model_config: An instance of that model's config class.
        train_path, val_path: Dataset files of the task's family with its fields.
        out: Run folder (see :mod:`wirelessml.train.run`); must be absent or empty
            unless ``resume``.
        config: How to train (default: ``TrainConfig()``).
        device: Torch device.
        resume: Continue the run in ``out`` from its checkpoint; the task, model, configs
            (``RUN_CONTROL_FIELDS`` aside) and datasets must be the same.
        on_epoch: Optional callback receiving each epoch's history record.

    Returns:
        The final ``run.json`` content: status, epochs, best epoch, best validation
        loss and metrics (``best_val``), time, samples seen and samples/s.

    Raises:
        DatasetError: a dataset of another family, without a needed field, or with NaN/Inf.
        ConfigError: a model config of the wrong class or that does not fit the data.
        RunError: ``out`` holds another run, or nothing to resume.

    Examples:
        >>> summary = train(task="channel-estimation", model_name="adafortitran",  # doctest: +SKIP
        ...                 model_config=cfg, train_path="a.h5", val_path="b.h5", out="runs/x")
        >>> summary["status"], summary["best_val"]["nmse_db"]  # doctest: +SKIP
        ('finished', -18.2)
    """
    config = TrainConfig() if config is None else config
    task = get_task(task) if isinstance(task, str) else task
    if config.augment and not callable(getattr(task, "augment", None)):
        raise ConfigError(f"train config augment=True: task {task.name!r} has no augmentation; "
                          "allowed: augment=False")  # fmt: skip
    losses = tuple(getattr(task, "losses", ()))
    if config.loss is not None and config.loss not in losses:
        allowed = ", ".join(repr(n) for n in losses) if losses else "only None (one loss)"
        raise ConfigError(f"train config loss={config.loss!r} is not a loss of task "
                          f"{task.name!r}; allowed: {allowed}")  # fmt: skip
    entry = get_model(model_name)
    if not isinstance(model_config, entry.config_cls):
        raise ConfigError(f"model {model_name!r} needs a {entry.config_cls.__name__}; got "
                          f"{type(model_config).__name__}")  # fmt: skip
    device = _device(device)
    data = {"train": open_dataset(train_path, task, limit=config.max_train_samples),
            "val": open_dataset(val_path, task)}  # fmt: skip
    try:
        requested = _new_meta(task, entry.name, model_config, config, data, device)
        stored = runfolder.prepare_run_folder(Path(out), requested, resume)
        meta = (
            requested if stored is None else {**stored, "train_config": requested["train_config"]}
        )
        cuda = [device.index or 0] if device.type == "cuda" else []
        with torch.random.fork_rng(devices=cuda):
            torch.manual_seed(config.seed)
            model = entry.model_cls(model_config).to(device)
            _check_fit(task, model, entry.name, data["val"], device)
            trainer = _Trainer(task=task, model=model, config=config, data=data, out=Path(out),
                               device=device, meta=meta, on_epoch=on_epoch)  # fmt: skip
            return trainer.run(resume=stored is not None)
    finally:
        for dataset in data.values():
            dataset.close()


def _new_meta(task: Any, model_name: str, model_config: Any, config: TrainConfig,
              data: dict[str, H5Dataset], device: torch.device) -> dict[str, Any]:  # fmt: skip
    return {
        "format": runfolder.RUN_FORMAT, "run_version": runfolder.RUN_VERSION,
        "task": task.name, "model": model_name,
        "model_config": json.loads(config_to_json(model_config, model_name)),
        "train_config": json.loads(config_to_json(config, "train")),
        "datasets": {k: runfolder.dataset_fingerprint(d.info) for k, d in data.items()},
        "versions": runfolder.versions(), "device": str(device), "created_utc": _now(),
        "status": "running", "epochs_done": 0, "steps": 0, "best_epoch": None,
        "best_step": None, "best_val_loss": None, "best_val": None, "train_time_s": 0.0,
        "samples_seen": 0, "samples_per_s": None, "sessions": [],
        "metric_definitions": dict(getattr(task, "metric_definitions", {})),
    }  # fmt: skip


def _device(name: str | torch.device) -> torch.device:
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        raise ConfigError(f"device {name!r} is not a torch device (e.g. cpu, cuda:0)") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {name!r}: CUDA is not available here; use --device cpu")
    return device


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _check_fit(
    task: Any, model: nn.Module, name: str, data: H5Dataset, device: torch.device
) -> None:
    """Run the model once on two validation samples: a grid mismatch fails here, in one line."""
    batch = to_device(data.read_batch(range(min(2, len(data)))), device)
    model.eval()
    try:
        with torch.no_grad():
            pred = model(**task.model_inputs(batch))
        target = task.target(batch)
        if pred.shape != target.shape:
            raise ValueError(
                f"it outputs {tuple(pred.shape)} for a target of {tuple(target.shape)}"
            )
    except (ValueError, RuntimeError, TypeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"model {name!r} does not fit the data of {data.info.path}: {first}; "
                          "match its config to the dataset with --set") from None  # fmt: skip


def _cat(parts: dict[str, list[torch.Tensor]]) -> dict[str, torch.Tensor]:
    return {name: torch.cat(values) for name, values in parts.items()}


class _ProgressBar:
    """A rich bar per epoch with loss, lr and samples/s, on stderr, only on a terminal."""

    def __init__(self) -> None:
        self._progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]}  lr {task.fields[lr]}  {task.fields[rate]} samples/s"),
            TimeElapsedColumn(), console=Console(stderr=True), disable=not sys.stderr.isatty(),
        )  # fmt: skip
        self._task: Any = None

    def __enter__(self) -> _ProgressBar:
        self._progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.__exit__(*exc)

    def epoch(self, label: str, total: int, done: int) -> None:
        if self._task is not None:
            self._progress.remove_task(self._task)
        self._task = self._progress.add_task(label, total=total, completed=done, loss="-",
                                             lr="-", rate="-")  # fmt: skip

    def update(self, done: int, loss: float, lr: float, rate: float) -> None:
        self._progress.update(self._task, completed=done, loss=f"{loss:.4g}", lr=f"{lr:.2e}",
                              rate=f"{rate:,.0f}")  # fmt: skip


class _Trainer:
    """One training session over a run folder; ``c`` holds every counter a resume needs."""

    def __init__(self, *, task: Any, model: nn.Module, config: TrainConfig,
                 data: dict[str, H5Dataset], out: Path, device: torch.device,
                 meta: dict[str, Any], on_epoch: EpochHook | None) -> None:  # fmt: skip
        self.task, self.model, self.config, self.data = task, model, config, data
        self.out, self.device, self.meta, self.on_epoch = out, device, meta, on_epoch
        self.optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr,
                                           weight_decay=config.weight_decay)  # fmt: skip
        self.steps_per_epoch = math.ceil(len(data["train"]) / config.batch_size)
        self.total_steps = config.epochs * self.steps_per_epoch
        self.c: dict[str, Any] = {
            "status": "running", "epoch": 0, "step": 0, "batch_in_epoch": 0, "lr": config.lr,
            "best_val_loss": None, "best_epoch": None, "best_step": None, "bad_epochs": 0,
            "samples_seen": 0, "train_time_s": 0.0, "epoch_loss_sum": 0.0,
            "epoch_samples": 0, "epoch_time_s": 0.0,
        }  # fmt: skip
        self.history: list[dict[str, Any]] = []

    # ------------------------------------------------------------------ session
    def run(self, *, resume: bool) -> dict[str, Any]:
        if resume and read_counters(self.out) is not None:
            self.c.update(load_checkpoint(self.out, model=self.model, optimizer=self.optimizer))
            self.history = runfolder.read_history(self.out)[: self.c["epoch"]]
            if self.c["status"] in _DONE:
                return self.meta
        runfolder.create_run_folder(self.out)
        self._start = self._last = time.monotonic()
        self._time_base = self.c["train_time_s"]
        self.meta["sessions"].append({"started_utc": _now(), "first_step": self.c["step"] + 1,
                                      "last_step": self.c["step"], "status": "running"})  # fmt: skip
        self.c["status"] = "running"
        self._sync_meta()
        with _ProgressBar() as self.bar:
            status = self._loop()
        self.c["status"] = status
        self._checkpoint()
        return self.meta

    def _loop(self) -> str:
        while self.c["epoch"] < self.config.epochs:
            if self._train_epoch():
                self._validate(epoch_end=False)
                return "time-budget"
            if self._validate(epoch_end=True):
                return "stopped-early"
            if self._over_budget() and self.c["epoch"] < self.config.epochs:
                return "time-budget"
        return "finished"

    def _time_progress(self) -> float:
        """Share of the time budget spent, counting earlier sessions (0 without a budget)."""
        limit = self.config.max_time_s
        if limit is None:
            return 0.0
        spent = self._time_base + time.monotonic() - self._start
        return spent / (self._time_base + limit)

    def _over_budget(self) -> bool:
        limit = self.config.max_time_s
        return limit is not None and time.monotonic() - self._start >= limit

    # ------------------------------------------------------------------ training
    def _train_epoch(self) -> bool:
        """Train the rest of the current epoch; ``True`` if the time budget stopped it."""
        c, cfg, data = self.c, self.config, self.data["train"]
        loader, num_batches = epoch_loader(
            data, seed=cfg.seed, epoch=c["epoch"], batch_size=cfg.batch_size,
            skip=c["batch_in_epoch"], num_workers=cfg.num_workers,
            pin_memory=self.device.type == "cuda",
        )  # fmt: skip
        self.bar.epoch(f"epoch {c['epoch'] + 1}/{cfg.epochs}", num_batches, c["batch_in_epoch"])
        self._last = time.monotonic()
        for rows, batch in loader:
            loss = self._step(rows, batch)
            now = time.monotonic()
            c["epoch_time_s"] += now - self._last
            self._last = now
            c["step"] += 1
            c["batch_in_epoch"] += 1
            c["samples_seen"] += len(rows)
            c["epoch_samples"] += len(rows)
            c["epoch_loss_sum"] += loss * len(rows)
            rate = c["epoch_samples"] / max(c["epoch_time_s"], 1e-9)
            self.bar.update(c["batch_in_epoch"], loss, c["lr"], rate)
            if c["step"] % cfg.checkpoint_every_steps == 0:
                self._checkpoint()
            if self._over_budget():
                return True
        return False

    def _autocast(self) -> torch.autocast:
        # bf16 needs no loss scaling; on CPU autocast brings no speed, so it stays off.
        on = self.config.amp and self.device.type == "cuda"
        return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16, enabled=on)

    def _loss(self, pred: Any, target: Any) -> torch.Tensor:
        if self.config.loss is None:
            return self.task.loss(pred, target)
        return self.task.loss(pred, target, kind=self.config.loss)

    def _step(self, rows: list[int], batch: dict[str, Any]) -> float:
        c, task = self.c, self.task
        check_finite(batch, rows, self.data["train"].info.path)
        if self.config.augment:
            seed = self.config.seed * 1_000_003 + c["step"]
            batch = task.augment(batch, torch.Generator().manual_seed(seed))
        batch = to_device(batch, self.device)
        c["lr"] = lr_at(self.config, step=c["step"], epoch=c["epoch"], total_steps=self.total_steps,
                        time_progress=self._time_progress())  # fmt: skip
        for group in self.optimizer.param_groups:
            group["lr"] = c["lr"]
        self.model.train()
        with self._autocast():
            pred = self.model(**task.model_inputs(batch))
        loss = self._loss(pred, task.target(batch))
        if not bool(torch.isfinite(loss)):
            raise WirelessMLError(f"training diverged: the loss is {float(loss)} at step "
                                  f"{c['step'] + 1} (epoch {c['epoch'] + 1}); lower --lr")  # fmt: skip
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.config.grad_clip is not None:
            nn.utils.clip_grad_norm_(self.model.parameters(), self.config.grad_clip)
        self.optimizer.step()
        return loss.item()

    # ------------------------------------------------------------------ validation
    @torch.no_grad()
    def _evaluate(self) -> tuple[float, dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """Validation loss (sample-weighted), per-sample metrics and conditions of the val set."""
        task, data, size = self.task, self.data["val"], self.config.batch_size
        per: dict[str, list] = defaultdict(list)
        conditions: dict[str, list] = defaultdict(list)
        loss_sum = 0.0
        self.model.eval()
        for start in range(0, len(data), size):
            rows = list(range(start, min(start + size, len(data))))
            batch = data.read_batch(rows)
            check_finite(batch, rows, data.info.path)
            for name in task.condition_fields:
                if name in batch:
                    conditions[name].append(batch[name])
            batch = to_device(batch, self.device)
            with self._autocast():
                pred = self.model(**task.model_inputs(batch))
            target = task.target(batch)
            loss_sum += float(self._loss(pred, target)) * len(rows)
            for name, value in task.per_sample(pred, target).items():
                per[name].append(value.cpu())
        return loss_sum / len(data), _cat(per), _cat(conditions)

    def _validate(self, *, epoch_end: bool) -> bool:
        """Validate; keep the weights if best. At an epoch end, log it and apply patience.

        Returns:
            Whether early stopping ends the run.
        """
        c, t0 = self.c, time.monotonic()
        val_loss, per, conditions = self._evaluate()
        summary = self.task.summarize(per)
        improved = c["best_val_loss"] is None or val_loss < c["best_val_loss"]
        if improved:
            self._keep_best(val_loss, summary, self.task.report(per, conditions))
        if not epoch_end:
            self._checkpoint()
            return False
        c["bad_epochs"] = 0 if improved else c["bad_epochs"] + 1
        record = {
            "epoch": c["epoch"] + 1, "step": c["step"],
            "train_loss": c["epoch_loss_sum"] / max(c["epoch_samples"], 1), "val_loss": val_loss,
            **{f"val_{k}": v for k, v in summary.items()}, "lr": c["lr"],
            "seconds": c["epoch_time_s"], "val_seconds": time.monotonic() - t0,
            "samples_per_s": c["epoch_samples"] / max(c["epoch_time_s"], 1e-9), "best": improved,
        }  # fmt: skip
        self.history.append(record)
        runfolder.write_history(self.out, self.history)
        c.update(epoch=c["epoch"] + 1, batch_in_epoch=0, epoch_loss_sum=0.0, epoch_samples=0,
                 epoch_time_s=0.0)  # fmt: skip
        self._checkpoint()
        if self.on_epoch is not None:
            self.on_epoch(record)
        return self.config.patience is not None and c["bad_epochs"] >= self.config.patience

    def _keep_best(self, val_loss: float, summary: dict, report: dict) -> None:
        c = self.c
        c.update(best_val_loss=val_loss, best_epoch=c["epoch"] + 1, best_step=c["step"])
        runfolder.save_model(self.out, self.model)
        header = {"epoch": c["best_epoch"], "step": c["step"], "val_loss": val_loss,
                  "val_path": str(self.data["val"].info.path)}  # fmt: skip
        runfolder.write_json_atomic(self.out / runfolder.REPORT_FILE, {**header, **report})
        self.meta["best_val"] = summary

    # ------------------------------------------------------------------ persistence
    def _checkpoint(self) -> None:
        self.c["train_time_s"] = self._time_base + time.monotonic() - self._start
        save_checkpoint(self.out, model=self.model, optimizer=self.optimizer, counters=self.c)
        self._sync_meta()

    def _sync_meta(self) -> None:
        c, meta = self.c, self.meta
        meta.update(
            status=c["status"], epochs_done=c["epoch"], steps=c["step"],
            best_epoch=c["best_epoch"], best_step=c["best_step"], best_val_loss=c["best_val_loss"],
            train_time_s=c["train_time_s"], samples_seen=c["samples_seen"],
            samples_per_s=c["samples_seen"] / c["train_time_s"] if c["train_time_s"] else None,
        )  # fmt: skip
        meta["sessions"][-1].update(last_step=c["step"], status=c["status"])
        runfolder.write_json_atomic(self.out / runfolder.RUN_FILE, meta)
