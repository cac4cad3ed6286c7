"""The csi-series simulator: targets from the right bands, presets, conditions, bad configs."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from click.testing import CliRunner

from wirelessml.cli.main import cli
from wirelessml.simulators import CSISeriesConfig
from wirelessml.simulators.ofdm_config import SPEED_OF_LIGHT

pytestmark = pytest.mark.sionna

# Two ports, 6 UL + gap 3 + 6 DL subcarriers: tiny, and every layout spans 15 subcarriers.
BASE = CSISeriesConfig(bs_rows=1, bs_cols=1, num_ul_subcarriers=6, num_gap_subcarriers=3,
                       num_dl_subcarriers=6, block_size=4, speed_mps=(1.0, 2.0))  # fmt: skip


def _block(config: CSISeriesConfig, num: int = 4) -> dict:
    from wirelessml.simulators.csi_series import CSISeriesSimulator

    return CSISeriesSimulator(config).generate_block(seed=5, block_index=0, num=num)


def test_tdd_and_fdd_targets_come_from_the_right_bands() -> None:
    # One UL band covering UL + gap + DL of BASE: the same 15 frequencies, the same draws.
    wide = _block(dataclasses.replace(BASE, num_ul_subcarriers=15, num_gap_subcarriers=0,
                                      num_dl_subcarriers=0))  # fmt: skip
    tdd = _block(BASE)
    fdd = _block(dataclasses.replace(BASE, duplex="fdd"))
    close = lambda a, b: torch.allclose(a, b, atol=1e-5, rtol=1e-4)  # noqa: E731
    assert close(tdd["h_hist"], wide["h_hist"][..., :6])
    assert close(fdd["h_hist"], wide["h_hist"][..., :6])
    assert close(tdd["h_future"], wide["h_future"][..., :6])  # TDD: UL band, future snapshots
    assert close(fdd["h_future"], wide["h_future"][..., 9:])  # FDD: DL band after the gap
    assert not close(fdd["h_future"], tdd["h_future"])
    # The future continues the history in time: at 1-2 m/s the first future snapshot is
    # closer to the last history snapshot than to the first one.
    h, f = wide["h_hist"], wide["h_future"]
    assert (f[:, :, 0] - h[:, :, -1]).abs().square().sum() < (
        f[:, :, 0] - h[:, :, 0]
    ).abs().square().sum()


def test_conditions_units_and_normalization() -> None:
    block = _block(dataclasses.replace(BASE, num_ul_subcarriers=24, speed_mps=(1.0, 30.0)))
    assert block["h_hist"].dtype == torch.complex64 and block["h_hist"].shape == (4, 2, 16, 24)
    speed = block["speed_mps"]
    assert bool(((speed >= 1.0) & (speed <= 30.0)).all())
    assert torch.allclose(block["doppler_hz"], speed * 2.4e9 / SPEED_OF_LIGHT, rtol=1e-5)
    assert set(block["channel_model_id"].tolist()) <= {0, 2, 3}  # CDL-A, C, D
    energy = torch.cat([block["h_hist"], block["h_future"]], dim=2).abs().square().mean()
    assert 0.5 < float(energy) < 1.5  # unit mean energy per RE, per sample on average


def test_paper_preset_builds_at_full_size() -> None:
    config = CSISeriesConfig(preset="paper", duplex="fdd", block_size=1)
    assert config.num_bs_ant == 32 and config.stored_spacing_hz == 30e3
    block = _block(config, num=1)
    assert block["h_hist"].shape == (1, 32, 16, 300)
    assert block["h_future"].shape == (1, 32, 4, 300)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["num_history=0"], "num_history=0 is not allowed"),
        (["num_horizon=0"], "num_horizon=0 is not allowed"),
        (["duplex=fdd", "num_gap_subcarriers=-10"], "DL band overlap the UL band"),
        (["channel_models=('cdl-f',)"], "channel_models"),
    ],
)
def test_bad_configs_are_one_line_errors(tmp_path, overrides: list[str], message: str) -> None:
    args = ["simulate", "csi-series", "-n", "4", "-o", str(tmp_path / "x.h5")]
    for item in overrides:
        args += ["--set", item]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("wirelessml: error: ") and message in lines[0]
    assert not (tmp_path / "x.h5").exists()


def test_a_block_depends_only_on_config_seed_and_index() -> None:
    """What makes --resume exact: block 1 is the same whether or not block 0 came first."""
    from wirelessml.simulators.csi_series import CSISeriesSimulator

    sim = CSISeriesSimulator(BASE)
    first = sim.generate_block(seed=9, block_index=1, num=4)
    sim.generate_block(seed=9, block_index=0, num=4)
    again = sim.generate_block(seed=9, block_index=1, num=4)
    assert torch.equal(first["h_hist"], again["h_hist"])
    assert torch.equal(first["speed_mps"], again["speed_mps"])
    other = sim.generate_block(seed=10, block_index=1, num=4)
    assert not torch.equal(first["h_hist"], other["h_hist"])
