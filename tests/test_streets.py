"""Several streets in one store: adding streets (``init`` and ``import``), ``street=`` on the
routes and maps, a scenario across a street boundary, reverts per street, both backends.

The second street is synthetic and small (:mod:`tests.neighbour`): it shares part of the
reference street's east edge, so a sealed area can straddle the boundary.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time

import geopandas as gpd
import httpx
import numpy as np
import pandas as pd
import pytest
import shapely

from geo_grid.district import District, street_of
from geo_grid.errors import Conflict, InvalidInput
from geo_grid.figures import district_figures
from geo_grid.layers import DEFAULT_BOUNDARIES
from geo_grid.store import Store, load_district
from geo_grid.store.streets import add_street, street_codes
from tests.conftest import copy_without_users
from tests.neighbour import CODE, neighbour_layers, write_neighbour
from tests.test_api import provision, start_server

# one worker runs the module: its tests share (and add streets to) one store and one server
pytestmark = pytest.mark.xdist_group("streets")

CLI = [sys.executable, "-m", "geo_grid.cli"]
REF = "320214052"
WEST = "320214098"


def cli(*args, check=True):
    out = subprocess.run(CLI + [str(a) for a in args], capture_output=True, text=True,
                         timeout=600)
    if check:
        assert out.returncode == 0, out.stdout + out.stderr
    return out


@pytest.fixture(scope="module")
def ref_street():
    return gpd.read_file(DEFAULT_BOUNDARIES / "street.geojson")


@pytest.fixture(scope="module")
def two_streets(store_path, tmp_path_factory, ref_street):
    """A copy of the reference store with the east neighbour added by ``geo-grid init``."""
    tmp = tmp_path_factory.mktemp("streets")
    db = copy_without_users(store_path, tmp / "two.gpkg")
    write_neighbour(tmp / "east", ref_street)
    out = cli("init", "--db", db, "--boundaries", tmp / "east")
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["street"] == CODE and report["streets"] == [REF, CODE]
    return db, report


# ------------------------------------------------------------------------- core


def test_street_of_and_for_street_cut_by_code_prefix(district):
    codes = ["320214052005", "320214052005001", "32021405200500001", None]
    assert list(street_of(codes)) == [REF, REF, REF, None]
    assert district.for_street(REF) is district  # one street: itself
    with pytest.raises(Exception, match="street 999999999 does not exist"):
        district.for_street("999999999")


def test_init_adds_a_street_with_its_own_population(two_streets, store_path):
    db, report = two_streets
    d = load_district(db)
    ref = load_district(store_path)
    assert d.street_codes == [REF, CODE]
    assert d.boundary_version == 2
    east = d.for_street(CODE)
    assert report["grids"] == len(east.grids) == 4
    assert report["members"] == len(east.members) > 0
    assert len(east.households) == report["households"] > 0
    # the reference street is untouched, row for row
    west = d.for_street(REF)
    pd.testing.assert_frame_equal(
        west.members.drop(columns=["fid"], errors="ignore").reset_index(drop=True),
        ref.members.reset_index(drop=True))
    assert len(west.assignment) == len(ref.assignment)
    # ids stay unique store-wide: the new street's are numbered above the old ones
    assert d.members["id"].is_unique and d.households["id"].is_unique
    assert set(east.members["id"]).isdisjoint(ref.members["id"])
    assert all(str(b).startswith(CODE + "-") for b in east.members["branch_code"])
    # every building of the new street is covered by its own members
    fig = district_figures(d).for_street(CODE)
    assert fig.district["buildings"] == len(east.buildings)
    assert fig.district["uncovered_buildings"] == 0
    # a second init of the same layers changes nothing
    out = cli("init", "--db", db, "--boundaries", db.parent / "east")
    assert "exists" in out.stdout + out.stderr
    assert load_district(db).boundary_version == 2


def test_figures_of_a_street_sum_to_the_district(two_streets):
    d = load_district(two_streets[0])
    fig = district_figures(d)
    parts = [fig.for_street(s) for s in d.street_codes]
    for col in ("buildings", "households", "members", "load", "covered_buildings"):
        assert sum(p.district[col] for p in parts) == pytest.approx(fig.district[col])
    assert set(parts[1].grid.index) == set(d.for_street(CODE).grids["code"])


def _counts(db) -> dict[str, int]:
    con = sqlite3.connect(db)
    try:
        return {t: con.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0]
                for t in ("street", "grids", "buildings", "members", "households",
                          "assignment_versions", "boundary_versions")}
    finally:
        con.close()


def test_import_adds_a_shapefile_street_and_refuses_overlap_and_replacement(
        two_streets, tmp_path, ref_street):
    db = copy_without_users(two_streets[0], tmp_path / "three.gpkg")
    # the east street again under another code: it overlaps the east street
    same = write_neighbour(tmp_path / "dup", ref_street, driver="GPKG", code="320214097",
                           name="重叠街道（测试）")
    before = _counts(db)
    out = cli("import", "--db", db, *[a for k, p in same.items() for a in (f"--{k}", p)],
              check=False)
    assert out.returncode == 2
    assert "overlaps street 320214099" in out.stdout + out.stderr
    assert _counts(db) == before  # nothing written
    # the east street's own code: the store holds it; with --force it would lose the others
    east = write_neighbour(tmp_path / "east", ref_street, driver="GPKG")
    args = [a for k, p in east.items() for a in (f"--{k}", p)]
    out = cli("import", "--db", db, *args, check=False)
    assert out.returncode == 2 and "holds street 320214099 already" in out.stdout + out.stderr
    out = cli("import", "--db", db, *args, "--force", check=False)
    assert out.returncode == 2 and "replacing it would lose them" in out.stdout + out.stderr
    assert _counts(db) == before
    # a street west of the reference one, from Shapefiles: added, without people
    west = write_neighbour(tmp_path / "west", ref_street, driver="ESRI Shapefile", side="west",
                           code=WEST, name="西邻街道（测试）")
    report = tmp_path / "report.json"
    cli("import", "--db", db, *[a for k, p in west.items() for a in (f"--{k}", p)],
        "--report", report)
    added = json.loads(report.read_text(encoding="utf-8"))["added_street"]
    assert added["street"] == WEST and added["streets"] == [REF, WEST, CODE]
    d = load_district(db)
    assert d.street_codes == [REF, WEST, CODE]
    assert len(d.for_street(WEST).grids) == 4 and len(d.for_street(WEST).members) == 0
    assert d.boundary_version == before["boundary_versions"] + 1
    # the lookup answers for it (no team yet)
    out = cli("lookup", "--db", db, "--lon",
              d.for_street(WEST).buildings.geometry.iloc[0].centroid.x, "--lat",
              d.for_street(WEST).buildings.geometry.iloc[0].centroid.y)
    ans = json.loads(out.stdout)
    assert ans["street"]["code"] == WEST and ans["grid"]["code"].startswith(WEST)


def test_add_street_on_both_backends_all_or_nothing(backend, ref_street):
    layers = neighbour_layers(ref_street)
    new = District(layers["street"], layers["communities"], layers["grids"], layers["buildings"])
    store = Store(backend)
    try:
        # a building code the store uses already: refused, nothing written
        taken = layers["buildings"].assign(code=layers["buildings"]["code"].where(
            np.arange(len(layers["buildings"])) != 0, "32021405200500001"))
        bad = District(layers["street"], layers["communities"], layers["grids"], taken)
        with pytest.raises(Conflict, match="buildings code"):
            add_street(store, bad, author="test")
        assert street_codes(store) == [REF]
        done = add_street(store, new, author="test", note="east")
        assert done["streets"] == [REF, CODE] and done["boundary_version"] == 2
        with pytest.raises(Conflict, match="holds street 320214099 already"):
            add_street(store, new, author="test")
        # a street overlapping another: refused
        moved = {k: v.copy() for k, v in neighbour_layers(ref_street, code="320214097").items()}
        with pytest.raises(InvalidInput, match="overlaps street"):
            add_street(store, District(moved["street"], moved["communities"], moved["grids"],
                                       moved["buildings"]), author="test")
        d = store.load_district()
        assert d.street_codes == [REF, CODE] and len(d.for_street(CODE).buildings) == 48
    finally:
        store.close()


def test_an_address_the_matcher_would_confuse_is_refused(store_path, tmp_path, ref_street):
    """景渎家园1号 in the new street and 景渎家园1栋 in the old one are one address to the
    matcher: the new street is refused (the service could not load both)."""
    layers = neighbour_layers(ref_street)
    b = layers["buildings"].copy()
    b.loc[b.index[0], ["compound", "number", "address"]] = ["景渎家园", 1, "景渎家园1号"]
    db = copy_without_users(store_path, tmp_path / "s.gpkg")
    store = Store(db)
    try:
        with pytest.raises(Conflict, match="景渎家园1号"):
            add_street(store, District(layers["street"], layers["communities"],
                                       layers["grids"], b), author="test")
        assert street_codes(store) == [REF]
    finally:
        store.close()


# ------------------------------------------------------------------------- service


@pytest.fixture(scope="module")
def served(two_streets):
    with (start_server(two_streets[0]) as url,
          httpx.Client(base_url=url, headers=url.headers, timeout=120) as client):
        yield client


def _inside(district, code):
    b = district.buildings[district.buildings["grid_code"] == code].geometry.iloc[0]
    p = b.representative_point()
    return p.x, p.y


def test_lookup_names_the_street_of_the_grid_found(served, two_streets):
    d = load_district(two_streets[0])
    for street in (REF, CODE):
        grid = d.for_street(street).grids["code"].iloc[0]
        x, y = _inside(d, grid)
        r = served.get("/api/v1/lookup", params={"lon": x, "lat": y, "crs": "cgcs2000"})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["street"]["code"] == street and body["grid"]["code"].startswith(street)
        # street= keeps the answer inside one street: the other street's point is outside it
        other = CODE if street == REF else REF
        for extra in ({}, {"unmasked": "true"}):
            r = served.get("/api/v1/lookup", params={"lon": x, "lat": y, "crs": "cgcs2000",
                                                     "street": other, **extra})
            assert r.status_code == 200, r.text
            assert r.json()["covered"] is False and r.json()["grid"] is None
            assert r.json()["point"]["lon"] == pytest.approx(x)
        same = served.get("/api/v1/lookup", params={"lon": x, "lat": y, "crs": "cgcs2000",
                                                    "street": street}).json()
        assert same == body
    address = d.for_street(CODE).buildings["address"].iloc[0]
    r = served.get("/api/v1/lookup", params={"address": address, "street": REF}).json()
    assert r["covered"] is False and r["match"]["status"] == "matched"


def test_lists_take_a_street(served, two_streets):
    d = load_district(two_streets[0])
    east = d.for_street(CODE)
    grids = served.get("/api/v1/grids", params={"street": CODE}).json()["features"]
    assert sorted(f["properties"]["code"] for f in grids) == sorted(east.grids["code"])
    assert len(served.get("/api/v1/grids").json()["features"]) == len(d.grids)
    members = served.get("/api/v1/members", params={"street": CODE}).json()
    assert sorted(m["id"] for m in members) == sorted(east.members["id"])
    cov = served.get("/api/v1/coverage", params={"street": CODE}).json()
    assert sorted(g["grid_code"] for g in cov["grids"]) == sorted(east.grids["code"])
    assert cov["district"]["buildings"] == len(east.buildings)
    assert cov["district"]["households"] == sum(g["households"] for g in cov["grids"])
    whole = served.get("/api/v1/coverage").json()
    assert whole["district"]["buildings"] == len(d.buildings)
    # a community of another street: nothing
    assert served.get("/api/v1/grids", params={"street": CODE,
                                               "community": "320214052005"}).json()["features"] == []


def test_unknown_or_malformed_street_is_a_problem(served):
    point = {"lon": 120.37, "lat": 31.54}
    for path in ("/api/v1/grids", "/api/v1/members", "/api/v1/coverage", "/api/v1/scenarios",
                 "/", "/map/tiles", "/api/v1/lookup"):
        extra = point if path == "/api/v1/lookup" else {}
        r = served.get(path, params={"street": "999999999", **extra})
        assert r.status_code == 404, (path, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        assert "street 999999999 does not exist" in r.json()["detail"]
        r = served.get(path, params={"street": "32021405x", **extra})
        assert r.status_code == 422, (path, r.text)


def test_street_scoped_account_sees_its_street(served, two_streets):
    token = provision(two_streets[0], "viewer", CODE)  # refused before: one street per store
    client = httpx.Client(base_url=str(served.base_url), timeout=60,
                          headers={"Authorization": f"Bearer {token}"})
    with client:
        codes = {f["properties"]["code"] for f in client.get("/api/v1/grids").json()["features"]}
        assert codes and all(c.startswith(CODE) for c in codes)
        cov = client.get("/api/v1/coverage").json()
        assert cov["district"]["grids"] == len(codes)
        r = client.get("/api/v1/grids", params={"street": REF})
        assert r.status_code == 403


def test_map_of_one_street(served, two_streets):
    d = load_district(two_streets[0])
    page = served.get("/", params={"street": CODE})
    assert page.status_code == 200
    html = page.text
    east_name = d.for_street(CODE).grids["name"].iloc[0]
    ref_name = d.for_street(REF).grids["name"].iloc[0]
    assert json.dumps(east_name)[1:-1] in html or east_name in html
    assert ref_name not in html and json.dumps(ref_name)[1:-1] not in html
    whole = served.get("/").text
    assert ref_name in whole or json.dumps(ref_name)[1:-1] in whole


def test_scenario_across_the_street_boundary_and_revert_per_street(served, two_streets):
    d = load_district(two_streets[0])
    east, ref = d.for_street(CODE), d.for_street(REF)
    # a sealed area straddling the shared edge: buildings of both streets sealed
    shared = shapely.intersection(ref.street.geometry.iloc[0].buffer(1e-6),
                                  east.street.geometry.iloc[0].buffer(1e-6))
    c = shared.centroid
    area = shapely.box(c.x - 0.006, c.y - 0.006, c.x + 0.006, c.y + 0.006)
    sealed = d.buildings[d.buildings.intersects(area)]
    assert set(street_of(sealed["code"])) == {REF, CODE}
    # members of both streets fall out
    out = [east.members["id"].iloc[0], ref.members["id"].iloc[0]]
    r = served.post("/api/v1/scenarios", json={
        "name": "across", "unavailable_members": out,
        "sealed_area": shapely.geometry.mapping(area)})
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    summary = r.json()["summary"]
    # the sealed buildings' daily visits left load uncovered on both sides; the rebalance,
    # over both streets at once, covers it all with moves on both sides of the boundary
    assert summary["before"]["uncovered_buildings"] > 0 and summary["uncovered_buildings"] == 0
    moves = served.get(f"/api/v1/scenarios/{sid}/moves").json()["moves"]
    assert set(street_of([m["building_code"] for m in moves])) == {REF, CODE}
    full = served.get(f"/api/v1/scenarios/{sid}").json()
    before = {g["grid_code"]: g for g in full["coverage_before"]["grid"]}
    short = {c[:9] for c, g in before.items() if g["uncovered_buildings"]}
    assert short == {REF, CODE}
    listed = {s["id"] for s in served.get("/api/v1/scenarios", params={"street": CODE}).json()}
    assert sid in listed
    # the fraction drawn from one street only
    r = served.post("/api/v1/scenarios", json={"name": "east half", "street": CODE,
                                               "unavailable_fraction": 0.5, "seed": 3})
    assert r.status_code == 201, r.text
    east_only = r.json()
    assert east_only["scenario"]["street"] == CODE
    moved = served.get(f"/api/v1/scenarios/{east_only['id']}/moves").json()["moves"]
    assert moved and all(str(m["building_code"]).startswith(CODE) for m in moved)
    # apply the east-only scenario, then the cross-street one re-computed; revert the last:
    # the east street's rows come back to the east-only result, the reference street's as
    # they were
    rows0 = _rows(served)
    assert served.post(f"/api/v1/scenarios/{east_only['id']}/apply").status_code == 200
    rows1 = _rows(served)
    assert {k for k in rows0 ^ rows1} and all(k[1].startswith(CODE) for k in rows0 ^ rows1)
    r = served.post("/api/v1/assignments/revert")
    assert r.status_code == 200, r.text
    assert _rows(served) == rows0


def test_a_street_added_while_serving_is_answered(served, two_streets, tmp_path, ref_street):
    """``geo-grid import`` adds a street to the store a service is serving: the service
    reloads and answers for it (its lookup index rebuilt over the wider area)."""
    west = write_neighbour(tmp_path / "west", ref_street, driver="GPKG", side="west",
                           code=WEST, name="西邻街道（测试）")
    cli("import", "--db", two_streets[0], *[a for k, p in west.items() for a in (f"--{k}", p)])
    grids = gpd.read_file(west["buildings"])
    p = grids.geometry.iloc[0].representative_point()
    deadline = time.time() + 30
    while True:
        body = served.get("/api/v1/lookup", params={"lon": p.x, "lat": p.y,
                                                    "crs": "cgcs2000"}).json()
        if body["covered"] or time.time() > deadline:
            break
        time.sleep(0.2)
    assert body["street"]["code"] == WEST and body["grid"]["code"].startswith(WEST)
    streets = served.get("/api/v1/grids", params={"street": WEST}).json()["features"]
    assert len(streets) == 4


def _rows(client) -> set[tuple[str, str]]:
    return {(m["id"], b) for m in client.get("/api/v1/members").json()
            for b in m["buildings"]}
