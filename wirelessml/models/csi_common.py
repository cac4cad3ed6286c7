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

__all__ = ["CSIModelConfig", "CSIRows", "TemporalSkip", "sinusoidal_positions"]


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
        temporal_skip: Add a learned linear map over time of the input (H -> F snapshots,
            started as "repeat the last snapshot") to the network's output, when the input
            and target bands have as many subcarriers (default: ``True``). Not in the
            reference: with the CPU training budgets, it starts every model at the
            no-prediction baseline instead of at zero.
    """

    version: int = 1
    duplex: Literal["tdd", "fdd"] = "tdd"
    num_history: int = 16
    num_horizon: int = 4
    num_in_subcarriers: int = 50
    num_out_subcarriers: int = 50
    size: Literal["cpu", "paper"] = "cpu"
    temporal_skip: bool = True

    def _check_data(self) -> None:
        check_field(self.duplex in ("tdd", "fdd"), self, "duplex", self.duplex, "'tdd' or 'fdd'")
        check_field(self.size in ("cpu", "paper"), self, "size", self.size, "'cpu' or 'paper'")
        check_field(isinstance(self.temporal_skip, bool), self, "temporal_skip",
                    self.temporal_skip, "True or False")  # fmt: skip
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


class TemporalSkip(nn.Module):
    """A linear map over time of the (scaled) input rows, initialized to repeat the last one.

    Shapes:
        x: [N, H, D] float32 -> [N, F, D] float32
    """

    def __init__(self, history: int, horizon: int) -> None:
        super().__init__()
        self.linear = nn.Linear(history, horizon, bias=False)
        with torch.no_grad():
            self.linear.weight.zero_()
            self.linear.weight[:, -1] = 1.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x.transpose(1, 2)).transpose(1, 2)


def make_skip(config: CSIModelConfig) -> TemporalSkip | None:
    """The temporal skip of a model, or ``None`` (switched off, or bands of different sizes)."""
    same = config.num_in_subcarriers == config.num_out_subcarriers
    return (
        TemporalSkip(config.num_history, config.num_horizon)
        if config.temporal_skip and same
        else None
    )
