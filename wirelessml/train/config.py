"""The training config (:class:`TrainConfig`) and the learning-rate schedule it names."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from wirelessml.config import check_field

__all__ = ["RUN_CONTROL_FIELDS", "LrSchedule", "TrainConfig", "lr_at"]

LrSchedule = Literal["cosine", "cosine-budget", "exponential", "constant"]
_SCHEDULES: tuple[str, ...] = ("cosine", "cosine-budget", "exponential", "constant")

RUN_CONTROL_FIELDS: tuple[str, ...] = ("max_time_s", "num_workers", "checkpoint_every_steps")
"""Fields that steer a session but not the result; a resumed run may change them."""


def _is_int(value: object, low: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= low


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True, kw_only=True)
class TrainConfig:
    """How to train: optimizer (AdamW), schedule, stopping, checkpoints and budgets.

    Args:
        version: Schema version of this config (default: ``1``).
        epochs: Passes over the training set (default: ``50``).
        batch_size: Samples per optimizer step (default: ``64``).
        lr: Peak learning rate of AdamW (default: ``1e-3``).
        weight_decay: AdamW decoupled weight decay (default: ``1e-4``).
        lr_schedule: ``"cosine"``: per step from ``lr`` down to ``lr * 0.01`` over the
            planned steps; ``"cosine-budget"``: the same curve over whichever runs out
            first, the planned steps or the time budget (``max_time_s``, required), so a
            run the clock stops has still annealed (its learning rates then depend on the
            machine's speed); ``"exponential"``: ``lr * lr_gamma ** epoch``; ``"constant"``
            (default: ``"cosine"``).
        lr_gamma: Decay per epoch of the exponential schedule (default: ``0.995``, the
            AdaFortiTran reference's ``ExponentialLR``).
        warmup_steps: Linear warm-up from ``lr / warmup_steps`` to the schedule (default: ``0``).
        patience: Stop after this many epochs without a lower validation loss; ``None``
            never stops early (default: ``5``).
        grad_clip: Maximum global gradient norm, ``None`` for no clipping (default: ``1.0``).
        amp: bf16 autocast on CUDA; ignored on CPU, where it brings no speed (default: ``True``).
        num_workers: DataLoader worker processes (default: ``0``).
        seed: Seed of the weight init, dropout and the per-epoch shuffling (default: ``0``).
        checkpoint_every_steps: Write ``checkpoint/`` every this many steps, and at every
            epoch end (default: ``200``).
        max_time_s: Wall-clock budget of one session [s]: stop cleanly, validate, save;
            ``None`` for none (default: ``None``).
        max_train_samples: Train on only the first N samples, ``None`` for all (default: ``None``).
        augment: Pass every training batch through the task's ``augment`` (e.g. the radio-map
            task's random rotations and reflections of the grid), drawn from a generator
            seeded by ``seed`` and the step, so a resumed run sees the same batches; an
            error for a task without one (default: ``False``).
        loss: A variant of the task's loss from its ``losses`` (CSI prediction: ``"nmse"``,
            ``"nmse-db"``), used for training and for the validation loss that picks the
            best epoch; ``None`` for the task's default; an error for a task without
            variants (default: ``None``).

    Raises:
        ConfigError: naming the field, the bad value and what is allowed.

    Examples:
        >>> TrainConfig(epochs=3, lr_schedule="constant").batch_size
        64
    """

    version: int = 1
    epochs: int = 50
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 1e-4
    lr_schedule: LrSchedule = "cosine"
    lr_gamma: float = 0.995
    warmup_steps: int = 0
    patience: int | None = 5
    grad_clip: float | None = 1.0
    amp: bool = True
    num_workers: int = 0
    seed: int = 0
    checkpoint_every_steps: int = 200
    max_time_s: float | None = None
    max_train_samples: int | None = None
    augment: bool = False
    loss: str | None = None

    def __post_init__(self) -> None:
        check_field(self.version == 1, self, "version", self.version, "1")
        for name, low in (("epochs", 1), ("batch_size", 1), ("warmup_steps", 0),
                          ("num_workers", 0), ("seed", 0), ("checkpoint_every_steps", 1)):  # fmt: skip
            value = getattr(self, name)
            check_field(_is_int(value, low), self, name, value, f"an integer >= {low}")
        for name in ("patience", "max_train_samples"):
            value = getattr(self, name)
            check_field(value is None or _is_int(value, 1), self, name, value,
                        "an integer >= 1 or None")  # fmt: skip
        self._check_numbers()
        check_field(self.lr_schedule in _SCHEDULES, self, "lr_schedule", self.lr_schedule,
                    "one of " + ", ".join(repr(s) for s in _SCHEDULES))  # fmt: skip
        check_field(self.lr_schedule != "cosine-budget" or self.max_time_s is not None, self,
                    "lr_schedule", self.lr_schedule, "'cosine-budget' only with max_time_s set")  # fmt: skip
        for name in ("amp", "augment"):
            value = getattr(self, name)
            check_field(isinstance(value, bool), self, name, value, "True or False")
        check_field(self.loss is None or isinstance(self.loss, str), self, "loss", self.loss,
                    "a name of one of the task's losses, or None")  # fmt: skip

    def _check_numbers(self) -> None:
        check_field(_is_number(self.lr) and self.lr > 0, self, "lr", self.lr, "a number > 0")
        check_field(_is_number(self.weight_decay) and self.weight_decay >= 0, self,
                    "weight_decay", self.weight_decay, "a number >= 0")  # fmt: skip
        check_field(_is_number(self.lr_gamma) and 0 < self.lr_gamma <= 1, self, "lr_gamma",
                    self.lr_gamma, "a number in (0, 1]")  # fmt: skip
        for name in ("grad_clip", "max_time_s"):
            value = getattr(self, name)
            check_field(value is None or (_is_number(value) and value > 0), self, name, value,
                        "a number > 0 or None")  # fmt: skip


def lr_at(config: TrainConfig, *, step: int, epoch: int, total_steps: int,
          time_progress: float = 0.0) -> float:  # fmt: skip
    """Learning rate of optimizer step ``step`` (0-based) in epoch ``epoch`` (0-based).

    A pure function of the counters, so a resumed run needs no scheduler state.
    ``time_progress`` is the share of the time budget spent (training time so far over
    training time so far plus this session's ``max_time_s``); only ``"cosine-budget"``
    reads it, as the progress when it is ahead of the steps.

    .. math::

        \\text{cosine: } \\eta_s = \\eta_{min} + (\\eta - \\eta_{min})
        \\tfrac{1}{2}\\big(1 + \\cos(\\pi \\tfrac{s - w}{S - w})\\big),\\quad \\eta_{min} = 0.01\\,\\eta

    with ``w`` warm-up steps and ``S`` planned steps; ``"cosine-budget"`` uses
    ``max((s - w) / (S - w), time_progress)`` as the fraction.

    Examples:
        >>> c = TrainConfig(lr=1.0, epochs=1)
        >>> lr_at(c, step=0, epoch=0, total_steps=11), lr_at(c, step=10, epoch=0, total_steps=11)
        (1.0, 0.01)
    """
    if step < config.warmup_steps:
        return config.lr * (step + 1) / config.warmup_steps
    if config.lr_schedule == "exponential":
        return config.lr * config.lr_gamma**epoch
    if config.lr_schedule == "constant":
        return config.lr
    span = max(1, total_steps - 1 - config.warmup_steps)
    progress = (step - config.warmup_steps) / span
    if config.lr_schedule == "cosine-budget":
        progress = max(progress, time_progress)
    progress = min(1.0, progress)
    low = 0.01 * config.lr
    return low + (config.lr - low) * 0.5 * (1.0 + math.cos(math.pi * progress))
