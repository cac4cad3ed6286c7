"""Configuration of the cell-free downlink data family (no Sionna import: fast to load)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from wirelessml.config import check_field

__all__ = ["CellFreeConfig"]


def _help(text: str) -> dict[str, str]:
    return {"help": text}


def _int_range(value: object, high: int) -> bool:
    return (
        isinstance(value, tuple)
        and len(value) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
        and 1 <= value[0] <= value[1] <= high
    )


@dataclass(frozen=True, kw_only=True)
class CellFreeConfig:
    """L access points with N antennas each serve K single-antenna users in a square area.

    Per sample: L, N and K uniform over their ranges; APs and users dropped uniformly in an
    ``area_m`` x ``area_m`` square; 3GPP UMi or UMa (Sionna) between every AP and user with
    path loss and shadow fading. Stored padded to the largest L, N, K with masks.

    Raises:
        ConfigError: naming the field, the bad value and what is allowed.

    Examples:
        >>> cfg = CellFreeConfig(num_aps=(4, 8), num_ap_antennas=(1, 2), num_users=(2, 6))
        >>> round(cfg.noise_dbm, 1), round(cfg.no, 14)
        (-92.0, 3.17e-12)
    """

    version: int = 1
    scenario: str = field(default="umi", metadata=_help("3GPP TR 38.901 scenario: umi or uma"))
    num_aps: tuple[int, int] = field(default=(4, 16), metadata=_help("range of APs L"))
    num_ap_antennas: tuple[int, int] = field(
        default=(1, 4), metadata=_help("range of antennas N per AP (same for every AP)")
    )
    num_users: tuple[int, int] = field(default=(2, 8), metadata=_help("range of users K"))
    area_m: float = field(default=500.0, metadata=_help("side of the square area [m]"))
    ap_height_m: float = field(default=10.0, metadata=_help("AP height [m]"))
    ut_height_m: float = field(default=1.5, metadata=_help("user height [m]"))
    ap_power_dbm: float = field(default=23.0, metadata=_help("maximum transmit power per AP [dBm]"))
    bandwidth_hz: float = field(default=20e6, metadata=_help("bandwidth [Hz] (noise power)"))
    noise_figure_db: float = field(default=9.0, metadata=_help("receiver noise figure [dB]"))
    carrier_frequency_hz: float = field(default=3.5e9, metadata=_help("carrier frequency [Hz]"))
    block_size: int = field(
        default=64, metadata=_help("samples per Sionna call; part of the random stream")
    )

    def __post_init__(self) -> None:
        check_field(self.version == 1, self, "version", self.version, "1")
        check_field(self.scenario in ("umi", "uma"), self, "scenario", self.scenario,
                    "'umi' or 'uma'")  # fmt: skip
        for name, high in (("num_aps", 256), ("num_ap_antennas", 64), ("num_users", 256)):
            value = getattr(self, name)
            check_field(_int_range(value, high), self, name, value,
                        f"a range (low, high) of integers with 1 <= low <= high <= {high}")  # fmt: skip
        for name in ("area_m", "ap_height_m", "ut_height_m", "bandwidth_hz",
                     "carrier_frequency_hz"):  # fmt: skip
            value = getattr(self, name)
            check_field(isinstance(value, int | float) and math.isfinite(value) and value > 0,
                        self, name, value, "a positive number")  # fmt: skip
        for name in ("ap_power_dbm", "noise_figure_db"):
            value = getattr(self, name)
            check_field(isinstance(value, int | float) and math.isfinite(value), self, name,
                        value, "a finite number")  # fmt: skip
        check_field(isinstance(self.block_size, int) and self.block_size >= 1, self,
                    "block_size", self.block_size, "an integer >= 1")  # fmt: skip

    @property
    def noise_dbm(self) -> float:
        """Thermal noise power -174 dBm/Hz + 10 log10(bandwidth) + noise figure [dBm]."""
        return -174.0 + 10.0 * math.log10(self.bandwidth_hz) + self.noise_figure_db

    @property
    def no(self) -> float:
        """Noise variance relative to one AP's maximum transmit power."""
        return 10.0 ** ((self.noise_dbm - self.ap_power_dbm) / 10.0)

    @property
    def max_aps(self) -> int:
        return self.num_aps[1]

    @property
    def max_ap_antennas(self) -> int:
        return self.num_ap_antennas[1]

    @property
    def max_users(self) -> int:
        return self.num_users[1]
