"""Procedural districts round-trip through the Mitsuba scene writer and Sionna's loader."""

from __future__ import annotations

import numpy as np
import pytest

from wirelessml.simulators.radiomap_scene import (
    generate_district,
    scene_building_boxes,
    surface_height_map,
    write_district,
)

pytestmark = pytest.mark.sionna


def _district(seed: int = 3):
    return generate_district(size_m=120.0, num_buildings=(6, 8), height_m=(8.0, 30.0),
                             footprint_m=(8.0, 20.0), street_m=4.0, rotated_fraction=0.5,
                             seed=seed)  # fmt: skip


def test_district_is_reproducible_and_buildings_keep_apart():
    a, b = _district(), _district()
    assert len(a.buildings) >= 6
    for x, y in zip(a.buildings, b.buildings, strict=True):
        np.testing.assert_array_equal(x.footprint, y.footprint)
    boxes = [bd.bounds() for bd in a.buildings]
    for i, p in enumerate(boxes):
        assert -60 <= p[0] and p[2] <= 60 and -60 <= p[1] and p[3] <= 60
        for q in boxes[i + 1 :]:  # separated by at least the street width on x or y
            assert p[2] + 4 <= q[0] or q[2] + 4 <= p[0] or p[3] + 4 <= q[1] or q[3] + 4 <= p[1]


def test_district_round_trips_through_the_scene_writer(tmp_path):
    import sionna.rt as rt

    district = _district()
    path = write_district(district, tmp_path / "scene")
    scene = rt.load_scene(str(path), merge_shapes=False)
    boxes = scene_building_boxes(scene)
    assert len(boxes) == len(district.buildings)
    for box, building in zip(boxes.values(), district.buildings, strict=True):
        np.testing.assert_allclose(box[[0, 1, 3, 4]], building.bounds(), atol=1e-3)
        assert box[2] == pytest.approx(0.0, abs=1e-4)
        assert box[5] == pytest.approx(building.height, abs=1e-3)
    assert set(scene.radio_materials) == {"building-material", "ground-material"}
    # The height map cast from the loaded meshes equals the one of the footprints.
    xs = np.arange(-59.5, 60.0, 1.0)
    xy = np.stack(np.meshgrid(xs, xs, indexing="xy"), axis=-1)
    cast = surface_height_map(scene, xy)
    expected = district.height_map(xy)
    near_edge = np.zeros_like(expected, dtype=bool)  # cell centres on a wall may go either way
    for b in district.buildings:
        grown = np.zeros_like(near_edge)
        for dx, dy in ((-0.01, 0), (0.01, 0), (0, -0.01), (0, 0.01)):
            grown |= b.contains(xy + np.array([dx, dy])) != b.contains(xy)
        near_edge |= grown
    np.testing.assert_allclose(cast[~near_edge], expected[~near_edge], atol=1e-3)
    assert (expected > 0).mean() > 0.05
