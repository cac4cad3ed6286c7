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
from wirelessml.nn.linear_prediction import (
    SELECT_ORDERS,
    ARFit,
    ar_candidates,
    ar_fit,
    ar_rollout,
)

__all__ = ["ARGate", "CSIModelConfig", "CSIRows", "TemporalSkip", "sinusoidal_positions"]


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
        ar_skip: Give the temporal skip also the sample's AR(4) prediction
            (:func:`~wirelessml.nn.linear_prediction.ar_predict`, fitted per sample over
            its ports and subcarriers on the model's input rows, the denoised ones for
            CSI-4CAST) and start it as that prediction instead of "repeat the last
            snapshot" (default: ``False``; needs ``temporal_skip``). Not in the reference:
            the network then learns a correction to a per-sample Wiener predictor, which
            adapts to each sample's Doppler mixture where a network trained on a few speeds
            cannot.
    """

    version: int = 1
    duplex: Literal["tdd", "fdd"] = "tdd"
    num_history: int = 16
    num_horizon: int = 4
    num_in_subcarriers: int = 50
    num_out_subcarriers: int = 50
    size: Literal["cpu", "paper"] = "cpu"
    temporal_skip: bool = True
    ar_skip: bool = False

    def _check_data(self) -> None:
        check_field(self.duplex in ("tdd", "fdd"), self, "duplex", self.duplex, "'tdd' or 'fdd'")
        check_field(self.size in ("cpu", "paper"), self, "size", self.size, "'cpu' or 'paper'")
        check_field(isinstance(self.temporal_skip, bool), self, "temporal_skip",
                    self.temporal_skip, "True or False")  # fmt: skip
        check_field(isinstance(self.ar_skip, bool), self, "ar_skip", self.ar_skip,
                    "True or False")  # fmt: skip
        check_field(not self.ar_skip or self.temporal_skip, self, "ar_skip", self.ar_skip,
                    "False when temporal_skip=False (the AR prediction enters through the skip)")  # fmt: skip
        for name in ("num_history", "num_horizon", "num_in_subcarriers", "num_out_subcarriers"):
            value = getattr(self, name)
            check_field(isinstance(value, int) and not isinstance(value, bool) and value >= 1,
                        self, name, value, "an integer >= 1")  # fmt: skip
        check_field(not self.ar_skip or self.num_in_subcarriers == self.num_out_subcarriers,
                    self, "ar_skip", self.ar_skip,
                    f"False when the target band ({self.num_out_subcarriers} subcarriers) is not "
                    f"as wide as the history's ({self.num_in_subcarriers}): the AR prediction "
                    "of the history is the skip's output")  # fmt: skip


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


AR_SKIP_ORDER = 4
"""Order of the AR skip's predictor (the ``ar`` baseline's)."""
AR_SKIP_RIDGE = 1e-6
"""Relative ridge of the AR skip's fit: a little more than the baseline's 1e-9, to keep the
gradient through the solve bounded on nearly constant (slow) histories."""
AR_SKIP_MAX_GAIN = 4.0
"""A sample whose AR roll-out has more than 4x (6 dB) its history's power falls back to
repeating the last snapshot."""
AR_SELECT_ORDERS = SELECT_ORDERS
"""The AR orders ``ar_select`` chooses from, per sample (each fitted on the denoised and on
the noisy rows)."""


class ARGate(nn.Module):
    """Per-sample weight in (0, 1) of the AR prediction of the noisy rows against that of
    the denoised rows, read from three statistics of the sample (log10, not back-propagated):
    the residual of the AR fit on the noisy rows, on the denoised rows, and the power the
    denoiser removed relative to the rows'. Together they tell the noise level and whether
    the denoiser took signal with it. Starts at 0.5 (last layer zero). With
    ``correction``, a second output in (0, 2), started at 1, scales the network's
    correction of that sample.

    Shapes:
        res_raw, res_den, removed: [batch] -> gates [batch, 1 or 2]
    """

    def __init__(self, hidden: int = 16, correction: bool = False) -> None:
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(3, hidden), nn.ReLU(),
                                 nn.Linear(hidden, 2 if correction else 1))  # fmt: skip
        nn.init.zeros_(self.mlp[2].weight)
        nn.init.zeros_(self.mlp[2].bias)

    def forward(self, res_raw: torch.Tensor, res_den: torch.Tensor,
                removed: torch.Tensor) -> torch.Tensor:  # fmt: skip
        feats = torch.stack([res_raw, res_den, removed], dim=-1).detach()
        feats = feats.clamp_min(1e-12).log10().float()
        g = torch.sigmoid(self.mlp(feats))
        return torch.cat([g[:, :1], 2.0 * g[:, 1:]], dim=1)


class SelectGate(nn.Module):
    """Per-sample softmax weights over AR candidates, from their backtest errors ``err``
    and the power the denoiser removed (log10, not back-propagated): logits
    ``-beta * ln(err) + mlp(features)``, with ``beta`` learned (started at ``sharpness``)
    and the MLP's last layer started at zero. So it starts as a soft minimum of the
    backtest errors: near the hard choice where they differ by decades (high SNR), near
    the candidates' mean where noise makes them alike (low SNR); then it learns. With
    ``shrink``, a further output in (0, 2), started at 1, scales the mixed prediction: a
    sample whose history predicts its own last snapshots badly (fast UEs) is better
    predicted by a shrunk extrapolation (the MMSE scale of a prediction whose error is
    uncorrelated with the truth is 1 / (1 + NMSE)).

    Shapes:
        err: [batch, C], removed: [batch] -> weights [batch, C] (sum 1), scale [batch]
    """

    def __init__(self, num_candidates: int, hidden: int = 32, sharpness: float = 4.0,
                 shrink: bool = False) -> None:  # fmt: skip
        super().__init__()
        self.log_beta = nn.Parameter(torch.tensor(math.log(sharpness)))
        self.mlp = nn.Sequential(nn.Linear(num_candidates + 1, hidden), nn.ReLU(),
                                 nn.Linear(hidden, num_candidates + int(shrink)))  # fmt: skip
        self.num_candidates = num_candidates
        nn.init.zeros_(self.mlp[2].weight)
        nn.init.zeros_(self.mlp[2].bias)

    def forward(self, err: torch.Tensor,
                removed: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
        log_err = err.detach().clamp_min(1e-12).log10().float()
        feats = torch.cat([log_err, removed.detach().clamp_min(1e-12).log10().float()[:, None]], 1)
        out = self.mlp(feats)
        logits = -self.log_beta.exp() * math.log(10.0) * log_err + out[:, : self.num_candidates]
        scale = 2.0 * torch.sigmoid(out[:, -1]) if out.shape[1] > self.num_candidates else None
        return torch.softmax(logits, dim=1), torch.ones_like(logits[:, 0]) if scale is None else scale


class TemporalSkip(nn.Module):
    """A linear map over time of the (scaled) input rows, initialized to repeat the last one.

    With ``ar_order``, the map also reads the AR prediction of the rows' sample (fitted
    per sample over all its rows: ``batch`` samples of ``N / batch`` rows each, in order)
    and is initialized to return it. With ``gate`` as well, that prediction is the
    per-sample mix (:class:`ARGate`) of the AR predictions of ``x`` (denoised rows) and
    ``raw`` (the rows before the denoiser). With ``correction`` (needs ``gate``), the model
    calls :meth:`gated` instead: the skip is that mix itself (no learned map over the
    history) and the gate's second output scales the model's correction per sample. With
    ``select`` (needs ``correction``), :meth:`gated` returns instead of the mix the
    candidate with the lowest backtest error (:func:`ar_backtest` against the noisy rows)
    among AR(p), p in :data:`AR_SELECT_ORDERS`, fitted on ``x`` and on ``raw``: the
    classical per-sample order selection; the choice is not differentiable, the chosen
    prediction is (through the denoiser). The gate then gives the correction's gain only
    (its mix weight is not computed into anything). With
    ``select_gate`` as well, the hard choice becomes the learned soft one of
    :class:`SelectGate` (with ``shrink``, also scaled per sample).

    Shapes:
        x, raw: [N, H, D] float32 (Re/Im interleaved) -> [N, F, D] float32
    """

    def __init__(self, history: int, horizon: int, ar_order: int | None = None,
                 gate: bool = False, correction: bool = False,
                 select: bool = False, select_gate: bool = False,
                 shrink: bool = False) -> None:  # fmt: skip
        super().__init__()
        self.horizon = horizon
        self.ar_order = ar_order
        self.select = select
        self.selector = (SelectGate(2 * len(AR_SELECT_ORDERS), shrink=shrink)
                         if select and select_gate else None)  # fmt: skip
        extra = horizon if ar_order is not None else 0
        self.linear = nn.Linear(history + extra, horizon, bias=False)
        self.gate = ARGate(correction=correction) if gate and ar_order is not None else None
        with torch.no_grad():
            self.linear.weight.zero_()
            if ar_order is None:
                self.linear.weight[:, -1] = 1.0
            else:
                self.linear.weight[:, history:] = torch.eye(horizon)

    def forward(self, x: torch.Tensor, batch: int, raw: torch.Tensor | None = None) -> torch.Tensor:
        if self.ar_order is not None:
            ar = self._mix(x, batch, raw)[0] if self.gate is not None else self._ar(x, batch)[0]
            x = torch.cat([x, ar.reshape(x.shape[0], self.horizon, x.shape[2])], dim=1)
        return self.linear(x.transpose(1, 2)).transpose(1, 2)

    def gated(self, x: torch.Tensor, batch: int,
              raw: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
        """The gated (or selected) AR prediction [N, F, D] and the correction's gain [N, 1, 1]."""
        if self.select:  # the gate gives the correction's gain only: no AR(4) roll-outs, no mix
            _need_raw(raw)
            ar = self._select(x, batch, raw)
            g = self.gate(self._fit(raw, batch)[1].residual, self._fit(x, batch)[1].residual,
                          _removed_power(x, raw, batch))  # fmt: skip
        else:
            ar, g = self._mix(x, batch, raw)
        gain = g[:, 1].repeat_interleave(x.shape[0] // batch)[:, None, None]
        return ar.reshape(x.shape[0], self.horizon, x.shape[2]), gain

    def gate_parts(self, x: torch.Tensor, batch: int,
                   raw: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:  # fmt: skip
        """What the gate mixes and its outputs: the AR predictions of ``x`` (denoised rows)
        and of ``raw`` [batch, N/batch, F, D/2, 2] (real view), and the gates [batch, 1 or 2]."""
        _need_raw(raw)
        ar, res = self._ar(x, batch)
        ar_raw, res_raw = self._ar(raw, batch)
        g = self.gate(res_raw, res, _removed_power(x, raw, batch))
        return ar, ar_raw, g

    def _mix(self, x: torch.Tensor, batch: int,
             raw: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
        ar, ar_raw, g = self.gate_parts(x, batch, raw)
        w = g[:, 0].reshape(batch, 1, 1, 1, 1)
        return w * ar_raw + (1.0 - w) * ar, g

    def _select(self, x: torch.Tensor, batch: int, raw: torch.Tensor) -> torch.Tensor:
        """Per sample, the AR candidate with the lowest backtest error, or the learned mix of
        the candidates (real view)."""
        if self.selector is None:
            preds, err = self._candidates(x, batch, raw)
            return torch.view_as_real(preds[torch.arange(batch, device=err.device), err.argmin(1)])
        preds, _, w, scale = self.select_parts(x, batch, raw)
        return torch.view_as_real(self.mix_candidates(preds, w, scale))

    def select_parts(self, x: torch.Tensor, batch: int, raw: torch.Tensor
                     ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:  # fmt: skip
        """What the learned selector mixes and its outputs: the candidates [batch, C, N/batch,
        F, D/2] (complex; the orders of :data:`AR_SELECT_ORDERS` on ``x``, then on ``raw``),
        their backtest errors [batch, C], the weights [batch, C] and the scale [batch]."""
        preds, err = self._candidates(x, batch, raw)
        w, scale = self.selector(err, _removed_power(x, raw, batch))
        return preds, err, w, scale

    @staticmethod
    def mix_candidates(preds: torch.Tensor, w: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
        """The selector's skip [batch, N/batch, F, D/2] from :meth:`select_parts`' outputs."""
        pred = (w[:, :, None, None, None].to(preds.dtype) * preds).sum(1)
        return scale[:, None, None, None].to(pred.dtype) * pred

    def _candidates(self, x: torch.Tensor, batch: int,
                    raw: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
        """:func:`ar_candidates` of ``x`` and ``raw``, scored against the noisy rows."""
        rows = (_complex_rows(x, batch), _complex_rows(raw, batch))
        return ar_candidates(rows, self.horizon, orders=AR_SELECT_ORDERS, ridge=AR_SKIP_RIDGE,
                             max_gain=AR_SKIP_MAX_GAIN, target=rows[1][:, :, -self.horizon :])  # fmt: skip

    def _fit(self, x: torch.Tensor, batch: int) -> tuple[torch.Tensor, ARFit]:
        """The rows as complex series [batch, N/batch, T, D/2] and their AR fit."""
        h = _complex_rows(x, batch)
        return h, ar_fit(h, order=self.ar_order, ridge=AR_SKIP_RIDGE)

    def _ar(self, x: torch.Tensor, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
        """AR prediction [batch, N/batch, F, D/2, 2] (real view) and fit residual [batch]."""
        h, fit = self._fit(x, batch)
        pred = ar_rollout(h, fit.coef, self.horizon, max_gain=AR_SKIP_MAX_GAIN)
        return torch.view_as_real(pred), fit.residual


def _need_raw(raw: torch.Tensor | None) -> None:
    if raw is None:
        raise ValueError("a gated AR skip needs the rows before the denoiser (raw=)")


def _removed_power(x: torch.Tensor, raw: torch.Tensor, batch: int) -> torch.Tensor:
    """Per sample [batch]: the mean over its rows of the share of power the denoiser removed."""
    removed = (raw - x).square().sum(dim=(1, 2)) / raw.square().sum(dim=(1, 2))
    return removed.reshape(batch, -1).mean(1)


def _complex_rows(x: torch.Tensor, batch: int) -> torch.Tensor:
    """Rows [N, T, D] (Re/Im interleaved) -> [batch, N/batch, T, D/2] complex."""
    n, t, d = x.shape
    return torch.view_as_complex(x.reshape(batch, n // batch, t, d // 2, 2).contiguous())


def make_skip(config: CSIModelConfig, gate: bool = False, correction: bool = False,
              select: bool = False, select_gate: bool = False,
              shrink: bool = False) -> TemporalSkip | None:  # fmt: skip
    """The temporal skip of a model, or ``None`` (switched off, or bands of different sizes).

    ``gate``: with ``ar_skip``, mix the AR predictions of the noisy and the denoised rows
    (models with a denoiser); ``correction``, ``select``, ``select_gate``, ``shrink``: see
    :class:`TemporalSkip`."""
    same = config.num_in_subcarriers == config.num_out_subcarriers
    if not (config.temporal_skip and same):
        return None
    order = AR_SKIP_ORDER if config.ar_skip else None
    return TemporalSkip(config.num_history, config.num_horizon, ar_order=order, gate=gate,
                        correction=correction, select=select, select_gate=select_gate,
                        shrink=shrink)  # fmt: skip
