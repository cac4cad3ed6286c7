"""The run folder a training writes, and :func:`load_run` that rebuilds its model.

Layout of ``runs/<name>/``::

    run.json             what was trained on what, how, and how it went (status, best epoch…)
    model.safetensors    the best weights (lowest validation loss)
    val_report.json      task.report of the best weights on the validation set
    history.jsonl        one JSON line per finished epoch
    checkpoint/          state.safetensors + state.json: everything needed to --resume

Every file is written to a temporary name and renamed, so a kill never leaves half a file.
The model is rebuilt only through the model registry and ``config_from_json`` (an
allow-list), and weights are read with safetensors: nothing is unpickled.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.metadata
import json
import os
import platform
from pathlib import Path
from typing import Any

import safetensors
import safetensors.torch
import torch
from torch import nn

import wirelessml
from wirelessml._typing import PathType
from wirelessml.config import config_from_json
from wirelessml.datasets import DatasetInfo
from wirelessml.errors import WirelessMLError
from wirelessml.registry import get_model, get_task
from wirelessml.train.checkpoint import plain_tensors
from wirelessml.train.config import RUN_CONTROL_FIELDS, TrainConfig

__all__ = [
    "HISTORY_FILE",
    "REPORT_FILE",
    "RUN_FILE",
    "RUN_FORMAT",
    "RUN_VERSION",
    "WEIGHTS_FILE",
    "RunError",
    "create_run_folder",
    "dataset_fingerprint",
    "load_run",
    "load_weights",
    "prepare_run_folder",
    "read_history",
    "read_run_meta",
    "save_model",
    "versions",
    "write_history",
    "write_json_atomic",
]

RUN_FILE = "run.json"
WEIGHTS_FILE = "model.safetensors"
HISTORY_FILE = "history.jsonl"
REPORT_FILE = "val_report.json"
RUN_FORMAT = "wirelessml-run"
RUN_VERSION = 1


class RunError(WirelessMLError):
    """A run folder is missing, foreign, or does not match what was asked of it."""


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and ``os.replace``."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def write_json_atomic(path: Path, obj: Any) -> None:
    write_text_atomic(path, json.dumps(obj, indent=1, sort_keys=True) + "\n")


def dataset_fingerprint(info: DatasetInfo) -> dict[str, Any]:
    """What identifies a dataset's content: simulator, seed, size, its config and its sha256.

    The full config travels with the run so that a trained model can be put back on the
    resource grid it was trained on (``wirelessml linksim``) without the dataset file.
    """
    return {
        "path": str(Path(info.path).resolve()),
        "simulator": info.simulator,
        "seed": info.seed,
        "num_samples": info.num_samples,
        "config_sha256": hashlib.sha256(info.config_json.encode()).hexdigest(),
        "config": json.loads(info.config_json),
    }


def versions() -> dict[str, str]:
    """Versions of wirelessml, Python and the libraries that shape a training run."""
    out = {"wirelessml": wirelessml.__version__, "python": platform.python_version()}
    for name in ("torch", "safetensors", "numpy", "h5py"):
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def read_run_meta(run_dir: PathType) -> dict[str, Any]:
    """The parsed ``run.json`` of a run folder, with one-line errors for anything else."""
    run_dir = Path(run_dir)
    if not run_dir.exists():
        raise RunError(f"no such run folder: {run_dir}")
    if not run_dir.is_dir():
        raise RunError(f"{run_dir} is a file, not a run folder")
    path = run_dir / RUN_FILE
    if not path.exists():
        raise RunError(f"{run_dir} is not a wirelessml run folder (it has no {RUN_FILE})")
    try:
        meta = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise RunError(f"{path} is not readable JSON ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != RUN_FORMAT:
        raise RunError(f"{path} is not a wirelessml run file (no format {RUN_FORMAT!r})")
    if not isinstance(meta.get("run_version"), int) or meta["run_version"] > RUN_VERSION:
        raise RunError(f"{path} has run version {meta.get('run_version')!r}; this wirelessml "
                       f"reads up to {RUN_VERSION}: upgrade wirelessml")  # fmt: skip
    return meta


def save_model(run_dir: PathType, model: nn.Module) -> Path:
    """Write ``model``'s weights to ``run_dir/model.safetensors`` (atomically)."""
    path = Path(run_dir) / WEIGHTS_FILE
    tmp = path.with_name(path.name + ".tmp")
    safetensors.torch.save_file(plain_tensors(model.state_dict()), tmp)
    os.replace(tmp, path)
    return path


def load_weights(path: PathType, model: nn.Module, *, model_name: str) -> None:
    """Load safetensors weights into ``model``, refusing a file made for another model.

    Raises:
        RunError: the file is missing or unreadable, or a tensor is missing, extra or of
            another shape ("checkpoint of another model", naming model and tensor).
    """
    path = Path(path)
    if not path.exists():
        raise RunError(f"{path} does not exist: the run has no weights yet (no epoch finished)")
    try:
        tensors = safetensors.torch.load_file(path)
    except (OSError, safetensors.SafetensorError) as exc:
        raise RunError(f"{path} is not a readable safetensors file ({exc})") from None
    expected = model.state_dict()
    problem = _weights_mismatch(tensors, expected)
    if problem is not None:
        raise RunError(f"{path} is a checkpoint of another model: run.json names "
                       f"{model_name!r} but {problem}")  # fmt: skip
    model.load_state_dict(tensors)


