"""MRT, ZF, RZF and WMMSE: interference, monotonicity, power, padding, one-line errors."""

from __future__ import annotations

import pytest
import torch

from wirelessml.errors import ConfigError
from wirelessml.tasks.precoding_baselines import gains, mrt, rzf, sum_rate, wmmse, zf


def _channels(b: int, k: int, m: int, seed: int = 0, dtype=torch.complex64) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(b, k, m, dtype=dtype, generator=g)


def _pad(h: torch.Tensor, k: int, m: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    b, k0, m0 = h.shape
    out = torch.zeros(b, k, m, dtype=h.dtype)
    out[:, :k0, :m0] = h
    um = (torch.arange(k) < k0).float().expand(b, -1)
    am = (torch.arange(m) < m0).float().expand(b, -1)
    return out, um, am


@pytest.mark.parametrize(("k", "m"), [(2, 4), (4, 4), (4, 8), (8, 16)])
def test_zf_interference_below_1e_5_of_signal(k: int, m: int) -> None:
    h = _channels(64, k, m, seed=k + m)
    p = gains(h, zf(h)).abs().square()
    signal = torch.diagonal(p, dim1=-2, dim2=-1)
    interference = p.sum(-1) - signal  # at each user, from every other stream
    assert float((interference / signal).max()) < 1e-5


def test_wmmse_rate_never_decreases_and_beats_its_rzf_start() -> None:
    h = _channels(32, 4, 6, seed=1, dtype=torch.complex128)
    no = torch.full((32,), 10 ** (-1.5), dtype=torch.float64)
    res = wmmse(h, no, tol=1e-10, max_iter=150)
    steps = res.rate_history.diff(dim=0)
    assert float(steps.min()) > -1e-9  # monotone up to the bisection's precision
    assert torch.allclose(res.rate_history[0], sum_rate(h, rzf(h, no), no))
    assert float((res.rate_history[-1] - res.rate_history[0]).mean()) > 0.05
    assert res.iterations > 5


def test_wmmse_stops_at_tolerance() -> None:
    h = _channels(16, 3, 4, seed=2)
    no = torch.full((16,), 0.1)
    res = wmmse(h, no, tol=1e-3, max_iter=500)
    assert res.iterations < 500
    last = (res.rate_history[-1] - res.rate_history[-2]).abs() / res.rate_history[-2]
    assert float(last.max()) < 1e-3


@pytest.mark.parametrize("name", ["mrt", "zf", "rzf", "wmmse"])
def test_power_constraint_and_padding(name: str) -> None:
    h = _channels(8, 3, 5, seed=3)
    no = torch.full((8,), 0.05)
    fns = {"mrt": mrt, "zf": zf, "rzf": rzf, "wmmse": lambda *a, **kw: wmmse(*a, **kw).v}
    v = fns[name](h, no)
    power = v.abs().square().sum(dim=(1, 2))
    if name == "wmmse":
        assert float(power.max()) <= 1 + 1e-5 and float(power.min()) > 0.999
    else:
        assert torch.allclose(power, torch.ones(8), atol=1e-5)
    hp, um, am = _pad(h, 6, 7)
    vp = fns[name](hp, no, user_mask=um, antenna_mask=am)
    assert float(vp[:, 3:].abs().max()) == 0.0 and float(vp[:, :, 5:].abs().max()) == 0.0
    assert torch.allclose(vp[:, :3, :5], v, atol=1e-4)
    assert torch.allclose(sum_rate(hp, vp, no), sum_rate(h, v, no), atol=1e-3)


def test_sum_rate_definition_on_a_known_case() -> None:
    h = torch.tensor([[[2.0, 0.0], [0.0, 1.0]]], dtype=torch.complex64)  # orthogonal users
    v = torch.tensor([[[0.6, 0.0], [0.0, 0.8]]], dtype=torch.complex64)
    no = torch.tensor([0.5])
    expected = torch.log2(torch.tensor(1 + 4 * 0.36 / 0.5)) + torch.log2(
        torch.tensor(1 + 0.64 / 0.5)
    )
    assert torch.allclose(sum_rate(h, v, no), expected[None])


def test_bad_inputs_are_one_line_errors() -> None:
    with pytest.raises(ConfigError, match=r"K=5 users > M=4 antennas; ZF needs K <= M") as err:
        zf(_channels(2, 5, 4))
    assert "\n" not in str(err.value)
    h, um, am = _pad(_channels(2, 2, 4), 3, 4)
    um = um.clone()
    um[1] = 0
    with pytest.raises(ConfigError, match="sample 1 has zero users"):
        rzf(h, torch.ones(2), user_mask=um, antenna_mask=am)
    with pytest.raises(ConfigError, match="complex"):
        mrt(torch.randn(2, 3, 4))
