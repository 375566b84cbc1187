"""Grid editing (geo_grid.editing): split, merge, reshape, move a building, densify.

Most tests use a small hand-made district laid out in metres (EPSG:4549) and turned into
lon/lat; the last ones run on the reference district and check the edited layers with the
topology validator.

Community 901 (400 m x 300 m) has four 200 m x 150 m grids::

    A4 (0..200, 150..300) | A3 (200..400, 150..300)
    A1 (0..200,   0..150) | A2 (200..400,   0..150)

A1 holds twelve 40 m x 12 m buildings in 3 columns (x 20..60, 80..120, 140..180) and 4 rows
(y 10, 45, 80, 115); community 902 (400..600, 0..300) is one grid, B1.
"""

from __future__ import annotations

import math
from dataclasses import replace

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import LineString, Point, box

from geo_grid.crs import STORE_EPSG
from geo_grid.district import District
from geo_grid.editing import (
    Edit,
    densify,
    merge_grids,
    move_building,
    reshape_grid,
    split_by_line,
    split_into_parts,
)
from geo_grid.editing.common import to_lonlat, to_metric
from geo_grid.errors import InvalidGeometry, InvalidInput, NotFound, TopologyError

EPSG = 4549
X0, Y0 = 535000.0, 3494000.0
STREET = "320214052"
CA, CB = STREET + "901", STREET + "902"
A1, A2, A3, A4, B1 = CA + "001", CA + "002", CA + "003", CA + "004", CB + "001"
A1_HH = [30, 10, 20, 40, 25, 15, 35, 5, 50, 20, 10, 30]


def ll(geom):
    """A geometry drawn in local metres (origin X0, Y0) in lon/lat."""
    return to_lonlat(shapely.affinity.translate(geom, X0, Y0), EPSG)


def local(geom):
    """A lon/lat geometry in local metres."""
    return shapely.affinity.translate(to_metric(geom, EPSG), -X0, -Y0)


class Counter:
    """A code source handing out 900, 901, ... in each community, and recording each call."""

    def __init__(self, start: int = 900) -> None:
        self.next: dict[str, int] = {}
        self.start = start
        self.calls: list[tuple[str, int]] = []
        self.given: list[str] = []

    def __call__(self, community: str, n: int) -> list[str]:
        self.calls.append((community, n))
        first = self.next.get(community, self.start)
        self.next[community] = first + n
        out = [f"{community}{i:03d}" for i in range(first, first + n)]
        self.given += out
        return out


def _building(code, grid, community, x0, y0, w, h, households):
    return {"code": code, "grid_code": grid, "community_code": community,
            "households": households, "geometry": ll(box(x0, y0, x0 + w, y0 + h))}


@pytest.fixture(scope="module")
def small() -> District:
    communities = gpd.GeoDataFrame(
        {"code": [CA, CB], "name": ["甲社区", "乙社区"], "short_name": ["甲", "乙"]},
        geometry=[ll(box(0, 0, 400, 300)), ll(box(400, 0, 600, 300))], crs=STORE_EPSG)
    street = gpd.GeoDataFrame({"code": [STREET], "name": ["街道"]},
                              geometry=[ll(box(0, 0, 600, 300))], crs=STORE_EPSG)
    grids = gpd.GeoDataFrame(
        {"code": [A1, A2, A3, A4, B1],
         "name": ["甲一网格", "甲二网格", "甲三网格", "甲四网格", "乙一网格"],
         "community_code": [CA, CA, CA, CA, CB],
         "kind": ["residential", "mixed", "residential", "commercial", "residential"]},
        geometry=[ll(box(0, 0, 200, 150)), ll(box(200, 0, 400, 150)),
                  ll(box(200, 150, 400, 300)), ll(box(0, 150, 200, 300)),
                  ll(box(400, 0, 600, 300))], crs=STORE_EPSG)
    rows = []
    n = 0
    for r, y in enumerate((10, 45, 80, 115)):
        for c, x in enumerate((20, 80, 140)):
            n += 1
            rows.append(_building(f"{CA}{n:05d}", A1, CA, x, y, 40, 12, A1_HH[r * 3 + c]))
    rows += [
        _building(f"{CA}00013", A2, CA, 202, 60, 6, 10, 8),  # next to the A1/A2 border
        _building(f"{CA}00014", A2, CA, 300, 60, 40, 12, 20),
        _building(f"{CA}00015", A3, CA, 300, 200, 40, 12, 20),
        _building(f"{CA}00016", A4, CA, 60, 200, 40, 12, 20),
        _building(f"{CB}00001", B1, CB, 450, 100, 40, 12, 20),
    ]
    buildings = gpd.GeoDataFrame(rows, geometry="geometry", crs=STORE_EPSG)
    members = pd.DataFrame({
        "id": ["M1", "M2", "M3", "M4", "M5"],
        "grid_code": [A1, A1, A1, A2, A3],
        "role": ["secretary", "social_worker", "volunteer", "secretary", "secretary"],
    })
    # M1 looks after the right-hand column of A1, M2 the left-hand column, M3 nothing
    right = [f"{CA}{n:05d}" for n in (3, 6, 9, 12)]
    left = [f"{CA}{n:05d}" for n in (1, 4, 7, 10)]
    assignment = pd.DataFrame({
        "member_id": ["M1"] * 4 + ["M2"] * 4 + ["M4"],
        "building_code": right + left + [f"{CA}00013"],
        "load": 1.0, "distance_m": 10.0,
    })
    return District(street=street, communities=communities, grids=grids, buildings=buildings,
                    members=members, assignment=assignment, version="test")


