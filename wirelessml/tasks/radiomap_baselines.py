"""Classical radio-map estimators: free space, 3GPP UMa/UMi, log-distance fit, IDW.

Each is a callable on a batch holding ``tx_position``, ``sparse_pg_db`` and
``sparse_mask`` (the task adds the last two); predictions are clipped below at the
dataset's ``pg_floor_db``, like the data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from wirelessml.models.radiounet import SPEED_OF_LIGHT, uma_path_loss_db, umi_path_loss_db

__all__ = ["BASELINES", "RadioMapBaseline", "above_floor", "grid_from_info", "umi_path_loss_db"]

BASELINES: tuple[str, ...] = ("free-space", "uma", "umi", "log-distance", "idw")


def above_floor(pg_db: torch.Tensor, pg_floor_db: float) -> torch.Tensor:
    """The lit cells: path gain above the no-signal floor (a ray reached them).

    A margin of 1e-3 dB keeps float noise at the floor out; NaN compares False.
    """
    return pg_db > pg_floor_db + 1e-3


@dataclass(frozen=True)
class Grid:
    """The map grid and link of a radiomap dataset (from its config)."""

    size: int
    cell_size_m: float
    center: tuple[float, float]
    frequency_hz: float
    rx_height_m: float
    pg_floor_db: float

    def centers(self, device: torch.device | str = "cpu") -> torch.Tensor:
        """Cell centres [S, S, 2] (x, y) [m], row = y (as the simulator)."""
        g = self.size * self.cell_size_m / 2.0
        k = (torch.arange(self.size, dtype=torch.float32, device=device) + 0.5) * self.cell_size_m
        xs, ys = self.center[0] - g + k, self.center[1] - g + k
        return torch.stack(torch.meshgrid(xs, ys, indexing="xy"), dim=-1)


def grid_from_info(info: Any) -> Grid:
    """The :class:`Grid` of a dataset's :class:`~wirelessml.datasets.DatasetInfo`."""
    d = info.config.get("_data", {})
    return Grid(size=d["grid_size"], cell_size_m=d["cell_size_m"],
                center=tuple(d["grid_center_m"]), frequency_hz=d["carrier_frequency_hz"],
                rx_height_m=d["rx_heights_m"][0], pg_floor_db=d["pg_floor_db"])  # fmt: skip


class RadioMapBaseline:
    """One classical estimator, called like a model on a batch.

    - ``free-space``: Friis, ``20 log10(lambda / (4 pi d3D))``.
    - ``uma`` / ``umi``: 3GPP TR 38.901 UMa / UMi street-canyon NLOS path loss (no shadowing).
    - ``log-distance``: ``a - 10 n log10(d3D)`` fitted by least squares, per map, to its
      sparse measurements above the floor (free space if fewer than 2).
    - ``idw``: inverse-distance-weighted (power 2) mean of the measurements in dB.

    Shapes:
        batch["tx_position"]: [batch, 3]; batch["sparse_pg_db"], batch["sparse_mask"]: [batch, S, S]
        output: [batch, S, S], float32, path gain [dB]
    """

    def __init__(self, name: str, grid: Grid) -> None:
        self.name, self.grid = name, grid

    def __call__(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        g, tx = self.grid, batch["tx_position"].float()
        xy = g.centers(tx.device)
        d2 = torch.linalg.vector_norm(xy[None] - tx[:, None, None, :2], dim=-1)
        h_bs = tx[:, 2, None, None]
        d3 = torch.sqrt(d2**2 + (h_bs - g.rx_height_m) ** 2)
        if self.name == "free-space":
            out = 20 * torch.log10(SPEED_OF_LIGHT / g.frequency_hz / (4 * math.pi * d3))
        elif self.name == "uma":
            out = -uma_path_loss_db(d2, h_bs, g.rx_height_m, g.frequency_hz)
        elif self.name == "umi":
            out = -umi_path_loss_db(d2, h_bs, g.rx_height_m, g.frequency_hz)
        elif self.name == "log-distance":
            out = self._log_distance(batch, d3)
        else:
            out = self._idw(batch, xy)
        return out.clamp(min=g.pg_floor_db, max=0.0)

    def _log_distance(self, batch: dict[str, torch.Tensor], d3: torch.Tensor) -> torch.Tensor:
        g = self.grid
        fs = 20 * torch.log10(SPEED_OF_LIGHT / g.frequency_hz / (4 * math.pi * d3))
        x = 10 * torch.log10(d3).flatten(1)
        y = batch["sparse_pg_db"].flatten(1)
        use = (batch["sparse_mask"].flatten(1) > 0) & above_floor(y, g.pg_floor_db)
        out = fs.clone()
        for b in range(len(x)):
            sel = use[b]
            if int(sel.sum()) >= 2 and float(x[b, sel].std()) > 0:
                design = torch.stack([torch.ones_like(x[b, sel]), -x[b, sel]], dim=1).double()
                coef = torch.linalg.lstsq(design, y[b, sel, None].double()).solution[:, 0]
                out[b] = (coef[0] - coef[1] * x[b].double()).float().view_as(out[b])
        return out

    def _idw(self, batch: dict[str, torch.Tensor], xy: torch.Tensor) -> torch.Tensor:
        out = torch.full_like(batch["sparse_pg_db"], self.grid.pg_floor_db)
        cells = xy.reshape(-1, 2)
        for b in range(len(out)):
            sel = batch["sparse_mask"][b].flatten() > 0
            if not bool(sel.any()):
                continue
            pts, vals = cells[sel], batch["sparse_pg_db"][b].flatten()[sel]
            d = torch.cdist(cells, pts).clamp(min=1e-3)
            w = d.pow(-2.0)
            out[b] = ((w @ vals) / w.sum(1)).view_as(out[b])
        return out
