"""Every bad input to ``wirelessml train``: one line on stderr, exit code 2, no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from train_helpers import TINY_SET

from wirelessml.cli.main import cli

pytest.importorskip("wirelessml.models.adafortitran")


def _train(
    train: Path, val: Path, out: Path, *extra: str, model: str = "adafortitran"
) -> tuple[int, str]:
    args = ["train", "channel-estimation", "-m", model, "--train", str(train), "--val", str(val),
            "-o", str(out), "--epochs", "1", "--batch-size", "8", *TINY_SET, *extra]  # fmt: skip
    result = CliRunner().invoke(cli, args)
    return result.exit_code, result.stderr


def _one_line(code: int, err: str, *fragments: str) -> None:
    assert code == 2, err
    assert err.startswith("wirelessml: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in err, err


def test_dataset_of_another_family(make_data, tmp_path: Path) -> None:
    other = make_data("other.h5", 8, simulator="other")
    code, err = _train(other, make_data("b.h5", 8), tmp_path / "run")
    _one_line(code, err, f"{other} holds 'other' data; this needs 'ofdm' data")
    assert not (tmp_path / "run").exists()


def test_dataset_missing_a_field(make_data, tmp_path: Path) -> None:
    val = make_data("b.h5", 8, drop="h_ls")
    code, err = _train(make_data("a.h5", 8), val, tmp_path / "run")
    _one_line(code, err, f"{val} has no field 'h_ls'")


def test_missing_dataset(make_data, tmp_path: Path) -> None:
    code, err = _train(tmp_path / "nope.h5", make_data("b.h5", 8), tmp_path / "run")
    _one_line(code, err, "no such file", "nope.h5")


def test_nan_in_the_data(make_data, tmp_path: Path) -> None:
    train = make_data("a.h5", 16, nan_at=("h", 5))
    code, err = _train(train, make_data("b.h5", 8), tmp_path / "run")
    _one_line(code, err, f"NaN/Inf in field 'h' of {train} (sample 5)")


def test_resume_onto_another_model(make_data, tmp_path: Path) -> None:
    train, val, out = make_data("a.h5", 16), make_data("b.h5", 8), tmp_path / "run"
    assert _train(train, val, out)[0] == 0
    code, err = _train(train, val, out, "--resume", model="fortitran")
    _one_line(code, err, f"cannot resume {out}: run.model differs: the run has 'adafortitran', "
              "this request has 'fortitran'")  # fmt: skip
    code, err = _train(train, val, out, "--resume", "--set=d_model=16")
    _one_line(
        code, err, "run.model_config._data.d_model differs: the run has 8, this request has 16"
    )
    code, err = _train(train, val, out)
    _one_line(code, err, f"{out} already holds a run; continue it with --resume")


def test_resume_of_nothing(make_data, tmp_path: Path) -> None:
    code, err = _train(make_data("a.h5", 8), make_data("b.h5", 8), tmp_path / "run", "--resume")
    _one_line(code, err, "nothing to resume", "drop --resume")


def test_model_that_does_not_fit_the_data(make_data, tmp_path: Path) -> None:
    code, err = _train(make_data("a.h5", 8), make_data("b.h5", 8), tmp_path / "run",
                       "--set=num_pilots_per_symbol=4")  # fmt: skip
    _one_line(code, err, "model 'adafortitran' does not fit the data of", "--set")


@pytest.mark.parametrize(
    ("extra", "model", "message"),
    [
        ((), "nosuch", "'nosuch' is not one of"),
        (("--set=d_model=7",), "adafortitran", "AdaFortiTranConfig.num_heads=2 is not allowed"),
        (("--set=width=3",), "adafortitran", "has no such field"),
        (("--max-time", "soon"), "adafortitran", "--max-time 'soon' is not a duration"),
        (("--train-set", "lr_schedule=step"), "adafortitran", "TrainConfig.lr_schedule='step'"),
        (("--size", "huge"), "adafortitran", "'huge' is not one of 'cpu', 'paper'"),
        (("--device", "abacus"), "adafortitran", "device 'abacus' is not a torch device"),
    ],
)
def test_bad_flags(
    tmp_path: Path, make_data, extra: tuple[str, ...], model: str, message: str
) -> None:
    code, err = _train(make_data("a.h5", 8), make_data("b.h5", 8), tmp_path / "run", *extra,
                       model=model)  # fmt: skip
    _one_line(code, err, message)
    assert not (tmp_path / "run").exists()


def test_help_teaches() -> None:
    result = CliRunner().invoke(cli, ["train", "--help"])
    assert result.exit_code == 0
    for text in ("Examples:", "--resume", "--max-time", "channel-estimation", "adafortitran",
                 "checkpoint_every_steps=200"):  # fmt: skip
        assert text in result.output


def test_resume_of_a_run_older_than_a_train_config_field(make_data, tmp_path: Path) -> None:
    """A run.json without a field added to TrainConfig later holds that field's default."""
    import json

    train, val, out = make_data("a.h5", 16), make_data("b.h5", 8), tmp_path / "run"
    assert _train(train, val, out)[0] == 0
    meta = json.loads((out / "run.json").read_text())
    del meta["train_config"]["_data"]["augment"]
    (out / "run.json").write_text(json.dumps(meta))
    assert _train(train, val, out, "--resume")[0] == 0
    code, err = _train(train, val, out, "--resume", "--train-set", "augment=True")
    _one_line(code, err, "task 'channel-estimation' has no augmentation; allowed: augment=False")