def apply(district: District, edit: Edit) -> District:
    """The district after an edit (what the store writes), for checking the result."""
    grids = district.grids[~district.grids["code"].isin(edit.retired)]
    grids = grids[~grids["code"].isin(list(edit.reshaped["code"]))]
    grids = pd.concat([grids, edit.added, edit.reshaped], ignore_index=True)
    buildings = district.buildings.copy()
    buildings["grid_code"] = [edit.moved.get(c, g)
                              for c, g in zip(buildings["code"], buildings["grid_code"], strict=True)]
    members = district.members.copy()
    if len(members):
        members["grid_code"] = [edit.members.get(m, g)
                                for m, g in zip(members["id"], members["grid_code"], strict=True)]
    return replace(district, grids=gpd.GeoDataFrame(grids, geometry="geometry", crs=STORE_EPSG),
                   buildings=buildings, members=members)


def area_m2(geom) -> float:
    return float(shapely.area(to_metric(geom, EPSG)))


def straddling(footprints, parts) -> list[int]:
    """Indexes of footprints sharing more than 0.01 m² with two or more parts."""
    f = to_metric(np.asarray(footprints, dtype=object), EPSG)
    p = to_metric(np.asarray(parts, dtype=object), EPSG)
    shared = shapely.area(shapely.intersection(f[:, None], p[None, :])) > 0.01
    return [int(i) for i in np.flatnonzero(shared.sum(axis=1) > 1)]


def check_parts(district: District, code: str, edit: Edit, k: int) -> None:
    """The parts of a split grid: k single polygons tiling the grid, no footprint cut."""
    grid = district.grids.set_index("code").geometry[code]
    parts = edit.added.geometry.to_numpy()
    assert len(parts) == k
    assert all(p.geom_type == "Polygon" and p.is_valid for p in parts)
    union = shapely.union_all(parts)
    assert area_m2(shapely.symmetric_difference(union, grid)) < 1.0
    overlap = sum(area_m2(shapely.intersection(parts[i], parts[j]))
                  for i in range(k) for j in range(i + 1, k))
    assert overlap < 1.0
    b = district.buildings[district.buildings["grid_code"] == code]
    assert straddling(b.geometry.to_numpy(), parts) == []
    assert set(edit.moved) == set(b["code"])
    assert set(edit.moved.values()) <= set(edit.added["code"])


# -- split by a line ---------------------------------------------------------------------------


