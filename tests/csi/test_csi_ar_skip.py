"""The AR skip of the learned CSI predictors and the AR predictor's fall-back."""

from __future__ import annotations

import math

import pytest
import torch

from wirelessml.errors import ConfigError
from wirelessml.models import (
    CSI4CAST,
    CSI4CASTConfig,
    CSITransformer,
    CSITransformerConfig,
    RNNConfig,
    RNNPredictor,
)
from wirelessml.models.csi_common import CSIRows, TemporalSkip
from wirelessml.nn.linear_prediction import ar_backtest, ar_candidates, ar_fit, ar_predict

COMMON = dict(num_in_subcarriers=12, num_out_subcarriers=12)


def _exponentials() -> torch.Tensor:
    """[3 samples, 4 ports, 20 snapshots, 12 subcarriers]: 3 Dopplers shared per sample."""
    gen = torch.Generator().manual_seed(1)
    t = torch.arange(20, dtype=torch.float64)
    freqs = torch.tensor([0.041, -0.127, 0.305], dtype=torch.float64)
    amp = torch.randn(3, 4, 1, 12, 3, dtype=torch.complex128, generator=gen)
    phasors = torch.exp(2j * math.pi * freqs * t[:, None])  # [T, Q]
    return (amp * phasors[None, None, :, None, :]).sum(-1).to(torch.complex64)


def _nmse(h_hat: torch.Tensor, h: torch.Tensor) -> float:
    return float((h_hat - h).abs().square().sum() / h.abs().square().sum())


def test_ar_falls_back_to_the_last_snapshot_when_the_roll_out_grows() -> None:
    t = torch.arange(16, dtype=torch.float32)
    growing = (1.5**t).to(torch.complex64).reshape(1, 1, 16, 1).repeat(1, 2, 1, 3)
    h = torch.cat([_exponentials()[:1, :2, :16, :3], growing])  # a stable and a growing sample
    free = ar_predict(h, 4, order=2)
    safe = ar_predict(h, 4, order=2, max_gain=4.0)
    assert float(free[1].abs().max()) > 1.5**19  # the recursion follows the growth
    assert torch.equal(safe[1], h[1, :, -1:].expand(-1, 4, -1))  # falls back
    assert torch.equal(safe[0], free[0])  # a stable sample is left alone


def test_skip_with_ar_starts_as_the_ar_prediction() -> None:
    h = _exponentials()
    x, scale = CSIRows().to_rows(h[:, :, :16])
    with torch.no_grad():
        out = CSIRows().from_rows(TemporalSkip(16, 4, ar_order=4)(x, 3), scale, 3)
        plain = CSIRows().from_rows(TemporalSkip(16, 4)(x, 3), scale, 3)
    assert _nmse(out, h[:, :, 16:]) < 1e-6  # exact on 3 exponentials, like the AR baseline
    assert _nmse(plain, h[:, :, 15:16].expand(-1, -1, 4, -1)) < 1e-12  # repeat the last


@pytest.mark.parametrize("kind", ["gru", "csi-transformer"])
def test_a_model_with_ar_skip_and_a_silent_network_predicts_like_ar(kind: str) -> None:
    h = _exponentials()
    if kind == "gru":
        model = RNNPredictor(RNNConfig(ar_skip=True, **COMMON))
        last = model.out
    else:
        model = CSITransformer(CSITransformerConfig(ar_skip=True, **COMMON))
        last = model.time_out
    torch.nn.init.zeros_(last.weight)
    torch.nn.init.zeros_(last.bias)
    with torch.no_grad():
        out = model.eval()(h[:, :, :16])
    assert _nmse(out, h[:, :, 16:]) < 1e-6


