"""Every bad input: one line on stderr, exit code 2, no traceback, nothing written."""

from __future__ import annotations

from pathlib import Path

import h5py
import pytest
from click.testing import CliRunner

from wirelessml.cli.main import cli


def _run(args: list[str]) -> tuple[int, str]:
    result = CliRunner().invoke(cli, args)
    return result.exit_code, result.stderr


def _listing(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


BAD_SIMULATE = [
    (["-n", "0"], "simulate.num_samples=0 is not allowed: expected an integer >= 1"),
    (["-n", "-5"], "simulate.num_samples=-5"),
    (["-n", "abc"], "'abc' is not a valid integer"),
    (["-n", "8", "--set", "snr_db=(25, 0)"], "OFDMConfig.snr_db=(25, 0) is not allowed"),
    (["-n", "8", "--set", "channel_model=tdl-z"], "expected one of tdl-a, tdl-b"),
    (["-n", "8", "--set", "pilot_spacing=200"], "leaves at least 2 pilots on each pilot symbol"),
    (["-n", "8", "--set", "snr=3"], "has no such field"),
    (["-n", "8", "--resume", "--overwrite"], "exclude each other"),
    (["-n", "10", "--set", "mode=grid"], "a multiple of the 54 grid combinations"),
]


@pytest.mark.parametrize(("extra", "message"), BAD_SIMULATE)
def test_bad_simulate_input(tmp_path: Path, extra: list[str], message: str) -> None:
    code, err = _run(["simulate", "ofdm", "-o", str(tmp_path / "a.h5"), "-q", *extra])
    assert code == 2
    assert err.startswith("wirelessml: error: ") and err.count("\n") == 1, err
    assert message in err and "Traceback" not in err
    assert _listing(tmp_path) == set()


def test_unwritable_output(tmp_path: Path) -> None:
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    code, err = _run(["simulate", "ofdm", "-n", "8", "-q", "-o", str(blocker / "a.h5")])
    assert code == 2 and "cannot write" in err and err.count("\n") == 1, err
    assert _listing(tmp_path) == {"file.txt"}


def test_bad_config_file(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text("snr_db = [0, \n")
    code, err = _run(["simulate", "ofdm", "-n", "8", "-q", "-o", str(tmp_path / "a.h5"),
                      "--config", str(cfg)])  # fmt: skip
    assert code == 2 and "--config" in err and "not valid TOML" in err and err.count("\n") == 1


def test_info_on_foreign_files(tmp_path: Path) -> None:
    text = tmp_path / "notes.h5"
    text.write_text("not hdf5")
    code, err = _run(["info", str(text)])
    assert code == 2 and "is not an HDF5 file" in err and err.count("\n") == 1
    foreign = tmp_path / "foreign.h5"
    with h5py.File(foreign, "w") as f:
        f["x"] = [1, 2, 3]
    code, err = _run(["info", str(foreign)])
    assert code == 2 and "not a wirelessml dataset" in err and err.count("\n") == 1
    code, err = _run(["info", str(tmp_path / "missing.h5")])
    assert code == 2 and "no such file" in err