def test_split_by_line_cuts_a_grid_in_two_along_a_gap(small):
    codes = Counter()
    line = ll(LineString([(130, -10), (130, 160)]))
    edit = split_by_line(small, A1, line, codes)
    assert edit.kind == "split"
    assert edit.retired == (A1,)
    assert codes.calls == [(CA, 2)]
    assert list(edit.added["code"]) == codes.given == [CA + "900", CA + "901"]
    assert list(edit.added["name"]) == ["甲一网格-1", "甲一网格-2"]
    assert set(edit.added["community_code"]) == {CA}
    assert set(edit.added["kind"]) == {"residential"}
    assert edit.added.crs.to_epsg() == STORE_EPSG
    areas = sorted(round(area_m2(g)) for g in edit.added.geometry)
    assert areas == [70 * 150, 130 * 150]
    check_parts(small, A1, edit, 2)
    # the right-hand column (x 140..180) is in the part east of the line
    east = edit.added.loc[[local(g).centroid.x > 130 for g in edit.added.geometry], "code"].item()
    assert {b for b, g in edit.moved.items() if g == east} == {
        f"{CA}{n:05d}" for n in (3, 6, 9, 12)}
    parts = {p["code"]: p["households"] for p in edit.detail["parts"]}
    assert parts[east] == sum(A1_HH[2::3])
    assert sum(parts.values()) == sum(A1_HH)
    # M1 looks after the east column, M2 the west one; M3 has no building and goes to the part
    # with more households (the west one: 175 against 115)
    west = next(c for c in parts if c != east)
    assert edit.members == {"M1": east, "M2": west, "M3": west}
    assert edit.detail["line"][0] == pytest.approx(list(line.coords[0]))


def test_split_by_line_refuses_a_line_that_does_not_cut(small):
    inside = ll(LineString([(50, 50), (150, 50)]))  # starts and ends inside the grid
    with pytest.raises(InvalidGeometry, match="does not cut grid .* into two or more parts"):
        split_by_line(small, A1, inside, Counter())
    outside = ll(LineString([(250, -10), (250, 160)]))
    with pytest.raises(InvalidGeometry, match="does not cut"):
        split_by_line(small, A1, outside, Counter())
    with pytest.raises(InvalidGeometry, match="must be a LineString or MultiLineString"):
        split_by_line(small, A1, ll(Point(50, 50)), Counter())
    metres = shapely.affinity.translate(LineString([(130, -10), (130, 160)]), X0, Y0)
    with pytest.raises(InvalidGeometry, match="not metres"):
        split_by_line(small, A1, metres, Counter())
    with pytest.raises(NotFound, match="grid '320214052901999' does not exist"):
        split_by_line(small, CA + "999", ll(LineString([(130, -10), (130, 160)])), Counter())


def test_split_by_line_crossing_twice_makes_three_parts(small):
    zigzag = ll(LineString([(70, -10), (70, 160), (130, 160), (130, -10)]))
    edit = split_by_line(small, A1, zigzag, Counter())
    assert list(edit.added["name"]) == ["甲一网格-1", "甲一网格-2", "甲一网格-3"]
    check_parts(small, A1, edit, 3)


# -- split into k parts ------------------------------------------------------------------------


@pytest.mark.parametrize("k", [2, 3, 4])
def test_split_into_parts_balances_households_along_gaps(small, k):
    codes = Counter()
    edit = split_into_parts(small, A1, k, codes)
    assert codes.calls == [(CA, k)]
    assert list(edit.added["code"]) == codes.given
    check_parts(small, A1, edit, k)
    hh = [p["households"] for p in edit.detail["parts"]]
    assert sum(hh) == sum(A1_HH)
    mean = sum(A1_HH) / k
    assert max(abs(h - mean) for h in hh) <= 0.35 * mean, hh
    assert all(p["buildings"] >= 1 for p in edit.detail["parts"])
    assert edit.detail["k"] == k
    # every member of A1 is in one of the parts
    assert set(edit.members) == {"M1", "M2", "M3"}
    assert set(edit.members.values()) <= set(edit.added["code"])


def test_split_into_parts_refuses_bad_k(small):
    with pytest.raises(InvalidInput, match="has 12 buildings; it cannot be split into 13 parts"):
        split_into_parts(small, A1, 13, Counter())
    with pytest.raises(InvalidInput, match="k must be an integer of at least 2"):
        split_into_parts(small, A1, 1, Counter())
    with pytest.raises(InvalidInput, match="k must be an integer"):
        split_into_parts(small, A1, 2.5, Counter())
    with pytest.raises(NotFound):
        split_into_parts(small, "320214052901099", 2, Counter())


