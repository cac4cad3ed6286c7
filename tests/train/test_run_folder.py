"""A CLI training run: folder contents and formats, load_run round trip and its refusals,
the time budget and an in-process resume."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import safetensors.torch
import torch
from click.testing import CliRunner
from train_helpers import TINY_MODEL, TINY_SET

from wirelessml.cli.main import cli
from wirelessml.datasets import H5Dataset
from wirelessml.train import RunError, TrainConfig, load_run, read_history, save_model, train


def _cli_run(make_data, tmp_path: Path, *extra: str) -> tuple[Path, Path, Path, str]:
    pytest.importorskip("wirelessml.models.adafortitran")
    train_path, val_path = make_data("a.h5", 96, seed=1), make_data("b.h5", 40, seed=2)
    out = tmp_path / "runs" / "x"
    args = ["train", "channel-estimation", "-m", "adafortitran", "--train", str(train_path),
            "--val", str(val_path), "-o", str(out), "--epochs", "2", "--batch-size", "16",
            *TINY_SET, *extra]  # fmt: skip
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output + result.stderr
    return out, train_path, val_path, result.stdout


@pytest.fixture
def cli_run(make_data, tmp_path: Path) -> tuple[Path, Path, Path, str]:
    return _cli_run(make_data, tmp_path)


def test_folder_contents(cli_run) -> None:
    out, train_path, val_path, stdout = cli_run
    assert sorted(p.name for p in out.iterdir()) == [
        "checkpoint", "history.jsonl", "model.safetensors", "run.json", "val_report.json"]  # fmt: skip
    assert sorted(p.name for p in (out / "checkpoint").iterdir()) == [
        "state.json",
        "state.safetensors",
    ]
    meta = json.loads((out / "run.json").read_text())
    assert (meta["format"], meta["task"], meta["model"], meta["status"]) == (
        "wirelessml-run", "channel-estimation", "adafortitran", "finished")  # fmt: skip
    assert meta["model_config"]["_type"] == "adafortitran"
    assert meta["model_config"]["_data"]["d_model"] == TINY_MODEL["d_model"]
    # the CLI fitted the prior normalization to the training file
    assert meta["model_config"]["_data"]["prior_mean"][0] == pytest.approx(
        float(
            H5Dataset(train_path, fields=["snr_db"]).read_batch(range(96))["snr_db"].double().mean()
        )
    )
    assert meta["train_config"]["_data"]["epochs"] == 2
    assert meta["datasets"]["train"]["path"] == str(train_path.resolve())
    # the dataset config travels with the run (linksim rebuilds the resource grid from it)
    assert meta["datasets"]["train"]["config"]["_type"] == "ofdm"
    assert set(meta["datasets"]["val"]) == {
        "path",
        "simulator",
        "seed",
        "num_samples",
        "config_sha256",
        "config",
    }
    assert meta["epochs_done"] == 2 and meta["steps"] == 2 * 6 and meta["samples_seen"] == 2 * 96
    assert meta["best_epoch"] in (1, 2) and meta["samples_per_s"] > 0 and meta["train_time_s"] > 0
    assert {"torch", "safetensors", "wirelessml"} <= set(meta["versions"])
    history = read_history(out)
    assert [r["epoch"] for r in history] == [1, 2]
    assert {"train_loss", "val_loss", "val_nmse_db", "val_mse_db", "lr", "seconds",
            "samples_per_s"} <= set(history[0])  # fmt: skip
    assert meta["best_val_loss"] == min(r["val_loss"] for r in history)
    report = json.loads((out / "val_report.json").read_text())
    assert report["epoch"] == meta["best_epoch"] and report["num_samples"] == 40
    assert report["overall"] == meta["best_val"]
    assert {row["count"] for row in report["by"]["snr_db"]} and "definitions" in report
    weights = safetensors.torch.load_file(out / "model.safetensors")
    assert "pos_embedding" in weights and weights["pos_embedding"].dtype == torch.float32
    assert "best epoch" in stdout and "samples/s" in stdout and str(out) in stdout


def test_load_run_reproduces_the_reported_metrics(cli_run) -> None:
    out, _, val_path, _ = cli_run
    task, model, meta = load_run(out)
    assert not model.training and type(model).__name__ == "AdaFortiTran"
    batch = H5Dataset(val_path, fields=task.fields).read_batch(range(40))
    with torch.no_grad():
        pred = model(**task.model_inputs(batch))
        again = load_run(out)[1](**task.model_inputs(batch))
    assert torch.equal(pred, again)
    summary = task.summarize(task.per_sample(pred, task.target(batch)))
    assert summary == pytest.approx(meta["best_val"], abs=1e-4)


def test_load_run_refusals(cli_run, tmp_path: Path) -> None:
    out = cli_run[0]
    with pytest.raises(RunError, match="no such run folder"):
        load_run(tmp_path / "nope")
    (tmp_path / "foreign").mkdir()
    with pytest.raises(RunError, match="not a wirelessml run folder"):
        load_run(tmp_path / "foreign")
    from wirelessml.models import AdaFortiTran, AdaFortiTranConfig

    save_model(out, AdaFortiTran(AdaFortiTranConfig.cpu(**{**TINY_MODEL, "d_model": 12})))
    with pytest.raises(RunError) as info:
        load_run(out)
    message = str(info.value)
    assert "checkpoint of another model" in message and "'adafortitran'" in message
    assert "'pos_embedding'" in message and "\n" not in message


def test_existing_folder_needs_resume(cli_run, tiny_config) -> None:
    out, train_path, val_path, _ = cli_run
    with pytest.raises(RunError, match="already holds a run; continue it with --resume"):
        train(task="channel-estimation", model_name="adafortitran", model_config=tiny_config,
              train_path=train_path, val_path=val_path, out=out)  # fmt: skip


def test_time_budget_then_resume(make_data, tmp_path: Path, tiny_config) -> None:
    kwargs = {"task": "channel-estimation", "model_name": "adafortitran", "model_config": tiny_config,
              "train_path": make_data("a.h5", 64, seed=1), "val_path": make_data("b.h5", 16, seed=2),
              "out": tmp_path / "run"}  # fmt: skip
    budget = TrainConfig(epochs=2, batch_size=8, max_time_s=1e-6)
    meta = train(**kwargs, config=budget)
    assert meta["status"] == "time-budget" and meta["steps"] == 1 and meta["epochs_done"] == 0
    assert (tmp_path / "run" / "model.safetensors").exists()  # validated and kept after 1 step
    assert read_history(tmp_path / "run") == []
    epochs: list[int] = []
    meta = train(**kwargs, config=TrainConfig(epochs=2, batch_size=8), resume=True,
                 on_epoch=lambda record: epochs.append(record["epoch"]))  # fmt: skip
    assert meta["status"] == "finished" and meta["steps"] == 16 and epochs == [1, 2]
    assert [s["first_step"] for s in meta["sessions"]] == [1, 2]
    assert [s["status"] for s in meta["sessions"]] == ["time-budget", "finished"]
    again = train(**kwargs, config=TrainConfig(epochs=2, batch_size=8), resume=True)
    assert again["steps"] == 16 and len(again["sessions"]) == 2  # a finished run stays finished


def test_cosine_budget_anneals_before_the_clock_stops(make_data, tmp_path: Path,
                                                     tiny_config) -> None:  # fmt: skip
    """200 planned epochs, a 4 s budget: plain cosine would stop near its peak rate."""
    lrs: list[float] = []
    meta = train(task="channel-estimation", model_name="adafortitran", model_config=tiny_config,
                 train_path=make_data("a.h5", 16, seed=1), val_path=make_data("b.h5", 8, seed=2),
                 out=tmp_path / "run", config=TrainConfig(epochs=200, batch_size=8, lr=1e-3,
                 lr_schedule="cosine-budget", max_time_s=4.0, patience=None),
                 on_epoch=lambda record: lrs.append(record["lr"]))  # fmt: skip
    assert meta["status"] == "time-budget" and meta["epochs_done"] < 200
    assert lrs == sorted(lrs, reverse=True) and lrs[0] > 1e-4 and lrs[-1] < 2e-4


def test_early_stopping(make_data, tmp_path: Path, tiny_config) -> None:
    meta = train(task="channel-estimation", model_name="adafortitran", model_config=tiny_config,
                 train_path=make_data("a.h5", 16, seed=1), val_path=make_data("b.h5", 8, seed=2),
                 out=tmp_path / "run", config=TrainConfig(epochs=30, batch_size=16, lr=1e-9,
                 lr_schedule="constant", patience=1))  # fmt: skip
    history = read_history(tmp_path / "run")
    assert meta["status"] == "stopped-early" and len(history) < 30
    assert not history[-1]["best"]
