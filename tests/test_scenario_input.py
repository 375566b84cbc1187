"""Scenario input checks (core, API, CLI), roster privacy, map export, shortage explanations."""

from __future__ import annotations

import json
import os
import stat

import httpx
import numpy as np
import pytest
import shapely

from geo_grid.assign import Params, Problem, Scenario, rebalance, rebalance_problem
from geo_grid.assign.model import AssignmentError
from geo_grid.errors import InvalidGeometry
from tests.test_api import PROBLEM, authed, start_server
from tests.test_assign_rebalance import tiny_district, with_current
from tests.test_cli import run

SQUARE = [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]]
BOWTIE = [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]


# ------------------------------------------------------------------ 1. core checks


@pytest.mark.parametrize(("area", "words"), [
    ({"type": "Polygon", "coordinates": BOWTIE}, "Self-intersection"),
    ({"type": "Polygon", "coordinates": []}, "empty"),
    ({"type": "Point", "coordinates": [0, 0]}, "not a Point"),
    ({"type": "Feature", "geometry": None, "properties": {}}, "Feature with no geometry"),
    ({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": SQUARE}},
        {"type": "Feature", "properties": {}}]}, "feature 1 has no geometry"),
    ({"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": {
        "type": "Polygon", "coordinates": BOWTIE}}]}, "Self-intersection"),
    ({"type": "FeatureCollection", "features": []}, "no features"),
    ("POLYGON((0 0, 1 0, 1 1, 0 0))", "GeoJSON object"),
])
def test_bad_sealed_area_is_invalid_geometry(area, words):
    with pytest.raises(InvalidGeometry, match=words):
        Scenario.from_dict({"sealed_area": area})


def test_bad_shapely_sealed_area_is_invalid_geometry():
    with pytest.raises(InvalidGeometry, match="Self-intersection"):
        Scenario(sealed_area=shapely.Polygon(BOWTIE[0]))
    with pytest.raises(InvalidGeometry, match="LineString"):
        Scenario(sealed_area=shapely.LineString([(0, 0), (1, 1)]))


def test_good_sealed_areas_are_kept():
    poly = {"type": "Polygon", "coordinates": SQUARE}
    assert isinstance(Scenario.from_dict({"sealed_area": poly}).sealed_area, shapely.Polygon)
    fc = {"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": poly}]}
    assert Scenario.from_dict({"sealed_area": fc}).sealed_area.area == pytest.approx(1.0)
    multi = {"type": "Feature", "geometry": {"type": "MultiPolygon", "coordinates": [SQUARE]}}
    assert isinstance(Scenario.from_dict({"sealed_area": multi}).sealed_area, shapely.MultiPolygon)


@pytest.mark.parametrize(("data", "words"), [
    ({"seed": "abc"}, "seed must be a non-negative integer"),
    ({"seed": -1}, "seed must be a non-negative integer"),
    ({"seed": 1.5}, "seed must be a non-negative integer"),
    ({"seed": True}, "seed must be a non-negative integer"),
    ({"unavailable_fraction": "0.5"}, "unavailable_fraction must be a number"),
    ({"unavailable_fraction": 1.5}, "unavailable_fraction must be a number"),
    ({"surge": {"elderly_alone": "2"}}, "must be a number"),
    ({"surge": {"320214052001": 0}}, "must be > 0"),
    ({"surge": [1, 2]}, "surge must be an object"),
    ({"walk_limit_m": 0}, r"walk_limit_m must be a number in \(0, 20000\]"),
    ({"walk_limit_m": 20_001}, "walk_limit_m"),
    ({"walk_limit_m": "800"}, "walk_limit_m"),
    ({"unavailable_members": [1, 2]}, "unavailable_members must be a list of strings"),
    ({"sealed_buildings": "B1"}, "sealed_buildings must be a list of strings"),
    ({"name": 5}, "name must be a string"),
])
def test_from_dict_type_checks_every_field(data, words):
    with pytest.raises(AssignmentError, match=words):
        Scenario.from_dict(data)


def test_from_dict_refuses_a_non_object():
    with pytest.raises(AssignmentError, match="JSON object"):
        Scenario.from_dict([{"a": 1}])


def test_unknown_codes_show_plain_values():
    d = tiny_district()
    with pytest.raises(AssignmentError) as err:
        rebalance(d, {"unavailable_members": ["M99999"]})
    assert err.value.message == "unknown member id 'M99999'" and "np." not in err.value.message
    with pytest.raises(AssignmentError) as err:
        rebalance(d, {"sealed_buildings": ["B0"]})
    assert err.value.message == "unknown sealed building code 'B0'"