def test_split_of_a_concave_grid_gives_single_polygons(small):
    # an L-shaped grid: the column at x 0..60 runs up to y 300, the rest stops at y 150
    ell = ll(shapely.union_all([box(0, 0, 200, 150), box(0, 150, 60, 300)]))
    grids = small.grids.copy()
    grids.loc[grids["code"] == A1, "geometry"] = ell
    grids.loc[grids["code"] == A4, "geometry"] = ll(box(60, 150, 200, 300))
    extra = gpd.GeoDataFrame([_building(f"{CA}{n:05d}", A1, CA, 10, y, 40, 12, 30)
                              for n, y in ((20, 200), (21, 250))], geometry="geometry",
                             crs=STORE_EPSG)
    district = replace(small, grids=grids,
                       buildings=pd.concat([small.buildings, extra], ignore_index=True))
    for k in (2, 3, 5):
        edit = split_into_parts(district, A1, k, Counter())
        check_parts(district, A1, edit, k)


# -- merge -------------------------------------------------------------------------------------


def test_merge_adjacent_grids(small):
    codes = Counter(start=500)
    edit = merge_grids(small, [A2, A3, A1], codes)
    assert edit.kind == "merge"
    assert edit.retired == (A2, A3, A1)
    assert codes.calls == [(CA, 1)]
    new = CA + "500"
    row = edit.added.iloc[0]
    assert (row["code"], row["name"], row["kind"], row["community_code"]) == (
        new, "甲二网格", "mixed", CA)
    assert row.geometry.geom_type == "Polygon"
    assert area_m2(shapely.symmetric_difference(
        row.geometry, ll(shapely.union_all([box(0, 0, 400, 150), box(200, 150, 400, 300)])))) < 1
    assert set(edit.moved) == set(small.buildings.loc[
        small.buildings["grid_code"].isin([A1, A2, A3]), "code"])
    assert set(edit.moved.values()) == {new}
    assert edit.members == {"M1": new, "M2": new, "M3": new, "M4": new, "M5": new}
    named = merge_grids(small, [A1, A4], Counter(), name="新网格")
    assert named.added["name"].item() == "新网格"
    assert named.added["kind"].item() == "residential"


def test_merge_closes_a_sliver_between_grids(small):
    # A4 pulled back 0.3 m from A1: still adjacent, and the merged grid is one polygon
    grids = small.grids.copy()
    grids.loc[grids["code"] == A4, "geometry"] = ll(box(0, 150.3, 200, 300))
    edit = merge_grids(replace(small, grids=grids), [A1, A4], Counter())
    assert edit.added.geometry.iloc[0].geom_type == "Polygon"


def test_merge_refuses_grids_that_are_not_adjacent(small):
    # A1 and A3 only touch at the corner (200, 150)
    with pytest.raises(InvalidInput, match=f"grid {A3} is not adjacent to {A1}") as err:
        merge_grids(small, [A1, A3], Counter())
    assert err.value.details["grids"] == [A3]


def test_merge_refuses_grids_of_two_communities(small):
    with pytest.raises(InvalidInput, match=f"different communities.*{B1} \\(community {CB}\\)"):
        merge_grids(small, [A2, B1], Counter())


def test_merge_refuses_fewer_than_two_and_unknown_grids(small):
    with pytest.raises(InvalidInput, match="at least two grids"):
        merge_grids(small, [A1], Counter())
    with pytest.raises(InvalidInput, match="named more than once"):
        merge_grids(small, [A1, A1], Counter())
    with pytest.raises(NotFound, match="320214052901077"):
        merge_grids(small, [A1, CA + "077"], Counter())


def test_code_source_is_the_only_source_of_codes(small):
    # a source answering with a code a grid holds, or too few codes, is refused
    with pytest.raises(InvalidInput, match="a code a grid already holds"):
        merge_grids(small, [A1, A2], lambda c, n: [A3])
    with pytest.raises(InvalidInput, match="gave 1 distinct codes .* 2 were asked"):
        split_into_parts(small, A1, 2, lambda c, n: [c + "777"])
    with pytest.raises(InvalidInput, match="not a 15-digit grid code of community"):
        merge_grids(small, [A1, A2], lambda c, n: [CB + "777"])


# -- reshape -----------------------------------------------------------------------------------