def _weights_mismatch(
    found: dict[str, torch.Tensor], expected: dict[str, torch.Tensor]
) -> str | None:
    for name, tensor in expected.items():
        if name not in found:
            return f"the file lacks tensor {name!r}"
        if tuple(found[name].shape) != tuple(tensor.shape):
            return (f"tensor {name!r} has shape {tuple(found[name].shape)} where the model "
                    f"has {tuple(tensor.shape)}")  # fmt: skip
    extra = sorted(set(found) - set(expected))
    return f"the file has unexpected tensor {extra[0]!r}" if extra else None


def load_run(run_dir: PathType, device: str | torch.device = "cpu") -> tuple[Any, nn.Module, dict]:
    """Rebuild a trained model from its run folder: ``(task, model in eval mode, run_meta)``.

    The config is rebuilt through the model registry only (``config_from_json`` with the
    run's model name as the one allowed type) and the weights with safetensors only. A
    run written by ``wirelessml compress`` (a ``"compression"`` entry in run.json) is
    rebuilt by re-applying its recipe (:mod:`wirelessml.efficiency.runfolder`).

    Examples:
        >>> task, model, meta = load_run("runs/afn")  # doctest: +SKIP
        >>> meta["best_val"]["nmse_db"] < 0  # doctest: +SKIP
        True
    """
    run_dir = Path(run_dir)
    meta = read_run_meta(run_dir)
    task = get_task(meta["task"])
    entry = get_model(meta["model"])
    config = config_from_json(json.dumps(meta["model_config"]), {entry.name: entry.config_cls})
    model = entry.model_cls(config)
    if hasattr(task, "configure"):  # e.g. the radiomap task's measurement count and dB floor
        task.configure(config)
    if "compression" in meta:  # made by wirelessml compress: re-apply its recipe
        from wirelessml.efficiency.runfolder import load_compressed

        load_compressed(run_dir / WEIGHTS_FILE, model, meta["compression"],
                        model_name=entry.name, device=device)  # fmt: skip
    else:
        load_weights(run_dir / WEIGHTS_FILE, model, model_name=entry.name)
    return task, model.to(device).eval(), meta


def create_run_folder(out: Path) -> None:
    """Create the run folder (and its parents), with a one-line error if that fails."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunError(f"cannot create run folder {out}: {exc.strerror or exc}") from None


def read_history(run_dir: PathType) -> list[dict[str, Any]]:
    """The epoch records of ``history.jsonl`` (empty if there are none yet)."""
    path = Path(run_dir) / HISTORY_FILE
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def write_history(run_dir: PathType, rows: list[dict[str, Any]]) -> None:
    write_text_atomic(Path(run_dir) / HISTORY_FILE, "".join(json.dumps(r) + "\n" for r in rows))


def _difference(stored: Any, requested: Any, where: str) -> str | None:
    if isinstance(stored, dict) and isinstance(requested, dict):
        for key in [*stored, *(k for k in requested if k not in stored)]:
            found = _difference(stored.get(key, "<absent>"), requested.get(key, "<absent>"),
                                f"{where}.{key}")  # fmt: skip
            if found is not None:
                return found
        return None
    if stored == requested:
        return None
    return f"{where} differs: the run has {stored!r}, this request has {requested!r}"


def _identity(meta: dict[str, Any]) -> dict[str, Any]:
    """The parts of a run's metadata a resume must match (run-control fields aside)."""
    train = json.loads(json.dumps(meta["train_config"]))
    fields = train.get("_data", {})
    for name in RUN_CONTROL_FIELDS:
        fields.pop(name, None)
    # Fields added to TrainConfig later (e.g. augment) hold their default in older runs.
    for field in dataclasses.fields(TrainConfig):
        if field.name not in RUN_CONTROL_FIELDS:
            fields.setdefault(field.name, field.default)
    # The path may move; the config is identified by its sha256 (runs before it was stored).
    datasets = {k: {f: v for f, v in d.items() if f not in ("path", "config")}
                for k, d in meta["datasets"].items()}  # fmt: skip
    return {"task": meta["task"], "model": meta["model"], "model_config": meta["model_config"],
            "train_config": train, "datasets": datasets}  # fmt: skip


def prepare_run_folder(out: Path, requested: dict[str, Any], resume: bool) -> dict[str, Any] | None:
    """Check that ``out`` may take this run: absent or empty, or (``resume``) the same run.

    Nothing is created here, so a request refused later leaves no trace.

    Returns:
        The stored ``run.json`` when resuming, else ``None``.

    Raises:
        RunError: a fresh run onto a used folder, a resume of nothing, or of another run.
    """
    if out.exists() and not out.is_dir():
        raise RunError(f"--out {out} is a file; give a folder for the run")
    if not resume:
        if out.exists() and any(out.iterdir()):
            raise RunError(f"{out} already holds a run; continue it with --resume or choose "
                           "a new --out")  # fmt: skip
        return None
    if not (out / RUN_FILE).exists():
        raise RunError(f"nothing to resume in {out} (no {RUN_FILE}); drop --resume to start a "
                       "new run")  # fmt: skip
    stored = read_run_meta(out)
    difference = _difference(_identity(stored), _identity(requested), "run")
    if difference is not None:
        raise RunError(f"cannot resume {out}: {difference}; resume with the same task, model, "
                       "configs and datasets, or choose a new --out")  # fmt: skip
    return stored
