"""The first-order reflection map: the mirror-image wedge of a wall, nothing behind it."""

from __future__ import annotations

import pytest
import torch

from wirelessml.errors import ConfigError
from wirelessml.models.radiomap_geometry import first_order_reflection
from wirelessml.models.radiounet import (
    Geo2SigMapCascade,
    Geo2SigMapConfig,
    RadioUNet,
    RadioUNetConfig,
)
from wirelessml.tasks.radiomap_dihedral import NUM_ELEMENTS, dihedral

S = 32


def _scene(tx_col: int) -> tuple[torch.Tensor, torch.Tensor]:
    height = torch.zeros(1, S, S)
    height[0, 12:16, 20] = 30.0  # a wall segment: rows 12-15 of column 20, face at 19.5
    tx = torch.zeros(1, S, S)
    tx[0, 14, tx_col] = 10.0
    return height, tx


def test_a_wall_segment_lights_its_mirror_image_wedge_and_nothing_behind_it():
    height, tx = _scene(tx_col=8)
    refl = first_order_reflection(height, tx, 1.5)[0]
    rows, cols = torch.nonzero(refl > 0, as_tuple=True)
    assert len(rows) > 0 and bool((cols < 20).all())  # only on the TX's side
    # Every marked cell sees the image TX (14, 31) through the face (rows 11.5-15.5 of
    # column 19.5), within the one-cell raster tolerance.
    cross = 14 + (rows - 14) * (31 - 19.5) / (31 - cols)
    assert bool(((cross >= 10.5) & (cross <= 16.5)).all())
    # One ray per face: the cell in front of each of the 4 faces is marked, the ray off
    # the face at the TX's row goes straight back along it.
    assert bool((refl[12:16, 19] == 1).all()) and bool((refl[14, :20] == 1).all())
    assert float(refl.sum()) < S * 20 / 2  # a wedge, not the half-plane


def test_no_buildings_or_a_wall_seen_from_behind_reflect_nothing_on_the_far_side():
    _, tx = _scene(tx_col=8)
    assert float(first_order_reflection(torch.zeros(1, S, S), tx, 1.5).sum()) == 0.0
    height, tx = _scene(tx_col=28)  # TX right of the wall: the reflections go right
    refl = first_order_reflection(height, tx, 1.5)[0]
    assert float(refl[:, :20].sum()) == 0.0 and float(refl[:, 21:].sum()) > 0
    low = height.clone()
    low[low > 0] = 1.0  # below the receiver: not a wall
    assert float(first_order_reflection(low, tx, 1.5).sum()) == 0.0


def test_the_map_turns_with_the_grid_up_to_raster_ties():
    height, tx = _scene(tx_col=8)
    height[0, 3:7, 5:9] = 15.0  # a second building, so the maps are not symmetric
    refl = first_order_reflection(height, tx, 1.5)
    for k in range(NUM_ELEMENTS):
        turned = first_order_reflection(dihedral(height, k), dihedral(tx, k), 1.5)
        agree = float((turned == dihedral(refl, k)).float().mean())
        assert agree > 0.98, (k, agree)


def test_models_take_the_map_as_an_extra_input_channel():
    height, tx = _scene(tx_col=8)
    z = torch.zeros(1, S, S)
    for model_cls, config_cls in ((RadioUNet, RadioUNetConfig), (Geo2SigMapCascade, Geo2SigMapConfig)):
        config = config_cls(channels=(4, 8), geometry_inputs=True, reflection_input=True)
        x = config.inputs(height, tx)
        assert config.num_inputs == 5 and x.shape == (1, 5, S, S)
        torch.testing.assert_close(x[:, 4], first_order_reflection(height, tx, 1.5))
        out = model_cls(config)(building_height=height, tx_map=tx, sparse_pg_db=z, sparse_mask=z)
        assert out.shape == (1, S, S)
    assert RadioUNetConfig().reflection_input is False  # saved runs load unchanged
    for config_cls in (RadioUNetConfig, Geo2SigMapConfig):  # the benchmarked cpu size has it
        assert config_cls.cpu().reflection_input and not config_cls.paper().reflection_input
    with pytest.raises(ConfigError, match="reflection_input"):
        RadioUNetConfig(reflection_input=1)
