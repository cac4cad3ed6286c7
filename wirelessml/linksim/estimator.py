"""A trained channel estimator as a Sionna channel-estimation block.

:class:`NeuralChannelEstimator` is called exactly like Sionna's
:class:`~sionna.phy.ofdm.LSChannelEstimator`, ``h_hat, err_var = est(y, no)``, so it drops
into any Sionna OFDM receiver (e.g. before :class:`~sionna.phy.ofdm.LMMSEEqualizer`).
It subclasses Sionna's ``BaseChannelEstimator``, so it is a ``torch.nn.Module`` with
Sionna's input casting, pilot extraction and nulled-subcarrier handling.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from sionna.phy.ofdm import BaseChannelEstimator
from torch import Tensor, nn

from wirelessml._typing import PathType
from wirelessml.errors import WirelessMLError
from wirelessml.linksim.grid import check_grid, training_config
from wirelessml.simulators.ofdm_config import OFDMConfig

__all__ = ["NeuralChannelEstimator", "TrainedRun", "error_variance_table", "load_trained_run"]

_MAX_FRAMES_PER_CALL = 2048
"""Frames (batch x num_rx x num_rx_ant) per network pass: bounds the attention's memory."""


@dataclass(frozen=True)
class TrainedRun:
    """A loaded run: the model (eval mode), its ``run.json`` and its ``val_report.json``."""

    model: nn.Module
    meta: dict[str, Any]
    val_report: dict[str, Any]
    name: str = "neural"

    @property
    def config(self) -> OFDMConfig:
        """The OFDM config of the training data (the grid the model knows)."""
        return training_config(self.meta, self.name)


def load_trained_run(run_dir: PathType, device: str | torch.device = "cpu") -> TrainedRun:
    """Load a channel-estimation run folder for linksim (model, meta and validation report).

    Raises:
        RunError: not a run folder, or no weights.
        WirelessMLError: not a channel-estimation run, or no ``val_report.json``.
    """
    from wirelessml.train.run import REPORT_FILE, load_run

    run_dir = Path(run_dir)
    task, model, meta = load_run(run_dir, device)
    if task.name != "channel-estimation":
        raise WirelessMLError(f"{run_dir} is a {task.name!r} run; linksim needs a "
                              "'channel-estimation' run")  # fmt: skip
    path = run_dir / REPORT_FILE
    if not path.exists():
        raise WirelessMLError(f"{run_dir} has no {REPORT_FILE} (its validation error gives "
                              "err_var): let the training finish at least one epoch")  # fmt: skip
    return TrainedRun(model=model, meta=meta, val_report=json.loads(path.read_text()),
                      name=str(run_dir))  # fmt: skip


def error_variance_table(val_report: dict[str, Any]) -> tuple[Tensor, Tensor]:
    """``(snr_db, mse)``: the validation MSE per complex RE at each validation SNR (sorted).

    From ``val_report["by"]["snr_db"]`` (bin centres and their ``mse_db``); a report
    without that breakdown gives one row, the overall ``mse_db``, at 0 dB.
    """
    rows = val_report.get("by", {}).get("snr_db") or []
    rows = [r for r in rows if math.isfinite(r.get("mse_db", math.nan))]
    if not rows:
        overall = val_report.get("overall", {}).get("mse_db")
        if overall is None or not math.isfinite(overall):
            raise WirelessMLError("val_report.json has no finite mse_db: cannot set err_var")
        rows = [{"value": 0.0, "mse_db": overall}]
    rows = sorted(rows, key=lambda r: r["value"])
    snr = torch.tensor([float(r["value"]) for r in rows], dtype=torch.float64)
    mse = torch.tensor([10.0 ** (float(r["mse_db"]) / 10.0) for r in rows], dtype=torch.float64)
    return snr, mse


