"""int8 quantization of a model's real core, in torchao's style: ``quantize_(model, config)``.

Three configs, one per backend path:

- :class:`Int8WeightOnlyConfig` (``int8-weight``): torchao ``Int8WeightOnlyConfig`` on the
  ``nn.Linear`` layers of the real core; activations stay float32, weights are int8 with a
  per-row scale, dequantized on the fly. Smaller, not faster, on CPU eager.
- :class:`Int8DynamicConfig` (``int8-dynamic``): torchao
  ``Int8DynamicActivationInt8WeightConfig`` on those ``nn.Linear`` layers: activations are
  quantized per token at run time, int8 x int8 matmuls. No calibration.
- :class:`Int8StaticConfig` (``int8-static``): PT2E. The real core is captured with
  ``torch.export`` (batch dimension dynamic), annotated by torchao's
  ``X86InductorQuantizer`` (default config: int8 activations per tensor from histogram
  observers, int8 weights per channel) on its ``nn.Conv2d`` layers, calibrated on dataset
  samples, converted, then lowered for x86 with Inductor's *freezing passes* (pattern
  rewrites to oneDNN ``qconv_pointwise`` ops with the ReLU fused; no code generation, no
  ``torch.compile``). This lowered graph is what runs and what the latency measures.
  Linear layers are not annotated: with this torch/torchao (2.13/0.18) lowering the
  quantized linears of the encoder changed the output by 14 % (relative) and gained
  nothing, while the lowered convolutions match the reference-quantized graph (1.2 %)
  and run ~2x faster. The converted but unlowered PT2E graph is "reference quantized"
  (dequantize → float op → quantize) and ~2x *slower* than float32 eager.

Every path first rounds the tensors stored as int8 (all ``ndim >= 2`` float tensors and
1-D ones of >= 64 elements) to their int8 storage grid
(:func:`~wirelessml.efficiency.core.round_to_int8_`), so the run folder stores int8 + row
scales for all of them (Linear, Conv, positional embedding) — also for the layers that
compute in float — and a model rebuilt from the folder is bit-identical to this one.
Layers inside ``nn.MultiheadAttention`` (its packed ``in_proj`` and ``out_proj``) are not
handed to torchao: its fused CPU kernel takes plain weight tensors; they are int8 in storage.
Neither are Linears with one input (torchao 0.18 fails on them: the prior MLPs' first layers).

Examples:
    >>> quantize_(model, Int8DynamicConfig())  # doctest: +SKIP
    >>> quantize_(model, Int8StaticConfig(), calibration=real_inputs)  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from wirelessml.config import check_field
from wirelessml.efficiency.core import (
    RECORD_ATTR,
    CompressionError,
    check_real_layers,
    compression_record,
    real_core,
    record_step,
    round_to_int8_,
    swap_real_core,
)
from wirelessml.efficiency.x86_passes import drop_identity_clones, fold_transposed_linears

__all__ = [
    "QUANTIZE_MODES",
    "Int8DynamicConfig",
    "Int8StaticConfig",
    "Int8WeightOnlyConfig",
    "quantize_",
    "quantize_config",
]

OBSERVER_PREFIX = "pt2e_observer."


@dataclass(frozen=True, kw_only=True)
class Int8WeightOnlyConfig:
    """int8 weights (per row), float32 activations, on the real core's ``nn.Linear``s."""

    version: int = 1
    mode = "int8-weight"


@dataclass(frozen=True, kw_only=True)
class Int8DynamicConfig:
    """int8 weights and per-token dynamic int8 activations on the real core's ``nn.Linear``s."""

    version: int = 1
    mode = "int8-dynamic"


@dataclass(frozen=True, kw_only=True)
class Int8StaticConfig:
    """PT2E static int8 of the real core's ``nn.Conv2d``s, lowered for x86 (see module doc).

    Args:
        calibration_samples: Frames used for calibration by the CLI (default: ``256``).
    """

    version: int = 1
    calibration_samples: int = 256
    mode = "int8-static"

    def __post_init__(self) -> None:
        value = self.calibration_samples
        check_field(isinstance(value, int) and not isinstance(value, bool) and value >= 1,
                    self, "calibration_samples", value, "an integer >= 1")  # fmt: skip


QUANTIZE_MODES: dict[str, type] = {
    c.mode: c for c in (Int8WeightOnlyConfig, Int8DynamicConfig, Int8StaticConfig)
}


