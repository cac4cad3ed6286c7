"""Configuration of the CSI time-series data family (no Sionna import: fast to load)."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any, Literal

from wirelessml.config import check_field
from wirelessml.simulators.grid_mode import GridMode
from wirelessml.simulators.ofdm_config import SPEED_OF_LIGHT

__all__ = ["CDL_MODELS", "PRESETS", "CSISeriesConfig"]

CDL_MODELS: tuple[str, ...] = tuple(f"cdl-{m}" for m in "abcde")
"""3GPP TR 38.901 CDL models the CSI time-series simulator can draw from."""

PRESETS: dict[str, dict[str, int]] = {
    # The CSI-4CAST reference (arXiv 2510.12996): 4x4 dual-polarized panel = 32 ports,
    # UL 300 + gap 150 + DL 300 subcarriers of 30 kHz.
    "paper": {"bs_rows": 4, "bs_cols": 4, "num_ul_subcarriers": 300, "num_gap_subcarriers": 150,
              "num_dl_subcarriers": 300, "subcarrier_stride": 1, "block_size": 8},
    # CPU-sized: 2x2 dual-polarized = 8 ports; every 6th subcarrier of the same 9 MHz bands
    # (50 + gap 25 + 50 at 180 kHz), so the frequency selectivity per delay spread is the
    # paper's and only the frequency sampling is coarser.
    "small": {"bs_rows": 2, "bs_cols": 2, "num_ul_subcarriers": 50, "num_gap_subcarriers": 25,
              "num_dl_subcarriers": 50, "subcarrier_stride": 6, "block_size": 64},
}  # fmt: skip
"""Values of the ``None`` fields of :class:`CSISeriesConfig` per preset."""


def _help(text: str) -> dict[str, str]:
    return {"help": text}


@dataclass(frozen=True, kw_only=True)
class CSISeriesConfig(GridMode):
    """CSI snapshots of a single-antenna UE moving under a 3GPP CDL channel, seen by a BS panel.

    Reproduces the data of CSI-4CAST (Cheng et al., arXiv 2510.12996): CDL at 2.4 GHz, a BS
    38.901 panel of cross-polarized elements, an omnidirectional V-polarized UE antenna,
    one CSI snapshot every 2.5 ms, 16 of history and 4 to predict. The band is an uplink
    (UL) block, a gap and a downlink (DL) block of subcarriers. TDD predicts the UL future
    from the UL history; FDD predicts the DL future from the UL history.

    The ``None`` fields take the value of ``preset`` (see :data:`PRESETS`): ``paper`` is the
    reference (32 ports, 300 + 150 + 300 subcarriers), ``small`` the CPU size (8 ports,
    50 + 25 + 50 subcarriers: every 6th subcarrier of the same bands).

    With ``mode="grid"`` the samples cycle through every combination of
    ``channel_models`` x ``delay_spread_ns_grid`` x ``speed_mps_grid``.

    Raises:
        ConfigError: naming the field, the bad value and what is allowed.

    Examples:
        >>> cfg = CSISeriesConfig(preset="paper", duplex="fdd")
        >>> cfg.num_bs_ant, cfg.resolved("num_ul_subcarriers"), cfg.target_subcarriers
        (32, 300, 300)
    """

    version: int = 1
    preset: Literal["small", "paper"] = field(
        default="small", metadata=_help("size preset filling the None fields: small or paper")
    )
    duplex: Literal["tdd", "fdd"] = field(
        default="tdd",
        metadata=_help("tdd: predict the UL future; fdd: predict the DL future from UL history"),
    )
    bs_rows: int | None = field(default=None, metadata=_help("BS panel rows (None: preset)"))
    bs_cols: int | None = field(default=None, metadata=_help("BS panel columns (None: preset)"))
    num_ul_subcarriers: int | None = field(
        default=None, metadata=_help("UL band subcarriers stored (None: preset)")
    )
    num_gap_subcarriers: int | None = field(
        default=None, metadata=_help("subcarriers between the UL and DL bands (None: preset)")
    )
    num_dl_subcarriers: int | None = field(
        default=None, metadata=_help("DL band subcarriers stored (None: preset)")
    )
    subcarrier_stride: int | None = field(
        default=None, metadata=_help("keep every N-th subcarrier of the bands (None: preset)")
    )
    subcarrier_spacing_hz: float = field(default=30e3, metadata=_help("subcarrier spacing [Hz]"))
    carrier_frequency_hz: float = field(default=2.4e9, metadata=_help("carrier frequency [Hz]"))
    snapshot_interval_s: float = field(
        default=2.5e-3, metadata=_help("time between CSI snapshots [s] (5 slots of 0.5 ms)")
    )
    num_history: int = field(default=16, metadata=_help("snapshots of history (model input)"))
    num_horizon: int = field(default=4, metadata=_help("future snapshots to predict"))
    channel_models: tuple[str, ...] = field(
        default=("cdl-a", "cdl-c", "cdl-d"),
        metadata=_help(f"CDL models drawn per sample: any of {', '.join(CDL_MODELS)}"),
    )
    mode: Literal["random", "grid"] = field(
        default="random",
        metadata=_help("random: draw conditions from the ranges; grid: cycle through the grids"),
    )
    speed_mps: tuple[float, float] = field(
        default=(1.0, 30.0), metadata=_help("UE speed range [m/s], uniform per sample (random)")
    )
    delay_spread_ns: tuple[float, float] = field(
        default=(30.0, 300.0), metadata=_help("RMS delay spread range [ns], uniform (random)")
    )
    speed_mps_grid: tuple[float, ...] = field(
        default=(1.0, 10.0, 30.0), metadata=_help("UE speeds [m/s] (grid mode)")
    )
    delay_spread_ns_grid: tuple[float, ...] = field(
        default=(30.0, 100.0, 300.0), metadata=_help("RMS delay spreads [ns] (grid mode)")
    )
    block_size: int | None = field(
        default=None,
        metadata=_help("samples per Sionna call (None: preset); part of the random stream"),
    )

    def __post_init__(self) -> None:
        check_field(self.preset in PRESETS, self, "preset", self.preset, "'small' or 'paper'")
        # The preset fills the None fields here, so the saved config holds every value.
        for name, value in PRESETS[self.preset].items():
            if getattr(self, name) is None:
                object.__setattr__(self, name, value)
        check_field(self.duplex in ("tdd", "fdd"), self, "duplex", self.duplex, "'tdd' or 'fdd'")
        check_field(self.mode in ("random", "grid"), self, "mode", self.mode, "'random' or 'grid'")
        self._check_sizes()
        self._check_bands()
        self._check_conditions()

    def _check_sizes(self) -> None:
        for name in ("num_history", "num_horizon"):
            value = getattr(self, name)
            check_field(_is_int(value, 1), self, name, value,
                        "an integer >= 1 (at least one snapshot)")  # fmt: skip
        for name in ("bs_rows", "bs_cols", "num_ul_subcarriers", "subcarrier_stride",
                     "block_size"):  # fmt: skip
            value = getattr(self, name)
            check_field(value is None or _is_int(value, 1), self, name, value,
                        "an integer >= 1, or None for the preset's value")  # fmt: skip
        for name, low in (("subcarrier_spacing_hz", 0.0), ("carrier_frequency_hz", 0.0),
                          ("snapshot_interval_s", 0.0)):  # fmt: skip
            value = getattr(self, name)
            check_field(_is_number(value) and value > low, self, name, value, "a number > 0")

    def _check_bands(self) -> None:
        gap = self.num_gap_subcarriers
        check_field(
            gap is None or _is_int(gap, 0),
            self, "num_gap_subcarriers", gap,
            "an integer >= 0 (a negative gap would make the DL band overlap the UL band)",
        )  # fmt: skip
        dl = self.num_dl_subcarriers
        low = 1 if self.duplex == "fdd" else 0
        check_field(dl is None or _is_int(dl, low), self, "num_dl_subcarriers", dl,
                    f"an integer >= {low} (FDD predicts the DL band)")  # fmt: skip

    def _check_conditions(self) -> None:
        models = self.channel_models
        check_field(
            len(models) >= 1 and len(set(models)) == len(models)
            and all(m in CDL_MODELS for m in models),
            self, "channel_models", models, f"distinct names among {', '.join(CDL_MODELS)}",
        )  # fmt: skip
        bounds = {"speed_mps": (0.0, 500.0), "delay_spread_ns": (1.0, 10_000.0)}
        for name, (lo, hi) in bounds.items():
            rng = getattr(self, name)
            check_field(
                len(rng) == 2 and all(_is_number(v) for v in rng) and lo <= rng[0] <= rng[1] <= hi,
                self, name, rng, f"a range (low, high) with {lo:g} <= low <= high <= {hi:g}",
            )  # fmt: skip
            grid = getattr(self, f"{name}_grid")
            check_field(
                len(grid) >= 1 and all(_is_number(v) and lo <= v <= hi for v in grid),
                self, f"{name}_grid", grid, f"one or more values in [{lo:g}, {hi:g}]",
            )  # fmt: skip

    # ----------------------------------------------------------------- derived values
    def resolved(self, name: str) -> Any:
        """The value of field ``name`` (the preset's, if it was given as ``None``)."""
        return getattr(self, name)

    @property
    def num_bs_ant(self) -> int:
        """BS ports: rows x columns x 2 polarizations."""
        return 2 * self.resolved("bs_rows") * self.resolved("bs_cols")

    @property
    def num_snapshots(self) -> int:
        return self.num_history + self.num_horizon

    @property
    def stored_spacing_hz(self) -> float:
        """Frequency step between two stored subcarriers [Hz]."""
        return self.subcarrier_spacing_hz * self.resolved("subcarrier_stride")

    @property
    def target_subcarriers(self) -> int:
        """Subcarriers of the predicted band: UL (TDD) or DL (FDD)."""
        band = "num_ul_subcarriers" if self.duplex == "tdd" else "num_dl_subcarriers"
        return self.resolved(band)

    def band_frequencies_hz(self) -> tuple[list[float], list[float]]:
        """Baseband frequencies of the stored UL and DL subcarriers [Hz].

        The UL block, the gap and the DL block are laid out in this order and centred on
        the carrier, whatever the duplex mode, so TDD and FDD data of one config see the
        same frequencies.
        """
        ul, gap, dl = (self.resolved(n) for n in
                       ("num_ul_subcarriers", "num_gap_subcarriers", "num_dl_subcarriers"))  # fmt: skip
        total, step = ul + gap + dl, self.stored_spacing_hz
        freqs = [(j - (total - 1) / 2) * step for j in range(total)]
        return freqs[:ul], freqs[ul + gap :]

    @property
    def grid_conditions(self) -> list[tuple[str, float, float]]:
        """Every (channel_model, delay_spread_ns, speed_mps) combination of the grid mode."""
        return list(itertools.product(self.channel_models, self.delay_spread_ns_grid,
                                      self.speed_mps_grid))  # fmt: skip

    def doppler_hz(self, speed_mps: float) -> float:
        """Maximum Doppler shift of a speed [Hz]."""
        return speed_mps * self.carrier_frequency_hz / SPEED_OF_LIGHT


def _is_int(value: object, low: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= low


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
