"""Configuration of the multi-user MISO downlink data family (no Sionna import: fast to load)."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Literal

from wirelessml.config import check_field
from wirelessml.simulators.grid_mode import GridMode

__all__ = ["MIMO_CHANNEL_MODELS", "MIMOConfig"]

MIMO_CHANNEL_MODELS: tuple[str, ...] = ("rayleigh", "uma", "umi")
"""``rayleigh``: flat Rayleigh with exponential BS-side correlation; ``uma``/``umi``: 3GPP
TR 38.901 with a drawn single-sector topology, path loss and shadow fading."""


def _help(text: str) -> dict[str, str]:
    return {"help": text}


def _int_range(value: object) -> bool:
    return (
        isinstance(value, tuple)
        and len(value) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
        and 1 <= value[0] <= value[1]
    )


@dataclass(frozen=True, kw_only=True)
class MIMOConfig(GridMode):
    """One multi-user MISO downlink channel per sample: K single-antenna users, M BS antennas.

    Each sample draws its own number of antennas ``M`` (uniform over ``num_antennas``), then
    its number of users ``K`` (uniform over ``num_users`` capped at ``M``, so that ZF exists),
    and its SNR (uniform over ``snr_db``). With ``mode="grid"`` sample ``i`` takes
    combination ``i % n`` of ``num_users_grid x num_antennas_grid x snr_db_grid``, keeping
    only the combinations with ``K <= M``.

    Channels are stored padded to ``(max_users, max_antennas)`` (the largest K and M the
    config can draw) with the masks ``user_mask`` and ``antenna_mask``; see
    :mod:`wirelessml.simulators.mimo` for the definitions.

    Raises:
        ConfigError: naming the field, the bad value and what is allowed.

    Examples:
        >>> cfg = MIMOConfig(num_users=(2, 4), num_antennas=(4, 8))
        >>> cfg.max_users, cfg.max_antennas
        (4, 8)
        >>> len(MIMOConfig(mode="grid", num_users_grid=(2, 4), num_antennas_grid=(2, 4),
        ...                snr_db_grid=(10.0,)).grid_conditions)
        3
    """

    version: int = 1
    channel_model: str = field(
        default="rayleigh", metadata=_help(f"channel model: {', '.join(MIMO_CHANNEL_MODELS)}")
    )
    correlation: float = field(
        default=0.5,
        metadata=_help("rayleigh: exponential correlation coefficient r at the BS, "
                       "R[m, n] = r^|m-n| (0: i.i.d.)"),
    )  # fmt: skip
    carrier_frequency_hz: float = field(
        default=3.5e9, metadata=_help("carrier frequency [Hz] (uma/umi)")
    )
    mode: Literal["random", "grid"] = field(
        default="random",
        metadata=_help("random: draw K, M, SNR from the ranges; grid: cycle through the grids"),
    )
    num_users: tuple[int, int] = field(
        default=(2, 4), metadata=_help("range of users K, uniform per sample, capped at M")
    )
    num_antennas: tuple[int, int] = field(
        default=(4, 8), metadata=_help("range of BS antennas M, uniform per sample")
    )
    snr_db: tuple[float, float] = field(
        default=(0.0, 25.0), metadata=_help("SNR range [dB], uniform per sample (random mode)")
    )
    num_users_grid: tuple[int, ...] = field(
        default=(2, 3, 4), metadata=_help("users K (grid mode)")
    )
    num_antennas_grid: tuple[int, ...] = field(
        default=(4, 6, 8), metadata=_help("BS antennas M (grid mode)")
    )
    snr_db_grid: tuple[float, ...] = field(
        default=(0.0, 10.0, 20.0), metadata=_help("SNR values [dB] (grid mode)")
    )
    block_size: int = field(
        default=256,
        metadata=_help("samples per Sionna call; part of the random stream (fixes the data)"),
    )

    def __post_init__(self) -> None:
        check_field(self.version == 1, self, "version", self.version, "1")
        check_field(self.channel_model in MIMO_CHANNEL_MODELS, self, "channel_model",
                    self.channel_model, f"one of {', '.join(MIMO_CHANNEL_MODELS)}")  # fmt: skip
        check_field(
            isinstance(self.correlation, int | float) and 0.0 <= self.correlation < 1.0,
            self, "correlation", self.correlation, "a number in [0, 1)",
        )  # fmt: skip
        check_field(self.carrier_frequency_hz > 0, self, "carrier_frequency_hz",
                    self.carrier_frequency_hz, "a positive frequency [Hz]")  # fmt: skip
        check_field(self.mode in ("random", "grid"), self, "mode", self.mode, "'random' or 'grid'")
        check_field(isinstance(self.block_size, int) and self.block_size >= 1, self,
                    "block_size", self.block_size, "an integer >= 1")  # fmt: skip
        self._check_sizes()
        rng = self.snr_db
        check_field(
            len(rng) == 2 and all(math.isfinite(v) for v in rng) and -50 <= rng[0] <= rng[1] <= 80,
            self, "snr_db", rng, "a range (low, high) with -50 <= low <= high <= 80",
        )  # fmt: skip
        check_field(
            len(self.snr_db_grid) >= 1
            and all(math.isfinite(v) and -50 <= v <= 80 for v in self.snr_db_grid),
            self, "snr_db_grid", self.snr_db_grid, "one or more values in [-50, 80]",
        )  # fmt: skip

    def _check_sizes(self) -> None:
        for name in ("num_users", "num_antennas"):
            value = getattr(self, name)
            check_field(_int_range(value) and value[1] <= 256, self, name, value,
                        "a range (low, high) of integers with 1 <= low <= high <= 256")  # fmt: skip
        # Zero users is refused here (low >= 1); K <= M keeps ZF defined for every sample.
        check_field(
            self.num_users[0] <= self.num_antennas[0],
            self, "num_users", self.num_users,
            f"a lowest K <= the lowest M={self.num_antennas[0]} (K is capped at M per sample)",
        )  # fmt: skip
        for name in ("num_users_grid", "num_antennas_grid"):
            grid = getattr(self, name)
            check_field(
                len(grid) >= 1 and all(isinstance(v, int) and 1 <= v <= 256 for v in grid),
                self, name, grid, "one or more integers in [1, 256]",
            )  # fmt: skip
        check_field(
            self.mode != "grid" or len(self.grid_conditions) >= 1,
            self, "num_users_grid", self.num_users_grid,
            f"at least one K <= some M of num_antennas_grid={self.num_antennas_grid}",
        )  # fmt: skip

    # ----------------------------------------------------------------- derived values
    @property
    def grid_conditions(self) -> list[tuple[int, int, float]]:
        """Every (num_users, num_antennas, snr_db) combination of the grid mode with K <= M."""
        return [
            (k, m, s)
            for k, m, s in itertools.product(
                self.num_users_grid, self.num_antennas_grid, self.snr_db_grid
            )
            if k <= m
        ]

    @property
    def max_users(self) -> int:
        """K of the padded storage: the largest number of users a sample can have."""
        if self.mode == "grid":
            return max(k for k, _, _ in self.grid_conditions)
        return min(self.num_users[1], self.num_antennas[1])

    @property
    def max_antennas(self) -> int:
        """M of the padded storage: the largest number of BS antennas a sample can have."""
        if self.mode == "grid":
            return max(m for _, m, _ in self.grid_conditions)
        return self.num_antennas[1]
