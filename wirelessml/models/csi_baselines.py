"""Learned CSI-prediction baselines: GRU, LSTM and a plain Transformer.

Each sees the same input as CSI-4CAST (per BS port, ``[H, 2K]`` real rows, RMS-scaled;
:class:`~wirelessml.models.csi_common.CSIRows`) and outputs ``num_horizon`` snapshots.

- ``gru`` / ``lstm``: Linear 2K -> hidden, a recurrent stack over the ``H`` snapshots, and
  from its last state a Linear hidden -> F * 2K_out.
- ``csi-transformer``: Linear 2K -> d plus sinusoidal positions, a Transformer encoder,
  Linear d -> 2K_out and Linear over time H -> F (CSI-4CAST without its denoiser, ARL and
  ShuffleNet embedding: the ablation of what they add).

Sizes: ``cpu``: hidden 128 / d 128, 2 layers; ``paper``: hidden 768 / d 768, 4 (RNN) or
6 (Transformer) layers, as large as the reference model.

Shapes:
    h_hist: [batch, num_bs_ant, num_history, num_in_subcarriers], complex64
    output: [batch, num_bs_ant, num_horizon, num_out_subcarriers], complex64

Examples:
    >>> model = RNNPredictor(RNNConfig.cpu())
    >>> model(torch.randn(2, 8, 16, 50, dtype=torch.complex64)).shape
    torch.Size([2, 8, 4, 50])
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from wirelessml.config import check_field
from wirelessml.models.csi_common import CSIModelConfig, CSIRows, make_skip, sinusoidal_positions
from wirelessml.registry import register_model

__all__ = ["CSITransformer", "CSITransformerConfig", "LSTMConfig", "RNNConfig", "RNNPredictor"]

_RNN_SIZES = {"cpu": (128, 2), "paper": (768, 4)}
_TF_SIZES = {"cpu": (128, 2, 4, 256), "paper": (768, 6, 8, 2048)}


@dataclass(frozen=True, kw_only=True)
class RNNConfig(CSIModelConfig):
    """GRU predictor config; ``hidden``/``num_layers`` ``None`` take the ``size`` value."""

    cell: Literal["gru", "lstm"] = "gru"
    hidden: int | None = None
    num_layers: int | None = None
    dropout: float = 0.0

    def __post_init__(self) -> None:
        self._check_data()
        check_field(self.cell in ("gru", "lstm"), self, "cell", self.cell, "'gru' or 'lstm'")
        for name in ("hidden", "num_layers"):
            value = getattr(self, name)
            check_field(value is None or (isinstance(value, int) and value >= 1), self, name,
                        value, "an integer >= 1 or None")  # fmt: skip

    def dims(self) -> tuple[int, int]:
        hidden, layers = _RNN_SIZES[self.size]
        return self.hidden or hidden, self.num_layers or layers

    def resolved(self) -> RNNConfig:
        """This config with ``hidden`` and ``num_layers`` written out (what a run saves)."""
        hidden, layers = self.dims()
        return dataclasses.replace(self, hidden=hidden, num_layers=layers)

    @classmethod
    def paper(cls) -> RNNConfig:
        return cls(size="paper")

    @classmethod
    def cpu(cls) -> RNNConfig:
        return cls(size="cpu")


@dataclass(frozen=True, kw_only=True)
class LSTMConfig(RNNConfig):
    """LSTM predictor config (an :class:`RNNConfig` with ``cell="lstm"``)."""

    cell: Literal["gru", "lstm"] = "lstm"


class RNNPredictor(nn.Module):
    """GRU or LSTM CSI predictor (see the module docstring)."""

    def __init__(self, config: RNNConfig) -> None:
        super().__init__()
        self.config = config
        hidden, layers = config.dims()
        self.edge = CSIRows()
        self.inp = nn.Linear(2 * config.num_in_subcarriers, hidden)
        cls = nn.GRU if config.cell == "gru" else nn.LSTM
        self.rnn = cls(hidden, hidden, layers, batch_first=True,
                       dropout=config.dropout if layers > 1 else 0.0)  # fmt: skip
        self.out = nn.Linear(hidden, config.num_horizon * 2 * config.num_out_subcarriers)
        self.skip = make_skip(config)

    def forward(self, h_hist: torch.Tensor) -> torch.Tensor:
        x, scale = self.edge.to_rows(h_hist)
        y, _ = self.rnn(self.inp(x))
        y = self.out(y[:, -1]).reshape(x.shape[0], self.config.num_horizon, -1)
        if self.skip is not None:
            y = y + self.skip(x, h_hist.shape[0])
        return self.edge.from_rows(y, scale, h_hist.shape[0])


register_model("gru", RNNConfig, "GRU CSI-prediction baseline")(RNNPredictor)
register_model("lstm", LSTMConfig, "LSTM CSI-prediction baseline")(RNNPredictor)


@dataclass(frozen=True, kw_only=True)
class CSITransformerConfig(CSIModelConfig):
    """Plain Transformer predictor config; ``None`` fields take the ``size`` value."""

    d_model: int | None = None
    num_layers: int | None = None
    num_heads: int | None = None
    ffn_dim: int | None = None
    dropout: float = 0.1

    def __post_init__(self) -> None:
        self._check_data()
        d, layers, heads, ffn = self.dims()
        check_field(d % heads == 0, self, "num_heads", heads, f"a divisor of d_model={d}")
        check_field(min(d, layers, heads, ffn) >= 1, self, "d_model", d, "sizes >= 1")

    def dims(self) -> tuple[int, int, int, int]:
        table = _TF_SIZES[self.size]
        given = (self.d_model, self.num_layers, self.num_heads, self.ffn_dim)
        return tuple(g or t for g, t in zip(given, table, strict=True))  # type: ignore[return-value]

    def resolved(self) -> CSITransformerConfig:
        """This config with every ``None`` size field written out (what a run saves)."""
        d, layers, heads, ffn = self.dims()
        return dataclasses.replace(self, d_model=d, num_layers=layers, num_heads=heads, ffn_dim=ffn)

    @classmethod
    def paper(cls) -> CSITransformerConfig:
        return cls(size="paper")

    @classmethod
    def cpu(cls) -> CSITransformerConfig:
        return cls(size="cpu")


@register_model(
    "csi-transformer", CSITransformerConfig, "plain Transformer CSI-prediction baseline"
)
class CSITransformer(nn.Module):
    """Plain Transformer CSI predictor (see the module docstring)."""

    def __init__(self, config: CSITransformerConfig) -> None:
        super().__init__()
        self.config = config
        d, layers, heads, ffn = config.dims()
        h = config.num_history
        self.edge = CSIRows()
        self.inp = nn.Linear(2 * config.num_in_subcarriers, d)
        self.register_buffer("positions", sinusoidal_positions(h, d), persistent=False)
        layer = nn.TransformerEncoderLayer(d, heads, ffn, config.dropout, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.head = nn.Linear(d, 2 * config.num_out_subcarriers)
        self.time_out = nn.Linear(h, config.num_horizon)
        self.skip = make_skip(config)

    def forward(self, h_hist: torch.Tensor) -> torch.Tensor:
        x, scale = self.edge.to_rows(h_hist)
        y = self.head(self.encoder(self.inp(x) + self.positions))
        y = self.time_out(y.transpose(1, 2)).transpose(1, 2)
        if self.skip is not None:
            y = y + self.skip(x, h_hist.shape[0])
        return self.edge.from_rows(y, scale, h_hist.shape[0])
