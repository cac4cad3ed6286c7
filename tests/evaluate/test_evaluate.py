"""``wirelessml evaluate``: a trained run and the baselines on one grid-mode test file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import wirelessml
from wirelessml.cli.main import cli
from wirelessml.simulators import OFDMConfig

pytest.importorskip("sionna.phy")
pytestmark = pytest.mark.sionna

TINY = ["--set=d_model=8", "--set=num_layers=1", "--set=num_heads=2",
        "--set=dim_feedforward=16", "--set=enhancer_channels=(4,)", "--set=prior_hidden=(4,)"]  # fmt: skip
GRID = OFDMConfig(mode="grid", snr_db_grid=(0.0, 20.0), delay_spread_ns_grid=(100.0,),
                  doppler_hz_grid=(100.0, 900.0), block_size=64)  # fmt: skip


@pytest.fixture(scope="module")
def run_and_data(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    d = tmp_path_factory.mktemp("eval")
    train = wirelessml.simulate("ofdm", OFDMConfig(block_size=64), num_samples=128,
                                out=d / "train.h5", seed=1)  # fmt: skip
    test = wirelessml.simulate("ofdm", GRID, num_samples=64, out=d / "test.h5", seed=2)
    result = CliRunner().invoke(cli, [
        "train", "channel-estimation", "-m", "adafortitran", "--train", str(train), "--val",
        str(test), "-o", str(d / "run"), "--epochs", "1", "-q", *TINY])  # fmt: skip
    assert result.exit_code == 0, result.stderr
    return d / "run", test, d


def test_evaluate_writes_table_reports_and_plots(run_and_data: tuple[Path, Path, Path]) -> None:
    run, test, d = run_and_data
    result = CliRunner().invoke(cli, ["evaluate", str(run), "--data", str(test),
                                      "--out", str(d / "report")])  # fmt: skip
    assert result.exit_code == 0, result.stderr
    for label in ("adafortitran (run)", "ls", "lmmse-genie", "lmmse-robust", "ms/frame"):
        assert label in result.stdout
    report = json.loads((d / "report" / "report.json").read_text())
    est = report["estimators"]
    assert set(est) == {"adafortitran (run)", "ls", "lmmse-genie", "lmmse-robust"}
    by_snr = {g["value"]: g["nmse_db"] for g in est["lmmse-genie"]["report"]["by"]["snr_db"]}
    assert set(by_snr) == {0.0, 20.0} and by_snr[20.0] < by_snr[0.0]
    # Genie LMMSE knows the true statistics: never worse than LS overall.
    assert est["lmmse-genie"]["report"]["overall"]["nmse_db"] < est["ls"]["report"]["overall"]["nmse_db"]
    assert all(e["ms_per_frame"] > 0 for e in est.values())
    assert "10*log10(mean over samples" in report["metric_definitions"]["nmse_db"]
    for name in ("report.md", "nmse_vs_snr_db.png", "nmse_vs_doppler_hz.png"):
        assert (d / "report" / name).stat().st_size > 0
    assert "| ls |" in (d / "report" / "report.md").read_text()
    # Grid data: one cell per (SNR, Doppler, delay spread), 16 samples each (64 / 4 combos).
    cells = est["ls"]["report"]["cells"]
    assert [(c["snr_db"], c["doppler_hz"], c["count"]) for c in cells] == [
        (0.0, 100.0, 16), (0.0, 900.0, 16), (20.0, 100.0, 16), (20.0, 900.0, 16)]  # fmt: skip
    # Gaps to genie LMMSE: the worst grid point is the max of the per-cell differences.
    genie = [c["nmse_db"] for c in est["lmmse-genie"]["report"]["cells"]]
    worst = max(c["nmse_db"] - g for c, g in zip(cells, genie, strict=True))
    assert report["reference"] == "lmmse-genie"
    assert report["gaps"]["ls"]["max_cell_gap_db"] == pytest.approx(worst)
    assert "lmmse-genie" not in report["gaps"]
    assert "Gap to lmmse-genie" in result.stdout
    assert "## NMSE [dB] per grid point" in (d / "report" / "report.md").read_text()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--baselines", "ls,kalman"], "unknown baseline 'kalman'"),
        (["--batch-size", "0"], "batch_size=0"),
        (["--test-time-average"], "test_time_average=True is not allowed for task"),
    ],
)
def test_evaluate_bad_inputs(run_and_data: tuple[Path, Path, Path], extra: list[str],
                             message: str) -> None:  # fmt: skip
    run, test, d = run_and_data
    result = CliRunner().invoke(cli, ["evaluate", str(run), "--data", str(test),
                                      "--out", str(d / "bad"), *extra])  # fmt: skip
    assert result.exit_code == 2 and message in result.stderr
    assert result.stderr.count("\n") == 1 and not (d / "bad").exists()
