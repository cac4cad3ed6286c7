"""The cell-free power allocation task: per-AP powers ``eta`` from ``beta`` (cellfree datasets).

Every AP ``l`` beams to every user ``k`` with local conjugate beamforming and power
``eta_lk`` under its own constraint ``sum_k eta_lk <= 1``
(:mod:`wirelessml.tasks.cellfree_baselines`); a model outputs the stacked precoder
``v: [batch, K, L * N]``. Trained without labels, like :mod:`wirelessml.tasks.precoding`:
the "target" the loop hands to the loss is the stacked noise-whitened channel
``g = h / sqrt(no)``, reshaped to ``[batch, K, L * N]``.

Metric definitions (written into every report):

- ``sum_se``: mean over samples of :math:`\\sum_k \\log_2(1 + \\mathrm{SINR}_k)` with the
  instantaneous channel, :math:`\\mathrm{SINR}_k = |g_k v_k|^2 / (\\sum_{j\\ne k} |g_k v_j|^2 + 1)`
  over the real users (coherent joint transmission of all APs).
- ``min_rate``: mean over samples of the smallest user rate.
- The loss is ``-sum_se`` of the batch (``cellfree-power``) or ``-min_rate``
  (``cellfree-power-maxmin``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from wirelessml._typing import PathType
from wirelessml.datasets import read_info
from wirelessml.errors import ConfigError
from wirelessml.registry import register_task
from wirelessml.tasks.cellfree_baselines import cellfree_precoder, equal_power, fractional_power
from wirelessml.tasks.precoding import MaxMinPrecodingTask, PrecodingTask

__all__ = ["METRIC_DEFINITIONS", "CellFreePowerTask", "MaxMinCellFreePowerTask"]

METRIC_DEFINITIONS: dict[str, str] = {
    "sum_se": "mean over samples of sum_k log2(1 + SINR_k) [bit/s/Hz], SINR_k = |h_k v_k|^2 / "
    "(sum_{j!=k} |h_k v_j|^2 + no) with h_k the user's channel from all APs stacked [L*N], "
    "v_k = local conjugate beams sqrt(eta_lk) conj(h_lk)/||h_lk||, sum_k eta_lk <= 1 per AP",
    "min_rate": "mean over samples of min_k log2(1 + SINR_k) over the sample's real users",
    "loss": "cellfree-power: -(batch mean of the sum SE); cellfree-power-maxmin: "
    "-(batch mean of min_rate)",
}

CONDITIONS: tuple[str, ...] = ("num_users", "num_aps", "num_ap_antennas")


class _PowerBaseline:
    """Equal power or fractional power control, called like the model on a batch."""

    def __init__(self, name: str, nu: float = 0.5) -> None:
        self.name, self.nu = name, nu

    def __call__(self, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        beta = batch["beta"]
        eta = equal_power(beta) if self.name == "equal-power" else fractional_power(beta, self.nu)
        return cellfree_precoder(batch["h"], eta)


@register_task("cellfree-power")
class CellFreePowerTask(PrecodingTask):
    """Cell-free downlink power allocation maximizing the sum rate, unsupervised.

    Shapes:
        h: [batch, K, L, N], complex64; beta: [batch, K, L]; masks: [batch, K|L|N]
        no: [batch], float32; v and the target: [batch, K, L * N], complex64
    """

    name = "cellfree-power"
    family = "cellfree"
    objective = "sum-rate"
    input_fields: tuple[str, ...] = ("h", "beta", "no", "user_mask", "ap_mask", "antenna_mask")
    condition_fields = CONDITIONS
    fields: tuple[str, ...] = (*input_fields, *CONDITIONS)
    eval_fields = fields
    metric_definitions = METRIC_DEFINITIONS
    baselines: tuple[str, ...] = ("equal-power", "fpc")

    def build_baseline(self, name: str, info: Any, device: str | None = None) -> Any:
        """Equal power or fractional power control (``nu = 0.5``), local conjugate beams."""
        if name not in self.baselines:
            raise ConfigError(f"unknown baseline {name!r} for task {self.name!r}; choose from: "
                              f"{', '.join(self.baselines)}")  # fmt: skip
        return _PowerBaseline(name)

    def fit_model_config(self, model_config: Any, train_path: PathType) -> Any:
        """Check that the model's ``max_users``/``max_aps`` cover the training data.

        Raises:
            ConfigError: the dataset's samples can have more users or APs than allowed.
        """
        data = read_info(train_path).config.get("_data", {})
        for field, what in (("num_users", "users"), ("num_aps", "APs")):
            limit = getattr(model_config, f"max_{what.lower()}", None)
            most = max(data[field]) if data.get(field) else None
            if limit is not None and most is not None and most > limit:
                raise ConfigError(f"{train_path} has samples with up to {most} {what} but the "
                                  f"model's max_{what.lower()}={limit}; raise it with --set "
                                  f"max_{what.lower()}={most}")  # fmt: skip
        return model_config

    def target(self, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """The stacked noise-whitened channel ``h / sqrt(no)`` [batch, K, L * N]."""
        h = batch["h"]
        return (h / batch["no"].sqrt()[:, None, None, None].to(h.real.dtype)).flatten(2)


@register_task("cellfree-power-maxmin")
class MaxMinCellFreePowerTask(CellFreePowerTask, MaxMinPrecodingTask):
    """Cell-free downlink power allocation maximizing the smallest user rate (max-min).

    The loss is :meth:`MaxMinPrecodingTask.loss` (negative batch mean of the smallest rate).
    """

    name = "cellfree-power-maxmin"
    objective = "max-min"
