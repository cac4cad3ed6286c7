"""Simulators: one module per data family, each on Sionna. Configs import without Sionna."""

from __future__ import annotations

from wirelessml.registry import register_simulator
from wirelessml.simulators.cellfree_config import CellFreeConfig
from wirelessml.simulators.csi_series_config import CDL_MODELS, CSISeriesConfig
from wirelessml.simulators.mimo_config import MIMO_CHANNEL_MODELS, MIMOConfig
from wirelessml.simulators.ofdm_config import CHANNEL_MODELS, OFDMConfig
from wirelessml.simulators.radiomap_config import RadioMapConfig

__all__ = [
    "CDL_MODELS",
    "CHANNEL_MODELS",
    "CSISeriesConfig",
    "MIMO_CHANNEL_MODELS",
    "CellFreeConfig",
    "MIMOConfig",
    "OFDMConfig",
    "RadioMapConfig",
]


@register_simulator(
    "ofdm",
    OFDMConfig,
    "OFDM slots under 3GPP TDL/CDL/UMa/UMi: true channel, pilots, LS estimates (channel estimation)",
)
def _build_ofdm(config: OFDMConfig, *, device: str | None = None):
    from wirelessml.simulators.ofdm import OFDMSimulator

    return OFDMSimulator(config, device=device)


@register_simulator(
    "mimo",
    MIMOConfig,
    "multi-user MISO downlink channels, Rayleigh (correlated) or UMa/UMi; K, M per sample (precoding)",
)
def _build_mimo(config: MIMOConfig, *, device: str | None = None):
    from wirelessml.simulators.mimo import MIMOSimulator

    return MIMOSimulator(config, device=device)


@register_simulator(
    "cellfree",
    CellFreeConfig,
    "cell-free downlink: L APs x N antennas, K users in an area, UMi/UMa large-scale fading",
)
def _build_cellfree(config: CellFreeConfig, *, device: str | None = None):
    from wirelessml.simulators.cellfree import CellFreeSimulator

    return CellFreeSimulator(config, device=device)


@register_simulator(
    "csi-series",
    CSISeriesConfig,
    "CSI time series under CDL A-E: UL history, UL (TDD) or DL (FDD) future (CSI prediction)",
)
def _build_csi_series(config: CSISeriesConfig, *, device: str | None = None):
    from wirelessml.simulators.csi_series import CSISeriesSimulator

    return CSISeriesSimulator(config, device=device)


@register_simulator(
    "radiomap",
    RadioMapConfig,
    "Sionna RT path-gain maps of procedural districts or built-in scenes, one per transmitter",
)
def _build_radiomap(config: RadioMapConfig, *, device: str | None = None):
    from wirelessml.simulators.radiomap import RadioMapSimulator

    return RadioMapSimulator(config, device=device)
