"""Classical predictors: AR exact on a sum of complex exponentials, no-prediction repeats."""

from __future__ import annotations

import math

import pytest
import torch

from wirelessml.errors import ConfigError
from wirelessml.nn.linear_prediction import ar_select
from wirelessml.tasks.csi_baselines import ARPredictor, ARSelectPredictor, NoPrediction, ar_predict


def _exponentials(num: int) -> torch.Tensor:
    """h[b, a, t, k] = sum_q c[b, a, k, q] exp(j 2 pi f_q t): shared Dopplers per sample."""
    gen = torch.Generator().manual_seed(0)
    t = torch.arange(20, dtype=torch.float64)
    freqs = torch.tensor([0.041, -0.127, 0.305])[:num].double()
    amp = torch.randn(3, 4, 1, 12, num, dtype=torch.complex128, generator=gen)
    phasors = torch.exp(2j * math.pi * freqs * t[:, None])  # [T, Q]
    return (amp * phasors[None, None, :, None, :]).sum(-1).to(torch.complex64)


@pytest.mark.parametrize("num_exp", [1, 2, 3])
def test_ar_is_exact_on_a_noiseless_sum_of_exponentials(num_exp: int) -> None:
    h = _exponentials(num_exp)
    pred = ar_predict(h[:, :, :16], 4, order=num_exp)
    err = (pred - h[:, :, 16:]).abs().square().sum() / h[:, :, 16:].abs().square().sum()
    assert float(err) < 1e-9
    # A higher order than needed is exact too (the extra coefficients are free).
    pred4 = ar_predict(h[:, :, :16], 4, order=4)
    err4 = (pred4 - h[:, :, 16:]).abs().square().sum() / h[:, :, 16:].abs().square().sum()
    assert float(err4) < 1e-6


def test_no_prediction_repeats_the_last_snapshot() -> None:
    h = _exponentials(2)
    out = NoPrediction(4, 12)(h[:, :, :16])
    assert out.shape == (3, 4, 4, 12)
    assert torch.equal(out, h[:, :, 15:16].expand(-1, -1, 4, -1))


def test_classical_fdd_needs_equal_bands() -> None:
    with pytest.raises(ConfigError, match="as many target subcarriers"):
        ARPredictor(4, 10)(_exponentials(1)[:, :, :16])


def test_ar_select_picks_per_sample_an_order_that_fits() -> None:
    h = _exponentials(3)  # 3 Dopplers: orders 2 cannot, 4, 6, 8 can
    _, pick = ar_select([h[:, :, :16]], 4, orders=(2, 4, 6, 8))
    assert bool((pick >= 1).all())
    pred = ARSelectPredictor(4, 12)(h[:, :, :16])
    err = (pred - h[:, :, 16:]).abs().square().sum() / h[:, :, 16:].abs().square().sum()
    assert float(err) < 1e-6
    with pytest.raises(ConfigError, match="as many target subcarriers"):
        ARSelectPredictor(4, 10)(h[:, :, :16])