# ------------------------------------------------------------------ 6, 7. rebalance figures


def test_shortage_radius_is_limit_plus_at_least_500_m():
    # limit 600 m: a spare member 1000 m away is "just beyond" (600 + 500), not beyond 1.5×
    p = Problem(building_codes=np.array(["B1"], dtype=object), building_xy=[[0.0, 0.0]],
                demand=[30.0], building_grid=np.array(["G1"], dtype=object),
                member_ids=np.array(["A", "FAR"], dtype=object),
                member_xy=[[10.0, 0.0], [1000.0, 0.0]], capacity=[40.0, 60.0])
    params = Params(walk_limit_m=600, k_buildings=None, k_members=None)
    p = with_current(p, params)
    r = rebalance_problem(p, params, unavailable=np.array([True, False]),
                          sealed=np.zeros(1, bool), demand=p.demand)
    row = r.shortages.iloc[0]
    assert [c["member_id"] for c in row["candidates"]] == ["FAR"]
    assert bool(row["closable"]) and "1100 m" in row["reason"]


def test_shortage_without_candidates_says_so():
    p = Problem(building_codes=np.array(["B1"], dtype=object), building_xy=[[0.0, 0.0]],
                demand=[30.0], building_grid=np.array(["G1"], dtype=object),
                member_ids=np.array(["A", "FAR"], dtype=object),
                member_xy=[[10.0, 0.0], [9000.0, 0.0]], capacity=[40.0, 60.0])
    params = Params(k_buildings=None, k_members=None)
    p = with_current(p, params)
    r = rebalance_problem(p, params, unavailable=np.array([True, False]),
                          sealed=np.zeros(1, bool), demand=p.demand)
    row = r.shortages.iloc[0]
    assert row["candidates"] == [] and not bool(row["closable"])
    assert row["reason"] == "no available member with spare capacity within 2250 m"


def test_one_candidate_spare_is_counted_once():
    # two short grids, 30 each; one spare member with 40 between them: not both closable
    p = Problem(building_codes=np.array(["B1", "B2"], dtype=object),
                building_xy=[[0.0, 0.0], [0.0, 400.0]], demand=[30.0, 30.0],
                building_grid=np.array(["G1", "G2"], dtype=object),
                member_ids=np.array(["A", "B", "FAR"], dtype=object),
                member_xy=[[10.0, 0.0], [10.0, 400.0], [1800.0, 200.0]],
                capacity=[40.0, 40.0, 40.0])
    params = Params(k_buildings=None, k_members=None)
    p = with_current(p, params)
    r = rebalance_problem(p, params, unavailable=np.array([True, True, False]),
                          sealed=np.zeros(2, bool), demand=p.demand)
    sh = r.shortages.set_index("grid_code")
    assert sorted(sh.index) == ["G1", "G2"]
    assert sh["closable"].sum() == 1
    alloc = sum(c["allocated_load"] for cl in sh["candidates"] for c in cl)
    assert alloc == pytest.approx(40.0)
    c1 = sh.loc["G1", "candidates"][0]
    assert c1["spare_load"] == 40.0 and c1["shared_with"] == ["G2"]
    assert "shared" in sh.loc[~sh["closable"], "reason"].iloc[0]
    out = r.to_dict()
    assert [(c["member_id"], c["spare_load"], c["serves"]) for c in out["candidates"]] == \
        [("FAR", 40.0, ["G1", "G2"])]


def test_before_is_measured_under_the_scenario_walk_limit():
    # the current pair is 1200 m long; the scenario lowers the limit to 1000 m
    p = Problem(building_codes=np.array(["B1"], dtype=object), building_xy=[[0.0, 0.0]],
                demand=[30.0], building_grid=np.array(["G1"], dtype=object),
                member_ids=np.array(["A"], dtype=object), member_xy=[[1200.0, 0.0]],
                capacity=[40.0])
    p = with_current(p, Params(k_buildings=None, k_members=None))
    assert len(p.cur_member) == 1
    low = Params(walk_limit_m=1000, k_buildings=None, k_members=None)
    r = rebalance_problem(p, low, unavailable=np.zeros(1, bool), sealed=np.zeros(1, bool),
                          demand=p.demand)
    assert r.summary["before"]["uncovered_buildings"] == 1
    assert r.summary["uncovered_buildings"] == 1


# ------------------------------------------------------------------ 2. API


