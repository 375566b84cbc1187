"""Rebalancing: stability, sealed buildings, shortages, scenarios, district entry points."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from geo_grid.assign import (
    Params,
    Scenario,
    district_coverage,
    district_resilience,
    district_teams,
    initial_assignment,
    rebalance,
    rebalance_problem,
    solve,
    synthetic_problem,
)
from geo_grid.assign.flow import demand_int
from geo_grid.assign.model import AssignmentError
from geo_grid.crs import from_metric
from geo_grid.district import District


def with_current(p, params=None):
    params = params or Params()
    f = solve(p, params).flow
    return p.with_(cur_member=f[:, 0], cur_building=f[:, 1],
                   cur_share=f[:, 2] / demand_int(p, params)[f[:, 1]])


def no_scenario(p):
    return dict(unavailable=np.zeros(p.n_members, bool), sealed=np.zeros(p.n_buildings, bool),
                demand=p.demand)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_one_member_out_only_their_buildings_change_hands(seed):
    p = with_current(synthetic_problem(16, 250, 200, seed=seed))
    loads = np.bincount(p.cur_member, minlength=p.n_members)
    out = int(np.argmax(loads))  # the member with the most buildings
    kw = no_scenario(p)
    kw["unavailable"][out] = True
    r = rebalance_problem(p, Params(), **kw)
    mid = p.member_ids[out]
    assert len(r.moves) > 0
    assert (r.moves["from_member"] == mid).all()
    assert (r.moves["reason"] == "member unavailable").all()
    assert r.summary["uncovered_buildings"] == 0
    # every other pair is unchanged (same member, same building, same load or more on theirs)
    before = set(zip(p.member_ids[p.cur_member], p.building_codes[p.cur_building], strict=True))
    theirs = set(p.building_codes[p.cur_building[p.cur_member == out]])
    after = r.assignment
    for m, b in before:
        if m != mid and b not in theirs:
            assert ((after["member_id"] == m) & (after["building_code"] == b)).any()
    changed = set(r.moves["building_code"])
    assert changed <= theirs


def test_no_change_no_moves():
    p = with_current(synthetic_problem(9, 120, 90, seed=5))
    r = rebalance_problem(p, Params(), **no_scenario(p))
    assert len(r.moves) == 0


def test_rebalance_moves_less_than_from_scratch():
    p = with_current(synthetic_problem(25, 400, 260, seed=3))
    rng = np.random.default_rng(0)
    kw = no_scenario(p)
    kw["unavailable"][rng.choice(p.n_members, 50, replace=False)] = True
    kept = rebalance_problem(p, Params(), **kw)
    scratch = rebalance_problem(p, Params(), **kw, from_scratch=True)
    assert kept.summary["uncovered_load"] == scratch.summary["uncovered_load"]
    assert kept.summary["moved_load"] <= scratch.summary["moved_load"]


def test_sealed_in_member_serves_only_home_building():
    p = with_current(synthetic_problem(9, 150, 100, seed=2))
    m = int(np.flatnonzero((p.home >= 0) & p.available)[0])
    home = int(p.home[m])
    kw = no_scenario(p)
    kw["sealed"][home] = True
    kw["demand"] = np.where(kw["sealed"], p.demand * 2, p.demand)
    r = rebalance_problem(p, Params(), **kw)
    mine = r.assignment[r.assignment["member_id"] == p.member_ids[m]]
    assert set(mine["building_code"]) <= {p.building_codes[home]}
    reasons = set(r.moves["reason"])
    assert reasons <= {"member sealed in", "building sealed", "rebalanced"}
    gave = r.moves[r.moves["from_member"] == p.member_ids[m]]
    assert (gave["building_code"] != p.building_codes[home]).all()


def test_shortage_lists_members_just_beyond_the_limit():
    # one building at 0, its only member out; a spare member at 1800 m (limit 1500)
    from geo_grid.assign import Problem
    p = Problem(building_codes=np.array(["B1", "B2"], dtype=object),
                building_xy=[[0.0, 0.0], [3000.0, 0.0]], demand=[30.0, 10.0],
                building_grid=np.array(["G1", "G2"], dtype=object),
                member_ids=np.array(["A", "FAR"], dtype=object),
                member_xy=[[10.0, 0.0], [1800.0, 0.0]], capacity=[40.0, 60.0])
    p = with_current(p, Params(k_buildings=None, k_members=None))
    r = rebalance_problem(p, Params(), unavailable=np.array([True, False]),
                          sealed=np.zeros(2, bool), demand=p.demand)
    assert r.summary["uncovered_buildings"] == 1
    assert r.summary["uncovered_load"] == 30.0
    row = r.shortages.iloc[0]
    assert row["grid_code"] == "G1"
    assert [c["member_id"] for c in row["candidates"]] == ["FAR"]
    assert row["candidates"][0]["distance_m"] == pytest.approx(1800.0)
    assert bool(row["closable"])
    # the move leaves B1 uncovered: from A to nobody
    mv = r.moves.set_index("building_code").loc["B1"]
    assert mv["from_member"] == "A" and mv["to_member"] is None


def test_scenario_from_dict_and_validation():
    s = Scenario.from_dict({"name": "flood", "unavailable_members": ["M1"], "surge": {
        "elderly_alone": 2.0}, "walk_limit_m": 1000,
        "sealed_area": {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}})
    assert s.unavailable_members == ("M1",)
    assert isinstance(s.sealed_area, shapely.Polygon)
    assert Scenario.from_dict(s.to_dict()) == s
    with pytest.raises(AssignmentError):
        Scenario.from_dict({"nope": 1})
    with pytest.raises(AssignmentError):
        Scenario(unavailable_fraction=1.5)
    with pytest.raises(AssignmentError):
        Scenario(surge={"elderly_alone": -1})


def tiny_district(n=6, step=200.0) -> District:
    """n×n buildings 200 m apart in 4 grids of one community, 2 members per building row."""
    x0, y0 = 500_000.0, 3_490_000.0
    ix, iy = np.meshgrid(np.arange(n), np.arange(n))
    ix, iy = ix.ravel(), iy.ravel()
    mx, my = x0 + ix * step, y0 + iy * step
    boxes = shapely.box(mx - 10, my - 10, mx + 10, my + 10)
    boxes = shapely.transform(boxes, lambda xy: np.column_stack(from_metric(xy[:, 0], xy[:, 1])))
    grid = np.array([f"320214052001{1 + (i >= n // 2) + 2 * (j >= n // 2):03d}"
                     for i, j in zip(ix, iy, strict=True)])
    codes = [f"320214052001{k + 1:05d}" for k in range(n * n)]
    buildings = gpd.GeoDataFrame({
        "code": codes, "grid_code": grid, "community_code": "320214052001",
        "units": 2, "households": 20, "category": "slab"}, geometry=boxes, crs=4490)
    hh = pd.DataFrame({"id": np.arange(20 * n * n), "building_code": np.repeat(codes, 20),
                       "size": 2, "elderly_alone": np.arange(20 * n * n) % 10 == 0,
                       "disabled": False, "chronic": False, "infant": False})
    k = np.arange(0, n * n, 1)
    roles = np.where(k % 9 == 0, "secretary", np.where(k % 3 == 0, "social_worker", "volunteer"))
    members = pd.DataFrame({"id": [f"M{i:03d}" for i in k], "role": roles, "grid_code": grid[k],
                            "home_building": [codes[i] for i in k], "x": mx[k] + 1, "y": my[k],
                            "available": True, "capacity": 30.0})
    grids_geom = buildings.dissolve("grid_code").reset_index()
    grids = gpd.GeoDataFrame({"code": grids_geom["grid_code"], "name": "g",
                              "community_code": "320214052001", "kind": "residential"},
                             geometry=grids_geom.geometry.convex_hull, crs=4490)
    return District(street=gpd.GeoDataFrame(), communities=gpd.GeoDataFrame(), grids=grids,
                    buildings=buildings, households=hh, members=members)


def test_district_entry_points():
    d = tiny_district()
    a = initial_assignment(d)
    assert list(a.columns[:4]) == ["member_id", "building_code", "load", "distance_m"]
    assert a["load"].sum() == pytest.approx(36 * 22)  # 20 households + 2 elderly alone
    d = District(**{**d.__dict__, "assignment": a})
    cov = district_coverage(d)
    assert cov.totals()["uncovered_buildings"] == 0
    assert cov.grid["households"].sum() == 720
    assert set(cov.grid["secretary"]) <= {0, 1, 2}
    # seal the buildings in a 250 m radius around building 1 (metres → lon/lat polygon)
    area = shapely.Point(500_000.0, 3_490_000.0).buffer(250)
    r = rebalance(d, Scenario(name="seal", sealed_area=area, sealed_area_crs="epsg:4549",
                              unavailable_members=("M007",)))
    assert len(r.sealed) == 3
    assert "M007" in r.unavailable
    assert {"building sealed", "member unavailable"} & set(r.moves["reason"])
    out = r.to_dict()
    assert out["summary"]["moves"] == len(out["moves"])
    res = district_resilience(d)
    assert len(res) == 4 and (res["losses_tolerated"] >= -1).all()
    members, slots = district_teams(d)
    assert members["grid_code"].notna().all()
    assert (slots.groupby("role")["filled"].sum() == members.groupby("role").size()).all()
