"""Learned models: plain ``nn.Module``s built from a config, registered by name.

Importing this package registers every model (``wirelessml.registry.MODELS``).
"""

from __future__ import annotations

from wirelessml.models.adafortitran import (
    AdaFortiTran,
    AdaFortiTranConfig,
    FortiTran,
    FortiTranConfig,
)
from wirelessml.models.icgnn import ICGNN, ICGNNConfig

__all__ = [
    "ICGNN",
    "AdaFortiTran",
    "AdaFortiTranConfig",
    "FortiTran",
    "FortiTranConfig",
    "ICGNNConfig",
]