def test_reshape_moving_a_shared_border(small):
    edit = reshape_grid(small, A1, ll(box(0, 0, 210, 150)), neighbours={A2: ll(box(210, 0, 400, 150))})
    assert edit.kind == "geometry"
    assert edit.retired == ()
    assert len(edit.added) == 0
    assert list(edit.reshaped["code"]) == [A1, A2]
    assert list(edit.reshaped["name"]) == ["甲一网格", "甲二网格"]
    # the small building at x 202..208 is now in A1; nothing else moves
    assert edit.moved == {f"{CA}00013": A1}
    assert edit.members == {}
    assert [g["area_m2_after"] for g in edit.detail["grids"]] == pytest.approx([31500, 28500], abs=1)


def test_reshape_that_overlaps_a_neighbour_is_refused(small):
    with pytest.raises(TopologyError, match="would break the tiling") as err:
        reshape_grid(small, A1, ll(box(0, 0, 210, 150)))
    violations = err.value.details["violations"]
    assert [v["kind"] for v in violations] == ["overlap"]
    v = violations[0]
    assert set(v["code"].split(",")) == {A1, A2}
    assert v["layer"] == "grids"
    assert "1500.0 m²" in v["message"]
    where = local(Point(v["lon"], v["lat"]))
    assert box(200, 0, 210, 150).contains(where)


def test_reshape_that_leaves_a_gap_or_goes_outside_is_refused(small):
    with pytest.raises(TopologyError) as err:
        reshape_grid(small, A1, ll(box(0, 0, 190, 150)))
    (v,) = err.value.details["violations"]
    assert (v["kind"], v["code"]) == ("gap", A1)
    assert box(190, 0, 200, 150).contains(local(Point(v["lon"], v["lat"])))
    with pytest.raises(TopologyError) as err:
        reshape_grid(small, A1, ll(box(-10, 0, 200, 150)))
    (v,) = err.value.details["violations"]
    assert (v["kind"], v["code"]) == ("outside_parent", A1)
    assert box(-10, 0, 0, 150).contains(local(Point(v["lon"], v["lat"])))
    # within the tolerance: a 0.5 m² nick is accepted
    nicked = shapely.difference(box(0, 0, 200, 150), box(199, 149.5, 200, 150))
    assert reshape_grid(small, A1, ll(nicked)).kind == "geometry"


def test_reshape_refuses_bad_input(small):
    with pytest.raises(InvalidGeometry, match="must be a Polygon or MultiPolygon"):
        reshape_grid(small, A1, ll(LineString([(0, 0), (1, 1)])))
    bowtie = ll(shapely.Polygon([(0, 0), (200, 150), (200, 0), (0, 150)]))
    with pytest.raises(InvalidGeometry, match="is not valid: Self-intersection"):
        reshape_grid(small, A1, bowtie)
    with pytest.raises(InvalidInput, match=f"neighbour grid {B1} is in community {CB}"):
        reshape_grid(small, A2, ll(box(200, 0, 400, 150)), neighbours={B1: ll(box(400, 0, 600, 300))})
    with pytest.raises(NotFound, match="neighbour grid"):
        reshape_grid(small, A2, ll(box(200, 0, 400, 150)), neighbours={CA + "098": ll(box(0, 0, 1, 1))})


# -- move a building ---------------------------------------------------------------------------


def test_move_building(small):
    code = f"{CA}00016"
    edit = move_building(small, code, A3)
    assert edit.kind == "building_grid"
    assert edit.moved == {code: A3}
    assert edit.detail == {"building": code, "from": A4, "to": A3}
    assert edit.retired == () and len(edit.added) == 0 and len(edit.reshaped) == 0
    with pytest.raises(InvalidInput, match=f"is in community {CA}; grid {B1} is in community {CB}"):
        move_building(small, code, B1)
    with pytest.raises(InvalidInput, match="already in grid"):
        move_building(small, code, A4)
    with pytest.raises(NotFound, match="building '32021405290199999' does not exist"):
        move_building(small, CA + "99999", A3)
    with pytest.raises(NotFound, match="grid"):
        move_building(small, code, CA + "055")


# -- densify -----------------------------------------------------------------------------------


