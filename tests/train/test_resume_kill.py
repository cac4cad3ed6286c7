"""``kill -9`` mid-epoch, then ``--resume``: continues from the last checkpoint's step and
ends with exactly the weights of an uninterrupted run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import safetensors.torch
import torch
from click.testing import CliRunner
from train_helpers import TINY_SET

from wirelessml.cli.main import cli
from wirelessml.train import read_history, read_run_meta
from wirelessml.train.checkpoint import read_counters

pytest.importorskip("wirelessml.models.adafortitran")


def _args(train: Path, val: Path, out: Path) -> list[str]:
    # 64 steps per epoch, a checkpoint every 5: the first one is well inside epoch 1.
    return ["train", "channel-estimation", "-m", "fortitran", "--train", str(train), "--val",
            str(val), "-o", str(out), "--epochs", "2", "--batch-size", "8", "-q",
            "--train-set", "checkpoint_every_steps=5", *TINY_SET]  # fmt: skip


def _wait_for_checkpoint(proc: subprocess.Popen, state: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"training ended before it could be killed: {proc.stderr.read()}")
        try:
            if json.loads(state.read_text())["step"] > 0:
                return
        except (OSError, ValueError):
            pass
        time.sleep(0.02)
    pytest.fail("no checkpoint appeared")


def test_kill_then_resume(make_data, tmp_path: Path) -> None:
    train, val = make_data("a.h5", 512, seed=1), make_data("b.h5", 16, seed=2)
    out = tmp_path / "killed"
    # One thread, like the in-process runs below (see conftest), so the sums are the same.
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "wirelessml", *_args(train, val, out)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        _wait_for_checkpoint(proc, out / "checkpoint" / "state.json")
    finally:
        proc.kill()  # SIGKILL: no cleanup runs
        proc.wait()
    checkpoint = read_counters(out)  # the authoritative copy, in state.safetensors
    assert checkpoint["status"] == "running" and checkpoint["epoch"] == 0
    assert 0 < checkpoint["batch_in_epoch"] < 64 and checkpoint["step"] % 5 == 0
    assert read_run_meta(out)["status"] == "running"

    result = CliRunner().invoke(cli, [*_args(train, val, out), "--resume"])
    assert result.exit_code == 0, result.stderr
    meta = read_run_meta(out)
    assert meta["status"] == "finished" and meta["steps"] == 128 and meta["epochs_done"] == 2
    assert [s["first_step"] for s in meta["sessions"]] == [1, checkpoint["step"] + 1]
    assert [r["epoch"] for r in read_history(out)] == [1, 2]

    reference = tmp_path / "uninterrupted"
    assert CliRunner().invoke(cli, _args(train, val, reference)).exit_code == 0
    for name in ("model.safetensors", "checkpoint/state.safetensors"):
        ours = safetensors.torch.load_file(out / name)
        theirs = safetensors.torch.load_file(reference / name)
        ours.pop("rng.torch", None), theirs.pop("rng.torch", None)
        assert ours.keys() == theirs.keys()
        for key in ours:
            assert torch.equal(ours[key], theirs[key]), (name, key)
    assert [r["val_loss"] for r in read_history(out)] == [
        r["val_loss"] for r in read_history(reference)
    ]
