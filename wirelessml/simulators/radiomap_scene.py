"""Procedural city districts for Sionna RT: random buildings written as a Mitsuba scene.

A :class:`District` is a square area (origin at its centre, ground at ``z = 0``) holding
buildings: convex footprints (axis-aligned or rotated rectangles) extruded to a height.
:func:`write_district` writes it as a Mitsuba XML scene (one binary PLY mesh per building
and one for the ground, ITU radio materials) that ``sionna.rt.load_scene`` loads; Sionna's
built-in scenes are loaded by name instead (:func:`scene_path`).

Only :func:`surface_height_map` and :func:`scene_building_boxes` touch Mitsuba (imported
lazily), so generating and writing districts needs neither Sionna nor Dr.Jit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from wirelessml._typing import PathType
from wirelessml.errors import ConfigError

__all__ = [
    "Building",
    "District",
    "generate_district",
    "scene_building_boxes",
    "scene_path",
    "surface_height_map",
    "write_district",
]

BUILDING_PREFIX = "building_"
GROUND_NAME = "ground"


@dataclass(frozen=True)
class Building:
    """One building: a convex footprint, counter-clockwise seen from above, and a height.

    Shapes:
        footprint: [num_vertices, 2], float64, metres in the scene's x-y plane
    """

    footprint: np.ndarray
    height: float

    def bounds(self) -> tuple[float, float, float, float]:
        """``(x_min, y_min, x_max, y_max)`` of the footprint [m]."""
        lo, hi = self.footprint.min(0), self.footprint.max(0)
        return float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1])

    def contains(self, xy: np.ndarray) -> np.ndarray:
        """Whether points ``xy`` [..., 2] lie inside the (convex, CCW) footprint."""
        p = self.footprint
        inside = np.ones(xy.shape[:-1], dtype=bool)
        for a, b in zip(p, np.roll(p, -1, axis=0), strict=True):
            cross = (b[0] - a[0]) * (xy[..., 1] - a[1]) - (b[1] - a[1]) * (xy[..., 0] - a[0])
            inside &= cross >= 0
        return inside


@dataclass(frozen=True)
class District:
    """A square district of side ``size_m`` centred on the origin, ground at ``z = 0``."""

    size_m: float
    buildings: tuple[Building, ...]
    seed: int

    def height_map(self, xy: np.ndarray) -> np.ndarray:
        """Building height [m] at points ``xy`` [..., 2] (0 outdoors), from the footprints."""
        out = np.zeros(xy.shape[:-1])
        for b in self.buildings:
            out = np.where(b.contains(xy), np.maximum(out, b.height), out)
        return out


def _rectangle(cx: float, cy: float, w: float, d: float, angle: float) -> np.ndarray:
    corners = np.array([[-w, -d], [w, -d], [w, d], [-w, d]]) / 2.0  # CCW
    c, s = math.cos(angle), math.sin(angle)
    return corners @ np.array([[c, s], [-s, c]]) + np.array([cx, cy])


def generate_district(
    *,
    size_m: float,
    num_buildings: tuple[int, int],
    height_m: tuple[float, float],
    footprint_m: tuple[float, float],
    street_m: float,
    rotated_fraction: float,
    seed: int,
    keep_clear: tuple[tuple[float, float], ...] = (),
) -> District:
    """Random buildings in a square: footprints do not overlap and keep ``street_m`` apart.

    Args:
        size_m: Side of the square area [m].
        num_buildings: Range of the number of buildings tried (fewer fit in a crowded area).
        height_m: Range of building heights [m] (uniform).
        footprint_m: Range of a rectangle's side [m] (uniform, per side).
        street_m: Smallest gap between the bounding boxes of two buildings [m].
        rotated_fraction: Share of rectangles rotated by a uniform angle (the rest are
            axis-aligned).
        seed: Seed of every draw (``numpy.random.default_rng``).
        keep_clear: Points (x, y) [m] no building may cover, with ``street_m / 2`` of room
            (fixed transmitter sites).

    Examples:
        >>> d = generate_district(size_m=100.0, num_buildings=(3, 3), height_m=(10.0, 20.0),
        ...                       footprint_m=(10.0, 20.0), street_m=5.0, rotated_fraction=0.0,
        ...                       seed=0)
        >>> len(d.buildings), all(10 <= b.height <= 20 for b in d.buildings)
        (3, True)
    """
    rng = np.random.default_rng(seed)
    target = int(rng.integers(num_buildings[0], num_buildings[1] + 1))
    boxes: list[tuple[float, float, float, float]] = []
    buildings: list[Building] = []
    half = size_m / 2.0
    for _ in range(20 * target):
        if len(buildings) == target:
            break
        w, d = rng.uniform(*footprint_m, size=2)
        angle = float(rng.uniform(0, math.pi / 2)) if rng.random() < rotated_fraction else 0.0
        reach = 0.5 * math.hypot(w, d) if angle else 0.5 * max(w, d)
        cx, cy = rng.uniform(-half + reach, half - reach, size=2)
        poly = _rectangle(float(cx), float(cy), float(w), float(d), angle)
        box = (*poly.min(0), *poly.max(0))
        if any(box[0] < b[2] + street_m and b[0] < box[2] + street_m and box[1] < b[3] + street_m
               and b[1] < box[3] + street_m for b in boxes):  # fmt: skip
            continue
        room = street_m / 2.0
        if any(box[0] - room <= x <= box[2] + room and box[1] - room <= y <= box[3] + room
               for x, y in keep_clear):  # fmt: skip
            continue
        boxes.append(box)
        buildings.append(Building(footprint=poly, height=float(rng.uniform(*height_m))))
    return District(size_m=float(size_m), buildings=tuple(buildings), seed=seed)


# ---------------------------------------------------------------------------- writing


def _prism(footprint: np.ndarray, height: float) -> tuple[np.ndarray, np.ndarray]:
    """Vertices [2n, 3] and outward-facing triangles [4n - 4, 3] of an extruded polygon."""
    n = len(footprint)
    bottom = np.column_stack([footprint, np.zeros(n)])
    top = np.column_stack([footprint, np.full(n, height)])
    faces = []
    for i in range(n):
        j = (i + 1) % n
        faces += [(i, j, n + j), (i, n + j, n + i)]  # walls, CCW seen from outside
    for k in range(1, n - 1):
        faces += [(n, n + k, n + k + 1), (0, k + 1, k)]  # roof (+z), floor (-z)
    return np.vstack([bottom, top]), np.array(faces)


def _write_ply(path: Path, vertices: np.ndarray, faces: np.ndarray) -> None:
    header = (
        "ply\nformat binary_little_endian 1.0\n"
        f"element vertex {len(vertices)}\nproperty float x\nproperty float y\nproperty float z\n"
        f"element face {len(faces)}\nproperty list uchar int vertex_indices\nend_header\n"
    )
    face_rows = np.zeros(len(faces), dtype=[("n", "u1"), ("v", "<i4", (3,))])
    face_rows["n"], face_rows["v"] = 3, faces
    path.write_bytes(header.encode() + vertices.astype("<f4").tobytes() + face_rows.tobytes())


def write_district(
    district: District,
    folder: PathType,
    *,
    building_material: str = "concrete",
    ground_material: str = "medium_dry_ground",
    ground_margin_m: float = 50.0,
    scattering_coefficient: float = 0.0,
) -> Path:
    """Write the district as ``folder/scene.xml`` with ``folder/meshes/*.ply``.

    Buildings are ``building_000.ply`` … (ITU ``building_material``); the ground is a square
    ``ground_margin_m`` larger than the area on every side (ITU ``ground_material``).
    ``scattering_coefficient`` (of the building material, 0 to 1) is the share of energy a
    wall scatters diffusely (Lambertian); it matters only with diffuse reflection on.

    Returns:
        The path of the XML file, for ``sionna.rt.load_scene``.
    """
    folder = Path(folder)
    (folder / "meshes").mkdir(parents=True, exist_ok=True)
    g = district.size_m / 2.0 + ground_margin_m
    ground = np.array([[-g, -g, 0.0], [g, -g, 0.0], [g, g, 0.0], [-g, g, 0.0]])
    _write_ply(folder / "meshes" / f"{GROUND_NAME}.ply", ground, np.array([[0, 1, 2], [0, 2, 3]]))
    shapes = [_shape_xml(GROUND_NAME, "mat-ground-material")]
    for i, b in enumerate(district.buildings):
        name = f"{BUILDING_PREFIX}{i:03d}"
        _write_ply(folder / "meshes" / f"{name}.ply", *_prism(b.footprint, b.height))
        shapes.append(_shape_xml(name, "mat-building-material"))
    xml = "\n".join([
        '<scene version="2.1.0">',
        _material_xml("mat-building-material", building_material, scattering_coefficient),
        _material_xml("mat-ground-material", ground_material, 0.0),
        *shapes,
        "</scene>\n",
    ])  # fmt: skip
    path = folder / "scene.xml"
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(xml)
    tmp.replace(path)
    return path


def _material_xml(mat_id: str, itu_type: str, scattering: float) -> str:
    return (f'  <bsdf type="itu-radio-material" id="{mat_id}">\n'
            f'    <string name="type" value="{itu_type}"/>\n'
            '    <float name="thickness" value="0.2"/>\n'
            f'    <float name="scattering_coefficient" value="{scattering:g}"/>\n  </bsdf>')  # fmt: skip


def _shape_xml(name: str, mat_id: str) -> str:
    return (f'  <shape type="ply" id="mesh-{name}">\n'
            f'    <string name="filename" value="meshes/{name}.ply"/>\n'
            '    <boolean name="face_normals" value="true"/>\n'
            f'    <ref id="{mat_id}" name="bsdf"/>\n  </shape>')  # fmt: skip


# ---------------------------------------------------------------------------- reading


def scene_path(name: str) -> str:
    """The XML file of Sionna's built-in scene ``name`` (``munich``, ``etoile``, …).

    Raises:
        ConfigError: no built-in scene of that name (the message lists them).
    """
    import sionna.rt.scene as rt_scenes

    known = sorted(k for k, v in vars(rt_scenes).items() if isinstance(v, str)
                   and v.endswith(".xml"))  # fmt: skip
    if name not in known:
        raise ConfigError(f"unknown Sionna scene {name!r}; choose 'district' or one of: "
                          f"{', '.join(known)}")  # fmt: skip
    return getattr(rt_scenes, name)


def scene_building_boxes(scene: Any) -> dict[str, np.ndarray]:
    """Axis-aligned bounding box ``[x_min, y_min, z_min, x_max, y_max, z_max]`` of every
    ``building_*`` object of a loaded Sionna scene, by name."""
    out = {}
    for name, obj in scene.objects.items():
        if name.startswith(BUILDING_PREFIX):
            box = obj.mi_mesh.bbox()
            out[name] = np.array([*box.min, *box.max], dtype=np.float64)
    return dict(sorted(out.items()))


def surface_height_map(scene: Any, xy: np.ndarray, *, top_m: float = 1000.0) -> np.ndarray:
    """Height [m] of the highest surface above each point ``xy`` [..., 2] (rays cast down).

    Points where the downward ray hits nothing get ``-inf``.
    """
    import drjit as dr
    import mitsuba as mi

    flat = xy.reshape(-1, 2)
    n = len(flat)
    origin = mi.Point3f(mi.Float(flat[:, 0].astype(np.float32)),
                        mi.Float(flat[:, 1].astype(np.float32)), mi.Float(np.full(n, top_m, np.float32)))  # fmt: skip
    ray = mi.Ray3f(origin, mi.Vector3f(0.0, 0.0, -1.0))
    si = scene.mi_scene.ray_intersect(ray)
    t = np.array(dr.select(si.is_valid(), si.t, dr.inf))
    return (top_m - t).reshape(xy.shape[:-1])
