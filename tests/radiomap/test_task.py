"""The radiomap task: masks in loss and metric, sparse measurements, baselines, models."""

from __future__ import annotations

import math
from types import SimpleNamespace

import torch

from wirelessml.models.radiounet import (
    Geo2SigMapCascade,
    Geo2SigMapConfig,
    RadioUNet,
    RadioUNetConfig,
    UNet,
)
from wirelessml.tasks.radiomap import RadioMapTask, sample_measurements
from wirelessml.tasks.radiomap_baselines import Grid, RadioMapBaseline

S = 16
GRID = Grid(size=S, cell_size_m=2.0, center=(0.0, 0.0), frequency_hz=3.5e9, rx_height_m=1.5,
            pg_floor_db=-160.0)  # fmt: skip


def _batch(n: int = 3) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    mask = torch.zeros(n, S, S)
    mask[:, 2:6, 3:9] = 1.0  # a building
    tx = torch.tensor([[9.0, 9.0, 10.0]]).repeat(n, 1)
    free = RadioMapBaseline("free-space", GRID)({"tx_position": tx})
    pg = free + torch.randn(n, S, S, generator=gen)
    tx_map = torch.zeros(n, S, S)
    tx_map[:, 12, 12] = 10.0
    return {"path_gain_db": pg, "building_mask": mask, "building_height": mask * 20.0,
            "tx_map": tx_map, "tx_position": tx, "sample_index": torch.arange(n),
            "scene_index": torch.zeros(n, dtype=torch.long)}  # fmt: skip


def test_building_and_measurement_cells_are_masked_in_loss_and_metric():
    task = RadioMapTask()
    task.num_measurements = 10
    batch = _batch()
    target = task.target(batch)
    measured = task.model_inputs(batch)["sparse_mask"] > 0
    building = batch["building_mask"] > 0
    assert torch.isnan(target[building]).all() and torch.isnan(target[measured]).all()
    assert not (measured & building).any() and int(measured[0].sum()) == 10
    pred = batch["path_gain_db"].clone()
    assert float(task.loss(pred, target)) == 0.0
    pred[building | measured] += 50.0  # wrong only where nothing is scored
    assert float(task.loss(pred, target)) == 0.0
    assert task.summarize(task.per_sample(pred, target))["rmse_db"] == 0.0
    pred[~(building | measured)] += 3.0
    per = task.per_sample(pred, target)
    assert math.isclose(task.summarize(per)["rmse_db"], 3.0, rel_tol=1e-5)
    assert math.isclose(float(task.loss(pred, target)), 9.0, rel_tol=1e-5)
    scored = S * S - 24 - 10
    assert per["cells"].tolist() == [scored] * 3
    assert task.loss(pred.requires_grad_(), target).isfinite()
    scenes = torch.arange(13) * 7  # more scenes than the 12 bins of a continuous condition
    per13 = {"se": torch.ones(13, dtype=torch.float64), "cells": torch.ones(13, dtype=torch.float64)}
    by_scene = task.report(per13, {"scene_index": scenes})["by"]["scene_index"]
    assert [row["value"] for row in by_scene] == [7.0 * k for k in range(13)]


def test_rmse_splits_into_lit_and_shadow_cells():
    task = RadioMapTask()
    task.num_measurements = 10
    batch = _batch()
    shadow = torch.zeros(3, S, S, dtype=torch.bool)
    shadow[:, 10:, :] = True  # no ray reached these rows
    batch["path_gain_db"] = batch["path_gain_db"].masked_fill(shadow, -160.0)
    target = task.target(batch)
    pred = batch["path_gain_db"] + torch.where(shadow, 5.0, 3.0)
    assert set(task.summarize(task.per_sample(pred, target))) == {"rmse_db", "map_rmse_db"}
    task.pg_floor_db = -160.0  # known once a model or a baseline configured the task
    metrics = task.summarize(task.per_sample(pred, target))
    assert math.isclose(metrics["lit_rmse_db"], 3.0, rel_tol=1e-5)
    assert math.isclose(metrics["shadow_rmse_db"], 5.0, rel_tol=1e-5)
    scored = ~torch.isnan(target)
    share = float((scored & shadow).sum() / scored.sum())
    assert math.isclose(metrics["rmse_db"] ** 2, share * 25 + (1 - share) * 9, rel_tol=1e-5)
    fresh = RadioMapTask()
    data = {"grid_size": S, "cell_size_m": 2.0, "grid_center_m": [0.0, 0.0],
            "carrier_frequency_hz": 3.5e9, "rx_heights_m": [1.5], "pg_floor_db": -160.0}
    fresh.build_baseline("idw", SimpleNamespace(config={"_data": data}))  # a baseline alone
    assert fresh.pg_floor_db == -160.0


