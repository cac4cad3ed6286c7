"""The CSI-prediction task: the next snapshots of the channel from a noisy history (csi-series data).

TDD predicts the UL future, FDD the DL future from the UL history; which one is a
property of the dataset (its config's ``duplex``), and a model remembers the duplex it
was fitted to, so a TDD model cannot be evaluated on FDD data.

Noise is applied to the clean history when it is loaded (:mod:`wirelessml.tasks.csi_noise`).
In training and validation the history gets AWGN at a per-sample SNR uniform in
:data:`TRAIN_SNR_DB` (the reference's training noise), drawn from a generator seeded by
the batch content, so a validation pass is repeatable. The evaluation protocol
(:mod:`wirelessml.evaluate.csi_protocol`) puts its own noisy history in the batch
(``h_hist_noisy``), which then takes precedence.

Metric definitions (written into every report):

- ``nmse_db``: :math:`10\\log_{10}` of the mean over (sample, BS port, prediction step) of
  :math:`\\|\\hat h - h\\|^2 / \\|h\\|^2`, norms over the subcarriers: the linear mean of
  ratios, then dB (CSI-4CAST's definition). ``nmse_db_step{j}``: the same for step ``j``
  only (1 = the next snapshot).
- ``se_pred``: mean over samples, steps and subcarriers of
  :math:`\\log_2(1 + |\\hat h^H h|^2 / (\\|\\hat h\\|^2 \\sigma^2))`, the spectral efficiency
  of maximum-ratio transmission over the BS ports steered by the predicted channel, at
  :math:`\\sigma^2 = 10^{-\\mathrm{SE\\_SNR\\_DB}/10}` (per-port SNR 10 dB on unit-energy
  channels). ``se_true``: the same with :math:`\\hat h = h` (its upper bound).
- The training loss (``TrainConfig.loss``) is the NMSE in linear scale (the mean of ratios
  above; the default) or ``nmse-db``, the mean over samples of each sample's NMSE in dB.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import torch

from wirelessml._typing import PathType
from wirelessml.datasets import read_info
from wirelessml.errors import ConfigError
from wirelessml.registry import register_task
from wirelessml.tasks.channel_estimation import breakdown, cells
from wirelessml.tasks.csi_baselines import ARPredictor, ARSelectPredictor, NoPrediction
from wirelessml.tasks.csi_noise import awgn

__all__ = [
    "METRIC_DEFINITIONS",
    "SE_SNR_DB",
    "TRAIN_SNR_DB",
    "CSIPredictionTask",
    "data_duplex",
    "nmse_terms",
    "sample_nmse",
    "spectral_efficiency",
]

SE_SNR_DB = 10.0
"""Per-port SNR [dB] of the spectral-efficiency metric (the reference's default)."""

TRAIN_SNR_DB = (0.0, 25.0)
"""AWGN SNR range [dB] of the training and validation histories (uniform per sample)."""

METRIC_DEFINITIONS: dict[str, str] = {
    "nmse_db": "10*log10(mean over (sample, BS port, step) of ||h_hat-h||^2/||h||^2, norms over "
    "subcarriers); linear mean of ratios, then dB (CSI-4CAST)",
    "nmse_db_step{j}": "the same over prediction step j only (1 = next snapshot)",
    "se_pred": "mean over samples, steps, subcarriers of log2(1 + |h_hat^H h|^2 / (||h_hat||^2 "
    "sigma^2)), MRT over the BS ports with the predicted channel, sigma^2 = 10^(-10/10)",
    "se_true": "se_pred with h_hat = h (perfect CSI, the upper bound)",
    "loss": "TrainConfig.loss 'nmse' (default): mean over (sample, BS port, step) of "
    "||h_hat-h||^2/||h||^2 (linear NMSE); 'nmse-db': mean over samples of 10*log10(the "
    "sample's mean over ports and steps of that ratio)",
    "history_noise": f"train/val: AWGN, per-sample SNR uniform in {TRAIN_SNR_DB} dB on the "
    "history; protocol: the scenario's noise (wirelessml.tasks.csi_noise)",
}

CONDITIONS: tuple[str, ...] = ("channel_model_id", "delay_spread_ns", "speed_mps")


def nmse_terms(h_hat: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """Per (sample, port, step) ratios ``||h_hat - h||^2 / ||h||^2`` over subcarriers.

    Shapes:
        h_hat, h: [batch, num_bs_ant, num_horizon, num_subcarriers], complex64
        output: [batch, num_bs_ant, num_horizon], float32
    """
    err = (h_hat - h).abs().square().sum(-1)
    return err / h.abs().square().sum(-1).clamp_min(1e-30)


def sample_nmse(h_hat: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """Each sample's NMSE: the mean of :func:`nmse_terms` over its ports and steps.

    Shapes:
        h_hat, h: [batch, num_bs_ant, num_horizon, num_subcarriers], complex64
        output: [batch], float32
    """
    return nmse_terms(h_hat, h).flatten(1).mean(1)


def spectral_efficiency(h_hat: torch.Tensor, h: torch.Tensor,
                        snr_db: float = SE_SNR_DB) -> torch.Tensor:  # fmt: skip
    """Per-sample SE [bit/s/Hz] of MRT steered by ``h_hat`` over the true ``h``.

    Shapes:
        h_hat, h: [batch, num_bs_ant, num_horizon, num_subcarriers], complex64
        output: [batch], float32
    """
    no = 10.0 ** (-snr_db / 10.0)
    gain = (h_hat.conj() * h).sum(1).abs().square()  # [batch, F, K]
    norm = h_hat.abs().square().sum(1).clamp_min(1e-30)
    return torch.log2(1.0 + gain / (norm * no)).mean(dim=(1, 2))


def data_duplex(config: Mapping[str, Any]) -> str:
    """The duplex (``tdd``/``fdd``) of a csi-series dataset config dict."""
    return str(config.get("_data", config).get("duplex", "tdd"))


@register_task("csi-prediction")
class CSIPredictionTask:
    """Predict the next CSI snapshots from a noisy UL history (csi-series datasets; TDD or FDD).

    Shapes:
        h_hist: [batch, num_bs_ant, num_history, num_ul_subcarriers], complex64
        h_future, h_hat: [batch, num_bs_ant, num_horizon, num_target_subcarriers], complex64
        speed_mps, delay_spread_ns: [batch], float32; channel_model_id: [batch], int64
    """

    name = "csi-prediction"
    family = "csi-series"
    input_fields: tuple[str, ...] = ("h_hist",)
    target_field = "h_future"
    condition_fields = CONDITIONS
    fields: tuple[str, ...] = ("h_hist", "h_future", *CONDITIONS)
    eval_fields = fields
    metric_definitions = METRIC_DEFINITIONS
    baselines: tuple[str, ...] = ("no-prediction", "ar", "ar-select")
    protocol = "csi-rrg"
    """Evaluated by :mod:`wirelessml.evaluate.csi_protocol` (regular/robustness/generalization)."""
    losses: tuple[str, ...] = ("nmse", "nmse-db")
    """Variants of :meth:`loss` (``TrainConfig.loss``); ``"nmse"`` is the default."""

    def build_baseline(self, name: str, info: Any, device: str | None = None) -> Any:
        """A classical predictor (no training), called like the model on a batch."""
        if name not in self.baselines:
            raise ConfigError(f"unknown baseline {name!r} for task {self.name!r}; choose from: "
                              f"{', '.join(self.baselines)}")  # fmt: skip
        spec = info.fields["h_future"]
        horizon, k_out = spec.shape[1], spec.shape[2]
        kinds = {"no-prediction": NoPrediction, "ar": ARPredictor, "ar-select": ARSelectPredictor}
        return kinds[name](horizon, k_out)

    def predict(self, estimator: Any, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """``h_hat`` of a trained model or of a baseline on a batch."""
        return estimator(**self.model_inputs(batch))

    def fit_model_config(self, model_config: Any, train_path: PathType) -> Any:
        """Set the data-dependent fields of a model config from the training file.

        ``duplex``, ``num_history``, ``num_horizon``, ``num_in_subcarriers`` and
        ``num_out_subcarriers`` follow the dataset; then the size fields left ``None``
        are filled from the model's table for that duplex (``config.resolved()``).
        """
        info = read_info(train_path)
        specs = info.fields
        names = {f.name for f in dataclasses.fields(model_config)}
        updates = {
            "duplex": data_duplex(info.config),
            "num_history": specs["h_hist"].shape[1],
            "num_horizon": specs["h_future"].shape[1],
            "num_in_subcarriers": specs["h_hist"].shape[2],
            "num_out_subcarriers": specs["h_future"].shape[2],
        }
        fitted = dataclasses.replace(
            model_config, **{k: v for k, v in updates.items() if k in names}
        )
        # Size fields left None are written out for this duplex, so the run is self-contained.
        return fitted.resolved() if hasattr(fitted, "resolved") else fitted

    def check_run_data(self, meta: Mapping[str, Any], info: Any) -> None:
        """Refuse a model fitted to one duplex mode on data of the other.

        Raises:
            ConfigError: e.g. a TDD-trained model on FDD data.
        """
        model_duplex = meta.get("model_config", {}).get("_data", {}).get("duplex")
        duplex = data_duplex(info.config)
        if model_duplex is not None and model_duplex != duplex:
            raise ConfigError(f"model {meta.get('model')!r} was trained for "
                              f"{model_duplex.upper()} but {info.path} is {duplex.upper()} data; "
                              f"evaluate it on {model_duplex.upper()} data or train an "
                              f"{duplex.upper()} model")  # fmt: skip

    def model_inputs(self, batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The noisy history: the protocol's ``h_hist_noisy`` or the training AWGN."""
        if "h_hist_noisy" in batch:
            return {"h_hist": batch["h_hist_noisy"]}
        h = batch["h_hist"]
        gen = torch.Generator(device=h.device).manual_seed(_content_seed(h))
        lo, hi = TRAIN_SNR_DB
        snr = lo + (hi - lo) * torch.rand(h.shape[0], generator=gen, device=h.device)
        return {"h_hist": awgn(h, snr, generator=gen)}

    def target(self, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return batch[self.target_field]

    def loss(self, h_hat: torch.Tensor, h: torch.Tensor, kind: str = "nmse") -> torch.Tensor:
        """``"nmse"``: linear NMSE, the mean over (sample, port, step) of the
        per-subcarrier-vector ratios (the reference's loss). ``"nmse-db"``: the mean over
        samples of each sample's NMSE in dB (10 log10 of its mean over ports and steps),
        so that a sample predicted to -25 dB weighs as much as one at -3 dB (the linear
        mean is dominated by the hardest samples: fast UEs at low SNR)."""
        if kind == "nmse":
            return nmse_terms(h_hat, h).mean()
        if kind == "nmse-db":
            return 10.0 * torch.log10(sample_nmse(h_hat, h).clamp_min(1e-12)).mean()
        raise ConfigError(f"loss {kind!r} is not a csi-prediction loss; allowed: "
                          + ", ".join(repr(n) for n in self.losses))

    def per_sample(self, h_hat: torch.Tensor, h: torch.Tensor) -> dict[str, torch.Tensor]:
        """``nse`` [batch, num_horizon] (mean over ports), ``se_pred`` and ``se_true`` [batch]."""
        h_hat = h_hat.to(h.dtype)
        return {
            "nse": nmse_terms(h_hat, h).mean(1),
            "se_pred": spectral_efficiency(h_hat, h),
            "se_true": spectral_efficiency(h, h),
        }

    def summarize(self, per_sample: Mapping[str, torch.Tensor]) -> dict[str, float]:
        """``nmse_db`` overall and per step, ``se_pred`` and ``se_true``."""
        nse = per_sample["nse"].double()
        out = {"nmse_db": _db(nse.mean())}
        out.update({f"nmse_db_step{j + 1}": _db(nse[:, j].mean()) for j in range(nse.shape[1])})
        out["se_pred"] = float(per_sample["se_pred"].double().mean())
        out["se_true"] = float(per_sample["se_true"].double().mean())
        return out

    def report(
        self, per_sample: Mapping[str, torch.Tensor], conditions: Mapping[str, torch.Tensor]
    ) -> dict[str, object]:
        """Overall metrics, their breakdown by each condition and by grid cell."""
        present = {name: conditions[name] for name in self.condition_fields if name in conditions}
        return {
            "overall": self.summarize(per_sample),
            "num_samples": int(per_sample["nse"].shape[0]),
            "by": {name: breakdown(v, per_sample, self.summarize) for name, v in present.items()},
            "cells": cells(present, per_sample, self.summarize),
            "definitions": dict(METRIC_DEFINITIONS),
        }


def _content_seed(h: torch.Tensor) -> int:
    """A seed from the batch content: the same batch gets the same noise."""
    probe = torch.view_as_real(h.reshape(h.shape[0], -1)[:, :8]).double()
    return int((probe.abs().sum() * 1e6).item()) % (2**62)


def _db(x: torch.Tensor) -> float:
    value = float(x)
    return 10.0 * math.log10(value) if value > 0 else float("-inf")
