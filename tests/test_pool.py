"""The reinforcement pool kept in the store: imported from an office's own files (CSV in UTF-8
and GBK, xlsx with a merged title row), refused whole on a bad row, used by a scenario with
``"reinforcements": "pool"`` over real HTTP at the scenario's time, listed masked."""

from __future__ import annotations

import json
import sqlite3

import pytest
from typer.testing import CliRunner

from geo_grid.cli import app
from geo_grid.store import Store
from geo_grid.store.pool import read_pool, resolve_scenario_pool
from tests.conftest import copy_without_users
from tests.test_import_people import write_xlsx as write_roster_xlsx

HEADER = ["编号", "姓名", "电话", "类别", "经度", "纬度", "容量", "开始", "结束"]
# bases inside the sealed rectangle of the reference scenario (see tests/test_reinforcements.py)
MARCH = ("2026-03-01T00:00:00", "2026-03-31T23:59:00")
ROWS = [
    ["", "王小明", "13912345601", "辅警", 120.3735, 31.5545, 60, *MARCH],
    ["", "李建国", "13912345602", "干部", 120.3765, 31.5560, 60, *MARCH],
    ["", "赵志强", "13912345603", "保安", 120.3795, 31.5575, 60, *MARCH],
    ["", "陈美玲", "13912345604", "志愿者", 120.3810, 31.5590, 60, "", ""],
    # the best placed of all, but only from April: never used by a March scenario
    ["LATE", "周晓东", "13912345605", "辅警", 120.3770, 31.5565, 200, "2026-04-01T00:00:00", ""],
]
SEALED = [[120.372, 31.553], [120.382, 31.553], [120.382, 31.560], [120.372, 31.560],
          [120.372, 31.553]]


def cli(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def write_csv(path, header, rows, encoding="utf-8"):
    lines = [",".join(header)] + [",".join(str(v) for v in r) for r in rows]
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode(encoding))
    return path


def write_xlsx(path, header, rows, title="江溪街道应急增援力量"):
    return write_roster_xlsx(path, header, rows, title=title)


@pytest.fixture()
def fresh(store_path, tmp_path):
    """A copy of the reference store without users or audit trail, for one test."""
    return copy_without_users(store_path, tmp_path / "s.gpkg")


def pool_of(db):
    store = Store(db)
    try:
        return read_pool(store)
    finally:
        store.close()


def audit_routes(db) -> list[str]:
    con = sqlite3.connect(db)
    try:
        return [r[0] for r in con.execute("SELECT route FROM audit ORDER BY seq")]
    finally:
        con.close()


@pytest.mark.parametrize("fmt", ["utf-8", "gbk", "xlsx"])
def test_import_the_pool_from_csv_and_xlsx(fresh, tmp_path, fmt):
    if fmt == "xlsx":
        f = write_xlsx(tmp_path / "增援力量.xlsx", HEADER, ROWS)
    else:
        f = write_csv(tmp_path / f"pool-{fmt}.csv", HEADER, ROWS, fmt)
    res = cli("import-reinforcements", f, "--db", fresh)
    assert res.exit_code == 0, res.output
    got = {e.name: e for e in pool_of(fresh)}
    assert set(got) == {r[1] for r in ROWS}
    kinds = {"辅警": "auxiliary_police", "干部": "cadre", "保安": "security", "志愿者": "volunteer"}
    for r in ROWS:
        e = got[r[1]]
        assert e.kind == kinds[r[3]] and e.phone == r[2] and e.street_code == "320214052"
        assert (e.lon, e.lat, e.capacity) == pytest.approx((r[4], r[5], r[6]))
        assert (e.available_from.isoformat() if e.available_from else "") == (
            f"{r[7]}+08:00" if r[7] else "")
        assert e.community_code and e.community_code.startswith("320214052")
    # ids: the file's own where given, made where not
    assert got["周晓东"].id == "LATE"
    assert sorted(e.id for e in got.values() if e.id != "LATE") == ["RP0001", "RP0002",
                                                                    "RP0003", "RP0004"]
    assert audit_routes(fresh)[-1] == "geo-grid import-reinforcements"
    # again with a changed capacity: the entries are updated (by id or phone), not doubled
    rows = [[*r[:6], 30, *r[7:]] for r in ROWS]
    again = cli("import-reinforcements",
                write_csv(tmp_path / "again.csv", HEADER, rows), "--db", fresh)
    assert again.exit_code == 0, again.output
    after = pool_of(fresh)
    assert len(after) == len(ROWS) and {e.capacity for e in after} == {30.0}
    # --replace: only the file's entries are left
    one = cli("import-reinforcements", write_csv(tmp_path / "one.csv", HEADER, rows[:1]),
              "--db", fresh, "--replace")
    assert one.exit_code == 0, one.output
    assert [e.name for e in pool_of(fresh)] == [ROWS[0][1]]


