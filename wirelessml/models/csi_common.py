"""What every CSI-prediction model shares: the data fields of its config and the complex edge.

Each BS port is predicted as its own sequence (the reference's "separate antennas"):
``[batch, A, H, K]`` complex becomes ``[batch * A, H, 2K]`` real, (Re, Im) interleaved
per subcarrier, scaled by the RMS of its history row (so a model sees unit-power inputs
whatever the channel gain; the scale is put back on the output).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from wirelessml.config import check_field
from wirelessml.nn.complex_edge import ChannelsToComplex, ComplexToChannels

__all__ = ["CSIModelConfig", "CSIRows", "sinusoidal_positions"]


@dataclass(frozen=True, kw_only=True)
class CSIModelConfig:
    """Data fields shared by the CSI-prediction model configs (set from the data by the task).

    Args:
        duplex: ``"tdd"`` or ``"fdd"``; the architecture may differ (default: ``"tdd"``).
        num_history: History snapshots (default: ``16``).
        num_horizon: Predicted snapshots (default: ``4``).
        num_in_subcarriers: UL subcarriers of the history (default: ``50``, the small preset).
        num_out_subcarriers: Subcarriers of the target band (default: ``50``).
        size: ``"cpu"`` or ``"paper"``: which table fills the ``None`` size fields.
    """

    version: int = 1
    duplex: Literal["tdd", "fdd"] = "tdd"
    num_history: int = 16
    num_horizon: int = 4
    num_in_subcarriers: int = 50
    num_out_subcarriers: int = 50
    size: Literal["cpu", "paper"] = "cpu"

    def _check_data(self) -> None:
        check_field(self.duplex in ("tdd", "fdd"), self, "duplex", self.duplex, "'tdd' or 'fdd'")
        check_field(self.size in ("cpu", "paper"), self, "size", self.size, "'cpu' or 'paper'")
        for name in ("num_history", "num_horizon", "num_in_subcarriers", "num_out_subcarriers"):
            value = getattr(self, name)
            check_field(isinstance(value, int) and not isinstance(value, bool) and value >= 1,
                        self, name, value, "an integer >= 1")  # fmt: skip


class CSIRows(nn.Module):
    """complex ``[B, A, T, K]`` <-> real rows ``[B*A, T, 2K]``, with per-row RMS scaling.

    Shapes:
        ``to_rows``: h [B, A, T, K] complex64 -> x [B*A, T, 2K] float32, scale [B*A, 1, 1]
        ``from_rows``: y [B*A, T', 2K'] float32 -> [B, A, T', K'] complex64
    """

    def __init__(self) -> None:
        super().__init__()
        self.to_real = ComplexToChannels(dim=-1)
        self.to_complex = ChannelsToComplex(dim=-1)

    def to_rows(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        b, a, t, k = h.shape
        x = self.to_real(h).reshape(b * a, t, 2 * k)
        scale = x.square().mean(dim=(1, 2), keepdim=True).clamp_min(1e-12).sqrt()
        return x / scale, scale

    def from_rows(self, y: torch.Tensor, scale: torch.Tensor, batch: int) -> torch.Tensor:
        n, t, d = y.shape
        y = (y * scale).reshape(batch, n // batch, t, d // 2, 2)
        return self.to_complex(y)


def sinusoidal_positions(length: int, dim: int) -> torch.Tensor:
    """Transformer sinusoidal position encodings ``[length, dim]`` (Vaswani et al.)."""
    pos = torch.arange(length, dtype=torch.float32)[:, None]
    freq = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(1e4) / dim))
    pe = torch.zeros(length, dim)
    pe[:, 0::2] = torch.sin(pos * freq)
    pe[:, 1::2] = torch.cos(pos * freq)[:, : dim // 2]
    return pe
