"""The OFDM simulator against physics: Clarke's Doppler, the delay profile, noise power, Sionna LS."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.special import j0

pytest.importorskip("sionna.phy")

from sionna.phy.channel import cir_to_ofdm_channel, subcarrier_frequencies  # noqa: E402
from sionna.phy.channel.tr38901 import TDL  # noqa: E402

from wirelessml.simulators.ofdm import (  # noqa: E402
    SPEED_OF_LIGHT,
    OFDMSimulator,
    _set_tdl_doppler,
)
from wirelessml.simulators.ofdm_config import OFDMConfig  # noqa: E402

pytestmark = pytest.mark.sionna


def _block(cfg: OFDMConfig, num: int, seed: int = 0, device: str = "cpu") -> dict:
    return OFDMSimulator(cfg, device=device).generate_block(seed=seed, block_index=0, num=num)


@pytest.mark.parametrize("model", ["tdl-c", "cdl-b", "uma", "umi"])
def test_fields_match_their_specs(model: str, device: str) -> None:
    cfg = OFDMConfig(channel_model=model, num_rx_ant=2, block_size=8)
    sim = OFDMSimulator(cfg, device=device)
    block = sim.generate_block(seed=3, block_index=0, num=8)
    for spec in sim.fields():
        value = block[spec.name]
        assert tuple(value.shape) == (8, *spec.shape), spec.name
        assert str(value.dtype).replace("torch.", "") == spec.dtype or spec.dtype == "S8"
    # Unit mean energy per RE per sample (Sionna's normalization).
    energy = block["h"].abs().square().mean(dim=(1, 2, 3))
    torch.testing.assert_close(energy.cpu(), torch.ones(8), rtol=1e-4, atol=1e-4)
    assert bool(torch.all(block["delay_spread_ns"] > 0))


def test_ls_is_y_over_x_and_its_error_is_the_noise_variance() -> None:
    cfg = OFDMConfig(snr_db=(10.0, 10.0), block_size=512)
    b = _block(cfg, 512)
    torch.testing.assert_close(b["h_ls"], b["y_pilots"] / b["x_pilots"][:, None])
    assert torch.allclose(b["x_pilots"].abs(), torch.ones(1))  # unit-modulus QPSK
    sym, sc = list(cfg.pilot_ofdm_symbols), list(cfg.pilot_subcarriers)
    h_p = b["h"][:, :, sym][..., sc]
    # LS error at a pilot is n / x with |x| = 1, so its mean power is no = 10^(-SNR/10).
    err = (b["h_ls"] - h_p).abs().square().mean().item()
    assert err == pytest.approx(0.1, rel=0.05)


def _time_corr(h: torch.Tensor, k: int) -> float:
    """Mean of h(t + k) h*(t) over samples, times and subcarriers, over the mean power."""
    return ((h[..., k:, :] * h[..., :-k, :].conj()).mean().real / h.abs().square().mean()).item()


def test_tdl_taps_follow_clarke_with_per_sample_doppler() -> None:
    """E[a(t) a*(t + k T)] = J0(2 pi f_D k T), each sample with its own Doppler, one call."""
    fc, t_sym, n = 3.5e9, OFDMConfig().ofdm_symbol_duration_s, 4096
    fd = torch.tensor([100.0, 900.0]).repeat(n // 2)
    tdl = TDL("A", delay_spread=1.0, carrier_frequency=fc)
    _set_tdl_doppler(tdl, fd * SPEED_OF_LIGHT / fc, fc)
    a, _ = tdl(n, 14, 1.0 / t_sym)
    taps = a[:, 0, 0, 0, 0].transpose(1, 2)  # [n, time, paths]
    for f in (100.0, 900.0):
        for k in (4, 9, 13):
            r = _time_corr(taps[fd == f], k)
            assert r == pytest.approx(j0(2 * np.pi * f * k * t_sym), abs=0.03), (f, k)


def test_simulated_doppler_statistics_equal_plain_sionna() -> None:
    """Per-sample Dopplers in one block give the time correlation of a plain Sionna TDL
    with that fixed Doppler, after the same per-sample normalization (which makes it
    decay faster than J0: faded samples, which rotate fastest, are scaled up)."""
    cfg = OFDMConfig(mode="grid", snr_db_grid=(30.0,), delay_spread_ns_grid=(100.0,),
                     doppler_hz_grid=(100.0, 900.0), block_size=2048)  # fmt: skip
    b = _block(cfg, 2048)
    for fd in (100.0, 900.0):
        ref = _plain_tdl(cfg, 1024, 100e-9, fd)
        h = b["h"][b["doppler_hz"] == fd][:, 0]
        assert h.shape[0] == 1024
        for k in (4, 9, 13):
            assert _time_corr(h, k) == pytest.approx(_time_corr(ref, k), abs=0.04), (fd, k)


def _plain_tdl(cfg: OFDMConfig, n: int, delay_spread_s: float, doppler_hz: float) -> torch.Tensor:
    """A plain Sionna TDL-A channel [n, symbols, subcarriers] with fixed DS and Doppler."""
    speed = doppler_hz * SPEED_OF_LIGHT / cfg.carrier_frequency_hz
    tdl = TDL("A", delay_spread=delay_spread_s, carrier_frequency=cfg.carrier_frequency_hz,
              min_speed=speed, max_speed=speed)  # fmt: skip
    a, tau = tdl(n, cfg.num_ofdm_symbols, 1.0 / cfg.ofdm_symbol_duration_s)
    freqs = subcarrier_frequencies(cfg.fft_size, cfg.subcarrier_spacing_hz)
    return cir_to_ofdm_channel(freqs, a, tau, normalize=True)[:, 0, 0, 0, 0]


def test_per_sample_delay_spread_scales_the_profile() -> None:
    """Frequency correlation of each sample's delay spread equals a plain Sionna TDL at it."""
    cfg = OFDMConfig(mode="grid", snr_db_grid=(30.0,), delay_spread_ns_grid=(50.0, 300.0),
                     doppler_hz_grid=(10.0,), block_size=2048)  # fmt: skip
    b = _block(cfg, 2048)
    for ds in (50.0, 300.0):
        h = b["h"][b["delay_spread_ns"] == ds][:, 0].transpose(-1, -2)  # [n, sc, sym]
        ref = _plain_tdl(cfg, 1024, ds * 1e-9, 10.0).transpose(-1, -2)
        for lag in (2, 8, 20):
            got, want = _freq_corr(h, lag), _freq_corr(ref, lag)
            assert abs(got - want) < 0.04, (ds, lag, got, want)
    # And the two delay spreads are far apart: 300 ns decorrelates much faster.
    assert abs(_freq_corr(h, 20)) < 0.9 * abs(_freq_corr(
        b["h"][b["delay_spread_ns"] == 50.0][:, 0].transpose(-1, -2), 20))


def _freq_corr(h: torch.Tensor, lag: int) -> complex:
    return ((h[..., lag:, :] * h[..., :-lag, :].conj()).mean() / h.abs().square().mean()).item()


def test_grid_mode_cycles_through_every_combination() -> None:
    cfg = OFDMConfig(mode="grid", block_size=60)
    sim = OFDMSimulator(cfg)
    got = [
        tuple(c.tolist())
        for block_index in range(2)
        for c in torch.stack(list(sim.conditions(0, block_index, 60).values()), dim=1)
    ]
    combos = cfg.grid_conditions
    assert got == [combos[i % len(combos)] for i in range(120)]


def test_blocks_depend_only_on_seed_and_index() -> None:
    sim = OFDMSimulator(OFDMConfig(channel_model="cdl-a", block_size=16))
    a = sim.generate_block(seed=5, block_index=3, num=16)
    sim.generate_block(seed=5, block_index=0, num=16)  # disturb any global state
    b = sim.generate_block(seed=5, block_index=3, num=16)
    c = sim.generate_block(seed=6, block_index=3, num=16)
    assert torch.equal(a["h"], b["h"]) and torch.equal(a["y_pilots"], b["y_pilots"])
    assert not torch.equal(a["h"], c["h"])
