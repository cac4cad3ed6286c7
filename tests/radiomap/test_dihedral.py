"""Rotations and reflections of the map grid: the group, the task's augmentation, the loop."""

from __future__ import annotations

import pytest
import torch

from wirelessml.errors import ConfigError
from wirelessml.models.radiomap_geometry import free_space_path_gain_db, line_of_sight
from wirelessml.tasks.radiomap import AUGMENTED_FIELDS, RadioMapTask
from wirelessml.tasks.radiomap_dihedral import (
    NUM_ELEMENTS,
    dihedral,
    dihedral_average,
    inverse,
)
from wirelessml.train import TrainConfig, train

S = 12


def _batch(n: int) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(1)
    height = (torch.rand(n, S, S, generator=gen) > 0.8).float() * 15.0
    tx_map = torch.zeros(n, S, S)
    tx_map[:, 2, 7] = 10.0
    return {"path_gain_db": torch.randn(n, S, S, generator=gen) - 80.0,
            "building_height": height, "building_mask": (height > 0).float(),
            "tx_map": tx_map, "tx_position": torch.zeros(n, 3),
            "sample_index": torch.arange(n), "scene_index": torch.zeros(n, dtype=torch.long)}  # fmt: skip


def test_the_eight_elements_are_distinct_and_inverted():
    x = torch.arange(float(S * S)).view(S, S)
    turned = [dihedral(x, k) for k in range(NUM_ELEMENTS)]
    assert len({tuple(t.flatten().tolist()) for t in turned}) == NUM_ELEMENTS
    for k in range(NUM_ELEMENTS):
        assert dihedral(turned[k], inverse(k)).equal(x)


def test_augment_turns_every_map_of_a_sample_alike_and_drops_tx_position():
    batch = _batch(64)
    batch["building_height"] = batch["path_gain_db"].clone()  # a fingerprint to follow
    out = RadioMapTask().augment(batch, torch.Generator().manual_seed(0))
    assert "tx_position" not in out and out["sample_index"].equal(batch["sample_index"])
    seen = set()
    for b in range(64):
        k = next(k for k in range(NUM_ELEMENTS)
                 if dihedral(batch["path_gain_db"][b], k).equal(out["path_gain_db"][b]))  # fmt: skip
        seen.add(k)
        for name in AUGMENTED_FIELDS:
            assert out[name][b].equal(dihedral(batch[name][b], k)), name
    assert seen == set(range(NUM_ELEMENTS))


def test_the_geometry_inputs_turn_with_the_grid():
    """What makes the augmentation valid: line of sight and Friis are equivariant."""
    batch = _batch(2)
    h, tx = batch["building_height"], batch["tx_map"]
    los = line_of_sight(h, tx, 1.5)
    fs = free_space_path_gain_db(tx, cell_size_m=2.0, frequency_hz=3.5e9, rx_height_m=1.5)
    for k in range(NUM_ELEMENTS):
        assert line_of_sight(dihedral(h, k), dihedral(tx, k), 1.5).equal(dihedral(los, k))
        fs_k = free_space_path_gain_db(dihedral(tx, k), cell_size_m=2.0, frequency_hz=3.5e9,
                                       rx_height_m=1.5)  # fmt: skip
        torch.testing.assert_close(fs_k, dihedral(fs, k))


def test_test_time_average_of_an_equivariant_map_is_the_map():
    batch = _batch(3)

    def fn(building_height, tx_map):  # noqa: ANN001, ANN202
        return building_height * 2.0 - tx_map

    inputs = {"building_height": batch["building_height"], "tx_map": batch["tx_map"]}
    torch.testing.assert_close(dihedral_average(fn, inputs), fn(**inputs))


def test_augment_on_a_task_without_one_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="augment=True: task 'channel-estimation'"):
        train(task="channel-estimation", model_name="adafortitran", model_config=None,
              train_path=tmp_path / "a.h5", val_path=tmp_path / "b.h5", out=tmp_path / "r",
              config=TrainConfig(augment=True))  # fmt: skip
    with pytest.raises(ConfigError, match="augment"):
        TrainConfig(augment=1)
