"""CSI-4CAST: CSI prediction with a denoiser, adaptive correction layers, ShuffleNet and a Transformer.

Cheng et al., "CSI-4CAST", arXiv 2510.12996 (https://arxiv.org/abs/2510.12996); written from
the paper's description and the facts in ``shared/reference`` (no code copied).

Per BS port, the history ``[H, 2K]`` (Re/Im interleaved per subcarrier) goes through:

1. **Denoiser**: a conv encoder-decoder over ``[2, H, K]`` (channels 2 -> 4 -> 8 ... and
   back, BatchNorm), a 1-D conv over time, and a residual: ``x - noise_estimate``.
2. **Standardization** of the batch (one mean and std), undone at the end.
3. **Adaptive correction layers (ARL)**: two branches, frequency (as is) and delay (IFFT
   over the subcarriers). Each gets a temporal MLP over the ``H`` snapshots (LayerNorm,
   dropout). FDD adds a subcarrier-wise ARL: an MLP over the ``2K`` features whose output
   is added to its input (a learned correction toward the other band).
4. **Embedding**: per branch, Conv3x3 2 -> C, ShuffleNet blocks (grouped 1x1 conv, channel
   shuffle, depthwise 3x3, grouped 1x1, channel attention; avg pooling for TDD, avg + max
   for FDD; residual), Conv C -> 2; the branches are summed, then a token embedding
   (circular Conv1d over time, 2K -> d) plus sinusoidal positions, and a Linear over time.
5. **Transformer encoder**, then Linear d -> 2K_out and Linear over time H -> F.

Sizes (``None`` fields come from the table of ``size`` x ``duplex``):

- ``paper``: the reference. TDD: d=768, 6 layers, 8 heads, FFN 512, dropout 0.1, C=64,
  4 groups, CA ratio 2, denoiser 3 levels, temporal MLP 4 x 512. FDD: d=768, 4 layers,
  4 heads, FFN 2048, dropout 0.2, C=128, 8 groups, denoiser 5 levels, subcarrier ARL
  3 x 2048.
- ``cpu``: the same graph scaled for a 2-core CPU: d=128 (6x smaller), 2 layers, 4 heads,
  FFN 256, C=8, 4 groups, 2 ShuffleNet blocks (the convolutions over [H, K] maps dominate
  the CPU time: C=16 trains at 19 samples/s of 8 ports, C=8 at 34), denoiser 3 levels,
  temporal MLP 2 x 64, FDD subcarrier ARL 2 x 256. About 0.3 M parameters.

Shapes:
    h_hist: [batch, num_bs_ant, num_history, num_in_subcarriers], complex64
    output: [batch, num_bs_ant, num_horizon, num_out_subcarriers], complex64

Examples:
    >>> model = CSI4CAST(CSI4CASTConfig.cpu())
    >>> model(torch.randn(2, 8, 16, 50, dtype=torch.complex64)).shape
    torch.Size([2, 8, 4, 50])
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from wirelessml.config import check_field
from wirelessml.models.csi_common import CSIModelConfig, CSIRows, make_skip, sinusoidal_positions
from wirelessml.registry import register_model

__all__ = ["SIZES", "CSI4CAST", "CSI4CASTConfig"]

_ARCH = ("d_model", "num_layers", "num_heads", "ffn_dim", "dropout", "denoiser_levels",
         "temporal_mlp_layers", "temporal_mlp_hidden", "subcarrier_arl", "subcarrier_arl_layers",
         "subcarrier_arl_hidden", "shuffle_channels", "shuffle_groups", "shuffle_blocks",
         "ca_ratio", "ca_pool")  # fmt: skip

SIZES: dict[tuple[str, str], dict[str, Any]] = {
    ("paper", "tdd"): dict(d_model=768, num_layers=6, num_heads=8, ffn_dim=512, dropout=0.1,
                           denoiser_levels=3, temporal_mlp_layers=4, temporal_mlp_hidden=512,
                           subcarrier_arl=False, subcarrier_arl_layers=3,
                           subcarrier_arl_hidden=2048, shuffle_channels=64, shuffle_groups=4,
                           shuffle_blocks=4, ca_ratio=2, ca_pool="avg"),
    ("paper", "fdd"): dict(d_model=768, num_layers=4, num_heads=4, ffn_dim=2048, dropout=0.2,
                           denoiser_levels=5, temporal_mlp_layers=4, temporal_mlp_hidden=512,
                           subcarrier_arl=True, subcarrier_arl_layers=3,
                           subcarrier_arl_hidden=2048, shuffle_channels=128, shuffle_groups=8,
                           shuffle_blocks=4, ca_ratio=2, ca_pool="avg+max"),
    ("cpu", "tdd"): dict(d_model=128, num_layers=2, num_heads=4, ffn_dim=256, dropout=0.1,
                         denoiser_levels=3, temporal_mlp_layers=2, temporal_mlp_hidden=64,
                         subcarrier_arl=False, subcarrier_arl_layers=2, subcarrier_arl_hidden=256,
                         shuffle_channels=8, shuffle_groups=4, shuffle_blocks=2, ca_ratio=2,
                         ca_pool="avg"),
    ("cpu", "fdd"): dict(d_model=128, num_layers=2, num_heads=4, ffn_dim=256, dropout=0.1,
                         denoiser_levels=3, temporal_mlp_layers=2, temporal_mlp_hidden=64,
                         subcarrier_arl=True, subcarrier_arl_layers=2, subcarrier_arl_hidden=256,
                         shuffle_channels=8, shuffle_groups=4, shuffle_blocks=2, ca_ratio=2,
                         ca_pool="avg+max"),
}  # fmt: skip
"""Architecture of each (size, duplex); a config field left ``None`` takes its value here."""


_OPTION_NEEDS = (("gate_correction", "ar_gate"), ("ar_select", "gate_correction"),
                 ("select_gate", "ar_select"), ("select_shrink", "select_gate"))  # fmt: skip
"""The skip options after ``ar_gate`` and the option each needs."""


@dataclass(frozen=True, kw_only=True)
class CSI4CASTConfig(CSIModelConfig):
    """Configuration of :class:`CSI4CAST`; ``None`` fields come from :data:`SIZES`.

    ``ar_gate`` (default ``False``; needs ``ar_skip``): the AR skip mixes, per sample, the
    AR prediction of the denoised rows with that of the noisy rows, by a small learned gate
    (:class:`~wirelessml.models.csi_common.ARGate`) read from the two fits' residuals and
    the power the denoiser removed. Not in the reference: the denoiser helps the AR fit at
    low SNR (0 dB: -4.5 against -2.6 dB) but hurts it at high SNR (25 dB: -6.6 against
    -9.2 dB, measured on the TDD benchmark's test grid with the 75-minute run), and a
    fixed skip cannot take the better of the two per sample.

    ``gate_correction`` (default ``False``; needs ``ar_gate``): the output is the gated AR
    prediction plus the network's correction scaled per sample by the gate's second output
    (in (0, 2), started at 1), with no learned map over the history in the skip; so the
    model can learn to leave a sample to the AR fit (high SNR) or to lean on the network.

    ``ar_select`` (default ``False``; needs ``gate_correction``): the skip is, per sample,
    the AR(2/4/6/8) prediction of the denoised or of the noisy rows that best predicts the
    last 4 snapshots of the history from the ones before (a backtest against the noisy
    rows), instead of the gate's mix; the gate still scales the correction. Not in the
    reference. Measured with the 60-minute ``gate_correction`` model's denoiser on the TDD
    generalization cells (mean over cells of the cell NMSE): this selection alone, with no
    network, reaches -9.54 dB at 25 dB SNR where that whole model reaches -8.76 dB (and
    AR(4) on the noisy rows -8.93 dB), but -4.11 against -4.72 dB at 0 dB.

    ``select_gate`` (default ``False``; needs ``ar_select``): a learned soft choice
    (:class:`~wirelessml.models.csi_common.SelectGate`) replaces the hard one, started as
    a soft minimum of the backtest errors. ``select_shrink`` (needs ``select_gate``): the
    selector also scales the skip per sample (in (0, 2), started at 1), so that the model
    can shrink the extrapolation of a sample it cannot predict (fast UEs): the network's
    correction is computed without seeing the skip and cannot do it. Measured on the TDD
    benchmark (75 min each, one run each): best in 78.2 % of the generalization scenarios
    with ``select_gate``, 85.1 % with ``select_shrink`` as well (67.6 % with
    ``gate_correction`` alone, 60 min); the hard ``ar_select`` alone trained slower than
    ``gate_correction`` and was stopped.

    Examples:
        >>> CSI4CASTConfig.paper().arch()["d_model"], CSI4CASTConfig.cpu().arch()["d_model"]
        (768, 128)
    """

    d_model: int | None = None
    num_layers: int | None = None
    num_heads: int | None = None
    ffn_dim: int | None = None
    dropout: float | None = None
    denoiser_levels: int | None = None
    temporal_mlp_layers: int | None = None
    temporal_mlp_hidden: int | None = None
    subcarrier_arl: bool | None = None
    subcarrier_arl_layers: int | None = None
    subcarrier_arl_hidden: int | None = None
    shuffle_channels: int | None = None
    shuffle_groups: int | None = None
    shuffle_blocks: int | None = None
    ca_ratio: int | None = None
    ca_pool: str | None = None
    ar_gate: bool = False
    gate_correction: bool = False
    ar_select: bool = False
    select_gate: bool = False
    select_shrink: bool = False

    def __post_init__(self) -> None:
        self._check_data()
        check_field(isinstance(self.ar_gate, bool), self, "ar_gate", self.ar_gate,
                    "True or False")  # fmt: skip
        check_field(not self.ar_gate or self.ar_skip, self, "ar_gate", self.ar_gate,
                    "False when ar_skip=False (the gate mixes the AR skip's predictions)")  # fmt: skip
        for name, needs in _OPTION_NEEDS:  # each option builds on the one before
            value = getattr(self, name)
            check_field(isinstance(value, bool), self, name, value, "True or False")
            check_field(not value or getattr(self, needs), self, name, value,
                        f"False when {needs}=False")  # fmt: skip
        arch = self.arch()
        for name in _ARCH:
            value = arch[name]
            if name == "dropout":
                check_field(0.0 <= value < 1.0, self, name, value, "a number in [0, 1)")
            elif name == "ca_pool":
                check_field(value in ("avg", "avg+max"), self, name, value, "'avg' or 'avg+max'")
            elif name != "subcarrier_arl":
                check_field(isinstance(value, int) and value >= 1, self, name, value,
                            "an integer >= 1")  # fmt: skip
        check_field(arch["d_model"] % arch["num_heads"] == 0, self, "num_heads",
                    arch["num_heads"], f"a divisor of d_model={arch['d_model']}")  # fmt: skip
        check_field(arch["shuffle_channels"] % arch["shuffle_groups"] == 0, self,
                    "shuffle_groups", arch["shuffle_groups"],
                    f"a divisor of shuffle_channels={arch['shuffle_channels']}")  # fmt: skip

    def arch(self) -> dict[str, Any]:
        """Every architecture field, ``None`` ones filled from ``SIZES[(size, duplex)]``."""
        table = SIZES[(self.size, self.duplex)]
        return {n: table[n] if getattr(self, n) is None else getattr(self, n) for n in _ARCH}

    def resolved(self) -> CSI4CASTConfig:
        """This config with every ``None`` field written out (what a run saves)."""
        return dataclasses.replace(self, **self.arch())

    @classmethod
    def paper(cls) -> CSI4CASTConfig:
        """The reference size (d=768, 6 TDD / 4 FDD layers)."""
        return cls(size="paper")

    @classmethod
    def cpu(cls) -> CSI4CASTConfig:
        """The CPU size (d=128, 2 layers, C=8; see the module docstring)."""
        return cls(size="cpu")


def _mlp(
    dim_in: int, hidden: int, dim_out: int, layers: int, out_act: nn.Module | None
) -> nn.Sequential:
    dims = [dim_in] + [hidden] * (layers - 1) + [dim_out]
    mods: list[nn.Module] = []
    for i in range(layers):
        mods.append(nn.Linear(dims[i], dims[i + 1]))
        if i < layers - 1:
            mods.append(nn.ReLU())
    if out_act is not None:
        mods.append(out_act)
    return nn.Sequential(*mods)


class Denoiser(nn.Module):
    """Conv encoder-decoder noise estimate, subtracted from the input (residual).

    Shapes:
        x, output: [N, H, 2K], float32 (Re/Im interleaved)
    """

    def __init__(self, levels: int, history: int) -> None:
        super().__init__()
        widths = [2 ** (i + 1) for i in range(levels)]  # 2, 4, 8, ...

        def block(cin: int, cout: int) -> nn.Sequential:  # noqa: E306
            return nn.Sequential(
                nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU()
            )

        self.encoder = nn.Sequential(*[block(widths[i], widths[i + 1]) for i in range(levels - 1)])
        self.decoder = nn.Sequential(
            *[block(widths[i], widths[i - 1]) for i in range(levels - 1, 0, -1)]
        )
        self.post = nn.Sequential(
            nn.Conv1d(history, history, 3, padding=1), nn.BatchNorm1d(history)
        )
        # Zero gain on the noise estimate at start: the denoiser begins as the identity
        # (the reference's unit-variance BatchNorm output would subtract O(1) noise from
        # unit-power rows before anything is learned).
        nn.init.zeros_(self.post[1].weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, t, d = x.shape
        z = x.reshape(n, t, d // 2, 2).permute(0, 3, 1, 2)  # [N, 2, H, K]
        z = self.decoder(self.encoder(z))
        z = z.permute(0, 2, 3, 1).reshape(n, t, d)
        return x - self.post(z)


class ARL(nn.Module):
    """Adaptive correction layer: an MLP over the last axis, optionally added to its input,
    then LayerNorm and dropout."""

    def __init__(self, dim: int, hidden: int, layers: int, *, residual: bool,
                 out_act: nn.Module | None, dropout: float, norm: bool = True) -> None:  # fmt: skip
        super().__init__()
        self.mlp = _mlp(dim, hidden, dim, layers, out_act)
        self.residual = residual
        self.norm = nn.LayerNorm(dim) if norm else nn.Identity()
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.mlp(x)
        return self.drop(self.norm(y + x if self.residual else y))


class ChannelAttention(nn.Module):
    """Squeeze-and-excitation gate from average (and max) pooling."""

    def __init__(self, channels: int, ratio: int, pool: str) -> None:
        super().__init__()
        hidden = max(1, channels // ratio)
        self.fc = nn.Sequential(nn.Conv2d(channels, hidden, 1, bias=False), nn.ReLU(),
                                nn.Conv2d(hidden, channels, 1, bias=False))  # fmt: skip
        self.use_max = pool == "avg+max"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate = self.fc(x.mean(dim=(2, 3), keepdim=True))
        if self.use_max:
            gate = gate + self.fc(x.amax(dim=(2, 3), keepdim=True))
        return torch.sigmoid(gate)


class ShuffleBlock(nn.Module):
    """ShuffleNet unit with channel attention and a residual connection."""

    def __init__(self, channels: int, groups: int, ca_ratio: int, ca_pool: str) -> None:
        super().__init__()
        self.groups = groups
        self.pw_in = nn.Sequential(nn.Conv2d(channels, channels, 1, groups=groups, bias=False),
                                   nn.BatchNorm2d(channels), nn.ReLU())  # fmt: skip
        self.dw = nn.Sequential(nn.Conv2d(channels, channels, 3, padding=1, groups=channels,
                                          bias=False), nn.BatchNorm2d(channels))  # fmt: skip
        self.pw_out = nn.Sequential(nn.Conv2d(channels, channels, 1, groups=groups, bias=False),
                                    nn.BatchNorm2d(channels))  # fmt: skip
        self.ca = ChannelAttention(channels, ca_ratio, ca_pool)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.pw_in(x)
        n, c, h, w = y.shape
        y = y.reshape(n, self.groups, c // self.groups, h, w).transpose(1, 2).reshape(n, c, h, w)
        y = self.pw_out(self.dw(y))
        return torch.relu(x + self.ca(y) * y)


def _branch(a: dict[str, Any]) -> nn.Sequential:
    c = a["shuffle_channels"]
    blocks = [ShuffleBlock(c, a["shuffle_groups"], a["ca_ratio"], a["ca_pool"])
              for _ in range(a["shuffle_blocks"])]  # fmt: skip
    return nn.Sequential(nn.Conv2d(2, c, 3, padding=1), *blocks, nn.Conv2d(c, 2, 3, padding=1))


@register_model("csi4cast", CSI4CASTConfig, "CSI-4CAST CSI predictor (denoiser, ARL, ShuffleNet, "
                "Transformer; arXiv 2510.12996)")  # fmt: skip
class CSI4CAST(nn.Module):
    """CSI-4CAST (arXiv 2510.12996); see the module docstring for the graph and sizes."""

    def __init__(self, config: CSI4CASTConfig) -> None:
        super().__init__()
        self.config = config
        a = config.arch()
        h, f = config.num_history, config.num_horizon
        d_in, d_out, d = 2 * config.num_in_subcarriers, 2 * config.num_out_subcarriers, a["d_model"]
        self.edge = CSIRows()
        self.denoiser = Denoiser(a["denoiser_levels"], h)
        # The reference normalizes each subcarrier's H-sample series over time after its
        # temporal MLP, which throws away the series' level; here the MLP output is added
        # to its input (the ARL "add" form) and the LayerNorm runs over the features.
        temporal = dict(residual=True, out_act=None, dropout=0.1, norm=False)
        self.temporal_freq = ARL(h, a["temporal_mlp_hidden"], a["temporal_mlp_layers"], **temporal)
        self.temporal_delay = ARL(h, a["temporal_mlp_hidden"], a["temporal_mlp_layers"], **temporal)
        self.subcarrier_freq = self.subcarrier_delay = None
        if a["subcarrier_arl"]:
            sub = dict(residual=True, out_act=nn.ReLU(), dropout=0.1)
            hid, lay = a["subcarrier_arl_hidden"], a["subcarrier_arl_layers"]
            self.subcarrier_freq = ARL(d_in, hid, lay, **sub)
            self.subcarrier_delay = ARL(d_in, hid, lay, **sub)
        self.cnn_freq, self.cnn_delay = _branch(a), _branch(a)
        self.token = nn.Conv1d(d_in, d, 3, padding=1, padding_mode="circular", bias=False)
        self.register_buffer("positions", sinusoidal_positions(h, d), persistent=False)
        self.embed_drop = nn.Dropout(a["dropout"])
        self.time_pre = nn.Linear(h, h)
        layer = nn.TransformerEncoderLayer(d, a["num_heads"], a["ffn_dim"], a["dropout"],
                                           batch_first=True)  # fmt: skip
        self.transformer = nn.TransformerEncoder(layer, a["num_layers"], enable_nested_tensor=False)
        self.head = nn.Linear(d, d_out)
        self.time_out = nn.Linear(h, f)
        self.skip = make_skip(config, gate=config.ar_gate, correction=config.gate_correction,
                              select=config.ar_select, select_gate=config.select_gate,
                              shrink=config.select_shrink)  # fmt: skip

    def forward(self, h_hist: torch.Tensor) -> torch.Tensor:
        x, scale = self.edge.to_rows(h_hist)  # [N, H, 2K]
        x_den = self.denoiser(x)
        # linear prediction of the denoised rows (and, with ar_skip, their AR prediction;
        # with ar_gate, mixed per sample with the AR prediction of the noisy rows)
        gain = 1.0
        if self.config.gate_correction:  # implies ar_skip, hence a skip (equal bands)
            skip, gain = self.skip.gated(x_den, h_hist.shape[0], raw=x)
        else:
            skip = self.skip(x_den, h_hist.shape[0], raw=x) if self.skip is not None else 0.0
        x = x_den
        mean, std = x.mean(), x.std().clamp_min(1e-6)
        x = (x - mean) / std
        x_freq, x_delay = self._arl(x)
        x = self._embed(x_freq) + self._embed(x_delay, delay=True)  # [N, H, 2K]
        z = self.token(x.transpose(1, 2)).transpose(1, 2) + self.positions
        z = self.time_pre(self.embed_drop(z).transpose(1, 2)).transpose(1, 2)
        y = self.head(self.transformer(z))  # [N, H, 2K_out]
        y = self.time_out(y.transpose(1, 2)).transpose(1, 2)  # [N, F, 2K_out]
        return self.edge.from_rows(gain * (y * std + mean) + skip, scale, h_hist.shape[0])

    def _arl(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        n, t, d = x.shape
        xc = torch.view_as_complex(x.reshape(n, t, d // 2, 2).contiguous())
        x_delay = torch.view_as_real(torch.fft.ifft(xc, dim=-1, norm="ortho")).reshape(n, t, d)
        x_freq = self.temporal_freq(x.transpose(1, 2)).transpose(1, 2)
        x_delay = self.temporal_delay(x_delay.transpose(1, 2)).transpose(1, 2)
        if self.subcarrier_freq is not None:
            x_freq, x_delay = self.subcarrier_freq(x_freq), self.subcarrier_delay(x_delay)
        return x_freq, x_delay

    def _embed(self, x: torch.Tensor, delay: bool = False) -> torch.Tensor:
        n, t, d = x.shape
        z = x.reshape(n, t, d // 2, 2).permute(0, 3, 1, 2)  # [N, 2, H, K]
        z = (self.cnn_delay if delay else self.cnn_freq)(z)
        return z.permute(0, 2, 3, 1).reshape(n, t, d)