def quantize_config(mode: str, **fields: Any) -> Any:
    """The config of a ``--quantize`` mode name, with a one-line error for an unknown one."""
    if mode not in QUANTIZE_MODES:
        raise CompressionError(f"unknown quantization {mode!r}; choose from: "
                               f"{', '.join(QUANTIZE_MODES)}")  # fmt: skip
    cls = QUANTIZE_MODES[mode]
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in fields.items() if k in names})


def _torchao_linears(model: nn.Module) -> list[str]:
    inside_mha = {f"{n}.{c}" for n, m in model.named_modules()
                  if isinstance(m, nn.MultiheadAttention) for c, _ in m.named_modules() if c}  # fmt: skip
    # torchao 0.18 fails on in_features == 1 (the prior MLPs' first layers): those stay float.
    return [n for n, m in model.named_modules()
            if type(m) is nn.Linear and n not in inside_mha and m.in_features > 1]  # fmt: skip


def quantize_(
    model: nn.Module,
    config: Any,
    *,
    calibration: Iterable[tuple[Tensor, ...]] | None = None,
    observers: Mapping[str, Tensor] | None = None,
    _rounded: bool = False,
) -> nn.Module:
    """Quantize ``model``'s real core in place (CPU); its complex edge stays float32.

    Args:
        model: A model declaring a real core (:mod:`wirelessml.efficiency.core`), in eval mode.
        config: :class:`Int8WeightOnlyConfig`, :class:`Int8DynamicConfig` or
            :class:`Int8StaticConfig`.
        calibration: ``int8-static`` only: real-core input tuples (e.g. from
            :func:`~wirelessml.efficiency.core.real_inputs` on dataset batches).
        observers: ``int8-static`` only, instead of ``calibration``: the observer
            statistics saved with a compressed run (how :func:`load_run` re-applies it).

    Returns:
        ``model`` (quantized in place; the step is recorded for saving).

    Raises:
        CompressionError: no real core, complex or non-float layers, no layer the backend
            quantizes, no calibration data, or a model quantized already.
    """
    if config.mode not in QUANTIZE_MODES or not isinstance(config, QUANTIZE_MODES[config.mode]):
        raise CompressionError(f"quantize_ needs one of {', '.join(QUANTIZE_MODES)} configs; "
                               f"got {type(config).__name__}")  # fmt: skip
    core = real_core(model, "quantize")
    record = compression_record(model)
    if any(s["pass"] == "quantize" for s in record["steps"]):
        raise CompressionError(f"{type(model).__name__} is quantized already")
    model.eval()
    if config.mode == "int8-static":
        check_real_layers(model, (nn.Conv2d, nn.Linear), "PT2E (X86InductorQuantizer)")
        if not any(isinstance(m, nn.Conv2d) for m in core.modules()):
            raise CompressionError(f"int8-static quantizes Conv2d layers and "
                                   f"{type(model).__name__} has none; use int8-dynamic")  # fmt: skip
    else:
        check_real_layers(model, (nn.Linear,), "torchao")
        if not _torchao_linears(model):
            raise CompressionError(f"{config.mode} quantizes nn.Linear layers and "
                                   f"{type(model).__name__} has none outside attention")  # fmt: skip
    if not _rounded:  # a run folder's weights are on the grid already
        round_to_int8_(model)
    record["int8_storage"] = True
    record["fp32_state"] = {k: v.detach().clone() for k, v in model.state_dict().items()}
    if config.mode == "int8-static":
        _static(model, core, calibration, observers, record)
        # torch.export restores the traced module's attributes and drops the record: re-attach
        object.__setattr__(model, RECORD_ATTR, record)
    else:
        _torchao(model, config)
    record_step(model, {"pass": "quantize", "mode": config.mode,
                        "config": dataclasses.asdict(config)})  # fmt: skip
    return model


def _torchao(model: nn.Module, config: Any) -> None:
    from torchao.quantization import (
        Int8DynamicActivationInt8WeightConfig,
        Int8WeightOnlyConfig,
        quantize_,
    )

    names = set(_torchao_linears(model))
    ao_config = (Int8WeightOnlyConfig() if config.mode == "int8-weight"
                 else Int8DynamicActivationInt8WeightConfig())  # fmt: skip
    quantize_(model, ao_config, filter_fn=lambda _m, fqn: fqn in names)


