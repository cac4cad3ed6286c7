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
from wirelessml.models.csi4cast import CSI4CAST, CSI4CASTConfig
from wirelessml.models.csi_baselines import (
    CSITransformer,
    CSITransformerConfig,
    LSTMConfig,
    RNNConfig,
    RNNPredictor,
)
from wirelessml.models.icgnn import ICGNN, ICGNNConfig
from wirelessml.models.icgnn_cellfree import CellFreeICGNN, CellFreeICGNNConfig
from wirelessml.models.radiounet import (
    Geo2SigMapCascade,
    Geo2SigMapConfig,
    RadioUNet,
    RadioUNetConfig,
)

__all__ = [
    "CSI4CAST",
    "ICGNN",
    "CSI4CASTConfig",
    "CSITransformer",
    "CellFreeICGNN",
    "CellFreeICGNNConfig",
    "CSITransformerConfig",
    "LSTMConfig",
    "RNNConfig",
    "RNNPredictor",
    "AdaFortiTran",
    "AdaFortiTranConfig",
    "FortiTran",
    "FortiTranConfig",
    "Geo2SigMapCascade",
    "Geo2SigMapConfig",
    "ICGNNConfig",
    "RadioUNet",
    "RadioUNetConfig",
]
