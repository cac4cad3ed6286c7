"""The radiomap simulator: free space against Friis, the dataset fields, bad inputs."""

from __future__ import annotations

import math
import os
import subprocess
import sys

import numpy as np
import pytest

from wirelessml.errors import ConfigError
from wirelessml.simulators.radiomap_config import RadioMapConfig

pytestmark = pytest.mark.sionna

SMALL = {"grid_size": 32, "cell_size_m": 2.0, "district_size_m": 64.0}


def _run(*args: str) -> tuple[int, str]:
    from click.testing import CliRunner

    from wirelessml.cli.main import cli

    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stderr


def _cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "wirelessml", *args], capture_output=True,
                          text=True, env={**os.environ, **(env or {})}, timeout=120)  # fmt: skip


def test_no_buildings_gives_friis_within_1db():
    from wirelessml.simulators.radiomap import RadioMapSimulator, cell_centers

    cfg = RadioMapConfig(**SMALL, num_buildings=(0, 0), max_depth=0, samples_per_tx=2_000_000,
                         tx_positions=((1.0, 1.0),))  # fmt: skip
    sim = RadioMapSimulator(cfg)
    block = sim.generate_block(seed=0, block_index=0, num=1)
    pg = block["path_gain_db"][0]
    assert block["building_mask"].sum() == 0 and block["building_height"].max() == 0
    d_xy = np.linalg.norm(cell_centers(cfg) - np.array([1.0, 1.0]), axis=-1)
    d = np.hypot(d_xy, cfg.tx_height_m - cfg.rx_heights_m[0])
    friis = 20 * np.log10(299_792_458.0 / cfg.carrier_frequency_hz / (4 * math.pi * d))
    for lo, hi in ((8, 12), (16, 20), (24, 28)):  # a few distances: rings of cells
        ring = (d_xy >= lo) & (d_xy < hi)
        gap = 10 * np.log10(np.mean(10 ** (pg[ring] / 10))) - 10 * np.log10(
            np.mean(10 ** (friis[ring] / 10)))  # fmt: skip
        assert abs(gap) < 1.0, (lo, gap)
    assert block["tx_map"][0].max() == cfg.tx_height_m and (block["tx_map"][0] > 0).sum() == 1
    assert sim.timing["solver_s"] > 0


def test_simulate_cli_writes_maps_with_masks_scene_indices_and_3d_layers(tmp_path):
    out = tmp_path / "rm.h5"
    args = ["simulate", "radiomap", "-n", "4", "-o", str(out), "-q", "--set", "grid_size=32",
            "--set", "district_size_m=64.0", "--set", "tx_per_scene=2",
            "--set", "samples_per_tx=20000", "--set", "num_buildings=(3, 5)",
            "--set", "rx_heights_m=(1.5, 6.0)"]  # fmt: skip
    code, err = _run(*args)
    assert code == 0, err
    import h5py

    with h5py.File(out) as f:
        pg, mask = f["path_gain_db"][:], f["building_mask"][:]
        assert pg.shape == (4, 32, 32) and mask.shape == (4, 32, 32)
        assert list(f["scene_index"][:]) == [0, 0, 1, 1]
        assert list(f["sample_index"][:]) == [0, 1, 2, 3]
        assert 0 < mask.mean() < 0.8 and pg.min() >= -160.0 and pg.max() < 0
        assert f.attrs["pg_floor_db"] == -160.0
        # buildings are marked where the height map is above the receiver, the TX is outdoors
        np.testing.assert_array_equal(mask > 0, f["building_height"][:] > 1.5)
        assert (mask * f["tx_map"][:]).sum() == 0
        # the 3D stack: one layer per receiver height, the first is path_gain_db
        layers = f["path_gain_db_3d"][:]
        assert layers.shape == (4, 2, 32, 32)
        np.testing.assert_array_equal(layers[:, 0], pg)
        assert not np.array_equal(layers[:, 1], pg)
        # two scenes (blocks) are two different districts
        assert not np.array_equal(f["building_height"][0], f["building_height"][2])


def test_tx_outside_the_area_and_grid_larger_than_the_district_are_config_errors():
    with pytest.raises(ConfigError, match="inside the map area"):
        RadioMapConfig(**SMALL, tx_positions=((40.0, 0.0),))
    with pytest.raises(ConfigError, match="inside the 64 m district"):
        RadioMapConfig(grid_size=64, cell_size_m=2.0, district_size_m=64.0)
    code, err = _run(
        "simulate", "radiomap", "-n", "2", "-o", "/tmp/never.h5", "--set", "grid_size=256"
    )
    assert code == 2 and err.count("\n") == 1
    assert "grid_size=256" in err and "district" in err


