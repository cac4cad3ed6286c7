"""The precoding task end to end: simulate -> wirelessml train -> evaluate, and its errors."""

from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner

from wirelessml.cli.main import cli
from wirelessml.evaluate import evaluate
from wirelessml.registry import get_task
from wirelessml.tasks.precoding_baselines import rzf, sum_rate, user_rates

pytestmark = pytest.mark.sionna


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("prec")
    small = ["--set", "num_users=(2, 3)", "--set", "num_antennas=(3, 4)", "--set", "block_size=64"]
    for name, n, seed in (("train", 256, 1), ("val", 64, 2)):
        CliRunner().invoke(
            cli,
            [
                "simulate",
                "mimo",
                "-n",
                str(n),
                "-o",
                str(folder / f"{name}.h5"),
                "--seed",
                str(seed),
                "-q",
                *small,
            ],
        )
    CliRunner().invoke(
        cli,
        [
            "simulate",
            "mimo",
            "-n",
            "16",
            "-o",
            str(folder / "big.h5"),
            "-q",
            "--set",
            "num_users=(5, 5)",
            "--set",
            "num_antennas=(6, 6)",
        ],
    )
    return folder


def test_train_and_evaluate_through_the_loop(files) -> None:
    out = files / "run"
    result = CliRunner().invoke(cli, [
        "train", "precoding", "-m", "icgnn", "--train", str(files / "train.h5"), "--val",
        str(files / "val.h5"), "-o", str(out), "--epochs", "2", "--batch-size", "64",
        "--set", "hidden=8", "--set", "num_layers=1", "-q"])  # fmt: skip
    assert result.exit_code == 0, result.output
    meta = json.loads((out / "run.json").read_text())
    assert meta["task"] == "precoding" and meta["status"] == "finished"
    assert meta["best_val"]["sum_se"] > 1.0
    report = evaluate([out], files / "val.h5", baselines=["rzf", "wmmse"], batch_size=32)
    est = report["estimators"]
    assert set(est) == {"icgnn (run)", "rzf", "wmmse"}
    assert est["wmmse"]["report"]["overall"]["sum_se"] >= est["rzf"]["report"]["overall"]["sum_se"]
    assert [g["value"] for g in est["wmmse"]["report"]["by"]["num_users"]] == [2.0, 3.0]
    assert all(e["ms_per_frame"] > 0 for e in est.values())
    cli_out = CliRunner().invoke(cli, ["evaluate", str(out), "--data", str(files / "val.h5"),
                                       "--baselines", "rzf", "--out", str(files / "ev")])  # fmt: skip
    assert cli_out.exit_code == 0, cli_out.output
    assert "sum SE [bit/s/Hz] by users K" in cli_out.output
    assert (files / "ev" / "sum_se_vs_snr_db.png").stat().st_size > 1000


def test_dataset_beyond_max_users_is_a_one_line_cli_error(files) -> None:
    result = CliRunner().invoke(cli, [
        "train", "precoding", "-m", "icgnn", "--train", str(files / "big.h5"), "--val",
        str(files / "big.h5"), "-o", str(files / "bad"), "--set", "max_users=4", "-q"])  # fmt: skip
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "up to 5 users but the model's max_users=4" in lines[0]


def test_losses_are_negative_sum_rate_and_min_rate() -> None:
    g = torch.Generator().manual_seed(0)
    h = torch.randn(4, 3, 5, dtype=torch.complex64, generator=g)
    h[0, 2] = 0  # sample 0 has two users
    no = torch.full((4,), 0.1)
    um = (h.abs().sum(-1) > 0).float()
    v = rzf(h, no, user_mask=um, antenna_mask=torch.ones(4, 5))
    batch = {"h": h, "no": no}
    task, maxmin = get_task("precoding"), get_task("precoding-maxmin")
    target = task.target(batch)
    assert torch.allclose(task.loss(v, target), -sum_rate(h, v, no).mean(), atol=1e-5)
    rates = user_rates(h, v, no)
    mins = torch.stack([rates[0, :2].min(), *rates[1:].amin(-1)])
    assert torch.allclose(maxmin.loss(v, target), -mins.mean(), atol=1e-5)
    assert torch.allclose(task.per_sample(v, target)["min_rate"], mins, atol=1e-5)