def test_bad_rows_name_row_and_column_and_write_nothing(fresh, tmp_path):
    assert cli("import-reinforcements", write_csv(tmp_path / "ok.csv", HEADER, ROWS[:1]),
               "--db", fresh).exit_code == 0
    before = pool_of(fresh)
    audit_before = audit_routes(fresh)
    rows = [
        ["", "钱一", "13912345611", "部队", 120.375, 31.556, 10, "", ""],    # unknown kind
        ["", "孙二", "13912345612", "辅警", 31.556, 120.375, 10, "", ""],    # lon/lat swapped
        ["", "吴三", "13912345613", "保安", 120.375, 31.556, "", "", ""],    # capacity missing
        ["", "郑四", "13912345614", "志愿者", 120.376, 31.557, 10, "", ""],  # a good row
    ]
    f = write_csv(tmp_path / "bad.csv", HEADER, rows, "gbk")
    report = tmp_path / "report.json"
    res = cli("import-reinforcements", f, "--db", fresh, "--report", report)
    assert res.exit_code == 1, res.output
    out = json.loads(report.read_text("utf-8"))
    problems = {r["row"]: r["problems"] for r in out["rows"]}
    # the header is row 1: data rows are 2..5
    assert problems[2] and problems[2][0].startswith("unknown_kind: column '类别'")
    assert "部队" in problems[2][0]
    assert problems[3] and problems[3][0].startswith("bad_coordinates: column '经度/纬度'")
    assert "swapped" in problems[3][0]
    assert problems[4] == ["missing_capacity: column '容量': the capacity is blank"]
    assert problems[5] == []
    assert not out["written"]
    assert "row 2" in res.output and "row 4" in res.output
    # nothing written, nothing audited
    assert pool_of(fresh) == before
    assert audit_routes(fresh) == audit_before


def test_a_file_without_a_capacity_column_is_refused(fresh, tmp_path):
    f = write_csv(tmp_path / "nocap.csv", ["姓名", "类型", "经度", "纬度"],
                  [["钱一", "辅警", 120.375, 31.556]])
    res = cli("import-reinforcements", f, "--db", fresh)
    assert res.exit_code == 2 and "容量" in res.output
    assert pool_of(fresh) == []


def test_an_older_store_gets_the_tables_on_open(fresh):
    con = sqlite3.connect(fresh)
    Store(fresh).close()  # created on the first open
    for t in ("reinforcements", "posts"):
        con.execute(f'DROP TABLE IF EXISTS "rtree_{t}_geom"')
        con.execute(f'DROP TABLE "{t}"')
        for meta in ("gpkg_contents", "gpkg_geometry_columns", "gpkg_extensions"):
            con.execute(f"DELETE FROM {meta} WHERE table_name = ?", (t,))
    con.commit()
    assert not con.execute("SELECT 1 FROM sqlite_master WHERE name = 'reinforcements'").fetchone()
    Store(fresh).close()
    declared = dict(con.execute("SELECT table_name, geometry_type_name FROM "
                                "gpkg_geometry_columns WHERE table_name IN "
                                "('reinforcements', 'posts')"))
    con.close()
    assert declared == {"reinforcements": "POINT", "posts": "POINT"}


def test_scenario_pool_resolves_at_its_time(fresh, tmp_path):
    assert cli("import-reinforcements", write_csv(tmp_path / "p.csv", HEADER, ROWS),
               "--db", fresh).exit_code == 0
    store = Store(fresh)
    try:
        march = resolve_scenario_pool(store, {"reinforcements": "pool",
                                              "at": "2026-03-15T09:00"})
        april = resolve_scenario_pool(store, {"reinforcements": "pool",
                                              "at": "2026-04-15T09:00+08:00"})
        plain = resolve_scenario_pool(store, {"reinforcements": []})
    finally:
        store.close()
    assert march["at"] == "2026-03-15T09:00:00+08:00" and march["reinforcements_from"] == "pool"
    assert {r["id"] for r in march["reinforcements"]} == {"RP0001", "RP0002", "RP0003", "RP0004"}
    # in April the March entries are gone, the open-ended one and LATE are there
    assert {r["id"] for r in april["reinforcements"]} == {"RP0004", "LATE"}
    assert plain == {"reinforcements": []}


def screenshot(**more) -> dict:
    return {"name": "pool", "unavailable_fraction": 0.05, "seed": 1,
            "sealed_area": {"type": "Polygon", "coordinates": [SEALED]}, "walk_limit_m": 600,
            "max_moves": 5000, "move_weight": 2.0, **more}


@pytest.fixture(scope="module")
def served(store_path, tmp_path_factory):
    """A server on a fresh store whose pool is uploaded over HTTP by the test below."""
    from tests.test_api import start_server

    db = copy_without_users(store_path, tmp_path_factory.mktemp("pool") / "s.gpkg")
    with start_server(db) as url:
        yield url, db