def _static(model: nn.Module, core: nn.Module, calibration: Iterable[tuple[Tensor, ...]] | None,
            observers: Mapping[str, Tensor] | None, record: dict[str, Any]) -> None:  # fmt: skip
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e
    from torchao.quantization.pt2e.quantizer import x86_inductor_quantizer as xiq

    examples = _example_inputs(model)
    batch = torch.export.Dim("batch", min=2, max=1 << 20)
    dynamic = (tuple({0: batch} for _ in examples),)  # RealCore.forward(*inputs)
    with torch.no_grad():
        graph = torch.export.export(core, examples, dynamic_shapes=dynamic).module()
    quantizer = xiq.X86InductorQuantizer()
    quantizer.set_module_type_qconfig(nn.Conv2d, xiq.get_default_x86_inductor_quantization_config())
    prepared = prepare_pt2e(graph, quantizer)
    if observers is not None:
        prepared.load_state_dict(
            {k[len(OBSERVER_PREFIX) :]: v for k, v in observers.items()}, strict=False
        )
    else:
        seen = 0
        with torch.no_grad():
            for inputs in calibration or ():
                prepared(*inputs)
                seen += 1
        if not seen:
            raise CompressionError("int8-static needs calibration data: give --data (or "
                                   "calibration=...) with at least one sample")  # fmt: skip
    _pin_histograms(prepared, observers)
    record["tensors"] = {
        OBSERVER_PREFIX + k: v.detach().clone()
        for k, v in prepared.state_dict().items()
        if "activation_post_process" in k and v.numel() and not k.endswith((".histogram", ".eps"))
    }
    converted = convert_pt2e(prepared)
    swap_real_core(model, _lower_x86(converted, examples, dynamic))


def _pin_histograms(prepared: nn.Module, observers: Mapping[str, Tensor] | None) -> None:
    """Fix each histogram observer's clipping range, so the 2048-bin histograms need no saving.

    ``HistogramObserver.calculate_qparams`` derives its range from the histogram
    (``_non_linear_param_search``); that range is computed once here (or read back from
    the run folder as ``<observer>.search_range``) and the observer returns it from then on.
    """
    for name, module in prepared.named_modules():
        if not hasattr(module, "_non_linear_param_search") or not hasattr(module, "histogram"):
            continue
        key = f"{name}.search_range"
        if observers is not None and OBSERVER_PREFIX + key in observers:
            lo, hi = observers[OBSERVER_PREFIX + key].unbind()
        else:
            lo, hi = (torch.as_tensor(v, dtype=torch.float32).reshape(())
                      for v in module._non_linear_param_search())  # fmt: skip
        module.register_buffer("search_range", torch.stack([lo, hi]).float())
        object.__setattr__(module, "_non_linear_param_search", lambda lo=lo, hi=hi: (lo, hi))


def _example_inputs(model: nn.Module) -> tuple[Tensor, ...]:
    make = getattr(model, "real_core_example", None)
    if make is None:
        raise CompressionError(f"{type(model).__name__} declares a real core but no "
                               "real_core_example(n) to trace it with")  # fmt: skip
    return tuple(make(4))


def _lower_x86(converted: nn.Module, examples: tuple[Tensor, ...], dynamic: tuple) -> nn.Module:
    """torchao's ``lower_pt2e_quantized_to_x86`` with a dynamic batch dimension."""
    from torch._inductor.constant_folding import constant_fold
    from torch._inductor.fx_passes.freezing_patterns import freezing_passes

    table = torch.export.default_decompositions()
    for op in list(table):
        if not torch._export.utils._is_cia_op(op):
            del table[op]
    with torch.no_grad():
        flat = dynamic[0]  # the exported graph takes the inputs flat
        lowered = torch.export.export(converted, examples, dynamic_shapes=flat, strict=True)
        lowered = lowered.run_decompositions(table).module()
        for node in list(lowered.graph.nodes):  # aten.t -> permute, as torchao's lowering does
            if node.target == torch.ops.aten.t.default:
                with lowered.graph.inserting_before(node):
                    perm = lowered.graph.call_function(torch.ops.aten.permute.default,
                                                       args=(node.args[0], [1, 0]))  # fmt: skip
                node.replace_all_uses_with(perm)
                lowered.graph.erase_node(node)
        lowered.recompile()
        fold_transposed_linears(lowered)
        freezing_passes(lowered, examples)
        constant_fold(lowered)
        drop_identity_clones(lowered)
    return lowered
