"""Fixtures of the efficiency tests: one tiny trained AdaFortiTran run shared by the module."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parents[1] / "train"))

from train_helpers import TINY_MODEL, write_synthetic  # noqa: E402


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """``(run folder, train file, val file)``: a tiny AdaFortiTran trained for 2 epochs."""
    from wirelessml.models.adafortitran import AdaFortiTranConfig
    from wirelessml.train import TrainConfig, train

    root = tmp_path_factory.mktemp("tiny")
    train_path = write_synthetic(root / "train.h5", 128, seed=1)
    val_path = write_synthetic(root / "val.h5", 48, seed=2)
    config = AdaFortiTranConfig.cpu(**{**TINY_MODEL, "enhancer_channels": (4, 8)})
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        train(task="channel-estimation", model_name="adafortitran", model_config=config,
              train_path=train_path, val_path=val_path, out=root / "run",
              config=TrainConfig(epochs=2, batch_size=16))  # fmt: skip
    finally:
        torch.set_num_threads(threads)
    return root / "run", train_path, val_path
