"""Radio maps on Sionna RT: path gain of every grid cell from one transmitter, per sample.

One block is one scene. A procedural district (:mod:`~wirelessml.simulators.radiomap_scene`)
is drawn from the block's seed, written as a Mitsuba scene into a temporary folder and
loaded with ``sionna.rt.load_scene``; a built-in Sionna scene is loaded once and reused by
every block. The block's transmitters are added to the scene and Sionna's
``RadioMapSolver`` computes all of their maps in one call per receiver height.

Definitions (also written into every dataset's attributes):

- Grid: ``grid_size`` x ``grid_size`` cells of ``cell_size_m``; cell ``[i, j]`` is centred
  at ``x = x0 + (j + 0.5) * cell_size_m``, ``y = y0 + (i + 0.5) * cell_size_m`` with
  ``(x0, y0) = grid_center_m - grid_extent_m / 2`` (row = y, column = x).
- ``path_gain_db``: ``10 log10`` of the solver's path gain (isotropic, V-polarized antennas
  at both ends; the cell's mean over its area) at the first receiver height, clipped
  below at ``pg_floor_db``: a cell no ray reaches holds exactly ``pg_floor_db``.
- ``building_mask``: 1 where a receiver at the first height would be inside an object
  (the highest surface above the cell centre is higher than it). These cells keep the
  solver's value (normally the floor) and must be ignored: every loss and metric masks them.
- ``building_height``: height [m] of the highest surface above the cell centre (0 on open
  ground), from rays cast down into the loaded scene.
- ``tx_map``: the transmitter's height [m] in its cell, 0 elsewhere (Geo2SigMap's input).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from wirelessml.datasets import FieldSpec
from wirelessml.errors import ConfigError
from wirelessml.simulators.ofdm import block_seed
from wirelessml.simulators.radiomap_config import RadioMapConfig
from wirelessml.simulators.radiomap_scene import (
    District,
    generate_district,
    scene_path,
    surface_height_map,
    write_district,
)
from wirelessml.simulators.rt_backend import check_rt_backend

__all__ = ["DEFINITIONS", "RadioMapSimulator", "cell_centers"]

DEFINITIONS = {
    "path_gain_definition": "path_gain_db = 10*log10(path gain of Sionna RT's RadioMapSolver, "
    "isotropic V-pol antennas, mean over the cell), clipped below at pg_floor_db (no signal)",
    "building_mask_definition": "1 where the highest surface above the cell centre is above the "
    "first receiver height (receiver inside a building); those cells are never scored",
    "grid_definition": "cell [i, j] centred at x = x0 + (j+0.5)*cell, y = y0 + (i+0.5)*cell, "
    "(x0, y0) = grid_center_m - grid_extent_m/2 (row = y, column = x)",
    "tx_map_definition": "transmitter height [m] in its cell, 0 elsewhere",
    "db_convention": "path gain in dB (negative), 10*log10 of a power ratio",
}


def cell_centers(config: RadioMapConfig) -> np.ndarray:
    """Centres ``[grid_size, grid_size, 2]`` (x, y) [m] of the grid cells (row = y)."""
    c = config
    g = c.grid_extent_m / 2.0
    xs = c.grid_center_m[0] - g + (np.arange(c.grid_size) + 0.5) * c.cell_size_m
    ys = c.grid_center_m[1] - g + (np.arange(c.grid_size) + 0.5) * c.cell_size_m
    return np.stack(np.meshgrid(xs, ys, indexing="xy"), axis=-1)


class RadioMapSimulator:
    """Generates blocks of radio maps, one scene per block.

    Shapes (one block of ``n`` samples, ``S = grid_size``, ``L = len(rx_heights_m)``):
        path_gain_db, building_height, building_mask, tx_map: [n, S, S], float32
        path_gain_db_3d: [n, L, S, S], float32 (only when L > 1)
        tx_position: [n, 3], float32; scene_index, scene_seed, sample_index: [n], int64

    ``timing`` accumulates seconds spent in Sionna's solver (``solver_s``), in Sionna's
    ``load_scene`` (``load_s``) and in the rest of :meth:`generate_block` (``other_s``: our
    code, i.e. drawing and writing the district, the height map, the transmitters, dB).

    Examples:
        >>> cfg = RadioMapConfig(grid_size=16, district_size_m=64.0, tx_per_scene=2,
        ...                      samples_per_tx=10**4)
        >>> block = RadioMapSimulator(cfg).generate_block(seed=0, block_index=0, num=2)
        >>> tuple(block["path_gain_db"].shape)
        (2, 16, 16)
    """

    def __init__(self, config: RadioMapConfig, *, device: str | None = None) -> None:
        check_rt_backend(device)
        import sionna.rt as rt  # after the backend check: a bad LLVM aborts at import

        self._rt = rt
        self.config = config
        self.timing = {"solver_s": 0.0, "load_s": 0.0, "other_s": 0.0}
        self._solver = rt.RadioMapSolver()
        self._centers = cell_centers(config)
        self._builtin = None
        if config.scene != "district":
            self._builtin = self._load(scene_path(config.scene))
            self._check_builtin_extent(self._builtin)

    # ------------------------------------------------------------------ scenes
    def _load(self, path: str | Path):
        t0 = time.perf_counter()
        scene = self._rt.load_scene(str(path))
        self.timing["load_s"] += time.perf_counter() - t0
        scene.frequency = self.config.carrier_frequency_hz
        array = self._rt.PlanarArray(num_rows=1, num_cols=1, pattern="iso", polarization="V")
        scene.tx_array, scene.rx_array = array, array
        return scene

    def _check_builtin_extent(self, scene) -> None:
        box = scene.mi_scene.bbox()
        c, g = self.config, self.config.grid_extent_m / 2.0
        cx, cy = c.grid_center_m
        if cx - g < box.min[0] - 1e-3 or cx + g > box.max[0] + 1e-3 or \
                cy - g < box.min[1] - 1e-3 or cy + g > box.max[1] + 1e-3:  # fmt: skip
            raise ConfigError(
                f"RadioMapConfig.grid_size={c.grid_size} is not allowed: the grid spans x "
                f"[{cx - g:g}, {cx + g:g}], y [{cy - g:g}, {cy + g:g}] m but scene {c.scene!r} "
                f"covers x [{box.min[0]:.0f}, {box.max[0]:.0f}], y [{box.min[1]:.0f}, "
                f"{box.max[1]:.0f}] m; lower grid_size or cell_size_m or move grid_center_m"
            )

    def district(self, seed: int, block_index: int) -> District:
        """The district of block ``block_index`` (its buildings are the scene's)."""
        c = self.config
        return generate_district(size_m=c.district_size_m, num_buildings=c.num_buildings,
                                 height_m=c.building_height_m, footprint_m=c.footprint_m,
                                 street_m=c.street_m, rotated_fraction=c.rotated_fraction,
                                 seed=block_seed(seed, block_index, stream=3),
                                 keep_clear=c.tx_positions or ())  # fmt: skip

    # ------------------------------------------------------------------ dataset
    def fields(self) -> list[FieldSpec]:
        """The per-sample fields this simulator writes."""
        c = self.config
        s, f32 = c.grid_size, "float32"
        grid = ("y", "x")
        specs = [
            FieldSpec(name="path_gain_db", shape=(s, s), dtype=f32, unit="dB", dims=grid,
                      description="path gain (see path_gain_definition), floor pg_floor_db"),
            FieldSpec(name="building_height", shape=(s, s), dtype=f32, unit="m", dims=grid,
                      description="height of the highest surface above the cell, 0 on ground"),
            FieldSpec(name="building_mask", shape=(s, s), dtype=f32, unit="1", dims=grid,
                      description="1 for a cell inside a building (never scored)"),
            FieldSpec(name="tx_map", shape=(s, s), dtype=f32, unit="m", dims=grid,
                      description="transmitter height in its cell, 0 elsewhere"),
            FieldSpec(name="tx_position", shape=(3,), dtype=f32, unit="m", dims=("xyz",),
                      description="transmitter position in the scene"),
            FieldSpec(name="scene_index", shape=(), dtype="int64", unit="1", dims=(),
                      description="scene (block) index in this file; split train/test by seed"),
            FieldSpec(name="scene_seed", shape=(), dtype="int64", unit="1", dims=(),
                      description="seed of the scene's district"),
            FieldSpec(name="sample_index", shape=(), dtype="int64", unit="1", dims=(),
                      description="row in this file (seeds the sparse measurements)"),
        ]  # fmt: skip
        if len(c.rx_heights_m) > 1:
            specs.append(FieldSpec(name="path_gain_db_3d", shape=(len(c.rx_heights_m), s, s),
                                   dtype=f32, unit="dB", dims=("rx_height", *grid),
                                   description="path gain at every rx_heights_m"))  # fmt: skip
        return specs

    def attrs(self) -> dict[str, object]:
        c = self.config
        return {**DEFINITIONS, "pg_floor_db": c.pg_floor_db, "cell_size_m": c.cell_size_m,
                "rx_height_m": c.rx_heights_m[0]}  # fmt: skip

    # ------------------------------------------------------------------ generation
    def _tx_positions(self, seed: int, block_index: int, num: int, surface: np.ndarray,
                      outdoor: np.ndarray) -> np.ndarray:  # fmt: skip
        c = self.config
        if c.tx_positions is not None:
            xy = np.array(c.tx_positions[:num], dtype=np.float64)
            ij = self._cell_of(xy)
            for (x, y), (i, j) in zip(xy, ij, strict=True):
                if surface[i, j] >= c.tx_height_m:
                    raise ConfigError(
                        f"RadioMapConfig.tx_positions: the transmitter at ({x:g}, {y:g}) m, "
                        f"height {c.tx_height_m:g} m, is inside a building ({surface[i, j]:.1f} "
                        f"m high) of scene {block_index}; move it to open ground or raise "
                        "tx_height_m above the roof")  # fmt: skip
            return xy
        cells = np.flatnonzero(outdoor.ravel())
        if len(cells) == 0:
            raise ConfigError(f"scene {block_index} has no outdoor cell for a transmitter; "
                              "lower num_buildings or footprint_m")  # fmt: skip
        rng = np.random.default_rng(block_seed(seed, block_index, stream=1))
        pick = rng.choice(cells, size=num, replace=len(cells) < num)
        return self._centers.reshape(-1, 2)[pick]

    def _cell_of(self, xy: np.ndarray) -> np.ndarray:
        c = self.config
        origin = np.array(c.grid_center_m) - c.grid_extent_m / 2.0
        ij = np.floor((xy - origin) / c.cell_size_m).astype(int)[:, ::-1]
        return np.clip(ij, 0, c.grid_size - 1)

    def _scene(self, seed: int, block_index: int, folder: str):
        if self._builtin is not None:
            for name in list(self._builtin.transmitters):
                self._builtin.remove(name)
            return self._builtin
        c = self.config
        path = write_district(self.district(seed, block_index), folder,
                              building_material=c.building_material,
                              ground_material=c.ground_material,
                              scattering_coefficient=c.scattering_coefficient)  # fmt: skip
        return self._load(path)

    def _solve(self, scene, height: float, seed: int) -> np.ndarray:
        c = self.config
        rm = self._solver(scene, center=[*c.grid_center_m, height], orientation=[0.0, 0.0, 0.0],
                          size=[c.grid_extent_m, c.grid_extent_m],
                          cell_size=[c.cell_size_m, c.cell_size_m], samples_per_tx=c.samples_per_tx,
                          max_depth=c.max_depth, diffraction=c.diffraction,
                          edge_diffraction=c.diffraction,
                          diffuse_reflection=c.scattering_coefficient > 0, seed=seed % 2**31)  # fmt: skip
        pg = np.asarray(rm.path_gain.numpy(), dtype=np.float64)  # [num_tx, S, S]
        floor = 10.0 ** (c.pg_floor_db / 10.0)
        return (10.0 * np.log10(np.maximum(pg, floor))).astype(np.float32)

    @torch.no_grad()
    def generate_block(self, *, seed: int, block_index: int, num: int) -> dict[str, object]:
        """Samples ``[block_index * block_size, ... + num)``: one scene, ``num`` transmitters."""
        c, t0 = self.config, time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="wirelessml-scene-") as folder:
            load_before = self.timing["load_s"]
            scene = self._scene(seed, block_index, folder)
            surface = surface_height_map(scene, self._centers)
            height = np.maximum(np.where(np.isfinite(surface), surface, 0.0), 0.0)
            mask = surface > c.rx_heights_m[0]
            xy = self._tx_positions(seed, block_index, num, surface, ~mask)
            for k, (x, y) in enumerate(xy):
                scene.add(
                    self._rt.Transmitter(f"tx{k}", position=[float(x), float(y), c.tx_height_m])
                )
            t1 = time.perf_counter()
            maps = [self._solve(scene, h, block_seed(seed, block_index, stream=4 + n))
                    for n, h in enumerate(c.rx_heights_m)]  # fmt: skip
            t2 = time.perf_counter()
        tx_map = np.zeros((num, c.grid_size, c.grid_size), np.float32)
        ij = self._cell_of(xy)
        tx_map[np.arange(num), ij[:, 0], ij[:, 1]] = c.tx_height_m
        start = block_index * c.block_size
        out: dict[str, object] = {
            "path_gain_db": maps[0],
            "building_height": np.broadcast_to(height.astype(np.float32), tx_map.shape),
            "building_mask": np.broadcast_to(mask.astype(np.float32), tx_map.shape),
            "tx_map": tx_map,
            "tx_position": np.column_stack([xy, np.full(num, c.tx_height_m)]).astype(np.float32),
            "scene_index": np.full(num, block_index, np.int64),
            "scene_seed": np.full(num, block_seed(seed, block_index, stream=3), np.int64)
            if self._builtin is None else np.full(num, -1, np.int64),
            "sample_index": np.arange(start, start + num, dtype=np.int64),
        }  # fmt: skip
        if len(c.rx_heights_m) > 1:
            out["path_gain_db_3d"] = np.stack(maps, axis=1)
        self.timing["solver_s"] += t2 - t1
        loaded = self.timing["load_s"] - load_before
        self.timing["other_s"] += (t1 - t0 - loaded) + time.perf_counter() - t2
        return out
