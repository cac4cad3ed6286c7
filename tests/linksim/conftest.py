"""A tiny trained AdaFortiTran on a tiny real OFDM grid, built once per test session.

The data are simulated by Sionna (``wirelessml simulate`` through the API) on a 14 x 24
grid with pilots on OFDM symbols 2 and 11, every 4th subcarrier, and the model is
trained by ``wirelessml train`` for a few epochs: a real run folder, small enough that
the whole build takes a few seconds.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

pytest.importorskip("sionna")

from wirelessml.api import simulate  # noqa: E402
from wirelessml.cli.main import cli  # noqa: E402
from wirelessml.simulators.ofdm_config import OFDMConfig  # noqa: E402

GRID = {
    "fft_size": 24, "num_ofdm_symbols": 14, "pilot_ofdm_symbols": (2, 11), "pilot_spacing": 4,
    "snr_db": (10.0, 30.0), "delay_spread_ns": (25.0, 100.0), "doppler_hz": (10.0, 100.0),
    "block_size": 128,
}  # fmt: skip
TINY = {"patch_subcarriers": 6, "patch_symbols": 2, "d_model": 8, "num_layers": 1,
        "num_heads": 2, "dim_feedforward": 16, "enhancer_channels": (4,), "prior_hidden": (4,)}  # fmt: skip


@pytest.fixture(scope="session")
def grid_config() -> OFDMConfig:
    return OFDMConfig(**GRID)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory, grid_config: OFDMConfig) -> Path:
    """A finished run folder of a tiny AdaFortiTran trained on the tiny grid."""
    folder = tmp_path_factory.mktemp("linksim_run")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        train = simulate("ofdm", grid_config, num_samples=512, out=folder / "train.h5", seed=1)
        val = simulate("ofdm", grid_config, num_samples=128, out=folder / "val.h5", seed=2)
        args = ["train", "channel-estimation", "-m", "adafortitran", "--train", str(train),
                "--val", str(val), "-o", str(folder / "run"), "--epochs", "5", "--train-set", "lr=0.01",
                "--batch-size", "16", "-q", *(f"--set={k}={v!r}" for k, v in TINY.items())]  # fmt: skip
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0, result.output
    finally:
        torch.set_num_threads(threads)
    return folder / "run"


@pytest.fixture(autouse=True)
def one_thread():
    """One intra-op thread: on a busy 2-core machine, two threads per op wait on each other
    (Sionna's LDPC decoder ran 40x slower with two threads while another job ran)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