class NeuralChannelEstimator(BaseChannelEstimator):
    r"""A trained channel-estimation model as a drop-in for Sionna's ``LSChannelEstimator``.

    On each call it gathers the received pilot REs of ``y`` with the grid's pilot pattern,
    forms the LS estimates :math:`\hat h_{\text{LS}} = y_p / x_p`, and maps them with the
    model to the whole grid. Every receive antenna of every receiver is one frame of the
    model (the models estimate antennas independently).

    Priors (AdaFortiTran; FortiTran has none and ignores them):

    - SNR: from ``no``, :math:`\text{snr\_db} = -10\log_{10}(\text{no})`, per frame. This is
      the SNR of the training data only if the channel has unit mean energy per RE and the
      pilots unit energy, as in Sionna's ``OFDMChannel(normalize_channel=True)``.
    - delay spread and Doppler: not estimated; given at construction (``delay_spread_ns``,
      ``doppler_hz``; default the training set's mean, the model's ``prior_mean``) and
      settable as attributes between calls. ``docs/linksim.md`` measures what wrong values
      cost.

    ``err_var`` is the model's measured validation MSE per complex RE at the frame's SNR:
    ``val_report.json``'s per-SNR ``mse_db`` interpolated linearly in dB over SNR [dB] and
    held constant beyond the first and last SNR bins, the same for every RE of a frame. It is
    never zero (the smallest positive float32 at worst).

    Supported: one transmitter with one stream (Sionna's ``num_tx = num_streams_per_tx = 1``),
    any ``num_rx`` and ``num_rx_ant``, the training data's grid (checked at construction:
    FFT size, OFDM symbols, subcarrier spacing, no nulled subcarriers, pilot positions).

    The model is frozen (no gradients to its weights) and stays in eval mode even if the
    pipeline around it is put in ``train()`` mode (no dropout); gradients still flow to
    ``y``. Inputs are cast to the block's device and precision like any Sionna block.

    Args:
        run: A run folder of ``wirelessml train channel-estimation``, or a
            :class:`TrainedRun` (``load_trained_run``).
        resource_grid: The link's Sionna ``ResourceGrid``.
        delay_spread_ns: Delay-spread prior [ns] (default ``None``: the training mean).
        doppler_hz: Maximum-Doppler prior [Hz] (default ``None``: the training mean).
        precision: Sionna precision (default ``None``: Sionna's); the model runs in float32.
        device: Torch device (default ``None``: Sionna's default device).

    Shapes:
        y: [batch_size, num_rx, num_rx_ant, num_ofdm_symbols, fft_size], complex
        no: [batch_size, num_rx, num_rx_ant] or only the first n >= 0 dims, float
        h_hat: [batch_size, num_rx, num_rx_ant, 1, 1, num_ofdm_symbols, fft_size], complex
        err_var: same shape as h_hat, float

    Raises:
        GridMismatchError: the grid is not the training data's (names the field).

    Examples:
        >>> est = NeuralChannelEstimator("runs/ada", rg)  # doctest: +SKIP
        >>> h_hat, err_var = est(y, no)  # doctest: +SKIP
        >>> h_hat.shape  # doctest: +SKIP
        torch.Size([16, 1, 1, 1, 1, 14, 120])
    """

    def __init__(
        self,
        run: PathType | TrainedRun,
        resource_grid: Any,
        *,
        delay_spread_ns: float | None = None,
        doppler_hz: float | None = None,
        precision: str | None = None,
        device: str | None = None,
    ) -> None:
        super().__init__(resource_grid, precision=precision, device=device)
        if not isinstance(run, TrainedRun):
            run = load_trained_run(run, self.device)
        self.run_name = run.name
        check_grid(resource_grid, run.config, run.name)
        self.model = run.model.to(self.device).eval().requires_grad_(False)
        cfg = getattr(self.model, "config", None)
        self.uses_priors = bool(getattr(cfg, "priors", False))
        mean = tuple(getattr(cfg, "prior_mean", (0.0, 0.0, 0.0)))
        self.delay_spread_ns = float(mean[1] if delay_spread_ns is None else delay_spread_ns)
        self.doppler_hz = float(mean[2] if doppler_hz is None else doppler_hz)
        self._pilot_shape = (len(run.config.pilot_ofdm_symbols), run.config.num_pilots_per_symbol)
        snr, mse = error_variance_table(run.val_report)
        self.register_buffer("_ev_snr_db", snr.to(self.device, torch.float32), persistent=False)
        self.register_buffer("_ev_mse", mse.to(self.device, torch.float32), persistent=False)

    def train(self, mode: bool = True) -> NeuralChannelEstimator:
        """Keep the wrapped model in eval mode whatever the surrounding pipeline does."""
        super().train(mode)
        self.model.eval()
        return self

    def error_variance(self, snr_db: Tensor) -> Tensor:
        """Validation MSE per RE at ``snr_db`` (any shape, float32), interpolated in dB."""
        x, y = self._ev_snr_db, 10.0 * torch.log10(self._ev_mse)
        s = snr_db.to(x).clamp(x[0], x[-1])
        if len(x) == 1:
            out = y.expand_as(s)
        else:
            i = torch.searchsorted(x, s.contiguous()).clamp(1, len(x) - 1)
            w = (s - x[i - 1]) / (x[i] - x[i - 1])
            out = y[i - 1] + w * (y[i] - y[i - 1])
        return torch.pow(10.0, out / 10.0).clamp_min(torch.finfo(torch.float32).tiny)

    def call(self, y: Tensor, no: Tensor) -> tuple[Tensor, Tensor]:
        y_pilots = self._extract_pilots(y)  # [b, rx, rx_ant, 1, 1, P]
        b, r, a = y_pilots.shape[:3]
        x_pilots = self._pilot_pattern.pilots[0, 0].to(y_pilots)  # [P]
        h_ls = (y_pilots[:, :, :, 0, 0] / x_pilots).to(torch.complex64)
        no = torch.as_tensor(no, device=y.device).to(torch.float32)
        no = no.reshape(*no.shape, *([1] * (3 - no.dim()))).expand(b, r, a)
        # no = 0 (noiseless) would give an infinite prior: keep it finite.
        snr_db = (-10.0 * torch.log10(no)).clamp(-100.0, 100.0)
        h_hat = self._estimate(h_ls.reshape(b * r * a, 1, *self._pilot_shape), snr_db.reshape(-1))
        h_hat = h_hat.reshape(b, r, a, 1, 1, *h_hat.shape[-2:]).to(self.cdtype)
        err_var = self.error_variance(snr_db)[..., None, None, None, None]
        return h_hat, err_var.expand(h_hat.shape).to(self.dtype)

    def _estimate(self, h_ls: Tensor, snr_db: Tensor) -> Tensor:
        """The model on frames ``[N, 1, P_t, P_f]`` → ``[N, 1, T, F]``, in chunks."""
        outs = []
        for start in range(0, h_ls.shape[0], _MAX_FRAMES_PER_CALL):
            frames = h_ls[start : start + _MAX_FRAMES_PER_CALL]
            snr = snr_db[start : start + _MAX_FRAMES_PER_CALL]
            if self.uses_priors:
                ds = torch.full_like(snr, self.delay_spread_ns)
                fd = torch.full_like(snr, self.doppler_hz)
                outs.append(self.model(frames, snr, ds, fd))
            else:
                outs.append(self.model(frames))
        return torch.cat(outs)

    def extra_repr(self) -> str:
        priors = (f"delay_spread_ns={self.delay_spread_ns:g}, doppler_hz={self.doppler_hz:g}"
                  if self.uses_priors else "priors=None")  # fmt: skip
        return f"run={self.run_name!r}, {priors}"
