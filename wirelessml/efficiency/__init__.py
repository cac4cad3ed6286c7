"""The efficiency layer: make a trained model smaller and faster (issue 8).

torchao-style in-place verbs with config objects, each pass in its own module:

- :func:`quantize_` (:mod:`.quantize`): ``Int8WeightOnlyConfig``, ``Int8DynamicConfig``
  (torchao) and ``Int8StaticConfig`` (PT2E, X86InductorQuantizer, calibrated, lowered).
- :func:`prune_` (:mod:`.prune`): group channel pruning through torch-pruning's
  dependency graph, then :func:`distill_finetune` (attention distillation from the teacher).
- :func:`export_onnx` (:mod:`.export`): the real core to ONNX, checked with onnxruntime.
- :func:`compress` (:mod:`.compress`): all of it on a run folder, with a report
  (``wirelessml compress``); compressed runs load with ``load_run`` (:mod:`.runfolder`).

All passes work on a model's real-valued core (:mod:`.core`); complex models without one
are refused.

Examples:
    >>> from wirelessml.efficiency import Int8DynamicConfig, PruneConfig, prune_, quantize_
    >>> prune_(model, PruneConfig(ratio=0.5))  # doctest: +SKIP
    >>> quantize_(model, Int8DynamicConfig())  # doctest: +SKIP
"""

from __future__ import annotations

from wirelessml.efficiency.compress import compress
from wirelessml.efficiency.core import CompressionError, RealCore, real_core, real_inputs
from wirelessml.efficiency.export import check_onnx, export_onnx
from wirelessml.efficiency.prune import (
    PRUNE_GROUPS,
    DistillConfig,
    PruneConfig,
    distill_finetune,
    prune_,
)
from wirelessml.efficiency.quantize import (
    QUANTIZE_MODES,
    Int8DynamicConfig,
    Int8StaticConfig,
    Int8WeightOnlyConfig,
    quantize_,
)

__all__ = [
    "PRUNE_GROUPS",
    "QUANTIZE_MODES",
    "CompressionError",
    "DistillConfig",
    "Int8DynamicConfig",
    "Int8StaticConfig",
    "Int8WeightOnlyConfig",
    "PruneConfig",
    "RealCore",
    "check_onnx",
    "compress",
    "distill_finetune",
    "export_onnx",
    "prune_",
    "quantize_",
    "real_core",
    "real_inputs",
]
