"""LS + linear interpolation from the file equals Sionna's LSChannelEstimator on the same frames."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

pytest.importorskip("sionna.phy")

from sionna.phy.ofdm import LSChannelEstimator, PilotPattern, ResourceGrid  # noqa: E402

import wirelessml  # noqa: E402
from wirelessml.simulators import OFDMConfig  # noqa: E402

pytestmark = pytest.mark.sionna


def _lin(x_known: np.ndarray, y: np.ndarray, x_new: np.ndarray) -> np.ndarray:
    """Linear interpolation along the last axis, extrapolating the edge segments."""
    i = np.clip(np.searchsorted(x_known, x_new, side="right") - 1, 0, len(x_known) - 2)
    w = (x_new - x_known[i]) / (x_known[i + 1] - x_known[i])
    return y[..., i] * (1 - w) + y[..., i + 1] * w


def _nmse_db(h_hat: np.ndarray, h: np.ndarray) -> float:
    axes = tuple(range(1, h.ndim))
    return float(10 * np.log10(np.mean(np.sum(np.abs(h_hat - h) ** 2, axis=axes)
                                       / np.sum(np.abs(h) ** 2, axis=axes))))  # fmt: skip


def test_ls_linear_from_file_matches_sionna(tmp_path: Path) -> None:
    cfg = OFDMConfig(num_rx_ant=2, block_size=128)
    path = wirelessml.simulate("ofdm", cfg, num_samples=256, out=tmp_path / "a.h5", seed=9)
    with h5py.File(path, "r") as f:
        h, y_p, x_p, h_ls, no = (f[k][()] for k in ("h", "y_pilots", "x_pilots", "h_ls", "no"))
        sym, sc = f.attrs["pilot_ofdm_symbols"], f.attrs["pilot_subcarriers"]
    np.testing.assert_allclose(h_ls, y_p / x_p[:, None], rtol=1e-6)

    # Ours: across subcarriers on each pilot symbol, then across OFDM symbols.
    h_f = _lin(sc.astype(float), h_ls, np.arange(cfg.fft_size, dtype=float))
    h_hat = _lin(sym.astype(float), np.swapaxes(h_f, -1, -2),
                 np.arange(cfg.num_ofdm_symbols, dtype=float))  # fmt: skip
    h_hat = np.swapaxes(h_hat, -1, -2)

    # Sionna: the same grid and pilots, the received pilots placed on an otherwise empty grid.
    mask = np.zeros((1, 1, cfg.num_ofdm_symbols, cfg.fft_size), dtype=bool)
    mask[0, 0, sym[:, None], sc[None, :]] = True
    pattern = PilotPattern(mask, x_p[0].reshape(1, 1, -1))
    rg = ResourceGrid(num_ofdm_symbols=cfg.num_ofdm_symbols, fft_size=cfg.fft_size,
                      subcarrier_spacing=cfg.subcarrier_spacing_hz,
                      cyclic_prefix_length=cfg.cyclic_prefix_length, pilot_pattern=pattern)  # fmt: skip
    y = np.zeros((len(h), 1, cfg.num_rx_ant, cfg.num_ofdm_symbols, cfg.fft_size), np.complex64)
    y[:, 0][..., sym[:, None], sc[None, :]] = y_p
    est = LSChannelEstimator(rg, interpolation_type="lin")
    h_sionna, _ = est(torch.from_numpy(y), torch.from_numpy(no)[:, None, None, None, None])
    h_sionna = h_sionna[:, 0, :, 0, 0].numpy()

    assert _nmse_db(h_hat, h) == pytest.approx(_nmse_db(h_sionna, h), abs=0.01)
    np.testing.assert_allclose(h_hat, h_sionna, rtol=1e-4, atol=1e-5)
