"""Compressed models as ordinary run folders (safetensors + JSON, nothing pickled).

``run.json`` of a compressed run is its source's, plus a ``"compression"`` entry::

    {"version": 1, "source": "/abs/runs/ada", "int8_storage": true,
     "steps": [{"pass": "prune", "config": {...}, "structure": [[layer, kind, kept], ...]},
               {"pass": "quantize", "mode": "int8-static", "config": {...}}],
     "versions": {"torch": ..., "torchao": ..., "torch_pruning": ...}}

``model.safetensors`` holds the float architecture's state after the steps, with every
``ndim >= 2`` float tensor (and 1-D one of >= 64 elements) as int8 + float32 scales
when ``int8_storage`` (see
:mod:`wirelessml.efficiency.core`), plus ``pt2e_observer.*`` statistics for int8-static.
:func:`wirelessml.train.run.load_run` calls :func:`load_compressed`, which builds the
model from ``model_config``, re-applies the recipe (pruned shapes from ``structure``,
weights, then the quantizer with the saved observer statistics instead of calibration)
and so returns the very model that was saved.
"""

from __future__ import annotations

import importlib.metadata
import os
from pathlib import Path
from typing import Any

import safetensors
import safetensors.torch
import torch
from torch import nn

from wirelessml.efficiency.core import compression_record, pack_int8, unpack_int8
from wirelessml.train.checkpoint import plain_tensors

__all__ = ["COMPRESSION_KEY", "compression_meta", "load_compressed", "save_compressed_weights"]

COMPRESSION_KEY = "compression"
_VERSION = 1


def _versions() -> dict[str, str]:
    out = {}
    for name in ("torch", "torchao", "torch-pruning", "onnx", "onnxruntime"):
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def compression_meta(model: nn.Module, source: Path) -> dict[str, Any]:
    """The ``"compression"`` entry of ``run.json`` for ``model``."""
    record = compression_record(model)
    return {"version": _VERSION, "source": str(Path(source).resolve()),
            "int8_storage": bool(record["int8_storage"]), "steps": record["steps"],
            "versions": _versions()}  # fmt: skip


def save_compressed_weights(model: nn.Module, path: Path) -> Path:
    """Write the tensors that rebuild ``model`` (module docstring) to ``path``, atomically."""
    record = compression_record(model)
    state = record["fp32_state"] if record["fp32_state"] is not None else model.state_dict()
    tensors = pack_int8(state) if record["int8_storage"] else dict(state)
    tensors.update(record["tensors"])
    tmp = path.with_name(path.name + ".tmp")
    safetensors.torch.save_file(plain_tensors(tensors), tmp)
    os.replace(tmp, path)
    return path


def load_compressed(path: Path, model: nn.Module, entry: dict[str, Any], *, model_name: str,
                    device: str | torch.device = "cpu") -> nn.Module:  # fmt: skip
    """Re-apply a compression recipe to a freshly built ``model`` and load its tensors.

    Raises:
        RunError: unreadable weights, tensors that do not fit, an unknown step, or a
            quantized run asked for a device other than the CPU.
    """
    from wirelessml.efficiency.prune import apply_structure
    from wirelessml.efficiency.quantize import OBSERVER_PREFIX, quantize_, quantize_config
    from wirelessml.train.run import RunError, _weights_mismatch

    if not isinstance(entry, dict) or entry.get("version") != _VERSION:
        raise RunError(f"{path.parent} has a compression entry this wirelessml cannot read")
    steps = entry.get("steps", [])
    quantized = [s for s in steps if s.get("pass") == "quantize"]
    if quantized and torch.device(device).type != "cpu":
        raise RunError(f"{path.parent} is int8-quantized ({quantized[0]['mode']}), which runs on "
                       f"the CPU only; use --device cpu")  # fmt: skip
    try:
        tensors = safetensors.torch.load_file(path)
    except (OSError, safetensors.SafetensorError) as exc:
        raise RunError(f"{path} is not a readable safetensors file ({exc})") from None
    for step in steps:
        if step.get("pass") == "prune":
            apply_structure(model, step["structure"])
        elif step.get("pass") != "quantize":
            raise RunError(f"{path.parent} names an unknown compression step {step.get('pass')!r}")
    observers = {k: v for k, v in tensors.items() if k.startswith(OBSERVER_PREFIX)}
    state = unpack_int8({k: v for k, v in tensors.items() if k not in observers})
    problem = _weights_mismatch(state, model.state_dict())
    if problem is not None:
        raise RunError(f"{path} does not fit its compression recipe for {model_name!r}: {problem}")
    model.load_state_dict(state)
    model.eval()
    record = compression_record(model)
    record["steps"] = [s for s in steps if s.get("pass") != "quantize"]
    for step in quantized:
        config = quantize_config(step["mode"], **step.get("config", {}))
        quantize_(model, config, observers=observers, _rounded=True)
    return model