def test_measurements_are_a_fixed_function_of_the_sample():
    batch = _batch()
    a = sample_measurements(batch["path_gain_db"], batch["building_mask"], batch["sample_index"], 7)
    b = sample_measurements(batch["path_gain_db"], batch["building_mask"], batch["sample_index"], 7)
    assert torch.equal(a, b) and not torch.equal(a[0], a[1])


def test_baselines():
    batch = _batch()
    task = RadioMapTask()
    task.num_measurements = 40
    inputs = {**batch, **task.model_inputs(batch)}
    truth = batch["path_gain_db"]
    free = RadioMapBaseline("free-space", GRID)(inputs)
    # the data is free space + 1 dB noise: the fitted log-distance model recovers it
    fit = RadioMapBaseline("log-distance", GRID)(inputs)
    assert float((fit - free).abs().max()) < 1.0
    idw = RadioMapBaseline("idw", GRID)(inputs)
    m = inputs["sparse_mask"] > 0
    assert torch.allclose(idw[m], truth[m], atol=1e-2)  # IDW interpolates its points
    uma, umi = RadioMapBaseline("uma", GRID)(inputs), RadioMapBaseline("umi", GRID)(inputs)
    far = torch.linalg.vector_norm(GRID.centers() - batch["tx_position"][0, :2], dim=-1) > 15
    assert (uma[:, far] < free[:, far]).all() and (umi[:, far] < free[:, far]).all()
    # 38.901 UMa NLOS at 100 m, 3.5 GHz, h_BS 10 m, h_UT 1.5 m: 13.54+39.08*2.0018+10.88
    d = torch.tensor([[100.0]])
    from wirelessml.models.radiounet import uma_path_loss_db

    assert abs(float(uma_path_loss_db(d, 10.0, 1.5, 3.5e9)) - 102.65) < 0.05


def test_models_map_shapes_and_sizes():
    batch = _batch(2)
    inputs = RadioMapTask().model_inputs(batch)
    for model in (RadioUNet(RadioUNetConfig(channels=(4, 8))),
                  Geo2SigMapCascade(Geo2SigMapConfig(channels=(4, 8)))):  # fmt: skip
        assert model(**inputs).shape == (2, S, S)
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert 30e6 < count(UNet(2, RadioUNetConfig.paper().channels)) < 32e6
    assert count(RadioUNet(RadioUNetConfig.cpu())) < 1.2e6