def test_catch_all_handler_returns_problem_json():
    from fastapi import FastAPI

    from api.errors import install
    from tests.test_api import serve_app

    app = FastAPI()
    install(app)

    @app.get("/boom")
    def boom():
        raise KeyError("secret-internal-detail")

    with serve_app(app) as url:
        r = httpx.get(url + "/boom", timeout=30)
    assert r.status_code == 500 and r.headers["content-type"].startswith(PROBLEM)
    body = r.json()
    assert body["title"] == "Internal error"
    assert "secret-internal-detail" not in r.text and "Traceback" not in r.text


@pytest.fixture(scope="module")
def http(own_store):
    with start_server(own_store) as url, authed(url, timeout=60) as c:
        yield c


@pytest.mark.parametrize("body", [
    {"seed": -1, "unavailable_fraction": 0.1},
    {"sealed_area": {"type": "Feature", "geometry": None}},
    {"sealed_area": {"type": "FeatureCollection", "features": [{"type": "Feature"}]}},
    {"sealed_area": {"type": "Polygon", "coordinates": BOWTIE}},
    {"sealed_area": {"type": "Point", "coordinates": [120.3, 31.5]}},
])
def test_api_bad_scenarios_are_422_problems(http, body):
    r = http.post("/api/v1/scenarios", json=body)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith(PROBLEM)


# ------------------------------------------------------------------ 3. CLI


@pytest.mark.parametrize(("text", "code"), [
    ('{"seed": "abc"}', "assignment_invalid"),
    ('[{"a": 1}]', "assignment_invalid"),
    ("{not json", "invalid_input"),
    ('{"sealed_area": {"type": "Point", "coordinates": [0, 0]}}', "invalid_geometry"),
])
def test_cli_bad_scenario_file_is_a_clear_error(tmp_path, store_path, text, code):
    bad = tmp_path / "bad.json"
    bad.write_text(text, "utf-8")
    out = run("rebalance", "--scenario", str(bad), "--db", str(store_path), check=False)
    assert out.returncode == 2, out.stderr
    assert f"error[{code}]:" in out.stderr and "Traceback" not in out.stderr


# ------------------------------------------------------------------ 4. roster


def test_masked_roster_has_no_phone_column(tmp_path, district):
    import pandas as pd

    from geo_grid.roster import write_roster

    path = tmp_path / "r.xlsx"
    write_roster(district, path)
    names = set(district.members["name"])
    for sheet in ("分栋", "网格团队"):
        df = pd.read_excel(path, sheet_name=sheet, dtype=str, engine="calamine")
        assert "电话" not in df.columns
        assert not names & set(df["姓名"].dropna())
    write_roster(district, path, unmasked=True)
    for sheet in ("分栋", "网格团队"):
        df = pd.read_excel(path, sheet_name=sheet, dtype=str, engine="calamine")
        assert "电话" in df.columns


# ------------------------------------------------------------------ 5. map


def test_exported_map_uses_core_figures_and_normal_permissions(tmp_path):
    import maps.export as export
    from geo_grid.figures import district_figures
    from maps.testing import synthetic_district
    from tests.test_figures_agree import from_map, map_layers

    d = synthetic_district()
    old = os.umask(0o022)
    try:
        out = export.write_map(d, tmp_path / "m.html")
    finally:
        os.umask(old)
    assert stat.S_IMODE(out.stat().st_mode) == 0o644
    fig = district_figures(d)
    (page,) = from_map(map_layers(out.read_text("utf-8")))
    assert page["fragile"] == set(fig.fragile_grids())
    assert {c: g["losses_tolerated"] for c, g in page["grids"].items()} == \
        fig.grid["losses_tolerated"].to_dict()


def test_cli_map_tianditu_needs_and_takes_a_key(tmp_path, store_path):
    out = run("map", "-o", str(tmp_path / "a.html"), "--tiles", "tianditu", "--db",
              str(store_path), check=False)
    assert out.returncode == 2 and "tiles_key" in out.stderr
    run("map", "-o", str(tmp_path / "b.html"), "--tiles", "tianditu", "--tiles-key", "abc123",
        "--db", str(store_path))
    html = (tmp_path / "b.html").read_text("utf-8")
    assert "abc123" in html
    run("map", "-o", str(tmp_path / "c.html"), "--tiles", "https://t.example/{z}/{x}/{y}.png",
        "--tiles-attr", "Example tiles", "--db", str(store_path))
    assert "Example tiles" in (tmp_path / "c.html").read_text("utf-8")


def test_scenario_json_roundtrip_is_unchanged():
    s = Scenario.from_dict({"name": "x", "seed": 3, "unavailable_fraction": 0.2,
                            "surge": {"elderly_alone": 1}, "walk_limit_m": 800})
    assert Scenario.from_dict(json.loads(json.dumps(s.to_dict()))) == s
