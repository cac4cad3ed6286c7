"""A tiny AdaFortiTran trained on a tiny Sionna dataset beats LS at the pilots, interpolated.

SNR 0-10 dB, where LS is noise-limited: 512 training samples and 4 epochs bring the model
to about -11 dB NMSE while LS + linear interpolation stays near -6.6 dB (measured).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from wirelessml.datasets import read_arrays, read_info
from wirelessml.registry import get_task
from wirelessml.train import TrainConfig, read_history, train

pytestmark = pytest.mark.sionna


def _interpolation_matrix(positions: np.ndarray, size: int) -> np.ndarray:
    """``[size, len(positions)]``: linear interpolation, constant beyond the end pilots."""
    return np.stack([np.interp(np.arange(size), positions, e) for e in np.eye(len(positions))], 1)


def ls_interpolated_nmse_db(path: Path) -> float:
    """NMSE of LS at the pilots, interpolated linearly over subcarriers then OFDM symbols."""
    info, arrays = read_info(path), read_arrays(path, ["h", "h_ls"])
    h, h_ls = arrays["h"], arrays["h_ls"]  # [n, rx, T, F], [n, rx, Tp, Fp]
    w_f = _interpolation_matrix(np.asarray(info.attrs["pilot_subcarriers"]), h.shape[3])
    w_t = _interpolation_matrix(np.asarray(info.attrs["pilot_ofdm_symbols"]), h.shape[2])
    h_hat = np.einsum("tp,nrpq,fq->nrtf", w_t, h_ls, w_f)
    nse = np.sum(np.abs(h_hat - h) ** 2, axis=(1, 2, 3)) / np.sum(np.abs(h) ** 2, axis=(1, 2, 3))
    return float(10 * np.log10(nse.mean()))


@pytest.fixture(scope="module")
def sionna_data(tmp_path_factory) -> tuple[Path, Path]:
    pytest.importorskip("sionna")
    import wirelessml
    from wirelessml.simulators.ofdm_config import OFDMConfig

    folder = tmp_path_factory.mktemp("ofdm")
    config = OFDMConfig(fft_size=24, pilot_spacing=4, snr_db=(0.0, 10.0), doppler_hz=(50.0, 200.0),
                        delay_spread_ns=(25.0, 100.0))  # fmt: skip
    paths = [wirelessml.simulate("ofdm", config, num_samples=n, out=folder / name, seed=seed)
             for name, n, seed in (("train.h5", 512, 1), ("val.h5", 256, 2))]  # fmt: skip
    return paths[0], paths[1]


def test_beats_ls_interpolation(sionna_data, tmp_path: Path) -> None:
    models = pytest.importorskip("wirelessml.models.adafortitran")
    train_path, val_path = sionna_data
    task = get_task("channel-estimation")
    model_config = task.fit_model_config(
        models.AdaFortiTranConfig.cpu(num_subcarriers=24, num_pilots_per_symbol=6, patch_subcarriers=6,
                                      d_model=16,
                                      num_layers=1, num_heads=2, dim_feedforward=32, dropout=0.0),
        train_path,
    )  # fmt: skip
    meta = train(task=task, model_name="adafortitran", model_config=model_config,
                 train_path=train_path, val_path=val_path, out=tmp_path / "run",
                 config=TrainConfig(epochs=4, batch_size=16, lr=3e-3))  # fmt: skip
    history = read_history(tmp_path / "run")
    ls_db = ls_interpolated_nmse_db(val_path)
    assert -9.0 < ls_db < -4.0  # the regime the test is about: LS limited by noise
    assert meta["status"] == "finished"
    assert meta["best_val"]["nmse_db"] < ls_db - 2.0, (meta["best_val"], ls_db)
    assert history[-1]["train_loss"] < 0.5 * history[0]["train_loss"]
