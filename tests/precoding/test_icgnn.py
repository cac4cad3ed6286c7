"""ICGNN: permutation equivariance, exact power, padding, CG, its start at RZF, size errors."""

from __future__ import annotations

import pytest
import torch

from wirelessml.errors import ConfigError
from wirelessml.models.icgnn import (
    ICGNN,
    ICGNNConfig,
    _uniform_in_degree,
    complete_graph,
    conjugate_gradient,
)
from wirelessml.tasks.precoding_baselines import sum_rate


def _model(seed: int = 0, **overrides) -> ICGNN:
    torch.manual_seed(seed)
    model = ICGNN(ICGNNConfig(hidden=16, num_layers=2, **overrides)).eval()
    with torch.no_grad():  # non-zero output layer: the test must not pass by symmetry of 0
        for p in model.head[-1].parameters():
            p.normal_(0, 0.5)
    return model


def _inputs(b: int, k: int, m: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    h = torch.randn(b, k, m, dtype=torch.complex64, generator=g)
    no = 10 ** (-torch.rand(b, generator=g) * 2)
    return h, no, torch.ones(b, k), torch.ones(b, m)


def test_permuting_users_permutes_outputs() -> None:
    model = _model()
    h, no, um, am = _inputs(4, 5, 7)
    perm = torch.tensor([3, 0, 4, 1, 2])
    with torch.no_grad():
        v = model(h, no, um, am)
        v_perm = model(h[:, perm], no, um, am)
    assert torch.allclose(v_perm, v[:, perm], atol=1e-5)
    assert not torch.allclose(v[:, 0].abs(), v[:, 1].abs(), atol=1e-3)  # users do differ


def test_power_constraint_holds_exactly_with_padding() -> None:
    model = _model()
    h, no, _, _ = _inputs(6, 6, 8, seed=1)
    k = torch.tensor([1, 2, 3, 4, 5, 6])
    m = torch.tensor([2, 3, 4, 6, 7, 8])
    um = (torch.arange(6) < k[:, None]).float()
    am = (torch.arange(8) < m[:, None]).float()
    h = h * um[:, :, None] * am[:, None, :]
    with torch.no_grad():
        v = model(h, no, um, am)
    assert torch.allclose(v.abs().square().sum(dim=(1, 2)), torch.ones(6), atol=1e-6)
    assert float((v.abs() * (1 - um[:, :, None] * am[:, None, :])).max()) == 0.0
    # The padded sample gives what the cropped one gives.
    with torch.no_grad():
        alone = model(h[3:4, :4, :6], no[3:4], torch.ones(1, 4), torch.ones(1, 6))
    assert torch.allclose(v[3:4, :4, :6], alone, atol=1e-5)


def test_gradients_finite_with_padded_users() -> None:
    model = ICGNN(ICGNNConfig(hidden=8, num_layers=1)).train()
    h, no, um, am = _inputs(3, 4, 4, seed=2)
    um[0, 2:] = 0
    h = h * um[:, :, None]
    loss = -sum_rate(h, model(h, no, um, am), no).mean()
    loss.backward()
    assert all(bool(torch.isfinite(p.grad).all()) for p in model.parameters())


def test_untrained_icgnn_is_rzf_directions_with_equal_power() -> None:
    model = ICGNN(ICGNNConfig(hidden=8, num_layers=1, cg_steps=12)).eval()
    h, no, um, am = _inputs(5, 3, 5, seed=4)
    with torch.no_grad():
        v = model(h, no, um, am)
    a = h @ h.mH + 3 * no[:, None, None] * torch.eye(3)
    d = (h.mH.to(torch.complex128) @ torch.linalg.inv(a.to(torch.complex128))).mT
    d = d / d.abs().square().sum(-1, keepdim=True).sqrt() / 3**0.5
    assert torch.allclose(v.to(torch.complex128), d, atol=1e-4)


def test_conjugate_gradient_solves_hermitian_systems() -> None:
    g = torch.Generator().manual_seed(5)
    h = torch.randn(8, 6, 9, dtype=torch.complex128, generator=g)
    a = h @ h.mH + 0.01 * torch.eye(6)
    for steps in (6, 40):  # 40: the columns stop once converged, nothing breaks down
        x = conjugate_gradient(a, steps=steps)
        assert torch.allclose(a @ x, torch.eye(6, dtype=a.dtype).expand_as(a), atol=1e-8)


def test_complete_graph_links_real_users_only() -> None:
    um = torch.tensor([[1.0, 1.0, 0.0], [1.0, 1.0, 1.0]])
    src, dst = complete_graph(um)
    assert len(src) == 2 + 6 and bool((src != dst).all())
    assert set(src.tolist()) | set(dst.tolist()) == {0, 1, 3, 4, 5}
    assert bool((dst[1:] >= dst[:-1]).all())  # grouped by target


def test_sizes_beyond_the_config_and_zero_users_are_one_line_errors() -> None:
    model = _model(max_users=4)
    h, no, um, am = _inputs(2, 5, 8)
    with pytest.raises(ConfigError, match="5 users but the model's config allows max_users=4") as e:
        model(h, no, um, am)
    assert "\n" not in str(e.value)
    h, no, um, am = _inputs(2, 3, 4)
    um[1] = 0
    with pytest.raises(ConfigError, match="sample 1 has zero users"):
        model(h, no, um, am)
    with pytest.raises(ConfigError, match="ICGNNConfig.cg_steps=0"):
        ICGNNConfig(cg_steps=0)


def test_load_feature_and_runs_saved_without_it() -> None:
    from wirelessml.config import config_from_dict

    old = config_from_dict(ICGNNConfig, {"hidden": 8, "num_layers": 1, "cg_steps": 8})
    assert old.load_feature is False and ICGNN(old).embed[0].in_features == 2
    assert ICGNNConfig.cpu().load_feature and ICGNNConfig.cpu().cg_steps == 16
    model = _model(load_feature=True)
    assert model.embed[0].in_features == 3
    # Same users, more padded-in antennas with zero gain: only K/M changes, and the output.
    h, no, um, am = _inputs(2, 4, 4, seed=6)
    wide = torch.cat([h, torch.zeros(2, 4, 4, dtype=h.dtype)], -1)
    with torch.no_grad():
        v = model(h, no, um, am)
        v_wide = model(wide, no, um, torch.ones(2, 8))
    assert not torch.allclose(v_wide[..., :4], v, atol=1e-4)
    assert torch.allclose(v_wide[..., :4].abs().square().sum((1, 2)), torch.ones(2), atol=1e-5)


def test_mmse_feature_is_the_mmse_receivers_rate_and_keeps_equivariance_and_power() -> None:
    from wirelessml.config import config_from_dict

    old = config_from_dict(ICGNNConfig, {"hidden": 8, "num_layers": 1, "load_feature": True})
    assert old.mmse_feature is False and ICGNN(old).embed[0].in_features == 3
    assert ICGNNConfig.cpu().mmse_feature and ICGNNConfig.paper().mmse_feature
    model = _model(load_feature=True, mmse_feature=True, cg_steps=12)
    assert model.embed[0].in_features == 4
    # log10(1 + SINR_k) of the uplink MMSE receiver, equal powers P/K, against an inverse:
    # 1 / (1 + SINR_k) = [(I + H H^H / delta)^{-1}]_kk with delta = K no / P.
    h, no, um, am = _inputs(5, 6, 8, seed=7)
    um[1, 4:] = 0
    h = h * um[:, :, None]
    feat = model.mmse_rate(h @ h.mH, no, um)
    k = um.sum(-1).double()
    for b in range(5):
        kb = int(k[b])
        hb = h[b, :kb].to(torch.complex128)
        delta = kb * float(no[b])
        e = torch.linalg.inv(torch.eye(kb) + hb @ hb.mH / delta)
        sinr = 1 / torch.diagonal(e).real - 1
        assert torch.allclose(feat[b, :kb].double(), torch.log10(1 + sinr), atol=1e-4)
    assert float(feat[1, 4:].abs().max()) == 0.0 and bool((feat[0] > 0).all())
    # The whole model stays permutation equivariant, with the power constraint exact.
    h, no, um, am = _inputs(4, 5, 7, seed=8)
    perm = torch.tensor([2, 4, 0, 3, 1])
    with torch.no_grad():
        v = model(h, no, um, am)
        v_perm = model(h[:, perm], no, um, am)
    assert torch.allclose(v_perm, v[:, perm], atol=1e-5)
    assert torch.allclose(v.abs().square().sum(dim=(1, 2)), torch.ones(4), atol=1e-6)
    # The feature changes the output (it is used), and is not differentiated.
    plain = _model(load_feature=True, cg_steps=12)
    with torch.no_grad():
        assert not torch.allclose(plain(h, no, um, am), v, atol=1e-3)
    hg = h.clone().requires_grad_(True)
    assert not model.mmse_rate(hg @ hg.mH, no, um).requires_grad


_GRAPHS = {
    "irregular": torch.tensor([[0, 1, 2, 3, 4, 0, 2, 4], [1, 0, 0, 0, 3, 4, 4, 2]]),
    # complete graphs, edges grouped by target: the reduction over a view
    "complete": complete_graph(torch.ones(2, 3)),
    "complete, padded user without edges": complete_graph(torch.tensor([[1.0, 1.0, 0.0, 1.0]])),
}


@pytest.mark.parametrize("graph", list(_GRAPHS))
@pytest.mark.parametrize("grad", [False, True])
def test_conv_layer_is_the_message_mlp_on_concatenated_features(graph: str, grad: bool) -> None:
    from wirelessml.models.icgnn import ICGNNConv

    torch.manual_seed(3)
    conv = ICGNNConv(hidden=6, edge_dim=2)
    edge_index = _GRAPHS[graph]
    src, dst = edge_index
    x, edge_attr = torch.randn(6, 6), torch.rand(len(src), 2)
    # m_jk = MLP([x_k, x_j, e_jk]) for j -> k; x_k + MLP([x_k, mean_j m_jk, max_j m_jk]),
    # and zero aggregates for a node without incoming edges.
    msgs = conv.msg(torch.cat([x[dst], x[src], edge_attr], dim=-1))
    agg = [torch.cat([msgs[dst == k].mean(0), msgs[dst == k].amax(0)]) if (dst == k).any()
           else torch.zeros(12) for k in range(6)]  # fmt: skip
    want = torch.stack([x[k] + conv.upd(torch.cat([x[k], agg[k]])) for k in range(6)])
    with torch.set_grad_enabled(grad):
        assert torch.allclose(conv(x, edge_index, edge_attr), want, atol=1e-6)
    assert bool(_uniform_in_degree(dst, 6)) == (graph == "complete")
