"""Training: the one loop for every task, its config, checkpoints and run folders.

Examples:
    >>> from wirelessml.train import TrainConfig, load_run, train  # doctest: +SKIP
    >>> train(task="channel-estimation", model_name="adafortitran", model_config=cfg,
    ...       train_path="a.h5", val_path="b.h5", out="runs/x",
    ...       config=TrainConfig(epochs=5))  # doctest: +SKIP
    >>> task, model, meta = load_run("runs/x")  # doctest: +SKIP
"""

from __future__ import annotations

from wirelessml.train.config import RUN_CONTROL_FIELDS, TrainConfig, lr_at
from wirelessml.train.loop import EpochHook, train
from wirelessml.train.run import RunError, load_run, read_history, read_run_meta, save_model

__all__ = [
    "RUN_CONTROL_FIELDS",
    "EpochHook",
    "RunError",
    "TrainConfig",
    "load_run",
    "lr_at",
    "read_history",
    "read_run_meta",
    "save_model",
    "train",
]
