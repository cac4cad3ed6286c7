"""Simulate into files: info, plain-h5py readability, seeds, overwrite/resume rules, kill -9."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

import wirelessml
from wirelessml.cli.main import cli
from wirelessml.datasets import read_arrays, read_info
from wirelessml.simulators import OFDMConfig

pytest.importorskip("sionna.phy")
pytestmark = pytest.mark.sionna

SMALL = ["--set", "block_size=32"]


def _sim(out: Path, *extra: str, n: int = 96, seed: int = 1) -> tuple[int, str, str]:
    result = CliRunner().invoke(
        cli, ["simulate", "ofdm", "-n", str(n), "-o", str(out), "--seed", str(seed), "-q",
              *SMALL, *extra])  # fmt: skip
    return result.exit_code, result.stdout, result.stderr


def _arrays(path: Path) -> dict[str, np.ndarray]:
    with h5py.File(path, "r") as f:  # plain h5py, no wirelessml
        return {name: f[name][()] for name in f}


def _committed(partial: Path) -> int:
    """num_committed of a file another process is writing (0 while unreadable)."""
    try:
        with h5py.File(partial, "r", locking=False) as f:
            return int(f.attrs.get("num_committed", 0))
    except (OSError, KeyError):
        return 0


def test_simulate_then_info_shows_fields_units_config(tmp_path: Path) -> None:
    out = tmp_path / "a.h5"
    code, stdout, err = _sim(out)
    assert code == 0, err
    result = CliRunner().invoke(cli, ["info", str(out)])
    assert result.exit_code == 0
    text = result.stdout
    assert "complete" in text and "96 of 96" in text
    dtypes = {"complex64", "float32", "S8"}
    rows = {w[0]: w for w in map(str.split, text.splitlines()) if len(w) > 2 and w[1] in dtypes}
    assert rows["h"][:3] == ["h", "complex64", "(96,"] and "[sample," in rows["h"]
    units = {"snr_db": "dB", "doppler_hz": "Hz", "delay_spread_ns": "ns", "speed_mps": "m/s"}
    for name, unit in units.items():
        assert unit in rows[name], name
    for line in ["[sample, rx_ant, ofdm_symbol, subcarrier]", 'channel_model = "tdl-a"',
                 "snr_definition: snr_db = -10*log10(no)", "pilot_subcarriers: [0, 10, 20"]:  # fmt: skip
        assert line in text, line
    # Plain h5py reads every field; complex is native, the config and units are attributes.
    arrays = _arrays(out)
    assert arrays["h"].dtype == np.complex64 and arrays["h"].shape == (96, 1, 14, 120)
    with h5py.File(out, "r") as f:
        assert f.attrs["format"] == "wirelessml-dataset" and f["snr_db"].attrs["unit"] == "dB"


def test_same_seed_same_arrays_other_seed_differs(tmp_path: Path) -> None:
    for name, seed in [("a", 1), ("b", 1), ("c", 2)]:
        assert _sim(tmp_path / f"{name}.h5", seed=seed)[0] == 0
    a, b, c = (_arrays(tmp_path / f"{n}.h5") for n in "abc")
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["h"], c["h"])


def test_existing_output_needs_resume_or_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "a.h5"
    assert _sim(out)[0] == 0
    before = out.stat().st_mtime_ns
    code, _, err = _sim(out)
    assert code == 2 and "--resume" in err and "--overwrite" in err
    assert out.stat().st_mtime_ns == before
    code, _, err = _sim(out, "--set", "snr_db=(0, 20)", "--resume")
    assert code == 2 and "snr_db" in err and err.count("\n") == 1, err
    assert _sim(out, "--overwrite", seed=2)[0] == 0
    assert read_info(out).seed == 2
    assert _sim(out, "--resume", seed=2)[0] == 0  # already complete: nothing to do


def test_kill_9_then_resume_equals_uninterrupted(tmp_path: Path) -> None:
    n, seed = 3072, 4
    out = tmp_path / "killed.h5"
    partial = Path(str(out) + ".partial")
    args = [sys.executable, "-m", "wirelessml", "simulate", "ofdm", "-n", str(n), "-o", str(out),
            "--seed", str(seed), "-q", *SMALL]  # fmt: skip
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while _committed(partial) < 320:  # ten blocks on disk, then kill mid-run
        assert proc.poll() is None, "the simulation ended before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not out.exists()
    info = read_info(partial)
    assert not info.complete and 0 < info.num_committed < n
    code, _, err = _sim(out, "--resume", n=n, seed=seed)
    assert code == 0, err
    ref = wirelessml.simulate("ofdm", OFDMConfig(block_size=32), num_samples=n,
                              out=tmp_path / "ref.h5", seed=seed)  # fmt: skip
    got, want = _arrays(out), _arrays(ref)
    assert got.keys() == want.keys()
    for name in want:
        assert np.array_equal(got[name], want[name]), name
    assert read_info(out).complete and not partial.exists()
    assert read_arrays(out, ["snr_db"])["snr_db"].shape == (n,)
