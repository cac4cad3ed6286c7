"""ONNX export of a model's real core, checked with onnxruntime: ``export_onnx(model, path)``.

What is exported is the real core (:mod:`wirelessml.efficiency.core`): for AdaFortiTran
``forward_real(pilots [N, P], priors [N, 3]) → [N, T, F]`` float32, batch dimension
dynamic. The complex edge (complex ↔ Re/Im channels, prior normalization) is a few
reshapes a deployment does outside the graph. The exporter is torch's dynamo exporter
(``torch.onnx.export(..., dynamo=True)``, onnxscript).

The check runs the ONNX file in onnxruntime (CPU) and the PyTorch core on the same inputs
and reports ``max_rel_error = max|y_ort - y_torch| / max|y_torch|`` (the largest error
relative to the output's scale; an elementwise ratio explodes where the output crosses 0).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from wirelessml._typing import PathType
from wirelessml.efficiency.core import (
    RECORD_ATTR,
    CompressionError,
    compression_record,
    real_core,
)

__all__ = ["check_onnx", "export_onnx"]


def export_onnx(model: nn.Module, path: PathType, *, inputs: tuple[Tensor, ...] | None = None,
                opset: int = 18) -> dict[str, Any]:  # fmt: skip
    """Write ``model``'s real core to ``path`` (atomically) and check it with onnxruntime.

    Args:
        model: A float (possibly pruned) model declaring a real core.
        path: The ``.onnx`` file.
        inputs: Real-core inputs for the check (default: ``model.real_core_example(8)``
            filled with standard-normal values).
        opset: ONNX opset.

    Returns:
        ``{"path", "bytes", "inputs", "max_rel_error", "max_abs_error"}``.

    Raises:
        CompressionError: no real core (a complex model), or a quantized model.
    """
    core = real_core(model, "export to ONNX")
    if any(s["pass"] == "quantize" for s in compression_record(model)["steps"]):
        raise CompressionError("ONNX export takes the float (or pruned) model, not a quantized "
                               "one: export before quantizing")  # fmt: skip
    import onnxscript  # noqa: F401  (the dynamo exporter needs it; fail here if absent)

    model.eval()
    record = compression_record(model)
    examples = tuple(model.real_core_example(4))
    batch = torch.export.Dim("batch", min=1, max=1 << 20)
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with torch.no_grad():
        program = torch.onnx.export(
            core, examples, dynamo=True, opset_version=opset, verbose=False,
            input_names=list(core.input_names), output_names=["output"],
            dynamic_shapes=(tuple({0: batch} for _ in examples),),
        )  # fmt: skip
    object.__setattr__(model, RECORD_ATTR, record)  # torch.export drops unknown attributes
    program.save(str(tmp))
    os.replace(tmp, path)
    if inputs is None:
        gen = torch.Generator().manual_seed(0)
        inputs = tuple(torch.randn((8, *x.shape[1:]), generator=gen)
                       for x in examples)  # fmt: skip
    return {"path": str(path), "bytes": path.stat().st_size, **check_onnx(core, path, inputs)}


def check_onnx(core: nn.Module, path: PathType, inputs: tuple[Tensor, ...]) -> dict[str, Any]:
    """Largest error of onnxruntime against ``core`` on ``inputs`` (see the module docstring)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    feeds = {i.name: x.detach().cpu().numpy().astype(np.float32)
             for i, x in zip(session.get_inputs(), inputs, strict=True)}  # fmt: skip
    (got,) = session.run(None, feeds)
    with torch.no_grad():
        want = core(*inputs).cpu().numpy()
    err = np.abs(got - want).max()
    return {"inputs": int(inputs[0].shape[0]), "max_abs_error": float(err),
            "max_rel_error": float(err / max(np.abs(want).max(), 1e-30))}  # fmt: skip
