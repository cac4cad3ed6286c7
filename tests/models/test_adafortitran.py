"""AdaFortiTran / FortiTran: shapes, sizes, path equivalence, configs, training sanity."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import nn

from wirelessml.config import config_from_json, config_to_json
from wirelessml.errors import ConfigError
from wirelessml.models import AdaFortiTran, AdaFortiTranConfig, FortiTran, FortiTranConfig
from wirelessml.registry import MODELS, get_model

CONFIG_TYPES = {"adafortitran": AdaFortiTranConfig, "fortitran": FortiTranConfig}

# 8 tokens of 3x2 on a 4 x 12 grid: small enough to train in a test.
TINY = dict(
    num_ofdm_symbols=4, num_subcarriers=12, pilot_ofdm_symbols=(1,), num_pilots_per_symbol=3,
    d_model=16, num_layers=1, num_heads=2, dim_feedforward=32, dropout=0.0,
    enhancer_channels=(4,), prior_hidden=(4,),
)  # fmt: skip


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny models run faster on one thread, and two spinning threads on a shared 2-core
    machine can stall a step 20x (measured: 10 ms vs up to 0.7 s)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _inputs(cfg: AdaFortiTranConfig, batch: int = 3, num_rx_ant: int = 1, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    shape = (batch, num_rx_ant, len(cfg.pilot_ofdm_symbols), cfg.num_pilots_per_symbol)
    h_ls = torch.randn(shape, dtype=torch.complex64, generator=g)
    snr_db = torch.rand(batch, generator=g) * 25
    ds_ns = 25 + torch.rand(batch, generator=g) * 275
    fd_hz = 50 + torch.rand(batch, generator=g) * 950
    return h_ls, snr_db, ds_ns, fd_hz


@pytest.mark.parametrize("size", ["paper", "cpu"])
@pytest.mark.parametrize("num_rx_ant", [1, 2])
@pytest.mark.parametrize("model_cls", [AdaFortiTran, FortiTran])
def test_output_shape_and_dtype(size: str, num_rx_ant: int, model_cls: type, device: str) -> None:
    cfg_cls = AdaFortiTranConfig if model_cls is AdaFortiTran else FortiTranConfig
    cfg = getattr(cfg_cls, size)()
    model = model_cls(cfg).to(device).eval()
    args = [a.to(device) for a in _inputs(cfg, batch=2, num_rx_ant=num_rx_ant)]
    with torch.no_grad():
        h_hat = model(*args)
    assert h_hat.shape == (2, num_rx_ant, 14, 120)
    assert h_hat.dtype == torch.complex64
    assert h_hat.device.type == torch.device(device).type
    assert torch.isfinite(torch.view_as_real(h_hat)).all()


def test_parameter_counts() -> None:
    def count(m: nn.Module) -> int:
        return sum(p.numel() for p in m.parameters())

    # The reference's 512-row positional table adds 232 x 128 = 29,696 unused parameters
    # (987,746 / 913,688); ours has exactly one row per token.
    assert count(AdaFortiTran(AdaFortiTranConfig.paper())) == 958_050
    assert count(FortiTran(FortiTranConfig.paper())) == 883_992
    assert count(AdaFortiTran(AdaFortiTranConfig.cpu())) < 300_000
    assert AdaFortiTranConfig.paper().num_tokens == 280
    assert AdaFortiTranConfig.paper().token_dim == 12
    assert FortiTranConfig.paper().token_dim == 6


@pytest.mark.parametrize("num_rx_ant", [1, 2])
def test_forward_equals_forward_real_on_re_and_im(num_rx_ant: int) -> None:
    cfg = AdaFortiTranConfig(**TINY)
    model = AdaFortiTran(cfg).eval()
    h_ls, snr, ds, fd = _inputs(cfg, batch=3, num_rx_ant=num_rx_ant)
    priors = model.normalize_priors(snr, ds, fd)
    with torch.no_grad():
        h_hat = model(h_ls, snr, ds, fd)
        for b in range(3):
            for r in range(num_rx_ant):
                pilots = torch.stack([h_ls[b, r].real.flatten(), h_ls[b, r].imag.flatten()])
                out = model.forward_real(pilots, priors[b].expand(2, 3))
                torch.testing.assert_close(h_hat[b, r], torch.complex(out[0], out[1]))


def test_prior_normalization_uses_config_buffers() -> None:
    cfg = AdaFortiTranConfig(**TINY, prior_mean=(1.0, 2.0, 3.0), prior_std=(2.0, 4.0, 8.0))
    model = AdaFortiTran(cfg)
    got = model.normalize_priors(torch.tensor([5.0]), torch.tensor([6.0]), torch.tensor([11.0]))
    assert torch.equal(got, torch.tensor([[2.0, 1.0, 1.0]]))
    assert {"prior_mean", "prior_std"} <= set(model.state_dict())


def test_fortitran_ignores_priors_adafortitran_uses_them() -> None:
    torch.manual_seed(0)
    forti = FortiTran(FortiTranConfig(**TINY)).eval()
    ada = AdaFortiTran(AdaFortiTranConfig(**TINY)).eval()
    h_ls, snr, ds, fd = _inputs(ada.config)
    with torch.no_grad():
        a = forti(h_ls, snr, ds, fd)
        assert torch.equal(a, forti(h_ls, snr + 10, ds * 2, fd * 0.5))
        assert torch.equal(a, forti(h_ls))
        b = ada(h_ls, snr, ds, fd)
        for changed in ((snr + 10, ds, fd), (snr, ds * 2, fd), (snr, ds, fd * 0.5)):
            assert not torch.allclose(b, ada(h_ls, *changed))


def test_input_errors() -> None:
    ada = AdaFortiTran(AdaFortiTranConfig(**TINY))
    h_ls, snr, ds, fd = _inputs(ada.config)
    with pytest.raises(ValueError, match="needs snr_db"):
        ada(h_ls)
    with pytest.raises(ValueError, match="doppler_hz of shape"):
        ada(h_ls, snr, ds, fd[:2])
    with pytest.raises(ValueError, match="complex64"):
        ada(h_ls.real, snr, ds, fd)
    with pytest.raises(ValueError, match=r"\[batch, num_rx_ant, 1, 3\]"):
        ada(h_ls[..., :2], snr, ds, fd)
    with pytest.raises(ValueError, match="needs priors"):
        ada.forward_real(torch.randn(2, 3))


@pytest.mark.parametrize(
    "cfg",
    [
        AdaFortiTranConfig.cpu(),
        FortiTranConfig.paper(),
        AdaFortiTranConfig(**TINY, prior_mean=(10.0, 100.0, 400.0)),
    ],
)
def test_config_json_round_trip(cfg: AdaFortiTranConfig) -> None:
    name = "fortitran" if isinstance(cfg, FortiTranConfig) else "adafortitran"
    back = config_from_json(config_to_json(cfg, name), CONFIG_TYPES)
    assert back == cfg
    assert type(back) is type(cfg)
    assert isinstance(back.prior_hidden, tuple)


@pytest.mark.parametrize(
    ("cls", "overrides", "field"),
    [
        (AdaFortiTranConfig, {"patch_subcarriers": 7}, "patch_subcarriers=7"),
        (AdaFortiTranConfig, {"patch_symbols": 3}, "patch_symbols=3"),
        (AdaFortiTranConfig, {"num_heads": 3}, "num_heads=3"),
        (AdaFortiTranConfig, {"d_model": 0}, "d_model=0"),
        (AdaFortiTranConfig, {"dropout": 1.0}, "dropout=1.0"),
        (AdaFortiTranConfig, {"pilot_ofdm_symbols": (11, 2)}, "pilot_ofdm_symbols"),
        (AdaFortiTranConfig, {"pilot_ofdm_symbols": (2, 14)}, "pilot_ofdm_symbols"),
        (AdaFortiTranConfig, {"num_pilots_per_symbol": 121}, "num_pilots_per_symbol=121"),
        (AdaFortiTranConfig, {"enhancer_channels": ()}, "enhancer_channels"),
        (AdaFortiTranConfig, {"prior_hidden": (7, 0)}, "prior_hidden"),
        (AdaFortiTranConfig, {"prior_std": (1.0, 0.0, 1.0)}, "prior_std"),
        (AdaFortiTranConfig, {"prior_mean": (1.0, 2.0)}, "prior_mean"),
        (AdaFortiTranConfig, {"priors": 1}, "priors=1"),
        (AdaFortiTranConfig, {"version": 2}, "version=2"),
        (FortiTranConfig, {"priors": True}, "FortiTranConfig.priors=True"),
    ],
)
def test_bad_config_names_the_field(cls: type, overrides: dict, field: str) -> None:
    with pytest.raises(ConfigError, match=field.replace("(", r"\(")):
        cls(**overrides)


def test_patch_error_lists_divisors_and_cpu_overrides() -> None:
    with pytest.raises(ConfigError, match=r"divisor of num_subcarriers=120.*\[1, 2, 3, 4, 5, 6, 8"):
        AdaFortiTranConfig.cpu(patch_subcarriers=7)
    assert AdaFortiTranConfig.cpu(num_layers=2).num_layers == 2
    assert FortiTranConfig.cpu().priors is False
    with pytest.raises(ConfigError, match="FortiTranConfig"):
        FortiTran(AdaFortiTranConfig(**TINY))


def test_registry_entries() -> None:
    assert get_model("adafortitran").model_cls is AdaFortiTran
    assert get_model("adafortitran").config_cls is AdaFortiTranConfig
    assert MODELS["fortitran"].model_cls is FortiTran
    assert MODELS["fortitran"].config_cls is FortiTranConfig


def test_patchify_matches_unfold_and_fold() -> None:
    model = AdaFortiTran(AdaFortiTranConfig.cpu())
    c = model.config
    x = torch.randn(5, 1, c.num_ofdm_symbols, c.num_subcarriers)
    patch = (c.patch_symbols, c.patch_subcarriers)
    tokens = model._patchify(x)
    assert torch.equal(tokens, nn.Unfold(patch, stride=patch)(x).transpose(1, 2))
    fold = nn.Fold((c.num_ofdm_symbols, c.num_subcarriers), patch, stride=patch)
    assert torch.equal(model._unpatchify(tokens), fold(tokens.transpose(1, 2)))
    assert torch.equal(model._unpatchify(tokens), x)


def test_eval_mode_is_deterministic() -> None:
    model = AdaFortiTran(AdaFortiTranConfig(**{**TINY, "dropout": 0.5})).eval()
    args = _inputs(model.config)
    with torch.no_grad():
        assert torch.equal(model(*args), model(*args))


@pytest.mark.parametrize("cfg_cls", [AdaFortiTranConfig, FortiTranConfig])
def test_gradients_reach_every_parameter(cfg_cls: type) -> None:
    model_cls = AdaFortiTran if cfg_cls is AdaFortiTranConfig else FortiTran
    model = model_cls(cfg_cls(**TINY)).train()
    model(*_inputs(model.config)).abs().square().mean().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, name
        assert p.grad.abs().sum() > 0, name


class _RealCore(nn.Module):
    def __init__(self, model: AdaFortiTran) -> None:
        super().__init__()
        self.model = model

    def forward(self, pilots: torch.Tensor, priors: torch.Tensor) -> torch.Tensor:
        return self.model.forward_real(pilots, priors)


def test_torch_export_of_forward_real() -> None:
    model = AdaFortiTran(AdaFortiTranConfig(**TINY)).eval()
    pilots, priors = torch.randn(4, model.config.num_pilots), torch.randn(4, 3)
    batch = torch.export.Dim("batch", min=1, max=1024)
    exported = torch.export.export(
        _RealCore(model), (pilots, priors), dynamic_shapes=({0: batch}, {0: batch})
    )
    ops = {str(n.target) for n in exported.graph.nodes if n.op == "call_function"}
    assert not any("complex" in op or "im2col" in op for op in ops)
    with torch.no_grad():
        for n in (4, 6):
            p, q = torch.randn(n, model.config.num_pilots), torch.randn(n, 3)
            torch.testing.assert_close(exported.module()(p, q), model.forward_real(p, q))


def test_tiny_model_overfits_one_batch() -> None:
    torch.manual_seed(0)
    model = AdaFortiTran(AdaFortiTranConfig(**TINY)).train()
    h_ls, snr, ds, fd = _inputs(model.config, batch=4, seed=1)
    g = torch.Generator().manual_seed(2)
    h = torch.randn(4, 1, 4, 12, dtype=torch.complex64, generator=g)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)  # crosses 10x at ~115 steps
    losses = []
    for _ in range(200):
        opt.zero_grad()
        loss = (model(h_ls, snr, ds, fd) - h).abs().square().mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        if losses[-1] < losses[0] / 10:
            break
    assert losses[-1] < losses[0] / 10, (losses[0], losses[-1], len(losses))


def test_configs_are_frozen_dataclasses() -> None:
    cfg = AdaFortiTranConfig.cpu()
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.d_model = 8  # type: ignore[misc]
    assert hash(cfg) == hash(AdaFortiTranConfig.cpu())