def test_tx_inside_a_building_is_a_one_line_error(tmp_path):
    # simple_street_canyon has a 51 m building over x in [-15, 15], y in [-35, -10]
    code, err = _run("simulate", "radiomap", "-n", "1", "-o", str(tmp_path / "x.h5"), "--set",
                     "scene=simple_street_canyon", "--set", "grid_size=32", "--set",
                     "tx_positions=((0.0, -20.0),)", "--set", "samples_per_tx=10000")  # fmt: skip
    assert code == 2, err
    assert err.count("\n") == 1 and "is inside a building (50.9 m high)" in err


def test_districts_keep_fixed_transmitters_clear_of_buildings():
    from wirelessml.simulators.radiomap import RadioMapSimulator

    sites = ((0.0, 0.0), (20.0, -20.0))
    cfg = RadioMapConfig(**SMALL, num_buildings=(8, 8), footprint_m=(10.0, 14.0),
                         street_m=2.0, tx_positions=sites)  # fmt: skip
    sim = RadioMapSimulator(cfg)
    for block in range(3):
        district = sim.district(seed=0, block_index=block)
        assert len(district.buildings) >= 3
        assert district.height_map(np.array(sites)).max() == 0.0


def test_builtin_scene_grid_larger_than_the_scene_is_refused():
    code, err = _run("simulate", "radiomap", "-n", "1", "-o", "/tmp/never.h5", "--set",
                     "scene='simple_street_canyon'", "--set", "grid_size=512")  # fmt: skip
    assert code == 2 and "scene 'simple_street_canyon' covers" in err, err


def test_missing_llvm_is_a_one_line_cli_error_saying_how_to_install():
    res = _cli("simulate", "radiomap", "-n", "1", "-o", "/tmp/never.h5",
               env={"DRJIT_LIBLLVM_PATH": "/nonexistent/libLLVM.so"})  # fmt: skip
    assert res.returncode == 2
    line = [x for x in res.stderr.splitlines() if x.startswith("wirelessml: error:")]
    assert len(line) == 1 and "apt-get install libllvm19" in line[0], res.stderr


def test_llvm_15_is_refused_before_it_can_abort_the_process():
    lib = "/usr/lib/x86_64-linux-gnu/libLLVM-15.so.1"
    if not os.path.exists(lib):
        pytest.skip("no LLVM 15 on this machine")
    code = ("from wirelessml.simulators.rt_backend import check_rt_backend\n"
            "try:\n    check_rt_backend('cpu')\nexcept Exception as e:\n    print(e)")  # fmt: skip
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "DRJIT_LIBLLVM_PATH": lib}, timeout=60)  # fmt: skip
    assert "loaded LLVM 15" in res.stdout and "libllvm19" in res.stdout, res.stdout + res.stderr


def test_resume_after_one_block_equals_an_uninterrupted_run(tmp_path):
    import h5py

    import wirelessml
    from wirelessml.config import config_to_json
    from wirelessml.datasets import DatasetWriter
    from wirelessml.simulators.radiomap import RadioMapSimulator

    cfg = RadioMapConfig(**SMALL, tx_per_scene=2, samples_per_tx=20_000, num_buildings=(3, 5))
    sim = RadioMapSimulator(cfg)
    out = tmp_path / "resumed.h5"
    with DatasetWriter(out, simulator="radiomap", config_json=config_to_json(cfg, "radiomap"),
                       seed=5, num_samples=4, fields=sim.fields(), attrs=sim.attrs()) as w:  # fmt: skip
        w.write(sim.generate_block(seed=5, block_index=0, num=2))  # then "interrupted"
    wirelessml.simulate("radiomap", cfg, num_samples=4, out=out, seed=5, mode="resume")
    ref = wirelessml.simulate("radiomap", cfg, num_samples=4, out=tmp_path / "ref.h5", seed=5)
    with h5py.File(out) as a, h5py.File(ref) as b:
        assert set(a) == set(b)
        for name in b:
            np.testing.assert_array_equal(a[name][:], b[name][:], err_msg=name)
