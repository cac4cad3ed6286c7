"""The csi-prediction task end to end (simulate -> train -> evaluate protocol), models, errors."""

from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner

from wirelessml.cli.main import cli
from wirelessml.errors import ConfigError
from wirelessml.evaluate.csi_protocol import model_cost
from wirelessml.models import (
    CSI4CAST,
    CSI4CASTConfig,
    CSITransformer,
    CSITransformerConfig,
    LSTMConfig,
    RNNConfig,
    RNNPredictor,
)
from wirelessml.tasks.csi_prediction import CSIPredictionTask, nmse_terms
from wirelessml.train import TrainConfig, train

TINY = ["--set", "bs_rows=1", "--set", "bs_cols=1", "--set", "num_ul_subcarriers=12",
        "--set", "num_gap_subcarriers=6", "--set", "num_dl_subcarriers=12", "--set", "block_size=8"]  # fmt: skip
GRID = ["--set", "mode=grid", "--set", "channel_models=('cdl-a','cdl-b')",
        "--set", "delay_spread_ns_grid=(30.0, 300.0)", "--set", "speed_mps_grid=(1.0, 30.0)"]  # fmt: skip


def _simulate(path, n: int, seed: int, *extra: str) -> None:
    args = ["simulate", "csi-series", "-n", str(n), "-o", str(path), "--seed", str(seed), "-q"]
    result = CliRunner().invoke(cli, [*args, *TINY, *extra])
    assert result.exit_code == 0, result.output


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    d = tmp_path_factory.mktemp("csi")
    _simulate(d / "train.h5", 32, 1)
    _simulate(d / "val.h5", 16, 2)
    _simulate(d / "test.h5", 16, 3, *GRID)
    _simulate(d / "fdd.h5", 8, 4, "--set", "duplex=fdd")
    args = ["train", "csi-prediction", "-m", "csi4cast", "--train", str(d / "train.h5"), "--val",
            str(d / "val.h5"), "-o", str(d / "run"), "--epochs", "1", "--batch-size", "8", "-q",
            "--set", "d_model=32", "--set", "num_layers=1", "--set", "ffn_dim=32"]  # fmt: skip
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    return d


@pytest.mark.sionna
def test_train_and_evaluate_the_protocol(run) -> None:
    meta = json.loads((run / "run" / "run.json").read_text())
    assert meta["model_config"]["_data"]["duplex"] == "tdd"
    assert meta["model_config"]["_data"]["shuffle_channels"] == 8  # size fields written out
    args = ["evaluate", str(run / "run"), "--data", str(run / "test.h5"), "--out", str(run / "ev"),
            "--protocol-set", "awgn_snr_db=(10.0, 20.0)", "--protocol-set", "phase_snr_db=(15.0,)",
            "--protocol-set", "burst_snr_db=(15.0,)", "--protocol-set", "drop_p=(0.05,)"]  # fmt: skip
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    for text in ("regular:", "robustness:", "generalization:", "best [%]", "GFLOPs"):
        assert text in result.output
    report = json.loads((run / "ev" / "report.json").read_text())
    assert (run / "ev" / "nmse_heatmap.png").stat().st_size > 1000
    # Trained cells: CDL-A (in the training models) at DS 30/300 within the 30-300 range and
    # speeds 1/30 within 1-30; CDL-B is unseen. 4 cells x 2 SNRs, 4 x 3 robustness, 4 x 2 gen.
    counts = {c: sum(r["category"] == c for r in report["scenarios"])
              for c in ("regular", "robustness", "generalization")}  # fmt: skip
    assert counts == {"regular": 8, "robustness": 12, "generalization": 8}
    row = report["scenarios"][0]
    assert set(row["results"]) == {"csi4cast (run)", "no-prediction", "ar", "ar-select"}
    assert len(row["results"]["ar"]["nmse_db_steps"]) == 4
    shares = [report["summary"]["regular"][lb]["share_best"] for lb in row["results"]]
    assert abs(sum(shares) - 1.0) < 1e-9
    cost = report["estimators"]["csi4cast (run)"]
    assert cost["params"] > 0 and cost["flops_per_sample"] > 0


@pytest.mark.sionna
def test_tdd_model_on_fdd_data_is_one_line_error(run) -> None:
    result = CliRunner().invoke(cli, ["evaluate", str(run / "run"), "--data", str(run / "fdd.h5")])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "trained for TDD" in lines[0] and "FDD data" in lines[0]


@pytest.mark.sionna
def test_unknown_noise_type_in_the_protocol_is_one_line_error(run) -> None:
    args = ["evaluate", str(run / "run"), "--data", str(run / "test.h5"),
            "--protocol-set", "noise_types=('awgn', 'hail')"]  # fmt: skip
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2 and "unknown noise type 'hail'" in result.stderr
    assert result.stderr.count("\n") == 1


