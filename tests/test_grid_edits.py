"""Grid edits written as boundary versions: in the store, over the CLI and over real HTTP."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import UTC, datetime

import pytest
import shapely

from geo_grid.editing import merge_grids, split_into_parts
from geo_grid.errors import Conflict, NotFound
from geo_grid.store import Store
from geo_grid.store import versions as bv
from geo_grid.store.edits import run_edit
from tests.test_api import PROBLEM, authed, start_server

GEO_GRID = [sys.executable, "-m", "geo_grid.cli"]


@pytest.fixture()
def store_copy(store_path, tmp_path):
    path = tmp_path / "edit.gpkg"
    shutil.copy(store_path, path)
    return path


def _busiest(district) -> str:
    hh = district.buildings.groupby("grid_code")["households"].sum()
    return str(hh.idxmax())


def _cut_line(grid) -> dict:
    """A north-south GeoJSON line through the middle of a grid, crossing it edge to edge."""
    x0, y0, x1, y1 = grid.bounds
    x = (x0 + x1) / 2
    return {"type": "LineString", "coordinates": [[x, y0 - 0.001], [x, y1 + 0.001]]}


def test_versions_in_the_store(store_copy, district):
    code = _busiest(district)
    store = Store(store_copy)
    try:
        assert [v.id for v in bv.list_versions(store)] == [1]
        done = run_edit(store, lambda d, c: split_into_parts(d, code, 2, c),
                        author="张三", note="over 500 households")
        parts = done.edit.summary()["added"]
        assert done.version.id == 2 and done.version.author == "张三" and len(parts) == 2
        g1, b1 = bv.layers_at(store, 1)
        g2, b2 = bv.layers_at(store, 2)
        assert code in set(g1.code) and code not in set(g2.code)
        assert set(parts) <= set(g2.code) and not set(parts) & set(g1.code)
        assert len(b1) == len(b2) == len(district.buildings)
        # every building of the split grid is in one of its parts now, the others did not move
        moved = b2.set_index("code").grid_code
        was = b1.set_index("code").grid_code
        assert set(moved[was == code]) == set(parts)
        assert (moved[was != code] == was[was != code]).all()

        # merging the parts back gives a new code: a retired code is never reused
        again = run_edit(store, lambda d, c: merge_grids(d, parts, c), author="李四")
        merged = again.edit.summary()["added"][0]
        assert merged not in (code, *parts)
        assert merged[:12] == code[:12] and int(merged[12:]) > max(int(p[12:]) for p in parts)

        d = bv.diff(store, 1, 3)
        assert [g["code"] for g in d["grids_added"]] == [merged]
        assert [g["code"] for g in d["grids_removed"]] == [code]
        assert sum(h["delta"] for h in d["households"]) == 0
        assert len(d["buildings_moved"]) == int((was == code).sum())

        assert bv.version_at(store, datetime.now(UTC).isoformat()) == 3
        assert bv.version_at(store, done.version.created_at) == 2
        with pytest.raises(NotFound):
            bv.version_at(store, "2000-01-01")
        # an edit prepared on an older version is refused and writes nothing
        stale = split_into_parts(store.load_district(), merged, 2, bv.code_source(store))
        with pytest.raises(Conflict):
            bv.apply_edit(store, stale, base=2, author="x")
        assert [v.id for v in bv.list_versions(store)] == [1, 2, 3]
        # the service's view of the current layers says which version they are
        assert store.load_district().boundary_version == 3
        assert bv.district_at(store, 1).boundary_version == 1
    finally:
        store.close()


def _cli(*args, db) -> subprocess.CompletedProcess:
    return subprocess.run([*GEO_GRID, "grid", *args, "--db", str(db)],
                          capture_output=True, text=True, timeout=300)


def test_cli_split_versions_diff(store_copy, district):
    code = _busiest(district)
    out = _cli("split", code, "--parts", "3", "--author", "王五", "--note", "densify", db=store_copy)
    assert out.returncode == 0, out.stderr
    done = json.loads(out.stdout)
    assert done["version"]["id"] == 2 and done["edit"]["retired"] == [code]
    assert len(done["edit"]["added"]) == 3
    rows = [json.loads(line) for line in _cli("versions", db=store_copy).stdout.splitlines()]
    assert [r["id"] for r in rows] == [1, 2] and rows[1]["author"] == "王五"
    # the edit is in the audit trail, as made on the command line
    trail = subprocess.run([*GEO_GRID, "audit", "list", "--db", str(store_copy)],
                           capture_output=True, text=True, timeout=120).stdout.splitlines()
    entry = json.loads(trail[0])
    assert entry["action"] == "edit" and entry["user"].startswith("cli:")
    assert code in entry["targets"]
    d = json.loads(_cli("diff", "1", "2", db=store_copy).stdout)
    assert {g["code"] for g in d["grids_added"]} == set(done["edit"]["added"])
    # a line with lon and lat swapped is refused with a message saying so, nothing written
    grid = district.grids.set_index("code").geometry[district.grids.code.iloc[0]]
    line = _cut_line(grid)
    line["coordinates"] = [[y, x] for x, y in line["coordinates"]]
    bad = _cli("split", str(district.grids.code.iloc[0]), "--line", json.dumps(line),
               db=store_copy)
    assert bad.returncode == 2 and "swapped" in bad.stderr
    assert len(_cli("versions", db=store_copy).stdout.splitlines()) == 2


@pytest.fixture(scope="module")
def served(store_path, tmp_path_factory):
    path = tmp_path_factory.mktemp("edits") / "served.gpkg"
    shutil.copy(store_path, path)
    with start_server(path) as url, authed(url, timeout=120) as client:
        yield client


def test_http_split_lookup_as_of_and_refusals(served, district):
    grids = district.grids.set_index("code")
    code = str(district.grids.code.iloc[10])
    grid = grids.geometry[code]
    before = datetime.now(UTC).isoformat()
    r = served.post(f"/api/v1/grids/{code}/split", json={"line": _cut_line(grid),
                                                          "author": "网格员", "note": "道路改线"})
    assert r.status_code == 201, r.text
    done = r.json()
    parts = done["edit"]["added"]
    assert done["edit"]["retired"] == [code] and len(parts) == 2
    assert done["links"]["diff"].endswith(f"/api/v1/versions/1/diff/{done['version']['id']}")
    # the old grid is gone from the current layers, the parts are there
    assert served.get(f"/api/v1/grids/{code}").status_code == 404
    assert served.get(f"/api/v1/grids/{parts[0]}").status_code == 200
    # a point of the west part is in a new grid now, and was in the old one before
    x0, y0, x1, y1 = grid.bounds
    west = shapely.intersection(grid, shapely.box(x0, y0, (x0 + x1) / 2, y1)).representative_point()
    now = served.get("/api/v1/lookup", params={"lon": west.x, "lat": west.y}).json()
    assert now["grid"]["code"] in parts
    then = served.get("/api/v1/lookup", params={"lon": west.x, "lat": west.y, "as_of": before})
    assert then.status_code == 200 and then.json()["grid"]["code"] == code
    old = served.get("/api/v1/grids", params={"as_of": before})
    assert old.headers["X-Boundary-Version"] == "1"
    assert code in {f["properties"]["code"] for f in old.json()["features"]}
    assert code not in {f["properties"]["code"] for f in served.get("/api/v1/grids").json()["features"]}
    assert served.get("/api/v1/grids", params={"as_of": "last week"}).status_code == 422
    assert served.get("/api/v1/grids", params={"as_of": "2001-01-01"}).status_code == 404

    # a redrawn outline that overlaps its neighbour: 422 naming the overlap, nothing written
    same = district.grids[(district.grids.community_code == code[:12])
                          & (district.grids.code != code)]
    other = str(same.code.iloc[0])
    grown = shapely.buffer(grids.geometry[other], 0.002)
    r = served.put(f"/api/v1/grids/{other}/geometry",
                   json={"geometry": shapely.geometry.mapping(grown)})
    assert r.status_code == 422 and r.headers["content-type"].startswith(PROBLEM)
    body = r.json()
    assert body["code"] == "topology" and body["violations"]
    assert all(-180 <= v["lon"] <= 180 and -90 <= v["lat"] <= 90 for v in body["violations"])
    assert {v["kind"] for v in body["violations"]} & {"overlap", "outside_parent"}

    # grids of two communities cannot be merged; an unknown grid is a 404
    far = str(district.grids[district.grids.community_code != code[:12]].code.iloc[0])
    r = served.post("/api/v1/grids/merge", json={"codes": [parts[0], far]})
    assert r.status_code == 422 and r.headers["content-type"].startswith(PROBLEM)
    assert served.post("/api/v1/grids/999999999999999/split", json={"parts": 2}).status_code == 404
    assert served.post(f"/api/v1/grids/{parts[0]}/split", json={}).status_code == 400

    # a building handed to another grid of its community
    b = district.buildings[district.buildings.grid_code == other].iloc[0]
    r = served.put(f"/api/v1/buildings/{b.code}/grid", json={"grid": parts[0], "author": "x"})
    assert r.status_code == 200, r.text
    assert r.json()["edit"]["buildings_moved"] == 1
    hit = served.get("/api/v1/lookup", params={"address": b.address}).json()
    assert hit["grid"]["code"] == parts[0]
    versions = [v["id"] for v in served.get("/api/v1/versions").json()]
    assert versions == [1, 2, 3]
