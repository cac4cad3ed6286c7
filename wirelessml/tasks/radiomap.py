"""The radio-map task: the path-gain map [dB] from buildings, the TX and sparse measurements.

Sparse measurements are drawn when a batch is loaded: ``num_measurements`` outdoor cells
per map, uniformly without replacement, from a generator seeded by the sample's
``sample_index`` (so every estimator and every epoch sees the same cells of a map). A
measurement is the true path gain of its cell.

Metric definitions (written into every report):

- ``rmse_db``: :math:`\\sqrt{\\sum (\\hat g - g)^2 / N}` over all scored cells of all maps
  (pooled), in dB. Scored cells are the outdoor cells (``building_mask == 0``) that were
  **not** given as measurements. Cells at the dB floor (no ray reached them) are scored
  like the others, at the floor value.
- ``map_rmse_db``: the mean over maps of each map's RMSE over its scored cells.
- ``lit_rmse_db`` / ``shadow_rmse_db``: ``rmse_db`` restricted to the scored cells whose
  true path gain is above / at the floor (reached by a ray / not). With reflections only,
  most outdoor cells of a district are in shadow, so ``rmse_db`` mixes two very different
  errors: telling lit cells from shadowed ones, and the level in the lit ones.
- The training loss is the mean of :math:`(\\hat g - g)^2` [dB²] over the scored cells.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from wirelessml._typing import PathType
from wirelessml.datasets import read_arrays, read_info
from wirelessml.errors import ConfigError
from wirelessml.registry import register_task
from wirelessml.tasks.channel_estimation import breakdown
from wirelessml.tasks.radiomap_baselines import (
    BASELINES,
    RadioMapBaseline,
    above_floor,
    grid_from_info,
)
from wirelessml.tasks.radiomap_dihedral import DihedralAverage, random_dihedral

__all__ = ["METRIC_DEFINITIONS", "RadioMapTask", "sample_measurements"]

METRIC_DEFINITIONS: dict[str, str] = {
    "rmse_db": "sqrt(mean of (pred_db - true_db)^2) pooled over the scored cells of all maps: "
    "outdoor cells (building_mask == 0) minus the cells given as sparse measurements; "
    "no-signal cells are scored at the dataset's pg_floor_db",
    "map_rmse_db": "mean over maps of the per-map RMSE [dB] over its scored cells",
    "lit_rmse_db": "rmse_db over the scored cells whose true path gain is above pg_floor_db "
    "(a ray reached them), pooled over all maps",
    "shadow_rmse_db": "rmse_db over the scored cells whose true path gain is pg_floor_db "
    "(no ray reached them), pooled over all maps",
    "loss": "mean of (pred_db - true_db)^2 [dB^2] over the scored cells of the batch",
    "db_convention": "path gain in dB = 10*log10(received/transmitted power), isotropic "
    "antennas; cells no ray reaches hold pg_floor_db (see the dataset's attributes)",
}

CONDITIONS: tuple[str, ...] = ("scene_index",)

AUGMENTED_FIELDS: tuple[str, ...] = ("path_gain_db", "building_height", "building_mask", "tx_map")
"""The [batch, S, S] maps that :meth:`RadioMapTask.augment` turns together."""

MEASUREMENT_SEED = 20_231_219
"""Mixed with ``sample_index`` so the measurement cells are a fixed function of the sample."""


def sample_measurements(path_gain_db: torch.Tensor, building_mask: torch.Tensor,
                        sample_index: torch.Tensor, count: int) -> torch.Tensor:  # fmt: skip
    """The measurement mask: ``count`` outdoor cells per map, fixed by ``sample_index``.

    Shapes:
        path_gain_db, building_mask: [batch, S, S], float32; sample_index: [batch], int64
        output: [batch, S, S], float32 (1 on a measured cell)
    """
    mask = torch.zeros_like(path_gain_db)
    outdoor = (building_mask.flatten(1) == 0).cpu().numpy()
    for b, idx in enumerate(sample_index.tolist()):
        cells = np.flatnonzero(outdoor[b])
        rng = np.random.default_rng([MEASUREMENT_SEED, int(idx)])
        pick = rng.choice(cells, size=min(count, len(cells)), replace=False)
        mask[b].view(-1)[torch.as_tensor(pick, dtype=torch.long, device=mask.device)] = 1.0
    return mask


@register_task("radiomap")
class RadioMapTask:
    """Estimate the path-gain map [dB] from buildings, the TX and sparse measurements.

    Shapes:
        path_gain_db, building_height, building_mask, tx_map: [batch, S, S], float32
        tx_position: [batch, 3]; sample_index, scene_index: [batch], int64
        prediction, target: [batch, S, S], float32 (target: NaN on unscored cells)
    """

    name = "radiomap"
    family = "radiomap"
    input_fields: tuple[str, ...] = ("building_height", "tx_map", "sparse_pg_db", "sparse_mask")
    condition_fields = CONDITIONS
    fields: tuple[str, ...] = ("path_gain_db", "building_height", "building_mask", "tx_map",
                               "tx_position", "sample_index", "scene_index")  # fmt: skip
    eval_fields = fields
    metric_definitions = METRIC_DEFINITIONS
    baselines: tuple[str, ...] = BASELINES

    def __init__(self) -> None:
        self.num_measurements = 200
        self.pg_floor_db: float | None = None

    def configure(self, model_config: Any) -> None:
        """Take the measurement count and the dB floor from a (fitted) model config."""
        self.num_measurements = int(getattr(model_config, "num_measurements", 200))
        self.pg_floor_db = getattr(model_config, "pg_floor_db", None)

    def build_baseline(self, name: str, info: Any, device: str | None = None) -> Any:
        """A classical estimator (:mod:`wirelessml.tasks.radiomap_baselines`)."""
        if name not in self.baselines:
            raise ConfigError(f"unknown baseline {name!r} for task {self.name!r}; choose from: "
                              f"{', '.join(self.baselines)}")  # fmt: skip
        grid = grid_from_info(info)
        if self.pg_floor_db is None:  # no trained model configured the task
            self.pg_floor_db = grid.pg_floor_db
        return RadioMapBaseline(name, grid)

    def fit_model_config(self, model_config: Any, train_path: PathType) -> Any:
        """Set the model's dB scaling, floor and grid fields from the training file."""
        info = read_info(train_path)
        data = info.config.get("_data", {})
        names = {f.name for f in dataclasses.fields(model_config)}
        rows = min(info.num_committed, 256)
        arrays = read_arrays(train_path, ["path_gain_db", "building_mask"], 0, rows)
        values = arrays["path_gain_db"][arrays["building_mask"] == 0].astype(np.float64)
        updates = {
            "pg_floor_db": float(data.get("pg_floor_db", -160.0)),
            "db_offset": float(values.mean()), "db_scale": max(float(values.std()), 1.0),
            "cell_size_m": data.get("cell_size_m"),
            "carrier_frequency_hz": data.get("carrier_frequency_hz"),
            "rx_height_m": (data.get("rx_heights_m") or [None])[0],
        }  # fmt: skip
        updates = {k: v for k, v in updates.items() if k in names and v is not None}
        config = dataclasses.replace(model_config, **updates)
        self.configure(config)
        return config

    def augment(self, batch: Mapping[str, torch.Tensor],
                generator: torch.Generator) -> dict[str, torch.Tensor]:  # fmt: skip
        """A training batch with a random rotation/reflection of the grid per map.

        One of the square grid's 8 symmetries (:mod:`~wirelessml.tasks.radiomap_dihedral`)
        per map, the same for its path gain, heights, building mask and TX map. The
        measurement cells are then drawn on the turned map (a different draw per pose).
        ``tx_position`` [m] is dropped rather than left inconsistent with the turned
        ``tx_map`` (no model reads it; the baselines do, and are not trained).
        """
        out = random_dihedral(batch, AUGMENTED_FIELDS, generator)
        out.pop("tx_position", None)
        return out

    def test_time_average(self, model: torch.nn.Module) -> torch.nn.Module:
        """``model`` evaluated on the map's 8 rotations/reflections, the mean of the 8
        predictions turned back (:class:`~wirelessml.tasks.radiomap_dihedral.DihedralAverage`;
        8x the inference cost)."""
        return DihedralAverage(model)

    def model_inputs(self, batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Keyword arguments of the model's ``forward``, with the sparse measurements."""
        sparse_mask = self._measurements(batch)
        return {"building_height": batch["building_height"], "tx_map": batch["tx_map"],
                "sparse_pg_db": batch["path_gain_db"] * sparse_mask,
                "sparse_mask": sparse_mask}  # fmt: skip

    def _measurements(self, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return sample_measurements(batch["path_gain_db"], batch["building_mask"],
                                   batch["sample_index"], self.num_measurements)  # fmt: skip

    def predict(self, estimator: Any, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """The path-gain map [dB] of a trained model or of a baseline on a batch."""
        inputs = self.model_inputs(batch)
        if isinstance(estimator, torch.nn.Module):
            return estimator(**inputs)
        return estimator({**batch, **inputs})

    def target(self, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """The true map [dB] with NaN on the unscored cells (buildings, measurements)."""
        unscored = (batch["building_mask"] > 0) | (self._measurements(batch) > 0)
        return batch["path_gain_db"].masked_fill(unscored, float("nan"))

    def loss(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Mean squared error [dB²] over the scored (non-NaN) cells."""
        scored = ~torch.isnan(target)
        err = torch.where(scored, pred - target.nan_to_num(), torch.zeros_like(pred))
        return err.square().sum() / scored.sum().clamp(min=1)

    def per_sample(self, pred: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
        """Per map: ``se`` (sum of squared errors [dB²]) and ``cells`` (scored cells); with a
        known floor also ``se_lit`` and ``cells_lit`` (the scored cells above the floor)."""
        scored = ~torch.isnan(target)
        err2 = torch.where(scored, pred - target.nan_to_num(), torch.zeros_like(pred)).square()
        out = {"se": err2.flatten(1).sum(1).double(), "cells": scored.flatten(1).sum(1).double()}
        if self.pg_floor_db is not None:
            lit = above_floor(target, self.pg_floor_db)  # NaN (unscored) compares False
            out["se_lit"] = (err2 * lit).flatten(1).sum(1).double()
            out["cells_lit"] = lit.flatten(1).sum(1).double()
        return out

    def summarize(self, per_sample: Mapping[str, torch.Tensor]) -> dict[str, float]:
        se, cells = per_sample["se"], per_sample["cells"]
        pooled = float(se.sum() / cells.sum().clamp(min=1))
        per_map = (se / cells.clamp(min=1)).sqrt()
        out = {"rmse_db": math.sqrt(pooled), "map_rmse_db": float(per_map.mean())}
        if "se_lit" in per_sample:
            se_lit, lit = per_sample["se_lit"].sum(), per_sample["cells_lit"].sum()
            out["lit_rmse_db"] = math.sqrt(float(se_lit / lit.clamp(min=1)))
            out["shadow_rmse_db"] = math.sqrt(float((se.sum() - se_lit)
                                                    / (cells.sum() - lit).clamp(min=1)))
        return out

    def report(self, per_sample: Mapping[str, torch.Tensor],
               conditions: Mapping[str, torch.Tensor]) -> dict[str, object]:  # fmt: skip
        """Overall RMSE, its breakdown by scene, the definitions and the dB floor."""
        return {
            "overall": self.summarize(per_sample),
            "num_samples": int(per_sample["se"].numel()),
            "num_scored_cells": int(per_sample["cells"].sum()),
            "num_measurements": self.num_measurements,
            "pg_floor_db": self.pg_floor_db,
            "by": {
                # scenes are categories: one group per scene, never bins of scene indices
                name: breakdown(conditions[name], per_sample, self.summarize,
                                max_groups=len(conditions[name]))
                for name in self.condition_fields
                if name in conditions
            },  # fmt: skip
            "definitions": dict(METRIC_DEFINITIONS),
        }

    def write_examples(self, runs: list, data: PathType, out: Any, *, device: str = "cpu",
                       num: int = 4) -> list:  # fmt: skip
        """One PNG per example map (buildings, truth, prediction, error per estimator)."""
        from wirelessml.tasks.radiomap_plots import write_examples

        return write_examples(self, runs, data, out, device=device, num=num)
