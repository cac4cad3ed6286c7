"""``wirelessml train TASK --model M``: build the model and train configs, train, summarize."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import click

from wirelessml.config import config_from_dict, config_to_dict, parse_overrides
from wirelessml.errors import ConfigError
from wirelessml.registry import MODELS, TASKS, _load_builtin

__all__ = ["build_model_config", "build_train_config", "parse_duration", "train_command"]

_load_builtin()

_UNITS = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhd]?)")
_DURATION_FULL = re.compile(r"(?:\d+(?:\.\d+)?[smhd])+|\d+(?:\.\d+)?")


def parse_duration(text: str) -> float:
    """Seconds in ``"90"``, ``"45s"``, ``"30m"``, ``"2h"``, ``"1h30m"`` or ``"1.5d"``.

    Examples:
        >>> parse_duration("1h30m"), parse_duration("90")
        (5400.0, 90.0)
    """
    compact = text.strip().lower().replace(" ", "")
    if not _DURATION_FULL.fullmatch(compact):
        raise ConfigError(f"--max-time {text!r} is not a duration: use e.g. 90s, 30m, 2h or 1h30m")
    seconds = sum(float(value) * _UNITS[unit] for value, unit in _DURATION.findall(compact))
    if seconds <= 0:
        raise ConfigError(f"--max-time {text!r} must be longer than 0 s")
    return seconds


def build_model_config(model: str, size: str, overrides: tuple[str, ...]) -> Any:
    """The config of ``model`` at ``size`` (its ``cpu()``/``paper()`` when present) plus ``--set``."""
    cls = MODELS[model].config_cls
    factory = getattr(cls, size, None)
    if factory is None and size != "cpu":
        raise ConfigError(f"model {model!r} has no size {size!r} ({cls.__name__}.{size}() is "
                          "not defined); drop --size")  # fmt: skip
    data = config_to_dict(factory() if factory is not None else cls())
    data.update(parse_overrides(cls, overrides))
    return config_from_dict(cls, data)


def build_train_config(overrides: tuple[str, ...], **flags: Any) -> Any:
    """A :class:`TrainConfig` from ``--train-set`` items, then the explicit flags given."""
    from wirelessml.train import TrainConfig

    data = parse_overrides(TrainConfig, overrides)
    data.update({k: v for k, v in flags.items() if v is not None})
    return config_from_dict(TrainConfig, data)


def _train_fields_help() -> str:
    from wirelessml.train import TrainConfig

    fields = [
        f"{f.name}={f.default!r}" for f in dataclasses.fields(TrainConfig) if f.name != "version"
    ]
    lines = ["\b", "Tasks (TASK):"] + [f"  {name}" for name in sorted(TASKS)]
    lines += ["Models (--model):"] + [f"  {e.name:<14} {e.description}" for e in MODELS.values()]
    lines += ["Training fields (--train-set key=value):"] + [f"  {field}" for field in fields]
    return "\n".join(lines)


def _epoch_line(record: dict[str, Any]) -> str:
    metrics = "  ".join(f"{k} {v:.2f}" for k, v in record.items() if k.startswith("val_")
                        and k not in ("val_loss", "val_seconds") and isinstance(v, float))  # fmt: skip
    best = "  *best" if record["best"] else ""
    return (f"epoch {record['epoch']:>3}  train_loss {record['train_loss']:.4g}  val_loss "
            f"{record['val_loss']:.4g}  {metrics}  lr {record['lr']:.2e}  "
            f"{record['samples_per_s']:,.0f} samples/s{best}")  # fmt: skip


def _summary(meta: dict[str, Any], out: Path) -> str:
    best = meta.get("best_val") or {}
    metrics = ", ".join(f"{k} {v:.2f}" for k, v in best.items())
    rate = meta.get("samples_per_s") or 0.0
    loss = meta.get("best_val_loss")
    loss = "-" if loss is None else f"{loss:.4g}"
    return "\n".join([
        f"{meta['status']}: {meta['epochs_done']} epochs, {meta['steps']} steps; best epoch "
        f"{meta['best_epoch']} (val loss {loss}; {metrics})",
        f"time {meta['train_time_s']:.1f} s, {meta['samples_seen']} samples, {rate:,.0f} samples/s",
        f"run folder {out}: model.safetensors (best weights), val_report.json (per-condition "
        "errors), history.jsonl, run.json, checkpoint/ (continue with --resume)",
    ])  # fmt: skip


@click.command("train", epilog=_train_fields_help())
@click.argument("task", type=click.Choice(sorted(TASKS)), metavar="TASK")
@click.option(
    "--model",
    "-m",
    "model",
    type=click.Choice(sorted(MODELS)),
    required=True,
    help="Registered model to train.",
)
@click.option(
    "--train",
    "train_path",
    type=click.Path(dir_okay=False),
    required=True,
    help="Training dataset (HDF5, of the task's family).",
)
@click.option(
    "--val",
    "val_path",
    type=click.Path(dir_okay=False),
    required=True,
    help="Validation dataset; its per-condition errors go to val_report.json.",
)
@click.option(
    "--out",
    "-o",
    type=click.Path(file_okay=False),
    required=True,
    help="Run folder (absent or empty, or the run to --resume).",
)
@click.option(
    "--size",
    type=click.Choice(["cpu", "paper"]),
    default="cpu",
    show_default=True,
    help="Model size: the config's cpu() or paper() preset.",
)
@click.option("--epochs", type=int, default=None, help="Epochs (default 50).")
@click.option("--batch-size", type=int, default=None, help="Samples per step (default 64).")
@click.option("--lr", type=float, default=None, help="Peak learning rate of AdamW (default 1e-3).")
@click.option("--device", default="cpu", show_default=True, help="Torch device, e.g. cuda:0.")
@click.option("--resume", is_flag=True, help="Continue the run in --out from its checkpoint.")
@click.option(
    "--max-time",
    default=None,
    metavar="DURATION",
    help="Wall-clock budget of this session (90s, 30m, 2h, 1h30m): stop, validate, save. "
    "With --train-set lr_schedule=cosine-budget the learning rate anneals over the budget "
    "when the clock runs out before the epochs.",
)
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="Set a model config field, e.g. --set d_model=32 --set 'prior_hidden=(8, 16)'.",
)
@click.option(
    "--train-set",
    "train_overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="Set a training field, e.g. --train-set patience=10 --train-set lr_schedule=constant.",
)
@click.option("--quiet", "-q", is_flag=True, help="No per-epoch lines.")
def train_command(task: str, model: str, train_path: str, val_path: str, out: str, size: str,
                  epochs: int | None, batch_size: int | None, lr: float | None, device: str,
                  resume: bool, max_time: str | None, overrides: tuple[str, ...],
                  train_overrides: tuple[str, ...], quiet: bool) -> None:  # fmt: skip
    """Train MODEL on TASK; write weights, metrics and a resumable checkpoint to --out.

    The model config is the --size preset plus --set, then fitted to the training data
    by the task (e.g. AdaFortiTran's prior normalization).

    \b
    Examples:
      wirelessml simulate ofdm -n 20000 -o train.h5 --seed 1
      wirelessml simulate ofdm -n 2000 -o val.h5 --seed 2
      wirelessml train channel-estimation -m adafortitran --train train.h5 --val val.h5 -o runs/afn
      wirelessml train channel-estimation -m fortitran --train train.h5 --val val.h5 -o runs/fn \\
          --epochs 20 --set d_model=32 --train-set patience=8
      wirelessml train channel-estimation -m adafortitran --train train.h5 --val val.h5 \\
          -o runs/afn --max-time 2h --resume
    """
    from wirelessml.registry import get_task
    from wirelessml.train import train
    from wirelessml.train.data import check_dataset

    budget = parse_duration(max_time) if max_time is not None else None
    train_config = build_train_config(train_overrides, epochs=epochs, batch_size=batch_size,
                                      lr=lr, max_time_s=budget)  # fmt: skip
    task_obj = get_task(task)
    for path in (train_path, val_path):
        check_dataset(task_obj, path)
    model_config = task_obj.fit_model_config(build_model_config(model, size, overrides), train_path)
    on_epoch = None if quiet else (lambda record: click.echo(_epoch_line(record), err=True))
    meta = train(task=task_obj, model_name=model, model_config=model_config, train_path=train_path,
                 val_path=val_path, out=out, config=train_config, device=device, resume=resume,
                 on_epoch=on_epoch)  # fmt: skip
    click.echo(_summary(meta, Path(out)))