def test_metric_definitions() -> None:
    task = CSIPredictionTask()
    gen = torch.Generator().manual_seed(0)
    h = torch.randn(3, 2, 4, 5, dtype=torch.complex64, generator=gen)
    h_hat = h + 0.1 * torch.randn(3, 2, 4, 5, dtype=torch.complex64, generator=gen)
    manual = ((h_hat - h).abs() ** 2).sum(-1) / (h.abs() ** 2).sum(-1)
    assert torch.allclose(nmse_terms(h_hat, h), manual)
    per = task.per_sample(h_hat, h)
    summary = task.summarize(per)
    assert abs(summary["nmse_db"] - 10 * torch.log10(manual.double().mean()).item()) < 1e-6
    assert (
        abs(summary["nmse_db_step2"] - 10 * torch.log10(manual[:, :, 1].double().mean()).item())
        < 1e-6
    )
    perfect = task.summarize(task.per_sample(h, h))
    assert (
        perfect["se_pred"] == pytest.approx(perfect["se_true"])
        and summary["se_pred"] < perfect["se_true"]
    )


def test_nmse_db_loss_is_the_mean_of_per_sample_db() -> None:
    task = CSIPredictionTask()
    gen = torch.Generator().manual_seed(1)
    h = torch.randn(3, 2, 4, 5, dtype=torch.complex64, generator=gen)
    err = torch.tensor([0.01, 0.1, 1.0])[:, None, None, None]  # -20, -10, 0 dB samples
    h_hat = h + err.sqrt() * torch.randn(3, 2, 4, 5, dtype=torch.complex64, generator=gen)
    per = nmse_terms(h_hat, h).flatten(1).mean(1).double()
    loss = task.loss(h_hat, h, kind="nmse-db")
    assert float(loss) == pytest.approx(float((10 * per.log10()).mean()), abs=1e-4)
    assert float(task.loss(h_hat, h)) == pytest.approx(float(nmse_terms(h_hat, h).mean()))
    with pytest.raises(ConfigError, match="'mse' is not a csi-prediction loss"):
        task.loss(h_hat, h, kind="mse")


def test_a_loss_the_task_does_not_have_is_a_config_error(tmp_path) -> None:
    with pytest.raises(ConfigError, match="loss='nmse-db' is not a loss of task "
                                          "'channel-estimation'; allowed: only None"):  # fmt: skip
        train(task="channel-estimation", model_name="adafortitran", model_config=None,
              train_path=tmp_path / "a.h5", val_path=tmp_path / "b.h5", out=tmp_path / "r",
              config=TrainConfig(loss="nmse-db"))  # fmt: skip
    with pytest.raises(ConfigError, match="allowed: 'nmse', 'nmse-db'"):
        train(task="csi-prediction", model_name="gru", model_config=None,
              train_path=tmp_path / "a.h5", val_path=tmp_path / "b.h5", out=tmp_path / "r",
              config=TrainConfig(loss="mse"))  # fmt: skip


@pytest.mark.parametrize("duplex", ["tdd", "fdd"])
def test_every_model_predicts_the_target_shape_and_is_costed(duplex: str) -> None:
    x = torch.randn(2, 4, 16, 12, dtype=torch.complex64)
    common = dict(duplex=duplex, num_in_subcarriers=12, num_out_subcarriers=10)
    models = [CSI4CAST(CSI4CASTConfig(**common)), RNNPredictor(RNNConfig(**common)),
              RNNPredictor(LSTMConfig(**common)), CSITransformer(CSITransformerConfig(**common))]  # fmt: skip
    for model in models:
        model.eval()
        out = model(x)
        assert out.shape == (2, 4, 4, 10) and out.dtype == torch.complex64
        cost = model_cost(model, x[:1])
        assert cost["params"] > 0 and cost["flops_per_sample"] > 1e5
    assert (
        models[0].subcarrier_freq is not None
        if duplex == "fdd"
        else models[0].subcarrier_freq is None
    )


def test_csi4cast_paper_size_runs_forward_once() -> None:
    config = CSI4CASTConfig(size="paper", num_in_subcarriers=300, num_out_subcarriers=300)
    model = CSI4CAST(config).eval()
    arch = config.arch()
    assert (arch["d_model"], arch["num_layers"], arch["num_heads"]) == (768, 6, 8)
    with torch.no_grad():
        out = model(torch.randn(1, 1, 16, 300, dtype=torch.complex64))
    assert out.shape == (1, 1, 4, 300) and bool(torch.isfinite(torch.view_as_real(out)).all())
    assert sum(p.numel() for p in model.parameters()) > 10_000_000
