"""Geometry maps a radio-map network can compute from its own inputs (buildings + TX map).

- :func:`tx_cell`: the transmitter's cell and height, read from the TX map.
- :func:`line_of_sight`: 1 where the straight segment from the TX to a receiver at
  ``rx_height_m`` clears every building along the way (2.5-D: the height map is the
  only obstacle), 0 where a building blocks it.
- :func:`free_space_path_gain_db`: Friis, ``20 log10(lambda / (4 pi d3D))``, from the TX cell.
- :func:`first_order_reflection`: 1 where a ray from the TX, specularly reflected once by a
  wall it sees, passes (2-D on the raster: walls are building cells taller than the receiver
  with an open side, their normals from the open sides).

They are not learned and take no gradient. On the procedural districts of the benchmark
(TX at 10 m, below most roofs) a line-of-sight cell is lit in 97.6 % of the outdoor cells
and the line-of-sight cells are 53 % of the lit ones (64 test maps): the rest are lit by
reflections, which the network has to learn.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

__all__ = ["first_order_reflection", "free_space_path_gain_db", "line_of_sight", "tx_cell"]

SPEED_OF_LIGHT = 299_792_458.0


def tx_cell(tx_map: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Row, column (float) and height [m] of the transmitter: the largest cell of ``tx_map``.

    Shapes:
        tx_map: [batch, H, W], float32 (the TX height in its cell, 0 elsewhere)
        output: three [batch] tensors
    """
    w = tx_map.shape[-1]
    flat = tx_map.flatten(1)
    idx = flat.argmax(1)
    h_tx = flat.gather(1, idx[:, None])[:, 0]
    return (idx // w).to(tx_map.dtype), (idx % w).to(tx_map.dtype), h_tx


def _offsets(tx_map: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor,
                                           torch.Tensor, torch.Tensor]:  # fmt: skip
    """TX row/column/height [batch, 1] and every cell's row/column offset [batch, H*W]."""
    _, h, w = tx_map.shape
    ti, tj, h_tx = (v[:, None] for v in tx_cell(tx_map))
    rows = torch.arange(h, device=tx_map.device, dtype=tx_map.dtype).repeat_interleave(w)
    cols = torch.arange(w, device=tx_map.device, dtype=tx_map.dtype).repeat(h)
    return ti, tj, h_tx, rows[None] - ti, cols[None] - tj


@torch.no_grad()
def line_of_sight(building_height: torch.Tensor, tx_map: torch.Tensor,
                  rx_height_m: float) -> torch.Tensor:  # fmt: skip
    """Line-of-sight map: 1 where no building rises above the TX-receiver segment.

    The segment from the TX (its cell centre, at its height) to each cell's centre at
    ``rx_height_m`` is sampled at ``max(H, W)`` points (at most 1.42 cells apart); a
    sample is blocked when the height map there exceeds the segment's height.

    Shapes:
        building_height, tx_map: [batch, H, W], float32 [m]
        output: [batch, H, W], float32 in {0, 1}

    Examples:
        >>> tx = torch.zeros(1, 8, 8); tx[0, 0, 0] = 10.0
        >>> wall = torch.zeros(1, 8, 8); wall[0, :, 4] = 30.0
        >>> los = line_of_sight(wall, tx, 1.5)
        >>> los[0, 0, :4].tolist(), los[0, 0, 5:].tolist()
        ([1.0, 1.0, 1.0, 1.0], [0.0, 0.0, 0.0])
    """
    b, h, w = tx_map.shape
    ti, tj, h_tx, di, dj = _offsets(tx_map)
    heights = building_height.reshape(b, h * w)
    clear = torch.ones(b, h * w, dtype=torch.bool, device=tx_map.device)
    num = max(h, w)
    for k in range(num):
        t = (k + 0.5) / num
        row = (ti + t * di).round_().clamp_(0, h - 1)
        col = (tj + t * dj).round_().clamp_(0, w - 1)
        line = h_tx + t * (rx_height_m - h_tx)
        clear &= heights.gather(1, (row * w + col).long()) <= line
    return clear.view(b, h, w).to(tx_map.dtype)


def free_space_path_gain_db(tx_map: torch.Tensor, *, cell_size_m: float, frequency_hz: float,
                            rx_height_m: float) -> torch.Tensor:  # fmt: skip
    """Friis path gain [dB] from the TX cell: ``20 log10(lambda / (4 pi d3D))``, d3D >= 1 m.

    Shapes:
        tx_map: [batch, H, W], float32
        output: [batch, H, W], float32
    """
    b, h, w = tx_map.shape
    _, _, h_tx, di, dj = _offsets(tx_map)
    d3 = torch.sqrt(cell_size_m**2 * (di**2 + dj**2) + (h_tx - rx_height_m) ** 2).clamp(min=1.0)
    wavelength = SPEED_OF_LIGHT / frequency_hz
    return (20.0 * torch.log10(wavelength / (4 * math.pi * d3))).view(b, h, w)


_SIDES = ((-1, 0), (1, 0), (0, -1), (0, 1))


@torch.no_grad()
def first_order_reflection(building_height: torch.Tensor, tx_map: torch.Tensor,
                           rx_height_m: float, los: torch.Tensor | None = None) -> torch.Tensor:  # fmt: skip
    """First-order reflection map: 1 where a once-reflected TX ray passes at receiver height.

    Walls are the building cells taller than ``rx_height_m``; each of their open sides
    (4-neighbourhood) is a face with that side's normal. A face reflects when the open cell
    in front of it is in line of sight of the TX (:func:`line_of_sight`) and faces it; the
    ray leaves the face (half a cell out from the wall cell's centre) in the mirrored
    direction and is marched in half-cell steps until it meets another wall or leaves the
    grid, marking every open cell it crosses. One ray per face, so the reflected fan thins
    out with distance. 2-D: the heights only decide what is a wall.

    An input of the U-Nets with ``reflection_input``. On the benchmark's districts (64
    test maps) the non-line-of-sight cells it marks are lit in 81 % of cases, the unmarked
    ones in 18 %; it marks 31 % of the lit non-line-of-sight cells.

    ``los`` is the :func:`line_of_sight` map of the same inputs when the caller has it
    (it is computed otherwise).

    Shapes:
        building_height, tx_map: [batch, H, W], float32 [m]
        los (optional), output: [batch, H, W], float32 in {0, 1}
    """
    b, h, w = tx_map.shape
    dev = tx_map.device
    solid = building_height > rx_height_m
    open_ = F.pad(solid, (1, 1, 1, 1), value=False).logical_not()
    faces = []  # (batch, row, col, normal row, normal col) of every open side of a wall cell
    for dr, dc in _SIDES:
        side = solid & open_[:, 1 + dr:1 + dr + h, 1 + dc:1 + dc + w]
        bi, rr, cc = torch.nonzero(side, as_tuple=True)
        faces.append((bi, rr, cc, torch.full_like(rr, dr), torch.full_like(rr, dc)))
    bi, rr, cc, nr, nc = (torch.cat(v) for v in zip(*faces, strict=True))
    n = torch.stack([nr, nc], 1).to(tx_map.dtype)
    cell = torch.stack([rr, cc], 1).to(n.dtype)
    front = torch.stack([(rr + nr).clamp(0, h - 1), (cc + nc).clamp(0, w - 1)], 1)
    if los is None:
        los = line_of_sight(building_height, tx_map, rx_height_m)
    los = los > 0
    ti, tj, _ = tx_cell(tx_map)
    start = cell + 0.5 * n
    d_in = start - torch.stack([ti, tj], 1).to(n.dtype)[bi]
    dot = (d_in * n).sum(1)
    keep = los[bi, front[:, 0], front[:, 1]] & ~solid[bi, front[:, 0], front[:, 1]] & (dot < 0)
    bi, n, start, d_in, dot = bi[keep], n[keep], start[keep], d_in[keep], dot[keep]
    d_out = F.normalize(d_in - 2 * dot[:, None] * n, dim=1)
    out = torch.zeros(b * h * w, dtype=torch.bool, device=dev)
    alive = torch.ones(len(bi), dtype=torch.bool, device=dev)
    for k in range(1, 2 * math.ceil(math.hypot(h, w)) + 1):
        q = (start + 0.5 * k * d_out).round().long()
        alive &= (q[:, 0] >= 0) & (q[:, 0] < h) & (q[:, 1] >= 0) & (q[:, 1] < w)
        if not bool(alive.any()):
            break
        q[:, 0].clamp_(0, h - 1)
        q[:, 1].clamp_(0, w - 1)
        hit = solid[bi, q[:, 0], q[:, 1]]
        alive &= ~hit | (k <= 2)  # grazing rays may touch their own wall at first
        mark = alive & ~hit
        out[((bi * h + q[:, 0]) * w + q[:, 1])[mark]] = True
    return out.view(b, h, w).to(tx_map.dtype)
