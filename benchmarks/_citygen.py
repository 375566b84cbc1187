"""A city-sized street office's own layers, generated (seeded) for the import benchmark.

The layout is a lattice of grids around 120.4°E 31.5°N (about 316 m apart, like the reference
district's grids): every lattice vertex is jittered and every edge gets a few jittered points of
its own, computed once per edge, so neighbouring grids share exactly the same vertices and the
grids tile without a gap or an overlap. Communities are blocks of 6 × 5 grids (smaller at the
east and south edges), drawn as the union of their grids; the street is the union of the
communities. Each grid holds 14 to 20 buildings (17 on average): small rectangles in slots of
the grid's inner square, which the jitter never reaches, so no footprint crosses a grid edge.

Addresses are unique: each grid has its own road (``青松路12号``, even numbers) or compound
(``青松家园3栋``). The layers carry what an office's files usually carry, with Chinese headers:
codes and names of the street, communities and grids, the grid of each building, its address,
floors, households (20 to 120) and category — but no building codes (the importer makes them)
and no separate compound or number (parsed from the address).

:func:`make_city` returns the four layers (EPSG:4490); :func:`write_city` writes them as one
GeoPackage (a layer each) and the buildings also as a zipped Shapefile (UTF-8 ``.cpg``) and as
GeoJSON.
"""

from __future__ import annotations

import math
import zipfile
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import shapely
from pyproj import Transformer

#: Metres between lattice lines (a grid of about 0.1 km², like the reference district's).
SPACING = 316.0
#: Grids per community block: columns × rows.
BLOCK = (6, 5)
#: Jittered points on each grid edge between its two corners.
EDGE_POINTS = 4
#: Where the city starts (south-west corner), lon/lat.
ORIGIN = (120.40, 31.50)
STREET_CODE = "320214099"

_CHARS = ("青松金桂和平新华友谊建设光明幸福长江黄河太湖梁溪锦绣春晖朝阳东风红星人民解放"
          "中山文化育才清源天元华庭雅居翠竹兰亭紫荆丹桂芙蓉碧水蓝天白云秀山丽景盛世安康")
_ROAD_SUFFIX = ("路", "街", "大道", "巷")
_COMPOUND_SUFFIX = ("家园", "花园", "新村", "小区", "苑", "公寓")
_KIND_WORDS = (("住宅", 0.85), ("商业", 0.10), ("混合", 0.05))


@dataclass(frozen=True)
class City:
    """The four layers as an office would hand them over (EPSG:4490, Chinese headers)."""

    street: gpd.GeoDataFrame
    communities: gpd.GeoDataFrame
    grids: gpd.GeoDataFrame
    buildings: gpd.GeoDataFrame

    def layers(self) -> dict[str, gpd.GeoDataFrame]:
        """Layer name → frame, in the importer's order."""
        return {"street": self.street, "communities": self.communities, "grids": self.grids,
                "buildings": self.buildings}


def lattice_shape(n_grids: int) -> tuple[int, int]:
    """Columns and rows of a near-square lattice of about ``n_grids`` grids."""
    rows = max(1, round(math.sqrt(n_grids)))
    return max(1, math.ceil(n_grids / rows)), rows