def test_densify_splits_every_grid_over_the_limit(small):
    codes = Counter()
    edit = densify(small, 100, codes)
    assert edit.kind == "densify"
    assert edit.retired == (A1,)  # 290 households; the others hold 28 or 20
    assert codes.calls == [(CA, 3)]
    check_parts(small, A1, edit, 3)
    (grid,) = edit.detail["grids"]
    assert grid["grid"] == A1 and grid["households"] == sum(A1_HH)
    assert [p["code"] for p in grid["parts"]] == codes.given
    assert edit.detail["capped"] == []
    # nothing over the limit: an edit without changes
    none = densify(small, 1000, Counter())
    assert none.retired == () and len(none.added) == 0 and none.moved == {}
    # a grid whose only building is over the limit cannot be split, and no grid is cut into
    # more parts than it has buildings (A1 would need 20 parts, it gets 12)
    capped = densify(small, 15, Counter())
    assert {c["grid"] for c in capped.detail["capped"]} == {A1, A3, A4, B1}
    assert capped.retired == (A1, A2)
    assert len(capped.added) == 12 + 2
    with pytest.raises(InvalidInput, match="max_households must be a positive integer"):
        densify(small, 0, Counter())


# -- the reference district --------------------------------------------------------------------


def _grid_problems(district: District, layers=("grids", "communities", "buildings")) -> list:
    from geo_grid.topology import validate

    return [v for v in validate(district) if v.layer in layers]


def test_reference_split_into_parts(district):
    per = district.buildings.groupby("grid_code")["households"].sum()
    code = str(per.idxmax())
    codes = Counter()
    edit = split_into_parts(district, code, 3, codes)
    assert codes.calls == [(code[:12], 3)]
    grid = district.grids.set_index("code").geometry[code]
    parts = edit.added.geometry.to_numpy()
    assert all(p.geom_type == "Polygon" and p.is_valid for p in parts)
    epsg = district.metric_epsg
    assert float(to_metric(shapely.symmetric_difference(shapely.union_all(parts), grid),
                           epsg).area) < 1.0
    hh = [p["households"] for p in edit.detail["parts"]]
    assert sum(hh) == per[code]
    assert max(abs(h - per[code] / 3) for h in hh) <= 0.3 * per[code] / 3, hh
    mine = district.members[district.members["grid_code"] == code]
    assert len(mine) and set(edit.members) == set(mine["id"])
    assert set(edit.members.values()) <= set(edit.added["code"])
    assert _grid_problems(apply(district, edit)) == []


def test_reference_densify_merge_and_reshape_keep_the_tiling(district):
    edit = densify(district, 700, Counter())
    per = district.buildings.groupby("grid_code")["households"].sum()
    assert set(edit.retired) == set(per[per > 700].index)
    assert len(edit.added) == sum(math.ceil(h / 700) for h in per[per > 700])
    assert all(g.geom_type == "Polygon" for g in edit.added.geometry)
    after = apply(district, edit)
    assert _grid_problems(after) == []
    assert not set(after.members["grid_code"]) & set(edit.retired)

    # merge two neighbouring grids of one community back
    first = district.grids.iloc[0]
    same = district.grids[district.grids["community_code"] == first["community_code"]]
    touching = same[same.geometry.intersects(first.geometry) & (same["code"] != first["code"])]
    pair = [first["code"], touching["code"].iloc[0]]
    merged = merge_grids(district, pair, Counter())
    assert merged.added.geometry.iloc[0].geom_type == "Polygon"
    assert _grid_problems(apply(district, merged)) == []

    # reshape: give the merged area's split line back (one grid grows, the other shrinks)
    a, b = (district.grids.set_index("code").geometry[c] for c in pair)
    union = shapely.union_all([a, b])
    grown = shapely.intersection(union, shapely.buffer(a, 0.0002))  # about 20 m into b
    edit = reshape_grid(district, pair[0], grown, neighbours={pair[1]: shapely.difference(union, grown)})
    assert list(edit.reshaped["code"]) == pair
    # (the new border may run through buildings: each went to the grid holding most of it)
    assert _grid_problems(apply(district, edit), ("grids", "communities")) == []
    after = apply(district, edit)
    new = after.grids.set_index("code").geometry
    mine = after.buildings[after.buildings["grid_code"].isin(pair)]
    for code, grid, foot in zip(mine["code"], mine["grid_code"], mine.geometry, strict=True):
        other = pair[1] if grid == pair[0] else pair[0]
        assert foot.intersection(new[grid]).area >= foot.intersection(new[other]).area, code
    assert set(edit.moved) <= set(mine["code"])
    with pytest.raises(TopologyError) as err:
        reshape_grid(district, pair[0], grown)
    assert any(v["kind"] == "overlap" and set(v["code"].split(",")) == set(pair)
               for v in err.value.details["violations"])
