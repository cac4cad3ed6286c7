"""The resumable training checkpoint: ``checkpoint/state.safetensors`` + ``state.json``.

Tensors (model weights, AdamW moments, RNG states) go into ``state.safetensors``; the
counters and AdamW's hyper-parameters go into its metadata as JSON, so one atomic rename
publishes a consistent checkpoint. ``state.json`` is a readable copy of that metadata,
written after it. Nothing is ever unpickled.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import safetensors
import safetensors.torch
import torch
from torch import nn

from wirelessml.errors import WirelessMLError

__all__ = [
    "CHECKPOINT_DIR",
    "STATE_FILE",
    "STATE_JSON",
    "load_checkpoint",
    "plain_tensors",
    "read_counters",
    "save_checkpoint",
]

CHECKPOINT_DIR = "checkpoint"
STATE_FILE = "state.safetensors"
STATE_JSON = "state.json"
_VERSION = 1


def plain_tensors(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Contiguous CPU copies safetensors can store (shared storage is copied, not aliased)."""
    seen: set[int] = set()
    out = {}
    for name, tensor in tensors.items():
        tensor = tensor.detach().cpu().contiguous()
        if tensor.numel() and tensor.data_ptr() in seen:
            tensor = tensor.clone()
        seen.add(tensor.data_ptr())
        out[name] = tensor
    return out


def _flatten_optimizer(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict]:
    """AdamW state as ``optim.<param>.<key>`` tensors plus JSON (param groups, scalars)."""
    state = optimizer.state_dict()
    tensors, scalars = {}, {}
    for index, values in state["state"].items():
        for key, value in values.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optim.{index}.{key}"] = value
            else:
                scalars[f"{index}.{key}"] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def _restore_optimizer(
    optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], meta: dict
) -> None:
    state: dict[int, dict[str, Any]] = {}
    for name, tensor in tensors.items():
        if name.startswith("optim."):
            _, index, key = name.split(".", 2)
            state.setdefault(int(index), {})[key] = tensor
    for name, value in meta["scalars"].items():
        index, key = name.split(".", 1)
        state.setdefault(int(index), {})[key] = value
    groups = [
        {**g, "betas": tuple(g["betas"])} if "betas" in g else g for g in meta["param_groups"]
    ]
    optimizer.load_state_dict({"state": state, "param_groups": groups})


def save_checkpoint(
    run_dir: Path, *, model: nn.Module, optimizer: torch.optim.Optimizer, counters: dict[str, Any]
) -> None:
    """Write everything needed to resume, atomically (temp file + ``os.replace``).

    Args:
        run_dir: The run folder; the checkpoint goes to ``run_dir/checkpoint/``.
        model: The model in training (its current, not its best, weights).
        optimizer: Its AdamW optimizer.
        counters: JSON-able loop counters (epoch, step, batch in epoch, best, patience…).
    """
    folder = Path(run_dir) / CHECKPOINT_DIR
    folder.mkdir(parents=True, exist_ok=True)
    optim_tensors, optim_meta = _flatten_optimizer(optimizer)
    tensors = {f"model.{k}": v for k, v in model.state_dict().items()}
    tensors.update(optim_tensors)
    tensors["rng.torch"] = torch.get_rng_state()
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        tensors["rng.cuda"] = torch.cuda.get_rng_state()
    meta = {"version": _VERSION, **counters, "optimizer": optim_meta}
    text = json.dumps(meta, sort_keys=True)
    tmp = folder / (STATE_FILE + ".tmp")
    safetensors.torch.save_file(plain_tensors(tensors), tmp, metadata={"state": text})
    os.replace(tmp, folder / STATE_FILE)
    tmp = folder / (STATE_JSON + ".tmp")
    tmp.write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, folder / STATE_JSON)


def read_counters(run_dir: Path) -> dict[str, Any] | None:
    """The counters of ``run_dir``'s checkpoint, or ``None`` if it has none."""
    path = Path(run_dir) / CHECKPOINT_DIR / STATE_FILE
    if not path.exists():
        return None
    try:
        with safetensors.safe_open(str(path), framework="pt") as file:
            return json.loads(file.metadata()["state"])
    except (OSError, ValueError, KeyError, TypeError, safetensors.SafetensorError) as exc:
        raise WirelessMLError(f"{path} is not a readable wirelessml checkpoint ({exc})") from None


def load_checkpoint(
    run_dir: Path, *, model: nn.Module, optimizer: torch.optim.Optimizer
) -> dict[str, Any]:
    """Restore model, optimizer and RNG state from ``run_dir/checkpoint``; return the counters."""
    path = Path(run_dir) / CHECKPOINT_DIR / STATE_FILE
    counters = read_counters(run_dir)
    if counters is None:
        raise WirelessMLError(f"no checkpoint at {path}")
    tensors = safetensors.torch.load_file(path)
    prefix = "model."
    weights = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
    model.load_state_dict(weights)
    _restore_optimizer(optimizer, tensors, counters.pop("optimizer"))
    torch.set_rng_state(tensors["rng.torch"])
    if "rng.cuda" in tensors and torch.cuda.is_available():
        torch.cuda.set_rng_state(tensors["rng.cuda"])
    return counters
