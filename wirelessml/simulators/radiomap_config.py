"""Configuration of the radio-map data family (no Sionna import: fast to load)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from wirelessml.config import check_field

__all__ = ["RadioMapConfig"]


def _help(text: str) -> dict[str, str]:
    return {"help": text}


def _is_num(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _num_range(value: object, low: float) -> bool:
    return (isinstance(value, tuple) and len(value) == 2 and all(_is_num(v) for v in value)
            and low <= value[0] <= value[1])  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class RadioMapConfig:
    """Path-gain maps of Sionna RT on a regular grid, one sample per (scene, transmitter).

    Every block of ``tx_per_scene`` samples is one scene: a new procedural district
    (``scene="district"``, drawn from the block's seed) or Sionna's built-in scene of that
    name, loaded once. Transmitters are dropped on random outdoor cells at ``tx_height_m``
    (or at the fixed ``tx_positions``), and Sionna's ``RadioMapSolver`` computes all of a
    scene's transmitters in one call per receiver height.

    Raises:
        ConfigError: naming the field, the bad value and what is allowed.

    Examples:
        >>> cfg = RadioMapConfig(grid_size=64, cell_size_m=2.0, district_size_m=128.0)
        >>> cfg.block_size, cfg.grid_extent_m
        (16, 128.0)
    """

    version: int = 1
    scene: str = field(
        default="district",
        metadata=_help(
            "'district' (a new random district per scene) or a Sionna built-in scene name"
        ),
    )
    district_size_m: float = field(default=256.0, metadata=_help("side of a district [m]"))
    num_buildings: tuple[int, int] = field(
        default=(15, 40), metadata=_help("range of buildings tried per district (fewer may fit)")
    )
    building_height_m: tuple[float, float] = field(
        default=(6.0, 40.0), metadata=_help("range of building heights [m]")
    )
    footprint_m: tuple[float, float] = field(
        default=(10.0, 40.0), metadata=_help("range of a building's side [m]")
    )
    street_m: float = field(default=6.0, metadata=_help("smallest gap between buildings [m]"))
    rotated_fraction: float = field(
        default=0.25, metadata=_help("share of rotated (not axis-aligned) footprints")
    )
    building_material: str = field(default="concrete", metadata=_help("ITU material of buildings"))
    ground_material: str = field(
        default="medium_dry_ground", metadata=_help("ITU material of the ground")
    )
    grid_size: int = field(default=128, metadata=_help("cells per side of the square map"))
    cell_size_m: float = field(default=2.0, metadata=_help("side of a cell [m]"))
    grid_center_m: tuple[float, float] = field(
        default=(0.0, 0.0), metadata=_help("(x, y) of the map's centre in the scene [m]")
    )
    rx_heights_m: tuple[float, ...] = field(
        default=(1.5,),
        metadata=_help(
            "receiver heights [m]; the first gives path_gain_db, several also path_gain_db_3d"
        ),
    )
    tx_per_scene: int = field(
        default=16, metadata=_help("transmitters (samples) per scene; one scene per block")
    )
    tx_height_m: float = field(default=10.0, metadata=_help("transmitter height [m]"))
    tx_positions: tuple[tuple[float, float], ...] | None = field(
        default=None,
        metadata=_help(
            "fixed transmitter (x, y) [m] for every scene instead of random outdoor cells; "
            "districts keep them clear of buildings"
        ),
    )
    carrier_frequency_hz: float = field(default=3.5e9, metadata=_help("carrier frequency [Hz]"))
    samples_per_tx: int = field(
        default=1_000_000, metadata=_help("rays shot per transmitter by the RadioMapSolver")
    )
    max_depth: int = field(default=3, metadata=_help("maximum number of interactions per ray"))
    diffraction: bool = field(
        default=False, metadata=_help("edge diffraction in the solver (about 4x slower on CPU)")
    )
    scattering_coefficient: float = field(
        default=0.0,
        metadata=_help("share of energy walls scatter diffusely; > 0 turns diffuse reflection on"),
    )
    pg_floor_db: float = field(
        default=-160.0, metadata=_help("path gain [dB] stored for cells no ray reaches (no signal)")
    )

    def __post_init__(self) -> None:
        check_field(self.version == 1, self, "version", self.version, "1")
        check_field(isinstance(self.scene, str) and bool(self.scene), self, "scene", self.scene,
                    "'district' or a Sionna scene name")  # fmt: skip
        self._check_positive()
        check_field(isinstance(self.num_buildings, tuple) and len(self.num_buildings) == 2
                    and all(isinstance(v, int) for v in self.num_buildings)
                    and 0 <= self.num_buildings[0] <= self.num_buildings[1] <= 1000, self,
                    "num_buildings", self.num_buildings, "(low, high) with 0 <= low <= high <= 1000")  # fmt: skip
        for name, low in (("building_height_m", 0.5), ("footprint_m", 1.0)):
            check_field(_num_range(getattr(self, name), low), self, name, getattr(self, name),
                        f"a range (low, high) with {low} <= low <= high")  # fmt: skip
        check_field(_is_num(self.rotated_fraction) and 0 <= self.rotated_fraction <= 1, self,
                    "rotated_fraction", self.rotated_fraction, "a number in [0, 1]")  # fmt: skip
        check_field(isinstance(self.grid_center_m, tuple) and len(self.grid_center_m) == 2
                    and all(_is_num(v) for v in self.grid_center_m), self, "grid_center_m",
                    self.grid_center_m, "(x, y) in metres")  # fmt: skip
        check_field(isinstance(self.rx_heights_m, tuple) and 1 <= len(self.rx_heights_m) <= 64
                    and all(_is_num(v) and v > 0 for v in self.rx_heights_m), self,
                    "rx_heights_m", self.rx_heights_m, "1 to 64 heights > 0 [m]")  # fmt: skip
        check_field(_is_num(self.pg_floor_db) and -300 <= self.pg_floor_db <= -50, self,
                    "pg_floor_db", self.pg_floor_db, "a number in [-300, -50] dB")  # fmt: skip
        check_field(_is_num(self.scattering_coefficient) and 0 <= self.scattering_coefficient <= 1,
                    self, "scattering_coefficient", self.scattering_coefficient,
                    "a number in [0, 1]")  # fmt: skip
        check_field(isinstance(self.diffraction, bool), self, "diffraction", self.diffraction,
                    "True or False")  # fmt: skip
        self._check_area()

    def _check_positive(self) -> None:
        for name in ("district_size_m", "cell_size_m", "tx_height_m", "carrier_frequency_hz",
                     "street_m"):  # fmt: skip
            value = getattr(self, name)
            check_field(_is_num(value) and (value > 0 or name == "street_m" and value == 0),
                        self, name, value, "a positive number")  # fmt: skip
        for name, low, high in (("grid_size", 4, 1024), ("tx_per_scene", 1, 4096),
                                ("samples_per_tx", 1000, 10**9), ("max_depth", 0, 20)):  # fmt: skip
            value = getattr(self, name)
            check_field(isinstance(value, int) and not isinstance(value, bool)
                        and low <= value <= high, self, name, value,
                        f"an integer in [{low}, {high}]")  # fmt: skip

    def _check_area(self) -> None:
        """The grid must fit in the district; fixed transmitters must lie on the grid."""
        half = self.district_size_m / 2.0
        cx, cy = self.grid_center_m
        g = self.grid_extent_m / 2.0
        if self.scene == "district":
            check_field(max(abs(cx), abs(cy)) + g <= half + 1e-9, self, "grid_size",
                        self.grid_size, f"a grid inside the {self.district_size_m:g} m district: "
                        f"{self.grid_size} cells of {self.cell_size_m:g} m span "
                        f"{self.grid_extent_m:g} m; lower grid_size or cell_size_m, or raise "
                        "district_size_m")  # fmt: skip
        if self.tx_positions is None:
            return
        ok = isinstance(self.tx_positions, tuple) and 1 <= len(self.tx_positions) <= 4096 and all(
            isinstance(p, tuple) and len(p) == 2 and all(_is_num(v) for v in p)
            for p in self.tx_positions)  # fmt: skip
        check_field(ok, self, "tx_positions", self.tx_positions, "a tuple of (x, y) in metres")
        for x, y in self.tx_positions:
            check_field(abs(x - cx) < g and abs(y - cy) < g, self, "tx_positions", (x, y),
                        f"points inside the map area: x in ({cx - g:g}, {cx + g:g}), "
                        f"y in ({cy - g:g}, {cy + g:g}) m")  # fmt: skip

    @property
    def block_size(self) -> int:
        """Samples per block: one scene's transmitters."""
        return len(self.tx_positions) if self.tx_positions is not None else self.tx_per_scene

    @property
    def grid_extent_m(self) -> float:
        """Side of the map [m]."""
        return self.grid_size * self.cell_size_m
