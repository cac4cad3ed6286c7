"""Configuration of the OFDM channel-estimation data family (no Sionna import: fast to load)."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Literal

from wirelessml.config import check_field
from wirelessml.simulators.grid_mode import GridMode

__all__ = ["CHANNEL_MODELS", "SPEED_OF_LIGHT", "OFDMConfig"]

SPEED_OF_LIGHT = 299_792_458.0
"""m/s; Doppler f_D = speed * carrier_frequency / SPEED_OF_LIGHT."""

CHANNEL_MODELS: tuple[str, ...] = (
    *(f"tdl-{m}" for m in "abcde"),
    *(f"cdl-{m}" for m in "abcde"),
    "uma",
    "umi",
)
"""3GPP TR 38.901 channel models the OFDM simulator can draw from."""


def _help(text: str) -> dict[str, str]:
    return {"help": text}


@dataclass(frozen=True, kw_only=True)
class OFDMConfig(GridMode):
    """One SISO/SIMO OFDM slot per sample: true channel, pilots and their LS estimates.

    The defaults reproduce the AdaFortiTran reference setup (Guler & Jafarkhani,
    arXiv 2505.09076): 120 subcarriers x 14 OFDM symbols at 15 kHz, TDL-A at 3.5 GHz,
    pilots on OFDM symbols 2 and 11 (0-based) on every 10th subcarrier, SNR 0-25 dB,
    delay spread 25-300 ns, maximum Doppler 50-1000 Hz, each drawn uniformly per sample.

    With ``mode="grid"`` the per-sample conditions cycle through every combination of
    ``snr_db_grid`` x ``delay_spread_ns_grid`` x ``doppler_hz_grid`` (sample ``i`` takes
    combination ``i % num_combinations``); the number of samples must be a multiple of
    the number of combinations. The default grids are the channel-estimation test grid.

    Raises:
        ConfigError: naming the field, the bad value and what is allowed.

    Examples:
        >>> cfg = OFDMConfig(channel_model="cdl-c", num_rx_ant=2)
        >>> cfg.num_pilots_per_symbol, len(cfg.pilot_subcarriers)
        (12, 12)
    """

    version: int = 1
    fft_size: int = field(default=120, metadata=_help("subcarriers per OFDM symbol (all used)"))
    num_ofdm_symbols: int = field(default=14, metadata=_help("OFDM symbols per slot"))
    subcarrier_spacing_hz: float = field(default=15e3, metadata=_help("subcarrier spacing [Hz]"))
    cyclic_prefix_length: int = field(
        default=8,
        metadata=_help("cyclic prefix [samples]; 8 of 120 gives the NR symbol time ~71 us"),
    )
    pilot_ofdm_symbols: tuple[int, ...] = field(
        default=(2, 11), metadata=_help("0-based OFDM symbols that carry pilots")
    )
    pilot_spacing: int = field(
        default=10, metadata=_help("comb: a pilot on every N-th subcarrier of a pilot symbol")
    )
    pilot_offset: int = field(default=0, metadata=_help("first pilot subcarrier (0-based)"))
    pilot_seed: int = field(
        default=0, metadata=_help("seed of the fixed QPSK pilot sequence (same for every sample)")
    )
    channel_model: str = field(
        default="tdl-a", metadata=_help(f"3GPP TR 38.901 model: {', '.join(CHANNEL_MODELS)}")
    )
    carrier_frequency_hz: float = field(default=3.5e9, metadata=_help("carrier frequency [Hz]"))
    num_rx_ant: int = field(
        default=1, metadata=_help("receive antennas (a half-wavelength ULA for CDL/UMa/UMi)")
    )
    mode: Literal["random", "grid"] = field(
        default="random",
        metadata=_help("random: draw conditions from the ranges; grid: cycle through the grids"),
    )
    snr_db: tuple[float, float] = field(
        default=(0.0, 25.0), metadata=_help("SNR range [dB], uniform per sample (random mode)")
    )
    delay_spread_ns: tuple[float, float] = field(
        default=(25.0, 300.0),
        metadata=_help("RMS delay spread range [ns], uniform per sample (TDL/CDL, random mode)"),
    )
    doppler_hz: tuple[float, float] = field(
        default=(50.0, 1000.0),
        metadata=_help("maximum Doppler range [Hz], uniform per sample (random mode)"),
    )
    snr_db_grid: tuple[float, ...] = field(
        default=(0.0, 5.0, 10.0, 15.0, 20.0, 25.0), metadata=_help("SNR values [dB] (grid mode)")
    )
    delay_spread_ns_grid: tuple[float, ...] = field(
        default=(50.0, 150.0, 300.0), metadata=_help("delay spreads [ns] (grid mode)")
    )
    doppler_hz_grid: tuple[float, ...] = field(
        default=(200.0, 600.0, 1000.0), metadata=_help("maximum Dopplers [Hz] (grid mode)")
    )
    block_size: int = field(
        default=256,
        metadata=_help("samples per Sionna call; part of the random stream (fixes the data)"),
    )

    def __post_init__(self) -> None:
        self._check_grid()
        self._check_pilots()
        self._check_channel()
        self._check_conditions()

    def _check_grid(self) -> None:
        for name in ("fft_size", "num_ofdm_symbols", "num_rx_ant", "block_size"):
            value = getattr(self, name)
            check_field(isinstance(value, int) and value >= 1, self, name, value, "an integer >= 1")
        check_field(self.fft_size >= 2, self, "fft_size", self.fft_size, "an integer >= 2")
        check_field(
            self.subcarrier_spacing_hz > 0,
            self, "subcarrier_spacing_hz", self.subcarrier_spacing_hz, "a positive frequency [Hz]",
        )  # fmt: skip
        check_field(
            isinstance(self.cyclic_prefix_length, int)
            and 0 <= self.cyclic_prefix_length < self.fft_size,
            self, "cyclic_prefix_length", self.cyclic_prefix_length,
            f"an integer in [0, fft_size={self.fft_size})",
        )  # fmt: skip

    def _check_pilots(self) -> None:
        syms = self.pilot_ofdm_symbols
        check_field(
            len(syms) >= 1
            and len(set(syms)) == len(syms)
            and all(isinstance(s, int) and 0 <= s < self.num_ofdm_symbols for s in syms)
            and list(syms) == sorted(syms),
            self, "pilot_ofdm_symbols", syms,
            f"distinct increasing OFDM symbol indices in [0, {self.num_ofdm_symbols - 1}]",
        )  # fmt: skip
        check_field(
            isinstance(self.pilot_spacing, int) and self.pilot_spacing >= 1,
            self, "pilot_spacing", self.pilot_spacing, "an integer >= 1",
        )  # fmt: skip
        check_field(
            isinstance(self.pilot_offset, int) and 0 <= self.pilot_offset,
            self, "pilot_offset", self.pilot_offset, "an integer >= 0",
        )  # fmt: skip
        # Linear interpolation across frequency needs at least two pilots per pilot symbol.
        check_field(
            self.num_pilots_per_symbol >= 2,
            self, "pilot_spacing", self.pilot_spacing,
            f"a comb that leaves at least 2 pilots on each pilot symbol; spacing "
            f"{self.pilot_spacing} from offset {self.pilot_offset} over {self.fft_size} "
            f"subcarriers leaves {self.num_pilots_per_symbol}",
        )  # fmt: skip

    def _check_channel(self) -> None:
        check_field(
            self.channel_model in CHANNEL_MODELS,
            self, "channel_model", self.channel_model, f"one of {', '.join(CHANNEL_MODELS)}",
        )  # fmt: skip
        check_field(
            self.carrier_frequency_hz > 0,
            self, "carrier_frequency_hz", self.carrier_frequency_hz, "a positive frequency [Hz]",
        )  # fmt: skip
        check_field(self.mode in ("random", "grid"), self, "mode", self.mode, "'random' or 'grid'")

    def _check_conditions(self) -> None:
        bounds = {"snr_db": (-50.0, 80.0), "delay_spread_ns": (0.0, 10_000.0),
                  "doppler_hz": (0.0, 100_000.0)}  # fmt: skip
        for name, (lo, hi) in bounds.items():
            rng = getattr(self, name)
            check_field(
                len(rng) == 2 and all(math.isfinite(v) for v in rng)
                and lo <= rng[0] <= rng[1] <= hi,
                self, name, rng, f"a range (low, high) with {lo:g} <= low <= high <= {hi:g}",
            )  # fmt: skip
            grid = getattr(self, f"{name}_grid")
            check_field(
                len(grid) >= 1 and all(math.isfinite(v) and lo <= v <= hi for v in grid),
                self, f"{name}_grid", grid, f"one or more values in [{lo:g}, {hi:g}]",
            )  # fmt: skip

    # ----------------------------------------------------------------- derived values
    @property
    def pilot_subcarriers(self) -> tuple[int, ...]:
        """0-based subcarrier indices of the pilots on every pilot OFDM symbol."""
        return tuple(range(self.pilot_offset, self.fft_size, self.pilot_spacing))

    @property
    def num_pilots_per_symbol(self) -> int:
        return len(self.pilot_subcarriers)

    @property
    def channel_family(self) -> Literal["tdl", "cdl", "uma", "umi"]:
        return self.channel_model.split("-")[0]  # type: ignore[return-value]

    @property
    def ofdm_symbol_duration_s(self) -> float:
        """OFDM symbol duration including the cyclic prefix [s]."""
        return (1.0 + self.cyclic_prefix_length / self.fft_size) / self.subcarrier_spacing_hz

    @property
    def grid_conditions(self) -> list[tuple[float, float, float]]:
        """Every (snr_db, delay_spread_ns, doppler_hz) combination of the grid mode."""
        return list(
            itertools.product(self.snr_db_grid, self.delay_spread_ns_grid, self.doppler_hz_grid)
        )