def test_csi4cast_with_ar_skip_trains_its_denoiser_through_the_ar_fit() -> None:
    h = _exponentials()
    h_noisy = h + 0.05 * torch.randn(h.shape, dtype=torch.complex64)
    model = CSI4CAST(CSI4CASTConfig(ar_skip=True, **COMMON))
    out = model(h_noisy[:, :, :16])
    loss = (out - h[:, :, 16:]).abs().square().mean()
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(bool(torch.isfinite(g).all()) for g in grads)
    # The denoiser's last gain starts at zero: its gradient comes from the skip (AR fit
    # included) and the network, and is non-zero.
    assert float(model.denoiser.post[1].weight.grad.abs().sum()) > 0


def test_ar_skip_without_temporal_skip_is_refused() -> None:
    with pytest.raises(ConfigError, match="ar_skip"):
        RNNConfig(ar_skip=True, temporal_skip=False)


def test_ar_skip_needs_bands_of_equal_width() -> None:
    with pytest.raises(ConfigError, match="ar_skip.*12 subcarriers.*10"):
        RNNConfig(ar_skip=True, num_in_subcarriers=10, num_out_subcarriers=12)
    assert RNNPredictor(RNNConfig(num_in_subcarriers=10, num_out_subcarriers=12)).skip is None


def test_ar_fit_residual_tells_the_noise_level() -> None:
    h = _exponentials()[:, :, :16]
    gen = torch.Generator().manual_seed(2)
    noise = torch.randn(h.shape, dtype=torch.complex64, generator=gen)
    power = h.abs().square().mean()
    residuals = [float(ar_fit(h + (power * 10 ** (-snr / 10)).sqrt() * noise).residual.mean())
                 for snr in (30.0, 20.0, 10.0)]  # fmt: skip
    assert float(ar_fit(h).residual.max()) < 1e-8  # a clean sum of 3 exponentials, order 4
    assert residuals[0] < residuals[1] < residuals[2]
    # about (1 + ||c||^2) / SNR: within a factor of a few of 1/SNR
    assert 0.5e-3 < residuals[0] < 1e-2 and 0.5e-1 < residuals[2] < 1.0


