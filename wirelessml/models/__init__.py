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

__all__ = ["AdaFortiTran", "AdaFortiTranConfig", "FortiTran", "FortiTranConfig"]