def test_train_and_evaluate_cli_end_to_end(tmp_path):
    import json

    from click.testing import CliRunner

    from wirelessml.cli.main import cli

    run = lambda *a: CliRunner().invoke(cli, [str(x) for x in a])  # noqa: E731
    sim = ["-q", "--set", "grid_size=16", "--set", "district_size_m=32.0", "--set",
           "tx_per_scene=4", "--set", "samples_per_tx=10000", "--set", "num_buildings=(1, 2)",
           "--set", "footprint_m=(4.0, 8.0)", "--set", "street_m=2.0"]  # fmt: skip
    for name, seed in (("train", 1), ("test", 2)):
        res = run(
            "simulate", "radiomap", "-n", 8, "-o", tmp_path / f"{name}.h5", "--seed", seed, *sim
        )
        assert res.exit_code == 0, res.stderr
    for model in ("radiounet", "geo2sigmap"):
        res = run("train", "radiomap", "-m", model, "--train", tmp_path / "train.h5", "--val",
                  tmp_path / "test.h5", "-o", tmp_path / model, "--epochs", 1, "--batch-size", 4,
                  "--set", "channels=(4, 8)", "--set", "num_measurements=5", "-q",
                  "--train-set", "augment=True")  # fmt: skip
        assert res.exit_code == 0, res.stderr
        meta = json.loads((tmp_path / model / "run.json").read_text())
        assert meta["train_config"]["_data"]["augment"] is True
    res = run("evaluate", tmp_path / "radiounet", tmp_path / "geo2sigmap", "--data",
              tmp_path / "test.h5", "--out", tmp_path / "eval", "--test-time-average")  # fmt: skip
    assert res.exit_code == 0, res.stderr
    assert "RMSE [dB]" in res.stdout and "log-distance" in res.stdout
    assert "RMSE lit [dB]" in res.stdout and "RMSE shadow [dB]" in res.stdout
    report = json.loads((tmp_path / "eval" / "report.json").read_text())
    assert len(report["estimators"]) == 9  # 2 models, the same averaged over 8 poses, 5 baselines
    for est in report["estimators"].values():
        rep = est["report"]
        assert rep["pg_floor_db"] == -160.0 and rep["num_measurements"] == 5
        assert 0 < rep["overall"]["rmse_db"] < 200
        assert {"lit_rmse_db", "shadow_rmse_db"} <= set(rep["overall"])
    averaged = report["estimators"]["radiounet (radiounet, test-time average)"]
    assert averaged["test_time_average"] and averaged["model"] == "radiounet"
    assert not report["estimators"]["radiounet (radiounet)"]["test_time_average"]
    assert averaged["report"]["overall"] != report["estimators"]["radiounet (radiounet)"]["report"]["overall"]
    res = run("evaluate", tmp_path / "radiounet", "--data", tmp_path / "test.h5", "--baselines",
              "none", "--out", tmp_path / "eval2")  # fmt: skip
    assert res.exit_code == 0 and "test-time" not in res.stdout
    assert sorted(p.name for p in (tmp_path / "eval").glob("example_*.png")) == [
        f"example_{k}.png" for k in range(4)
    ]


def test_geometry_maps_friis_and_line_of_sight():
    from wirelessml.models.radiomap_geometry import free_space_path_gain_db, line_of_sight

    batch = _batch(1)
    free = RadioMapBaseline("free-space", GRID)({"tx_position": batch["tx_position"]})
    fs = free_space_path_gain_db(batch["tx_map"], cell_size_m=2.0, frequency_hz=3.5e9,
                                 rx_height_m=1.5)  # fmt: skip
    assert torch.allclose(fs, free, atol=1e-3)  # TX at its cell's centre: the same map
    assert bool((line_of_sight(torch.zeros(1, S, S), batch["tx_map"], 1.5) == 1).all())
    los = line_of_sight(batch["building_height"], batch["tx_map"], 1.5)[0]
    # The 20 m building (rows 2-5, columns 3-8) shadows the cells behind it from the
    # TX at (12, 12) and 10 m; the cells between them and those beside it are in sight.
    assert los[0, 3] == 0 and los[1, 5] == 0 and los[8, 8] == 1 and los[0, 12] == 1
    assert los[2:6, 3:9].sum() < 24  # the walls facing away are not seen either


def test_geometry_inputs_are_two_more_channels_and_change_the_output():
    batch = _batch(2)
    inputs = RadioMapTask().model_inputs(batch)
    assert RadioUNetConfig.cpu().geometry_inputs and not RadioUNetConfig.paper().geometry_inputs
    torch.manual_seed(0)
    model = RadioUNet(RadioUNetConfig(channels=(4, 8), geometry_inputs=True)).eval()
    assert model.unet1.down[0][0].in_channels == 4 and model.unet2.down[0][0].in_channels == 5
    cascade = Geo2SigMapCascade(Geo2SigMapConfig(channels=(4, 8), geometry_inputs=True))
    assert cascade.unet1.down[0][0].in_channels == 4 and cascade.unet2.down[0][0].in_channels == 7
    assert model(**inputs).shape == (2, S, S)
    from wirelessml.models.radiomap_geometry import line_of_sight

    x = model.config.inputs(inputs["building_height"], inputs["tx_map"])
    assert torch.equal(x[:, 2], line_of_sight(batch["building_height"], batch["tx_map"], 1.5))
    assert x[:, 3].abs().max() < 5  # free-space gain, scaled like the targets
