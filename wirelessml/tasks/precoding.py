"""The precoding task: MU-MISO downlink beams ``v`` from the channel ``h`` (mimo datasets).

Trained without labels: the "target" the loop hands to the loss is the noise-whitened
channel ``g = h / sqrt(no)`` (same shape as the precoder), from which the rates follow
with unit noise; padded users are zero rows of ``g`` and so get rate 0.

Metric definitions (written into every report):

- ``sum_se``: mean over samples of the sum spectral efficiency
  :math:`\\sum_k \\log_2(1 + \\mathrm{SINR}_k)` [bit/s/Hz], with
  :math:`\\mathrm{SINR}_k = |h_k v_k|^2 / (\\sum_{j\\ne k} |h_k v_j|^2 + n_0)` over the
  sample's real users, under ``sum_k ||v_k||^2 <= 1``.
- ``min_rate``: mean over samples of the smallest user rate :math:`\\min_k \\log_2(1+\\mathrm{SINR}_k)`.
- The training loss is ``-sum_se`` of the batch (task ``precoding``) or ``-min_rate``
  (task ``precoding-maxmin``, max-min fairness).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch

from wirelessml._typing import PathType
from wirelessml.datasets import read_info
from wirelessml.errors import ConfigError
from wirelessml.registry import register_task
from wirelessml.tasks.channel_estimation import breakdown
from wirelessml.tasks.precoding_baselines import mrt, rzf, user_rates, wmmse, zf

__all__ = ["METRIC_DEFINITIONS", "MaxMinPrecodingTask", "PrecodingTask", "rates_from_target"]

METRIC_DEFINITIONS: dict[str, str] = {
    "sum_se": "mean over samples of sum_k log2(1 + SINR_k) [bit/s/Hz], SINR_k = |h_k v_k|^2 / "
    "(sum_{j!=k} |h_k v_j|^2 + no), real users only, sum_k ||v_k||^2 <= 1",
    "min_rate": "mean over samples of min_k log2(1 + SINR_k) over the sample's real users",
    "loss": "precoding: -(batch mean of the sum SE); precoding-maxmin: -(batch mean of min_rate)",
}

CONDITIONS: tuple[str, ...] = ("snr_db", "num_users", "num_antennas")

_BASELINES: dict[str, Callable[..., torch.Tensor]] = {"mrt": mrt, "zf": zf, "rzf": rzf}


def rates_from_target(v: torch.Tensor, g: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-user rates [batch, K] and the user mask [batch, K] from the whitened channel.

    Shapes:
        v, g: [batch, K, M], complex (``g = h / sqrt(no)``)
    """
    one = torch.ones(g.shape[0], dtype=g.real.dtype, device=g.device)
    mask = (g.abs().sum(-1) > 0).to(g.real.dtype)
    return user_rates(g, v.to(g.dtype), one), mask


class _Baseline:
    """A classical precoder called like the model on a batch."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __call__(self, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        kwargs = {"user_mask": batch["user_mask"], "antenna_mask": batch["antenna_mask"]}
        if self.name == "wmmse":
            return wmmse(batch["h"], batch["no"], **kwargs).v
        return _BASELINES[self.name](batch["h"], batch["no"], **kwargs)


@register_task("precoding")
class PrecodingTask:
    """MU-MISO downlink precoding maximizing the sum rate, unsupervised (mimo datasets).

    Shapes:
        h, v: [batch, K, M], complex64; user_mask: [batch, K]; antenna_mask: [batch, M]
        no, snr_db: [batch], float32; num_users, num_antennas: [batch], int64
    """

    name = "precoding"
    family = "mimo"
    objective = "sum-rate"
    input_fields: tuple[str, ...] = ("h", "no", "user_mask", "antenna_mask")
    condition_fields = CONDITIONS
    fields: tuple[str, ...] = ("h", "no", "user_mask", "antenna_mask", *CONDITIONS)
    eval_fields = fields
    metric_definitions = METRIC_DEFINITIONS
    baselines: tuple[str, ...] = ("mrt", "zf", "rzf", "wmmse")

    def build_baseline(self, name: str, info: Any, device: str | None = None) -> Any:
        """A classical precoder (MRT, ZF, RZF, WMMSE), called like the model on a batch."""
        if name not in self.baselines:
            raise ConfigError(f"unknown baseline {name!r} for task {self.name!r}; choose from: "
                              f"{', '.join(self.baselines)}")  # fmt: skip
        return _Baseline(name)

    def predict(self, estimator: Any, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """The precoder ``v`` of a trained model or of a baseline on a batch."""
        if isinstance(estimator, torch.nn.Module):
            return estimator(**self.model_inputs(batch))
        return estimator(batch)

    def fit_model_config(self, model_config: Any, train_path: PathType) -> Any:
        """Check that the model's ``max_users`` covers the training data; nothing is fitted.

        Raises:
            ConfigError: the dataset's samples can have more users than the model allows.
        """
        limit = getattr(model_config, "max_users", None)
        data = read_info(train_path).config.get("_data", {})
        users = data.get("num_users_grid") if data.get("mode") == "grid" else data.get("num_users")
        most = max(users) if users else None
        if limit is not None and most is not None and most > limit:
            raise ConfigError(f"{train_path} has samples with up to {most} users but the model's "
                              f"max_users={limit}; raise it with --set max_users={most}")  # fmt: skip
        return model_config

    def model_inputs(self, batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Keyword arguments of the model's ``forward``."""
        return {name: batch[name] for name in self.input_fields}

    def target(self, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """The noise-whitened channel ``h / sqrt(no)`` [batch, K, M] (no label is needed)."""
        return batch["h"] / batch["no"].sqrt()[:, None, None].to(batch["h"].real.dtype)

    def loss(self, v: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        """Negative batch mean of the sum rate [bit/s/Hz]."""
        rates, _ = rates_from_target(v, g)
        return -rates.sum(-1).mean()

    def per_sample(self, v: torch.Tensor, g: torch.Tensor) -> dict[str, torch.Tensor]:
        """Per-sample ``sum_rate`` and ``min_rate`` [batch] in bit/s/Hz."""
        rates, mask = rates_from_target(v, g)
        big = torch.finfo(rates.dtype).max
        return {"sum_rate": rates.sum(-1), "min_rate": rates.masked_fill(mask == 0, big).amin(-1)}

    def summarize(self, per_sample: Mapping[str, torch.Tensor]) -> dict[str, float]:
        """Mean ``sum_se`` and ``min_rate`` of a set of per-sample values."""
        return {"sum_se": float(per_sample["sum_rate"].double().mean()),
                "min_rate": float(per_sample["min_rate"].double().mean())}  # fmt: skip

    def report(
        self, per_sample: Mapping[str, torch.Tensor], conditions: Mapping[str, torch.Tensor]
    ) -> dict[str, object]:
        """Overall metrics and their breakdown by SNR, number of users and of antennas."""
        return {
            "overall": self.summarize(per_sample),
            "num_samples": int(per_sample["sum_rate"].numel()),
            "by": {
                name: breakdown(conditions[name], per_sample, self.summarize)
                for name in self.condition_fields
                if name in conditions
            },
            "definitions": dict(METRIC_DEFINITIONS),
        }


@register_task("precoding-maxmin")
class MaxMinPrecodingTask(PrecodingTask):
    """MU-MISO downlink precoding maximizing the smallest user rate (max-min fairness)."""

    name = "precoding-maxmin"
    objective = "max-min"

    def loss(self, v: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        """Negative batch mean of the smallest user rate [bit/s/Hz]."""
        return -self.per_sample(v, g)["min_rate"].mean()
