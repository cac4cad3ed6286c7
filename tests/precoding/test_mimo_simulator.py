"""The mimo simulator: padded channels with masks, correlation, normalization, determinism."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from wirelessml.api import simulate
from wirelessml.datasets import read_arrays, read_info
from wirelessml.errors import ConfigError
from wirelessml.simulators import MIMOConfig

pytestmark = pytest.mark.sionna


def _block(config: MIMOConfig, num: int, seed: int = 0) -> dict:
    from wirelessml.simulators.mimo import MIMOSimulator

    return MIMOSimulator(config, device="cpu").generate_block(seed=seed, block_index=0, num=num)


def test_padding_masks_and_sizes() -> None:
    cfg = MIMOConfig(num_users=(2, 6), num_antennas=(3, 5), block_size=300)
    b = _block(cfg, 300)
    k, m = b["num_users"], b["num_antennas"]
    assert b["h"].shape == (300, 5, 5) and b["h"].dtype == torch.complex64
    assert bool((k <= m).all()) and int(k.min()) == 2 and int(m.min()) == 3 and int(m.max()) == 5
    assert torch.equal(b["user_mask"].sum(1).long(), k)
    assert torch.equal(b["antenna_mask"].sum(1).long(), m)
    pad = 1 - b["user_mask"][:, :, None] * b["antenna_mask"][:, None, :]
    assert float((b["h"].abs() * pad).max()) == 0.0  # padding is exact zeros
    assert float((b["h"].abs() + pad).min()) > 0.0  # real entries are not
    assert torch.allclose(b["no"], 10 ** (-b["snr_db"] / 10))


def test_rayleigh_exponential_correlation() -> None:
    cfg = MIMOConfig(num_users=(4, 4), num_antennas=(4, 4), correlation=0.6, block_size=1500)
    h = _block(cfg, 1500)["h"].reshape(-1, 4).to(torch.complex128)  # rows: one user each
    r = h.mT.conj() @ h / len(h)  # E[h^H h] = R_tx
    expected = torch.tensor([[0.6 ** abs(i - j) for j in range(4)] for i in range(4)])
    assert torch.allclose(r.real, expected.double(), atol=0.04)


def test_uma_normalized_per_sample_and_near_far_kept() -> None:
    cfg = MIMOConfig(channel_model="uma", num_users=(2, 4), num_antennas=(4, 8), block_size=64)
    b = _block(cfg, 64)
    energy = b["h"].abs().square().sum(dim=(1, 2)) / (b["num_users"] * b["num_antennas"])
    assert torch.allclose(energy, torch.ones(64), atol=1e-4)
    gains = b["h"].abs().square().sum(-1)  # per user
    spread = [float(g[g > 0].max() / g[g > 0].min()) for g in gains]
    assert np.median(spread) > 10.0  # path loss differences between users survive


def test_grid_mode_and_hdf5_round_trip(tmp_path) -> None:
    cfg = MIMOConfig(
        mode="grid",
        num_users_grid=(2, 4),
        num_antennas_grid=(2, 4),
        snr_db_grid=(10.0, 20.0),
        block_size=4,
    )
    assert [c[:2] for c in cfg.grid_conditions[::2]] == [(2, 2), (2, 4), (4, 4)]
    out = simulate("mimo", cfg, num_samples=12, out=tmp_path / "g.h5", seed=3)
    again = simulate("mimo", cfg, num_samples=12, out=tmp_path / "g2.h5", seed=3)
    a, b = read_arrays(out, ["h", "num_users"]), read_arrays(again, ["h", "num_users"])
    assert np.array_equal(a["h"], b["h"]) and a["h"].dtype == np.complex64
    assert list(a["num_users"][:6]) == [2, 2, 2, 2, 4, 4]
    info = read_info(out)
    assert info.simulator == "mimo" and "padding_definition" in info.attrs


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"num_users": (0, 2)}, "num_users"),
        ({"num_users": (5, 6), "num_antennas": (4, 8)}, "num_users"),
        ({"correlation": 1.0}, "correlation"),
        ({"channel_model": "cdl-a"}, "channel_model"),
        ({"mode": "grid", "num_users_grid": (9,), "num_antennas_grid": (4, 8)}, "num_users_grid"),
    ],
)
def test_bad_configs_name_the_field(overrides: dict, field: str) -> None:
    with pytest.raises(ConfigError, match=f"MIMOConfig.{field}=") as err:
        MIMOConfig(**overrides)
    assert "\n" not in str(err.value)


def test_uma_shorter_last_block_after_a_full_one() -> None:
    from wirelessml.simulators.mimo import MIMOSimulator

    cfg = MIMOConfig(channel_model="uma", num_users=(2, 3), num_antennas=(4, 4), block_size=8)
    sim = MIMOSimulator(cfg, device="cpu")  # one simulator, as the writer uses it
    sizes = [
        len(sim.generate_block(seed=0, block_index=i, num=n)["h"]) for i, n in ((0, 8), (1, 3))
    ]
    assert sizes == [8, 3]  # Sionna's topology is reset for the shorter block


def test_uma_block_depends_only_on_its_index() -> None:
    """A resumed run starts at block b in a fresh simulator: it must see the same channels."""
    from wirelessml.simulators.mimo import MIMOSimulator

    cfg = MIMOConfig(channel_model="uma", num_users=(2, 3), num_antennas=(4, 4), block_size=8)
    after_block_0 = MIMOSimulator(cfg, device="cpu")
    after_block_0.generate_block(seed=0, block_index=0, num=8)
    fresh = MIMOSimulator(cfg, device="cpu")
    a = after_block_0.generate_block(seed=0, block_index=1, num=8)["h"]
    b = fresh.generate_block(seed=0, block_index=1, num=8)["h"]
    assert torch.equal(a, b)
