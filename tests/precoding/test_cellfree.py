"""The cellfree simulator (Sionna UMi, large-scale gains) and its power-control baselines."""

from __future__ import annotations

import pytest
import torch

from wirelessml.errors import ConfigError
from wirelessml.simulators import CellFreeConfig
from wirelessml.tasks.cellfree_baselines import (
    cellfree_precoder,
    cellfree_sum_rate,
    equal_power,
    fractional_power,
)


@pytest.mark.sionna
def test_cellfree_block_masks_and_beta_match_the_channel() -> None:
    from wirelessml.simulators.cellfree import CellFreeSimulator

    cfg = CellFreeConfig(num_aps=(3, 4), num_ap_antennas=(4, 4), num_users=(2, 3), block_size=12)
    b = CellFreeSimulator(cfg, device="cpu").generate_block(seed=0, block_index=0, num=12)
    assert b["h"].shape == (12, 3, 4, 4) and b["beta"].shape == (12, 3, 4)
    link = b["user_mask"][:, :, None] * b["ap_mask"][:, None, :]
    assert torch.equal(b["beta"] > 0, link > 0)
    assert float((b["h"].abs().sum(-1) * (1 - link)).max()) == 0.0
    # E|h|^2 = beta: the per-link antenna mean, over all links, within sampling error
    ratio = b["h"].abs().square().mean(-1)[link > 0] / b["beta"][link > 0]
    assert 0.6 < float(ratio.mean()) < 1.5
    db = 10 * torch.log10(b["beta"][link > 0])
    assert -170 < float(db.min()) and float(db.max()) < -40  # path loss of a 500 m area


def _links(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    h = torch.randn(5, 3, 4, 2, dtype=torch.complex64, generator=g)
    beta = 10 ** (-torch.rand(5, 3, 4, generator=g) * 4)
    h = h * beta.sqrt()[..., None]
    beta[0, 2] = 0  # sample 0 has two users
    h[0, 2] = 0
    return h, beta


def test_power_control_respects_each_aps_budget() -> None:
    h, beta = _links()
    for eta in (equal_power(beta), fractional_power(beta, 0.5), fractional_power(beta, -1.0)):
        per_ap = eta.sum(1)
        assert torch.allclose(per_ap, torch.ones_like(per_ap), atol=1e-6)
        assert float(eta[0, 2].abs().max()) == 0.0
        v = cellfree_precoder(h, eta).reshape(5, 3, 4, 2)
        assert torch.allclose(v.abs().square().sum(dim=(1, 3)), per_ap, atol=1e-5)
    assert torch.allclose(fractional_power(beta, 0.0), equal_power(beta), atol=1e-7)
    stronger = fractional_power(beta, 1.0)
    k = beta[1].argmax(0)  # the strongest user of each AP gets the largest share
    assert torch.equal(stronger[1].argmax(0), k)


def test_cellfree_sum_rate_is_positive_and_finite() -> None:
    h, beta = _links(1)
    no = torch.full((5,), 1e-4)
    rate = cellfree_sum_rate(h, fractional_power(beta), no)
    assert bool(torch.isfinite(rate).all()) and float(rate.min()) > 0


def test_bad_cellfree_config() -> None:
    with pytest.raises(ConfigError, match="CellFreeConfig.num_users="):
        CellFreeConfig(num_users=(0, 3))
