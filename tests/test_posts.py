"""The posts layer kept in the store: imported from GeoJSON points or a table with lon/lat,
refused whole on a bad row, staffed by a roster with ``"posts": "layer"`` (the generated group
posts when the store has none), served as GeoJSON; a roster with ``"reinforcements": "pool"``."""

from __future__ import annotations

import json

import pytest

from geo_grid.store import Store, load_district
from geo_grid.store.pool import read_posts
from tests.conftest import copy_without_users
from tests.test_pool import HEADER, ROWS, cli, write_csv, write_xlsx

POST_HEADER = ["编号", "类型", "名称", "经度", "纬度", "每班人数", "安保人数"]
POST_ROWS = [
    ["gate-1", "卡口", "一号门", 120.3735, 31.5545, 2, 1],
    ["gate-2", "卡口", "二号门", 120.3795, 31.5575, 1, 1],
    ["info-1", "信息", "信息组", 120.3765, 31.5560, 1, 0],
]


def geojson(path, rows):
    feats = [{"type": "Feature", "geometry": {"type": "Point", "coordinates": [r[3], r[4]]},
              "properties": {"编号": r[0], "类型": r[1], "名称": r[2], "每班人数": r[5],
                             "安保人数": r[6]}} for r in rows]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": feats},
                               ensure_ascii=False), "utf-8")
    return path


@pytest.fixture()
def fresh(store_path, tmp_path):
    return copy_without_users(store_path, tmp_path / "s.gpkg")


def posts_of(db):
    store = Store(db)
    try:
        return read_posts(store)
    finally:
        store.close()


@pytest.mark.parametrize("fmt", ["geojson", "gbk", "xlsx"])
def test_import_posts(fresh, tmp_path, fmt):
    if fmt == "geojson":
        f = geojson(tmp_path / "posts.geojson", POST_ROWS)
    elif fmt == "gbk":
        f = write_csv(tmp_path / "posts.csv", POST_HEADER, POST_ROWS, "gbk")
    else:
        f = write_xlsx(tmp_path / "卡口.xlsx", POST_HEADER, POST_ROWS, title="江溪街道卡口点位")
    res = cli("import-posts", f, "--db", fresh)
    assert res.exit_code == 0, res.output
    got = {p.id: p for p in posts_of(fresh)}
    assert set(got) == {r[0] for r in POST_ROWS}
    kinds = {"卡口": "checkpoint", "信息": "information"}
    for r in POST_ROWS:
        p = got[r[0]]
        assert (p.kind, p.name, p.per_shift, p.min_security) == (kinds[r[1]], r[2], r[5], r[6])
        assert (p.lon, p.lat) == pytest.approx((r[3], r[4]))
        assert p.community_code and p.community_code.startswith("320214052")


def test_bad_post_rows_write_nothing(fresh, tmp_path):
    rows = [
        ["p1", "哨所", "", 120.3735, 31.5545, 1, 0],        # unknown kind
        ["p2", "信息", "", 120.3735, 31.5545, 2, 1],        # min_security on an information post
        ["p3", "卡口", "", 31.5545, 120.3735, 1, 0],        # lon/lat swapped
        ["p4", "后勤", "", 120.3735, 31.5545, 1, 0],        # a good row
    ]
    report = tmp_path / "r.json"
    res = cli("import-posts", write_csv(tmp_path / "bad.csv", POST_HEADER, rows), "--db", fresh,
              "--report", report)
    assert res.exit_code == 1, res.output
    problems = {r["row"]: r["problems"] for r in json.loads(report.read_text("utf-8"))["rows"]}
    assert problems[2][0].startswith("unknown_kind: column '类型'") and "哨所" in problems[2][0]
    assert problems[3][0].startswith("bad_post: column '安保人数'")
    assert problems[4][0].startswith("bad_coordinates: column '经度/纬度'")
    assert problems[5] == []
    assert posts_of(fresh) == []


def test_roster_uses_the_stored_posts_and_the_pool(fresh, tmp_path):
    from geo_grid.rosters.run import run_spec

    spec = {"start": "2026-03-02T08:00:00", "days": 1, "time_limit_s": 10,
            "reinforcements": "pool"}
    store = Store(fresh)
    try:
        district = load_district(fresh)
        # no posts layer yet: the three group posts of every community
        generated = run_spec(store, district, {**spec, "reinforcements": []})
        assert len(generated["posts"]) == 3 * len(district.communities)
        assert "reinforcements_from_pool" not in generated
        assert cli("import-posts", geojson(tmp_path / "p.geojson", POST_ROWS),
                   "--db", fresh).exit_code == 0
        assert cli("import-reinforcements", write_csv(tmp_path / "pool.csv", HEADER, ROWS),
                   "--db", fresh).exit_code == 0
        out = run_spec(store, district, spec)
    finally:
        store.close()
    assert [p["id"] for p in out["posts"]] == [r[0] for r in POST_ROWS]
    # the pool entries available during the whole day: not LATE (April)
    assert sorted(out["reinforcements_from_pool"]) == ["RP0001", "RP0002", "RP0003", "RP0004"]
    gate = [s for s in out["shifts"] if s["post"] == "gate-1"]
    assert len(gate) == 3 and all(len(s["people"]) == 2 for s in gate)


def test_posts_and_pool_roster_over_http(store_path, tmp_path):
    from tests.test_api import authed, provision, start_server

    db = copy_without_users(store_path, tmp_path / "h.gpkg")
    assert cli("import-posts", geojson(tmp_path / "p.geojson", POST_ROWS), "--db", db).exit_code == 0
    assert cli("import-reinforcements", write_csv(tmp_path / "pool.csv", HEADER, ROWS),
               "--db", db).exit_code == 0
    with start_server(db) as url, authed(url, timeout=180) as http:
        r = http.get("/api/v1/posts")
        assert r.status_code == 200 and r.headers["content-type"].startswith(
            "application/geo+json")
        fc = r.json()
        assert fc["type"] == "FeatureCollection"
        assert {f["id"]: f["geometry"]["coordinates"] for f in fc["features"]} == {
            r[0]: pytest.approx([r[3], r[4]]) for r in POST_ROWS}
        assert {f["properties"]["kind"] for f in fc["features"]} == {"checkpoint",
                                                                     "information"}
        # a community user sees the posts of its community only
        comm = fc["features"][0]["properties"]["community_code"]
        scoped = {"Authorization": f"Bearer {provision(db, 'community', comm)}"}
        mine = http.get("/api/v1/posts", headers=scoped).json()["features"]
        assert {f["id"] for f in mine} == {f["id"] for f in fc["features"]
                                          if f["properties"]["community_code"] == comm}
        # April: only the open-ended entry and LATE are available the whole week
        r = http.post("/api/v1/rosters", json={"start": "2026-04-02T08:00:00", "days": 2,
                                               "reinforcements": "pool", "time_limit_s": 10})
        assert r.status_code == 201, r.text
        assert sorted(r.json()["reinforcements_from_pool"]) == ["LATE", "RP0004"]
        assert {s["post"] for s in r.json()["shifts"]} == {r[0] for r in POST_ROWS}