def _ar_of_rows(rows: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """The skip's AR prediction: fitted on the RMS-scaled rows, then scaled back."""
    pred = ar_predict(CSIRows().from_rows(rows, torch.ones_like(scale), 3), 4, order=4,
                      ridge=1e-6, max_gain=4.0)  # fmt: skip
    return pred * scale.reshape(3, -1, 1, 1)


@pytest.mark.parametrize("bias", [-30.0, 30.0])
def test_gated_skip_takes_the_ar_prediction_its_gate_picks(bias: float) -> None:
    h = _exponentials()
    x, scale = CSIRows().to_rows(h[:, :, :16])
    noisy = x + 0.3 * torch.randn(x.shape, generator=torch.Generator().manual_seed(3))
    skip = TemporalSkip(16, 4, ar_order=4, gate=True)
    with torch.no_grad():
        skip.gate.mlp[2].bias.fill_(bias)  # gate 0 (denoised rows) or 1 (noisy rows)
        out = CSIRows().from_rows(skip(x, 3, raw=noisy), scale, 3)
    assert _nmse(out, _ar_of_rows(noisy if bias > 0 else x, scale)) < 1e-10


def test_gated_skip_starts_half_way_and_needs_the_raw_rows() -> None:
    h = _exponentials()
    x, scale = CSIRows().to_rows(h[:, :, :16])
    noisy = x + 0.3 * torch.randn(x.shape, generator=torch.Generator().manual_seed(4))
    skip = TemporalSkip(16, 4, ar_order=4, gate=True)
    with torch.no_grad():
        out = CSIRows().from_rows(skip(x, 3, raw=noisy), scale, 3)
    assert _nmse(out, 0.5 * (_ar_of_rows(x, scale) + _ar_of_rows(noisy, scale))) < 1e-10
    with pytest.raises(ValueError, match="raw"):
        skip(x, 3)


def test_csi4cast_gate_learns_from_the_loss_once_the_denoiser_acts() -> None:
    h = _exponentials()
    h_noisy = h + 0.05 * torch.randn(h.shape, dtype=torch.complex64)
    model = CSI4CAST(CSI4CASTConfig(ar_skip=True, ar_gate=True, **COMMON))
    torch.nn.init.ones_(model.denoiser.post[1].weight)  # a denoiser that changes its input
    loss = (model(h_noisy[:, :, :16]) - h[:, :, 16:]).abs().square().mean()
    loss.backward()
    assert float(model.skip.gate.mlp[2].bias.grad.abs()) > 0


def test_ar_gate_without_ar_skip_is_refused() -> None:
    with pytest.raises(ConfigError, match="ar_gate"):
        CSI4CASTConfig(ar_gate=True)


def test_gate_correction_can_leave_a_sample_to_the_ar_fit_of_the_noisy_rows() -> None:
    h = _exponentials()
    h_noisy = h + 0.05 * torch.randn(h.shape, dtype=torch.complex64,
                                     generator=torch.Generator().manual_seed(5))  # fmt: skip
    config = CSI4CASTConfig(ar_skip=True, ar_gate=True, gate_correction=True, **COMMON)
    model = CSI4CAST(config).eval()
    torch.nn.init.ones_(model.denoiser.post[1].weight)  # a denoiser that changes its input
    with torch.no_grad():
        model.skip.gate.mlp[2].bias.copy_(torch.tensor([30.0, -30.0]))  # noisy rows, no net
        out = model(h_noisy[:, :, :16])
        rows, scale = CSIRows().to_rows(h_noisy[:, :, :16])
        assert _nmse(out, _ar_of_rows(rows, scale)) < 1e-10
        model.skip.gate.mlp[2].bias.zero_()  # at the start: half-way mix, full correction
        x_den = model.denoiser(rows)
        ar, gain = model.skip.gated(x_den, 3, raw=rows)
        assert torch.equal(gain, torch.ones_like(gain))
        mix = 0.5 * (_ar_of_rows(x_den, scale) + _ar_of_rows(rows, scale))
        assert _nmse(CSIRows().from_rows(ar, scale, 3), mix) < 1e-10


def test_gate_correction_without_ar_gate_is_refused() -> None:
    with pytest.raises(ConfigError, match="gate_correction"):
        CSI4CASTConfig(ar_skip=True, gate_correction=True)


def test_ar_backtest_scores_an_order_by_how_it_predicts_the_held_out_snapshots() -> None:
    h = _exponentials()[:, :, :16]  # 3 Dopplers per sample
    assert float(ar_backtest(h, 4, order=4).max()) < 1e-8  # order 4 >= 3: exact
    assert float(ar_backtest(h, 4, order=2).min()) > 1e-3  # order 2 < 3: cannot be
    noisy = h + 0.1 * torch.randn(h.shape, dtype=torch.complex64,
                                  generator=torch.Generator().manual_seed(6))  # fmt: skip
    # against the noisy truth, the clean history's exact fit scores the noise floor
    floor = (noisy - h)[:, :, -4:].abs().square().sum((1, 2, 3)) / noisy[:, :, -4:].abs(
    ).square().sum((1, 2, 3))  # fmt: skip
    scored = ar_backtest(h, 4, order=4, target=noisy[:, :, -4:])
    assert torch.allclose(scored, floor.double(), rtol=1e-4)
    with pytest.raises(ValueError, match="at least 6 snapshots"):
        ar_backtest(h[:, :, :5], 4)


def test_selecting_skip_takes_the_candidate_that_predicts_the_held_out_snapshots() -> None:
    h = _exponentials()
    clean, scale = CSIRows().to_rows(h[:, :, :16])
    garbage = torch.randn(clean.shape, generator=torch.Generator().manual_seed(7))
    skip = TemporalSkip(16, 4, ar_order=4, gate=True, correction=True, select=True)
    with torch.no_grad():
        # the "denoised" rows are garbage, the noisy ones clean: it must pick the latter
        ar, gain = skip.gated(garbage, 3, raw=clean)
    assert _nmse(CSIRows().from_rows(ar, scale, 3), h[:, :, 16:]) < 1e-6
    assert gain.shape == (clean.shape[0], 1, 1)
    # the choice is not differentiable, the chosen prediction is: clean "denoised" rows
    # beat their noisy copy, and the gradient reaches them
    rows = clean.clone().requires_grad_(True)
    noisy = clean + 0.05 * torch.randn(clean.shape, generator=torch.Generator().manual_seed(9))
    skip.gated(rows, 3, raw=noisy)[0].square().sum().backward()
    assert float(rows.grad.abs().sum()) > 0


def test_ar_select_without_gate_correction_is_refused() -> None:
    with pytest.raises(ConfigError, match="ar_select"):
        CSI4CASTConfig(ar_skip=True, ar_gate=True, ar_select=True)


def test_learned_selection_starts_as_a_soft_minimum_and_learns() -> None:
    h = _exponentials()
    clean, scale = CSIRows().to_rows(h[:, :, :16])
    noisy = clean + 0.3 * torch.randn(clean.shape, generator=torch.Generator().manual_seed(8))
    hard = TemporalSkip(16, 4, ar_order=4, gate=True, correction=True, select=True)
    soft = TemporalSkip(16, 4, ar_order=4, gate=True, correction=True, select=True,
                        select_gate=True)  # fmt: skip
    with torch.no_grad():
        soft.selector.log_beta.fill_(math.log(1e4))  # a very sharp soft minimum: the hard one
        assert _nmse(soft.gated(clean, 3, raw=noisy)[0], hard.gated(clean, 3, raw=noisy)[0]) < 1e-10
        soft.selector.log_beta.fill_(math.log(1e-9))  # flat: the candidates' mean
        rows = [CSIRows().from_rows(r, torch.ones_like(scale), 3) for r in (clean, noisy)]
        preds, _ = ar_candidates(rows, 4, orders=(2, 4, 6, 8), ridge=1e-6, max_gain=4.0)
        flat = CSIRows().from_rows(soft.gated(clean, 3, raw=noisy)[0], torch.ones_like(scale), 3)
        assert _nmse(flat, preds.mean(1)) < 1e-10
    soft.selector.log_beta.data.fill_(math.log(4.0))
    soft.gated(clean, 3, raw=noisy)[0].square().sum().backward()
    assert float(soft.selector.log_beta.grad.abs()) > 0
    assert float(soft.selector.mlp[2].bias.grad.abs().sum()) > 0


def test_select_gate_without_ar_select_is_refused() -> None:
    with pytest.raises(ConfigError, match="select_gate"):
        CSI4CASTConfig(ar_skip=True, ar_gate=True, gate_correction=True, select_gate=True)


def test_shrinking_selector_starts_at_scale_one_and_can_shrink() -> None:
    h = _exponentials()
    clean, scale = CSIRows().to_rows(h[:, :, :16])
    plain = TemporalSkip(16, 4, ar_order=4, gate=True, correction=True, select=True,
                         select_gate=True)  # fmt: skip
    shrink = TemporalSkip(16, 4, ar_order=4, gate=True, correction=True, select=True,
                          select_gate=True, shrink=True)  # fmt: skip
    with torch.no_grad():
        assert _nmse(shrink.gated(clean, 3, raw=clean)[0], plain.gated(clean, 3, raw=clean)[0]) < 1e-12
        shrink.selector.mlp[2].bias[-1] = -1e4  # scale 2 * sigmoid(-inf) = 0
        assert float(shrink.gated(clean, 3, raw=clean)[0].abs().max()) == 0.0
    with pytest.raises(ConfigError, match="select_shrink"):
        CSI4CASTConfig(ar_skip=True, ar_gate=True, gate_correction=True, ar_select=True,
                       select_shrink=True)  # fmt: skip
