"""Compressed run folders: safetensors + JSON only, load_run round trips bit-exactly, the
CLI's report, and the CLI's one-line refusals (exit code 2)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import safetensors.torch
import torch
from click.testing import CliRunner

from wirelessml.cli.main import cli
from wirelessml.efficiency import (
    Int8DynamicConfig,
    Int8StaticConfig,
    Int8WeightOnlyConfig,
    PruneConfig,
    prune_,
    quantize_,
    real_inputs,
)
from wirelessml.efficiency.measure import evaluate_metric, load_batches
from wirelessml.efficiency.runfolder import compression_meta, save_compressed_weights
from wirelessml.train import load_run
from wirelessml.train.run import write_json_atomic


def _save(model, run: Path, out: Path) -> None:
    out.mkdir()
    save_compressed_weights(model, out / "model.safetensors")
    meta = json.loads((run / "run.json").read_text())
    write_json_atomic(out / "run.json", {**meta, "compression": compression_meta(model, run)})


@pytest.mark.parametrize("mode", ["int8-weight", "int8-dynamic", "int8-static", "prune"])
def test_round_trip_is_exact(tiny_run, tmp_path, mode) -> None:
    run, _, val_path = tiny_run
    task, model, _ = load_run(run)
    batches = load_batches(val_path, task.fields, batch_size=24)
    if mode == "prune":
        prune_(model, PruneConfig(ratio=0.5))
    else:
        configs = {"int8-weight": Int8WeightOnlyConfig(), "int8-dynamic": Int8DynamicConfig(),
                   "int8-static": Int8StaticConfig()}  # fmt: skip
        calib = real_inputs(model, task, batches[:1])
        quantize_(model, configs[mode], calibration=calib)
    _save(model, run, tmp_path / "c")
    assert sorted(p.name for p in (tmp_path / "c").iterdir()) == ["model.safetensors", "run.json"]
    _, loaded, meta = load_run(tmp_path / "c")
    assert meta["compression"]["steps"][0]["pass"] == ("prune" if mode == "prune" else "quantize")
    with torch.no_grad():
        for batch in batches:
            assert torch.equal(task.predict(loaded, batch), task.predict(model, batch))
    tensors = safetensors.torch.load_file(tmp_path / "c" / "model.safetensors")
    if mode != "prune":  # int8 storage of every matrix: >= 3.5x smaller than float32
        assert tensors["upsample.weight"].dtype == torch.int8
        assert tensors["encoder.layers.0.self_attn.in_proj_weight"].dtype == torch.int8
        assert not any(k.endswith(".histogram") for k in tensors)
        size = (tmp_path / "c" / "model.safetensors").stat().st_size
        # The tiny model's biases and tensor names weigh more: AdaFortiTran.cpu() gives 4.4x.
        assert (run / "model.safetensors").stat().st_size / size > (
            1.0 if "static" in mode else 1.3
        )
    else:
        assert tensors["embed.weight"].shape == (4, loaded.config.token_dim)


def _invoke(*args: str):
    return CliRunner().invoke(cli, ["compress", *args])


def test_cli_prune_finetune_export_report(tiny_run, tmp_path) -> None:
    run, train_path, val_path = tiny_run
    out = tmp_path / "p"
    result = _invoke(str(run), "--prune", "0.5", "--finetune-epochs", "1", "--train",
                     str(train_path), "--export", "onnx", "--data", str(val_path), "--out",
                     str(out), "--latency-frames", "8", "-q")  # fmt: skip
    assert result.exit_code == 0, result.output + result.stderr
    assert {p.name for p in out.iterdir()} == {"model.safetensors", "run.json", "val_report.json",
                                               "report.json", "report.md", "model.onnx"}  # fmt: skip
    report = json.loads((out / "report.json").read_text())
    assert report["after"]["parameters"] < report["before"]["parameters"]
    assert report["ratios"]["flops_reduction"] > 0.3
    assert report["onnx"]["max_rel_error"] < 1e-4
    assert report["prune"]["finetune"]["samples"] == 128
    assert report["after"]["ms_per_frame"] > 0 and report["before"]["ms_per_frame"] > 0
    task, model, meta = load_run(out)  # what evaluate and linksim do
    again = evaluate_metric(model, task, load_batches(val_path, task.fields))
    assert again["overall"]["nmse_db"] == pytest.approx(report["after"]["metrics"]["nmse_db"],
                                                        abs=1e-9)  # fmt: skip
    val_report = json.loads((out / "val_report.json").read_text())
    assert val_report["overall"] == meta["best_val"] and "snr_db" in val_report["by"]
    assert "| NMSE (dB) |" in result.stdout


@pytest.mark.parametrize(("args", "message"), [
    (["--prune", "0"], "ratio=0.0 is not allowed"),
    (["--prune", "1.5"], "strictly between 0 and 1"),
    ([], "nothing to do"),
    (["--quantize", "int8-dynamic", "--export", "onnx"], "without --quantize"),
    (["--prune", "0.5", "--finetune-epochs", "1"], "needs training data"),
    (["--quantize", "int8-dynamic", "--calibration-samples", "0"], "calibration-samples"),
    (["--prune", "0.5", "--resume"], "no fine-tuning checkpoint to resume"),
])  # fmt: skip
def test_cli_errors_are_one_line(tiny_run, tmp_path, args, message) -> None:
    run, _, val_path = tiny_run
    result = _invoke(str(run), *args, "--data", str(val_path), "--out", str(tmp_path / "o"))
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and message in result.stderr, result.stderr
    assert not (tmp_path / "o").exists()


def test_cli_refuses_used_out_and_compressed_source(tiny_run, tmp_path) -> None:
    run, _, val_path = tiny_run
    result = _invoke(str(run), "--prune", "0.5", "--data", str(val_path), "--out", str(run))
    assert result.exit_code == 2 and "new folder" in result.stderr
    task, model, _ = load_run(run)
    prune_(copy.deepcopy(model), PruneConfig())
    prune_(model, PruneConfig())
    _save(model, run, tmp_path / "c")
    result = _invoke(str(tmp_path / "c"), "--prune", "0.5", "--data", str(val_path), "--out",
                     str(tmp_path / "d"))  # fmt: skip
    assert result.exit_code == 2 and "compressed already" in result.stderr


def test_cli_interrupted_out_needs_resume(tiny_run, tmp_path) -> None:
    run, train_path, val_path = tiny_run
    (tmp_path / "o" / "checkpoint").mkdir(parents=True)
    args = ("--prune", "0.5", "--finetune-epochs", "1", "--train", str(train_path), "--data",
            str(val_path), "--out", str(tmp_path / "o"))  # fmt: skip
    result = _invoke(str(run), *args)
    assert result.exit_code == 2 and "add --resume" in result.stderr, result.stderr
    result = _invoke(str(run), *args, "--resume", "-q")  # an empty checkpoint folder: starts over
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "o" / "checkpoint").exists()  # removed once the run folder is written
    assert (tmp_path / "o" / "report.json").exists()
