"""The channel-estimation task: estimate the OFDM channel ``h`` from the LS pilot estimates.

Metric definitions (written into every report):

- ``nmse_db``: :math:`10\\log_{10}\\big(\\frac{1}{N}\\sum_n \\|\\hat h_n - h_n\\|^2 / \\|h_n\\|^2\\big)`,
  norms over receive antennas, OFDM symbols and subcarriers; the mean of per-sample
  ratios is taken in linear scale, then converted to dB.
- ``mse_db``: :math:`10\\log_{10}\\big(\\frac{1}{N K}\\sum_{n,k} |\\hat h_{n,k} - h_{n,k}|^2\\big)`
  over all N samples and K resource elements, per complex entry, not normalized: the
  metric the AdaFortiTran reference reports. Our channels have unit mean energy per
  resource element, so the two differ only by the spread of the per-sample energies.
- The training loss is the MSE per complex resource element, the mean of
  :math:`|\\hat h - h|^2` (twice the reference's MSE over stacked real and imaginary parts).
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
from wirelessml.registry import register_task

__all__ = ["METRIC_DEFINITIONS", "ChannelEstimationTask", "breakdown", "cells"]

METRIC_DEFINITIONS: dict[str, str] = {
    "nmse_db": "10*log10(mean over samples of ||h_hat-h||^2/||h||^2); norms over rx antennas, "
    "OFDM symbols, subcarriers; linear mean of per-sample ratios, then dB",
    "mse_db": "10*log10(mean over samples and resource elements of |h_hat-h|^2); per complex "
    "entry, not normalized (the AdaFortiTran reference's metric)",
    "loss": "mean over samples and resource elements of |h_hat-h|^2",
}

CONDITIONS: tuple[str, ...] = ("snr_db", "doppler_hz", "delay_spread_ns")
"""Per-sample conditions the metrics are broken down by."""


@register_task("channel-estimation")
class ChannelEstimationTask:
    """Estimate the OFDM channel h from its LS pilot estimates and priors (ofdm datasets).

    Shapes:
        h_ls: [batch, num_rx_ant, num_pilot_symbols, num_pilots_per_symbol], complex64
        h, h_hat: [batch, num_rx_ant, num_ofdm_symbols, num_subcarriers], complex64
        snr_db, delay_spread_ns, doppler_hz: [batch], float32
    """

    name = "channel-estimation"
    family = "ofdm"
    input_fields: tuple[str, ...] = ("h_ls", "snr_db", "delay_spread_ns", "doppler_hz")
    target_field = "h"
    condition_fields = CONDITIONS
    fields: tuple[str, ...] = ("h", "h_ls", "no", *CONDITIONS)
    eval_fields: tuple[str, ...] = (*fields, "y_pilots")  # the baselines read the raw pilots
    metric_definitions = METRIC_DEFINITIONS
    baselines: tuple[str, ...] = ("ls", "lmmse-genie", "lmmse-robust")
    reference_baseline = "lmmse-genie"
    """The estimator a report measures the others' gaps against, point by point."""

    def build_baseline(self, name: str, info: Any, device: str | None = None) -> Any:
        """A classical estimator (all from Sionna), called like the model on a batch."""
        from wirelessml.tasks.ce_baselines import build_baseline

        return build_baseline(name, info, device)

    def predict(self, estimator: Any, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """``h_hat`` of a trained model (``nn.Module``) or of a baseline on a batch."""
        if isinstance(estimator, torch.nn.Module):
            return estimator(**self.model_inputs(batch))
        return estimator(batch)

    def fit_model_config(self, model_config: Any, train_path: PathType) -> Any:
        """Set the data-dependent fields of a model config from the training file.

        The grid fields (``num_ofdm_symbols``, ``num_subcarriers``, ``pilot_ofdm_symbols``,
        ``num_pilots_per_symbol``) follow the dataset, and models with ``prior_mean`` /
        ``prior_std`` fields (AdaFortiTran) get the mean and standard deviation of
        ``(snr_db, delay_spread_ns, doppler_hz)`` over the training set, so that their
        priors enter normalized (the reference fed raw dB, ns and Hz).
        """
        names = {f.name for f in dataclasses.fields(model_config)}
        data = read_info(train_path).config.get("_data", {})
        grid = {
            "num_ofdm_symbols": data.get("num_ofdm_symbols"),
            "num_subcarriers": data.get("fft_size"),
            "pilot_ofdm_symbols": tuple(data.get("pilot_ofdm_symbols", ())) or None,
            "num_pilots_per_symbol": len(
                range(data.get("pilot_offset", 0), data.get("fft_size", 0), data.get("pilot_spacing", 1))
            ) or None,
        }
        updates: dict[str, Any] = {k: v for k, v in grid.items() if k in names and v is not None}
        if {"prior_mean", "prior_std"} <= names:
            order = ("snr_db", "delay_spread_ns", "doppler_hz")
            arrays = read_arrays(train_path, list(order))
            updates["prior_mean"] = tuple(float(np.mean(arrays[k], dtype=np.float64)) for k in order)
            updates["prior_std"] = tuple(
                max(float(np.std(arrays[k], dtype=np.float64)), 1e-3) for k in order
            )
        return dataclasses.replace(model_config, **updates)

    def model_inputs(self, batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Keyword arguments of the model's ``forward``."""
        return {name: batch[name] for name in self.input_fields}

    def target(self, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return batch[self.target_field]

    def loss(self, h_hat: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        """Mean of :math:`|\\hat h - h|^2` over samples and resource elements."""
        return (h_hat - h).abs().square().mean()

    def per_sample(self, h_hat: torch.Tensor, h: torch.Tensor) -> dict[str, torch.Tensor]:
        """Linear per-sample errors [batch]: ``nse`` (normalized) and ``se`` (per RE)."""
        err = (h_hat - h).abs().square().flatten(1)
        return {"nse": err.sum(1) / h.abs().square().flatten(1).sum(1), "se": err.mean(1)}

    def summarize(self, per_sample: Mapping[str, torch.Tensor]) -> dict[str, float]:
        """``nmse_db`` and ``mse_db`` of a set of per-sample errors."""
        return {"nmse_db": _db(per_sample["nse"].mean()), "mse_db": _db(per_sample["se"].mean())}

    def report(
        self, per_sample: Mapping[str, torch.Tensor], conditions: Mapping[str, torch.Tensor]
    ) -> dict[str, object]:
        """Overall metrics, their breakdown by every condition field and, on a test grid,
        by every grid point (``cells``: one entry per combination of the conditions)."""
        present = {name: conditions[name] for name in self.condition_fields if name in conditions}
        return {
            "overall": self.summarize(per_sample),
            "num_samples": int(per_sample["nse"].numel()),
            "by": {
                name: breakdown(conditions[name], per_sample, self.summarize)
                for name in self.condition_fields
                if name in conditions
            },
            "cells": cells(present, per_sample, self.summarize),
            "definitions": dict(METRIC_DEFINITIONS),
        }


def breakdown(values: torch.Tensor, per_sample: Mapping[str, torch.Tensor], summarize,
              max_groups: int = 12) -> list[dict[str, float]]:  # fmt: skip
    """Metrics per value of a condition (per bin of equal width if it takes many values).

    Returns:
        One dict per group with ``value`` (the value, or the bin centre), ``count`` and
        the metrics, sorted by value.
    """
    values = values.double().cpu()
    unique = torch.unique(values)
    if len(unique) <= max_groups:
        keys, centres = torch.searchsorted(unique, values), unique
    else:
        lo, hi = values.min().item(), values.max().item()
        width = (hi - lo) / max_groups or 1.0
        keys = ((values - lo) / width).floor().clamp(0, max_groups - 1).long()
        centres = lo + width * (torch.arange(max_groups, dtype=torch.float64) + 0.5)
    rows = []
    for k, centre in enumerate(centres.tolist()):
        mask = keys == k
        if bool(mask.any()):
            group = {name: v.cpu()[mask] for name, v in per_sample.items()}
            rows.append({"value": centre, "count": int(mask.sum()), **summarize(group)})
    return rows


def cells(conditions: Mapping[str, torch.Tensor], per_sample: Mapping[str, torch.Tensor],
          summarize, max_cells: int = 216) -> list[dict[str, float]]:  # fmt: skip
    """Metrics per combination of the condition values, when they form a grid.

    Returns:
        One dict per distinct combination (the condition values, ``count`` and the
        metrics), sorted by the conditions in order; ``[]`` when there are more than
        ``max_cells`` combinations (data drawn from ranges rather than a test grid).
    """
    if not conditions:
        return []
    names = list(conditions)
    table = torch.stack([conditions[n].double().cpu() for n in names], dim=1)
    combos, keys = torch.unique(table, dim=0, return_inverse=True)
    if len(combos) > max_cells:
        return []
    rows = []
    for k, combo in enumerate(combos.tolist()):
        mask = keys == k
        group = {name: v.cpu()[mask] for name, v in per_sample.items()}
        rows.append({**dict(zip(names, combo, strict=True)), "count": int(mask.sum()),
                     **summarize(group)})  # fmt: skip
    return rows


def _db(x: torch.Tensor) -> float:
    value = float(x)
    return 10.0 * math.log10(value) if value > 0 else float("-inf")
