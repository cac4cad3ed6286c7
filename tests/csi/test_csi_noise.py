"""The loading-time noise: each kind hits its target SNR, packet drop zeroes exactly its steps."""

from __future__ import annotations

import math

import pytest
import torch

from wirelessml.errors import ConfigError
from wirelessml.tasks.csi_noise import apply_noise, packet_drop, phase_sigma


def _channels() -> torch.Tensor:
    """Unequal per-sample powers, so a per-sample calibration is exercised."""
    gen = torch.Generator().manual_seed(1)
    h = torch.randn(32, 8, 16, 50, dtype=torch.complex64, generator=gen)
    return h * torch.linspace(0.2, 3.0, 32).reshape(-1, 1, 1, 1)


@pytest.mark.parametrize("kind", ["awgn", "phase", "burst"])
@pytest.mark.parametrize("snr_db", [0.0, 10.0, 25.0])
def test_noise_hits_its_target_snr(kind: str, snr_db: float) -> None:
    h = _channels()
    y = apply_noise(h, kind, snr_db, generator=torch.Generator().manual_seed(7))
    # Per sample, the ratio of signal power to noise power, averaged over samples in dB.
    ratio = h.abs().square().mean(dim=(1, 2, 3)) / (y - h).abs().square().mean(dim=(1, 2, 3))
    measured = 10 * torch.log10(ratio)
    assert abs(float(measured.mean()) - snr_db) < 0.2, measured
    assert float((measured - snr_db).abs().max()) < 0.6


def test_phase_calibration_matches_the_reference_table() -> None:
    # CSI-4CAST's calibrated sigmas for 10/15/20/25 dB.
    for snr, sigma in ((10, 0.32), (15, 0.18), (20, 0.10), (25, 0.056)):
        assert math.isclose(phase_sigma(snr), sigma, rel_tol=0.03)


def test_packet_drop_zeroes_exactly_the_dropped_steps() -> None:
    h = _channels() + 0.5  # no exact zeros to begin with
    y, dropped = packet_drop(h, 0.3, generator=torch.Generator().manual_seed(3))
    assert dropped.shape == (32, 16) and 0 < int(dropped.sum()) < dropped.numel()
    zero_steps = (y == 0).all(dim=1).all(dim=-1)  # [batch, T]: the whole snapshot is zero
    assert torch.equal(zero_steps, dropped)
    kept = ~dropped[:, None, :, None].expand_as(h)
    assert torch.equal(y[kept], h[kept])


def test_burst_noise_stays_in_a_window_of_ten_steps() -> None:
    h = _channels()
    y = apply_noise(h, "burst", 10.0, generator=torch.Generator().manual_seed(2))
    hit = ((y - h).abs() > 0).any(dim=1).any(dim=-1)  # [batch, T]
    for row in hit:
        steps = row.nonzero().flatten()
        assert 1 <= len(steps) <= 10 and int(steps[-1] - steps[0]) == len(steps) - 1


def test_unknown_noise_type_is_one_clear_error() -> None:
    with pytest.raises(ConfigError, match="unknown noise type 'hail'; choose one of"):
        apply_noise(_channels(), "hail", 10.0)