def _names(rng: np.random.Generator, n: int) -> list[str]:
    """``n`` distinct stems of two characters (three when two give too few)."""
    chars = list(dict.fromkeys(_CHARS))  # each character once, so stems never repeat
    k = len(chars)
    width = 2 if n <= k * k // 2 else 3
    picks = rng.choice(k ** width, size=n, replace=False)
    return ["".join(chars[p // k ** e % k] for e in range(width - 1, -1, -1)) for p in picks]


def make_city(n_grids: int = 8_800, seed: int = 20261201) -> City:
    """Generate the layers (deterministic for a seed).

    Parameters
    ----------
    n_grids : int
        About this many grids (the lattice is near-square, so a few more).
    seed : int
        Seed of every random choice.

    Returns
    -------
    City
    """
    rng = np.random.default_rng(seed)
    nx, ny = lattice_shape(n_grids)
    s = SPACING
    to_m = Transformer.from_crs(4490, 4549, always_xy=True)
    to_ll = Transformer.from_crs(4549, 4490, always_xy=True)
    x0, y0 = to_m.transform(*ORIGIN)

    # lattice vertices (nx+1 × ny+1), jittered by up to 8% of the spacing
    vx = x0 + np.arange(nx + 1)[None, :] * s + rng.uniform(-0.08, 0.08, (ny + 1, nx + 1)) * s
    vy = y0 + np.arange(ny + 1)[:, None] * s + rng.uniform(-0.08, 0.08, (ny + 1, nx + 1)) * s
    # points along each edge, shifted across it by up to 3%: horizontal edges (row j, col i→i+1)
    # and vertical edges (col i, row j→j+1); both grids of an edge read the same points
    t = np.arange(1, EDGE_POINTS + 1) / (EDGE_POINTS + 1)
    h_off = rng.uniform(-0.03, 0.03, (ny + 1, nx, EDGE_POINTS)) * s
    v_off = rng.uniform(-0.03, 0.03, (ny, nx + 1, EDGE_POINTS)) * s

    def h_edge(j: int, i: int) -> np.ndarray:  # west → east
        x = vx[j, i] + (vx[j, i + 1] - vx[j, i]) * t
        y = vy[j, i] + (vy[j, i + 1] - vy[j, i]) * t + h_off[j, i]
        return np.column_stack([x, y])

    def v_edge(j: int, i: int) -> np.ndarray:  # south → north
        x = vx[j, i] + (vx[j + 1, i] - vx[j, i]) * t + v_off[j, i]
        y = vy[j, i] + (vy[j + 1, i] - vy[j, i]) * t
        return np.column_stack([x, y])

    rings, cells = [], []
    for j in range(ny):
        for i in range(nx):
            ring = np.vstack([
                [[vx[j, i], vy[j, i]]], h_edge(j, i),
                [[vx[j, i + 1], vy[j, i + 1]]], v_edge(j, i + 1),
                [[vx[j + 1, i + 1], vy[j + 1, i + 1]]], h_edge(j + 1, i)[::-1],
                [[vx[j + 1, i], vy[j + 1, i]]], v_edge(j, i)[::-1],
                [[vx[j, i], vy[j, i]]],
            ])
            rings.append(ring)
            cells.append((i, j))
    # every vertex goes to lon/lat once per occurrence: equal metres give equal degrees, so
    # shared edges stay shared
    flat = np.vstack(rings)
    lon, lat = to_ll.transform(flat[:, 0], flat[:, 1])
    sizes = np.array([len(r) for r in rings])
    grid_geoms = shapely.polygons(shapely.linearrings(np.column_stack([lon, lat]),
                                                      indices=np.repeat(np.arange(len(rings)), sizes)))
    if not shapely.is_valid(grid_geoms).all():
        raise RuntimeError("generated an invalid grid: lower the jitter")

    # communities: blocks of BLOCK grids, numbered north to south, west to east
    bw, bh = BLOCK
    nbx, nby = math.ceil(nx / bw), math.ceil(ny / bh)
    n_comm = nbx * nby
    if n_comm > 999:
        raise ValueError(f"{n_comm} communities do not fit 3-digit codes: fewer grids")
    block = np.array([(ny - 1 - j) // bh * nbx + i // bw for i, j in cells])
    stems = _names(rng, n_comm + len(cells))
    c_stems, g_stems = stems[:n_comm], stems[n_comm:]
    c_codes = [f"{STREET_CODE}{k + 1:03d}" for k in range(n_comm)]
    c_names = [f"{stem}社区居民委员会" for stem in c_stems]

    g_code, g_name, g_comm, g_kind = [], [], [], []
    seq = np.zeros(n_comm, dtype=int)
    kinds = rng.choice([w for w, _ in _KIND_WORDS], size=len(cells), p=[p for _, p in _KIND_WORDS])
    # grids of a community in reading order: rows from the north, west to east
    order = sorted(range(len(cells)), key=lambda k: (block[k], -cells[k][1], cells[k][0]))
    code_of = [""] * len(cells)
    for k in order:
        seq[block[k]] += 1
        code_of[k] = f"{c_codes[block[k]]}{seq[block[k]]:03d}"
    for k in range(len(cells)):
        g_code.append(code_of[k])
        g_name.append(f"{c_stems[block[k]]}社区第{int(code_of[k][-3:])}网格")
        g_comm.append(c_codes[block[k]])
        g_kind.append(str(kinds[k]))
    grids = gpd.GeoDataFrame({"网格编码": g_code, "网格名称": g_name, "所属社区": g_comm,
                              "网格类型": g_kind}, geometry=grid_geoms, crs=4490)
    comm_geoms = [shapely.union_all(grid_geoms[block == b]) for b in range(n_comm)]
    communities = gpd.GeoDataFrame({"社区编码": c_codes, "社区名称": c_names},
                                   geometry=comm_geoms, crs=4490)
    street = gpd.GeoDataFrame({"街道编码": [STREET_CODE], "街道名称": ["示范街道"]},
                              geometry=[shapely.union_all(comm_geoms)], crs=4490)

    # buildings: in slots of 4 × 5 over the grid's inner 70% square (the jitter stays within
    # 11% of the spacing of the lattice lines, so a footprint never reaches an edge)
    per = rng.integers(14, 21, size=len(cells))
    inner = 0.70 * s
    sw, sh = inner / 4, inner / 5
    bx, by, bwid, bht, b_grid, b_addr, b_floors, b_cat = [], [], [], [], [], [], [], []
    for k, (i, j) in enumerate(cells):
        slots = rng.choice(20, size=per[k], replace=False)
        slots.sort()
        ox = x0 + i * s + 0.15 * s
        oy = y0 + j * s + 0.15 * s
        road = rng.random() < 0.4
        name = g_stems[k] + (str(rng.choice(_ROAD_SUFFIX)) if road else str(rng.choice(_COMPOUND_SUFFIX)))
        commercial = g_kind[k] == "商业"
        for n, slot in enumerate(slots, start=1):
            w = rng.uniform(0.45, 0.75) * sw
            h = rng.uniform(0.35, 0.6) * sh
            cx = ox + (slot % 4 + 0.5) * sw + rng.uniform(-0.1, 0.1) * sw
            cy = oy + (slot // 4 + 0.5) * sh + rng.uniform(-0.1, 0.1) * sh
            bx.append(cx)
            by.append(cy)
            bwid.append(w)
            bht.append(h)
            b_grid.append(g_code[k])
            b_addr.append(f"{name}{2 * n}号" if road else f"{name}{n}栋")
            b_floors.append(int(rng.integers(2, 7)) if commercial else int(rng.choice([6, 6, 11, 18])))
            b_cat.append("商业" if commercial else ("住宅" if b_floors[-1] <= 6 else "高层"))
    bx, by = np.array(bx), np.array(by)
    half_w, half_h = np.array(bwid) / 2, np.array(bht) / 2
    xs = np.column_stack([bx - half_w, bx + half_w, bx + half_w, bx - half_w, bx - half_w])
    ys = np.column_stack([by - half_h, by - half_h, by + half_h, by + half_h, by - half_h])
    blon, blat = to_ll.transform(xs.ravel(), ys.ravel())
    n_b = len(bx)
    footprints = shapely.polygons(shapely.linearrings(np.column_stack([blon, blat]),
                                                      indices=np.repeat(np.arange(n_b), 5)))
    households = rng.integers(20, 121, size=n_b)
    buildings = gpd.GeoDataFrame({"网格": b_grid, "地址": b_addr, "层数": b_floors,
                                  "户数": households, "类别": b_cat},
                                 geometry=footprints, crs=4490)
    return City(street, communities, grids, buildings)


def write_city(city: City, folder: Path) -> dict[str, Path]:
    """Write the layers: ``city.gpkg`` (one layer each), ``buildings.zip`` (a Shapefile with a
    UTF-8 ``.cpg``) and ``buildings.geojson``. Returns the paths by name."""
    folder.mkdir(parents=True, exist_ok=True)
    gpkg = folder / "city.gpkg"
    gpkg.unlink(missing_ok=True)
    for name, gdf in city.layers().items():
        pyogrio.write_dataframe(gdf, gpkg, layer=name, driver="GPKG", append=gpkg.exists())
    shp_dir = folder / "buildings_shp"
    shp_dir.mkdir(exist_ok=True)
    pyogrio.write_dataframe(city.buildings, shp_dir / "buildings.shp", encoding="UTF-8")
    if not (shp_dir / "buildings.cpg").exists():
        (shp_dir / "buildings.cpg").write_text("UTF-8")
    zpath = folder / "buildings.zip"
    with zipfile.ZipFile(zpath, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in sorted(shp_dir.iterdir()):
            zf.write(p, p.name)
    geojson = folder / "buildings.geojson"
    geojson.unlink(missing_ok=True)
    pyogrio.write_dataframe(city.buildings, geojson, driver="GeoJSON")
    return {"gpkg": gpkg, "shp_zip": zpath, "geojson": geojson}