def test_pool_over_http(served, tmp_path):
    from tests.test_api import PROBLEM, authed, provision

    url, db = served
    with authed(url, timeout=180) as http:
        # a bad upload: 422 naming the rows, nothing written
        bad = write_xlsx(tmp_path / "bad.xlsx", HEADER,
                         [ROWS[0], ["", "钱一", "13912345611", "部队", 120.375, 31.556, 10, "", ""]])
        r = http.post("/api/v1/reinforcements",
                      files={"file": ("bad.xlsx", bad.read_bytes())})
        assert r.status_code == 422 and r.headers["content-type"].startswith(PROBLEM), r.text
        assert [row["row"] for row in r.json()["rows"]] == [4]  # title row, header, 2 rows
        assert "类别" in r.json()["rows"][0]["problems"][0]
        assert http.get("/api/v1/reinforcements").json() == []
        # the upload
        f = write_xlsx(tmp_path / "pool.xlsx", HEADER, ROWS)
        r = http.post("/api/v1/reinforcements", files={"file": ("增援力量.xlsx", f.read_bytes())})
        assert r.status_code == 201, r.text
        assert r.json()["summary"] == {"imported": len(ROWS)} and r.json()["written"]

        # the list: masked by default, in full for an admin who asks
        listed = http.get("/api/v1/reinforcements").json()
        names = {r[1] for r in ROWS}
        assert len(listed) == len(ROWS)
        assert all("*" in e["name"] and e["name"] not in names for e in listed)
        assert all("****" in e["phone"] for e in listed)
        full = http.get("/api/v1/reinforcements", params={"unmasked": "true"}).json()
        assert {e["name"] for e in full} == names
        at = http.get("/api/v1/reinforcements", params={"at": "2026-04-02T00:00"}).json()
        assert {e["id"] for e in at} == {"RP0004", "LATE"}
        viewer = {"Authorization": f"Bearer {provision(db, 'viewer')}"}
        assert http.get("/api/v1/reinforcements", headers=viewer).status_code == 200
        assert http.get("/api/v1/reinforcements", headers=viewer,
                        params={"unmasked": "true"}).status_code == 403
        # a community user sees the entries based in its community only
        comm = full[0]["community_code"]
        scoped = {"Authorization": f"Bearer {provision(db, 'community', comm)}"}
        mine = http.get("/api/v1/reinforcements", headers=scoped).json()
        assert {e["id"] for e in mine} == {e["id"] for e in full if e["community_code"] == comm}

        # a scenario with the pool, at a time in March: LATE is not there
        r = http.post("/api/v1/scenarios",
                      json=screenshot(reinforcements="pool", at="2026-03-15T09:00:00"))
        assert r.status_code == 201, r.text
        body = r.json()
        s = body["summary"]
        print(f"\npool scenario: {len(body['scenario']['reinforcements'])} pool entries "
              f"offered, {s['reinforcements_used']} used, {s['moves']} moves, uncovered load "
              f"{s['uncovered_load']}")
        assert s["reinforcements_used"] > 0
        assert s["reinforcements_used"] == len({p["reinforcement"] for p in s["placements"]})
        used = {p["reinforcement"] for p in s["placements"]}
        kept = body["scenario"]
        assert kept["reinforcements_from"] == "pool" and kept["at"].startswith("2026-03-15T09:00")
        ids = [x["id"] for x in kept["reinforcements"]]
        assert sorted(ids) == ["RP0001", "RP0002", "RP0003", "RP0004"]
        assert "LATE" not in used and used <= set(ids)
        # the kept scenario keeps its list: the pool emptied, its page is the same
        again = http.post("/api/v1/reinforcements", data={"replace": "true"},
                          files={"file": ("one.csv", write_csv(tmp_path / "one.csv", HEADER,
                                                               [ROWS[4]]).read_bytes())})
        assert again.status_code == 201, again.text
        page = http.get(f"/api/v1/scenarios/{body['id']}").json()
        assert [x["id"] for x in page["scenario"]["reinforcements"]] == ids
        assert page["summary"]["reinforcements_used"] == s["reinforcements_used"]
        # at a time when nobody of the pool is available: none used
        r = http.post("/api/v1/scenarios",
                      json=screenshot(reinforcements="pool", at="2026-03-15T09:00:00"))
        assert r.status_code == 201, r.text
        assert r.json()["scenario"].get("reinforcements", []) == []
        assert r.json()["summary"].get("reinforcements_used", 0) == 0
        bad_at = http.post("/api/v1/scenarios", json={"reinforcements": "pool", "at": "soon"})
        assert bad_at.status_code == 422 and "at" in bad_at.json()["detail"]
