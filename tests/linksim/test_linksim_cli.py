"""``wirelessml linksim``: one-line errors (exit 2), a tiny run's JSON/MD/PNG, fair
comparison (perfect CSI <= LS on the same draws), early stop, resume; Eb/N0 parsing and
BLER-crossing interpolation."""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

pytest.importorskip("sionna")

from wirelessml.cli.linksim import parse_ebno_range  # noqa: E402
from wirelessml.cli.main import cli  # noqa: E402
from wirelessml.errors import ConfigError  # noqa: E402
from wirelessml.linksim.report import ebno_at_bler  # noqa: E402


def _run(*args: str):
    return CliRunner().invoke(cli, ["linksim", *args])


def _fails(result, *needles: str) -> None:
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("wirelessml: error: "), result.stderr
    assert "Traceback" not in result.output
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.mark.parametrize(("args", "needles"), [
    (["--ebno-db", "5:1"], ["--ebno-db '5:1' does not parse", "START:STEP:STOP"]),
    (["--ebno-db", "10:1:0"], ["does not parse"]),
    (["--ebno-db", "0:0:5"], ["does not parse"]),
    (["--ebno-db", "a,b"], ["does not parse"]),
    (["--modulation", "8psk"], ["'8psk' is not one of", "16qam"]),
    (["--channel", "rayleigh"], ["'rayleigh' is not one of", "tdl-a"]),
    (["--rate", "1.5"], ["rate=1.5", "(0, 1)"]),
    (["--rate", "0.05"], ["5G LDPC does not support"]),
    (["--doppler-hz", "-3"], ["doppler_hz=-3.0"]),
    (["--max-blocks", "0"], ["max_blocks=0"]),
    (["--baselines", "mmse"], ["unknown 'mmse'"]),
    (["--baselines", "none"], ["nothing to simulate"]),
    (["--estimator", "no/such/run"], ["no such run folder"]),
])  # fmt: skip
def test_bad_inputs_one_line(args, needles, tmp_path) -> None:
    _fails(_run(*args, "--out", str(tmp_path / "o")), *needles)


def test_estimator_on_another_grid(tiny_run, tmp_path) -> None:
    other = tmp_path / "other"
    shutil.copytree(tiny_run, other)
    meta = json.loads((other / "run.json").read_text())
    meta["datasets"]["train"]["config"]["_data"]["pilot_offset"] = 1
    (other / "run.json").write_text(json.dumps(meta))
    result = _run("--estimator", str(tiny_run), "--estimator", str(other), "--out",
                  str(tmp_path / "o"))  # fmt: skip
    _fails(result, str(other), "trained on another resource grid", "pilot subcarriers")


def test_tiny_run_writes_results_and_resumes(tiny_run, tmp_path) -> None:
    out = tmp_path / "ls"
    args = ["--estimator", str(tiny_run), "--modulation", "qpsk", "--ebno-db", "-2:4:10",
            "--doppler-hz", "50", "--delay-spread-ns", "50", "--target-block-errors", "20",
            "--max-blocks", "60", "--batch-size", "30", "--out", str(out)]  # fmt: skip
    result = _run(*args)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["results.json", "results.md", "results.png"]
    res = json.loads((out / "results.json").read_text())
    assert [s["name"] for s in res["systems"]] == ["perfect CSI", "LS", "LMMSE genie", "run"]
    assert res["config"]["ebno_db"] == [-2.0, 2.0, 6.0, 10.0]
    assert res["code"] == {"n": 648, "k": 324, "decoder": res["code"]["decoder"]}
    assert {"ber", "bler", "ebno_db", "no", "stopping"} <= set(res["definitions"])
    assert "sionna" in res["versions"]
    pts = res["points"]
    for p in pts:
        for c in p["systems"].values():
            assert c["bits"] == c["blocks"] * 324 and c["blocks"] <= 60
            assert c["block_errors"] >= 20 or c["blocks"] == 60  # the stopping rule
    # same draws for every system: perfect CSI never loses to LS where both ran
    for p in pts:
        s = p["systems"]
        if {"LS", "perfect CSI"} <= set(s) and s["LS"]["blocks"] == s["perfect CSI"]["blocks"]:
            assert s["perfect CSI"]["block_errors"] <= s["LS"]["block_errors"]
    perfect = [p["systems"]["perfect CSI"]["bler"] for p in pts if "perfect CSI" in p["systems"]]
    assert perfect[0] > 0.5 and perfect == sorted(perfect, reverse=True)
    # a system with no block error is not simulated further
    for name in ("perfect CSI", "LS", "LMMSE genie", "run"):
        seen = [p["systems"].get(name) for p in pts]
        zero = [i for i, c in enumerate(seen) if c is not None and c["block_errors"] == 0]
        if zero:
            assert all(c is None for c in seen[zero[0] + 1 :])
    md = (out / "results.md").read_text()
    assert "| perfect CSI |" in md and "Eb/N0 at BLER 0.1" in md
    assert (out / "results.png").read_bytes()[:4] == b"\x89PNG"
    # resume: the same command keeps the finished points (same numbers, no new draws)
    again = _run(*args)
    assert again.exit_code == 0, again.output
    assert json.loads((out / "results.json").read_text())["points"] == pts
    _fails(_run(*args[:-2], "--seed", "5", "--out", str(out)), "another config")


def test_parse_ebno_range() -> None:
    assert parse_ebno_range("-5:1:-2") == (-5.0, -4.0, -3.0, -2.0)
    assert parse_ebno_range("0:0.5:1.2") == (0.0, 0.5, 1.0)
    assert parse_ebno_range("1,3,7") == (1.0, 3.0, 7.0)
    with pytest.raises(ConfigError, match="does not parse"):
        parse_ebno_range("3,1")


def test_ebno_at_bler_log_interpolation() -> None:
    def point(e: float, bler: float, blocks: int = 1000) -> dict:
        return {"ebno_db": e, "systems": {"a": {"bler": bler, "blocks": blocks}}}

    res = {"points": [point(0, 1.0), point(1, 0.5), point(2, 0.01), point(3, 0.0)]}
    # log10(0.1) is at (log 0.5 - log 0.1) / (log 0.5 - log 0.01) of the way from 1 to 2 dB
    assert ebno_at_bler(res, "a") == pytest.approx(1 + 0.69897 / 1.69897, abs=1e-4)
    assert ebno_at_bler(res, "a", target=0.005) == pytest.approx(
        2 + (2 - 2.30103) / (2 - 3.30103) * 1, abs=1e-4
    )
    assert ebno_at_bler({"points": [point(0, 0.5), point(1, 0.3)]}, "a") is None
