"""The two store backends behave the same: a GeoPackage file and a PostGIS database.

The PostGIS tests need the PostgreSQL server of ``GEO_GRID_TEST_PG`` (the local cluster, see
``.ci/run``) with PostGIS installed; without them they fail, never skip.
"""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import httpx
import numpy as np
import pandas as pd
import pytest
import shapely
from sqlalchemy import func, select

from geo_grid.auth import audit
from geo_grid.auth.users import add_user, list_users
from geo_grid.editing import split_into_parts
from geo_grid.errors import StoreError
from geo_grid.figures import district_figures
from geo_grid.lookup import Gazetteer
from geo_grid.store import Store, build_store, load_district
from geo_grid.store import history as hist
from geo_grid.store import versions as bv
from geo_grid.store.backend import StoreURL, locate, open_backend, store_tables
from geo_grid.store.edits import run_edit
from geo_grid.store.migrate import migrate
from tests import test_grid_edits
from tests.conftest import copy_without_users, drop_pg_database, new_pg_database
from tests.test_api import authed, start_server


def _layers_equal(a, b) -> None:
    for name in ("street", "communities", "grids", "buildings"):
        x, y = getattr(a, name), getattr(b, name)
        assert list(x.columns) == list(y.columns), name
        pd.testing.assert_frame_equal(x.drop(columns="geometry").reset_index(drop=True),
                                      y.drop(columns="geometry").reset_index(drop=True),
                                      check_dtype=False)
        assert shapely.equals_exact(np.asarray(x.geometry.array), np.asarray(y.geometry.array),
                                    tolerance=0).all(), name


def _tables_equal(a, b) -> None:
    for name in ("households", "members", "assignment"):
        pd.testing.assert_frame_equal(getattr(a, name).reset_index(drop=True),
                                      getattr(b, name).reset_index(drop=True), check_dtype=False)


def _points(district, n: int = 300, seed: int = 5) -> np.ndarray:
    x0, y0, x1, y1 = district.street.total_bounds
    rng = np.random.default_rng(seed)
    pad = 0.1 * (x1 - x0)
    return np.column_stack([rng.uniform(x0 - pad, x1 + pad, n), rng.uniform(y0 - pad, y1 + pad, n)])


def _counts(locator) -> dict[str, int]:
    store = Store(locator)
    try:
        from sqlalchemy import inspect

        with store.engine.connect() as conn:
            have = inspect(conn)
            return {t.name: conn.execute(select(func.count()).select_from(t)).scalar()
                    for t in store_tables() if have.has_table(t.name)}
    finally:
        store.close()


def test_locators():
    assert isinstance(locate("postgresql://u@h:5432/db"), StoreURL)
    assert locate("postgres://u:secret@h/db") == "postgresql+psycopg://u:secret@h/db"
    assert "secret" not in locate("postgresql+psycopg://u:secret@h/db").display()
    assert locate("data/x.gpkg").name == "x.gpkg"
    assert open_backend("data/x.gpkg").kind == "gpkg"
    assert open_backend("postgresql+psycopg://u@h/db").kind == "postgis"


def test_postgis_build_reads_back_the_same_district(pg_store_template, district, gazetteer):
    """The reference store built into PostGIS reads back cell for cell and vertex for vertex
    as the GeoPackage one, with the same figures and the same lookups."""
    pg = load_district(pg_store_template)
    assert pg.version == district.version and pg.boundary_version == 1
    _layers_equal(pg, district)
    _tables_equal(pg, district)
    assert district_figures(pg).to_dict() == district_figures(district).to_dict()
    pg_gaz = Gazetteer.build(pg)
    pts = _points(district)
    assert [pg_gaz.lookup(x, y, crs="cgcs2000") for x, y in pts] == \
           [gazetteer.lookup(x, y, crs="cgcs2000") for x, y in pts]


def test_versions_history_and_split_merge(backend, district):
    """Boundary versions (split, merge, history, diff, as-of) and the assignment history
    (a fresh assignment, its revert) on each backend."""
    test_grid_edits.test_versions_in_the_store(backend, district)
    store = Store(backend)
    try:
        before = hist.current_version(store)
        rows = district.assignment.iloc[: len(district.assignment) // 2]
        stamp = hist.replace_assignment(store, rows)
        assert hist.current_version(store) == stamp != before
        assert len(hist.assignment_at(store, stamp)) == len(rows)
        back = hist.revert(store)
        assert back["restored_version"] == before  # the version current before the step
        h = hist.history(store)
        assert set(h.valid_from) >= {stamp}
        assert len(store.load_district().assignment) == len(district.assignment)
    finally:
        store.close()


def test_api_over_http(backend, district):
    """Lookup, grids, members, coverage, a scenario applied and reverted, users and the audit
    trail, served over real HTTP from each backend."""
    with start_server(backend) as url, authed(url, timeout=120) as http:
        health = http.get("/healthz").json()
        assert health["grids"] == len(district.grids)
        assert health["boundaries_version"] == district.version
        b = district.buildings.iloc[17]
        p = b.geometry.representative_point()
        r = http.get("/api/v1/lookup", params={"lon": p.x, "lat": p.y, "crs": "cgcs2000"})
        assert r.status_code == 200 and r.json()["grid"]["code"] == b.grid_code
        grids = http.get("/api/v1/grids").json()["features"]
        assert {f["properties"]["code"] for f in grids} == set(district.grids.code)
        assert len(http.get("/api/v1/members").json()) == len(district.members)
        cov = http.get("/api/v1/coverage").json()
        assert len(cov["grids"]) == len(district.grids)
        r = http.post("/api/v1/scenarios", json={"name": "20% out", "unavailable_fraction": 0.2,
                                                 "seed": 1})
        assert r.status_code == 201, r.text
        sid = r.json()["id"]
        assert http.post(f"/api/v1/scenarios/{sid}/apply").status_code == 200
        assert http.post(f"/api/v1/scenarios/{sid}/apply").status_code == 409
        assert http.get(f"/api/v1/scenarios/{sid}").json()["status"] == "applied"
        assert http.post("/api/v1/assignments/revert").status_code == 200
        assert http.get(f"/api/v1/scenarios/{sid}").json()["status"] == "reverted"
        # a door-to-door campaign: a visit sent twice (and eight times at once) counts once
        grid = str(district.buildings.grid_code.value_counts().index[0])
        r = http.post("/api/v1/campaigns", json={
            "name": "入户排查", "deadline": (datetime.now(UTC) + timedelta(days=2)).isoformat(),
            "scope": {"grids": [grid]}})
        assert r.status_code == 201, r.text
        visits = f"/api/v1/campaigns/{r.json()['id']}/visits"
        b = district.buildings[district.buildings.grid_code == grid].iloc[0]
        v = {"id": str(uuid.uuid4()), "building": str(b.code), "unit": "1", "status": "done",
             "households_reached": 1, "member": None, "at": datetime.now(UTC).isoformat()}
        first = http.post(visits, json=v)
        assert first.status_code == 201, first.text
        with ThreadPoolExecutor(8) as pool:
            again = list(pool.map(lambda _: httpx.post(url + visits, json=v, headers=url.headers,
                                                       timeout=60), range(8)))
        assert {a.status_code for a in again} == {200}
        assert all(a.json() == first.json() for a in again)
        trail = http.get("/api/v1/audit").json()
        assert {"scenario", "apply", "campaign"} <= {e["action"] for e in trail}
    store = Store(backend)
    try:
        assert audit.verify(store)[0]
        assert len(list_users(store)) == 1  # the admin the test server was started with
    finally:
        store.close()


def test_http_split_and_lookup_as_of(backend, district):
    """A grid split over HTTP, the lookup at a time before it, and the edits refused, with the
    app served in this process (``serve_app``) on each backend."""
    from api.app import create_app
    from api.settings import Settings
    from tests.test_api import serve_app

    with serve_app(create_app(Settings(db=backend, build_if_missing=False))) as url, \
            authed(url, timeout=120) as client:
        test_grid_edits.test_http_split_lookup_as_of_and_refusals(client, district)


def test_users_sessions_and_audit(backend):
    """Accounts, sessions and the audit trail (a changed entry is found) on each backend."""
    from geo_grid.store import schema
    from tests import test_auth_core as core

    store = Store(backend)
    try:
        core.test_audit_records_and_filters(store)
        core.test_first_admin_one_time_token(store)
        core.test_sessions(store)
        a = schema.audit
        with store.engine.begin() as conn:
            conn.execute(a.update().where(a.c.seq == 3).values(user="someone else"))
        ok, seq, why = audit.verify(store)
        assert not ok and seq == 3 and "changed" in why
    finally:
        store.close()


def test_pool_rosters_and_tradeoff_curves(backend, tmp_path):
    """The reinforcement pool (points imported, read back at a scenario's time), kept rosters
    found by their scenario, and kept trade-off curves, on each backend."""
    from geo_grid.rosters.store import get_roster, latest_roster_id, save_roster
    from geo_grid.store.tradeoffs import count_tradeoffs, get_tradeoff, save_tradeoff
    from tests import test_pool

    test_pool.test_scenario_pool_resolves_at_its_time(backend, tmp_path)
    store = Store(backend)
    try:
        sid = hist.save_scenario(store, "s", {"unavailable_fraction": 0.1}, {"x": 1}, None)
        other = hist.save_scenario(store, "t", {"unavailable_fraction": 0.2}, {"x": 2}, None)
        first = save_roster(store, {"scenario": sid, "days": 1}, {"shifts": []})
        newer = save_roster(store, {"scenario": sid, "days": 2}, {"shifts": [1]})
        save_roster(store, {"scenario": other, "note": sid}, {"shifts": []})  # mentions sid only
        assert latest_roster_id(store, sid) == newer["id"] != first["id"]
        assert latest_roster_id(store, "nope") is None
        assert get_roster(store, first["id"])["spec"] == {"scenario": sid, "days": 1}
        save_tradeoff(store, sid, "k1", {"points": [1, 2]})
        save_tradeoff(store, sid, "k1", {"points": [3]})
        assert get_tradeoff(store, "k1") == {"points": [3]} and count_tradeoffs(store, sid) == 1
    finally:
        store.close()


def _give_history(locator, district) -> None:
    """A store with some of everything: a boundary edit, assignment versions, a scenario,
    accounts and audit entries."""
    code = str(district.buildings.groupby("grid_code")["households"].sum().idxmax())
    store = Store(locator)
    try:
        run_edit(store, lambda d, c: split_into_parts(d, code, 2, c), author="张三", note="拆分")
        hist.replace_assignment(store, district.assignment.iloc[:1000])
        hist.save_scenario(store, "kept", {"unavailable_fraction": 0.1}, {"x": 1},
                           hist.current_version(store))
        add_user(store, "王五", "admin")
        add_user(store, "赵六", "grid", scope=str(district.grids.code.iloc[0]))
        for i in range(3):
            audit.record(store, user="王五", role="admin", action="apply", route=f"test {i}",
                         targets=[code], outcome="ok")
    finally:
        store.close()


def _same_history(a_loc, b_loc) -> None:
    a, b = Store(a_loc), Store(b_loc)
    try:
        assert [v.to_dict() for v in bv.list_versions(a)] == [v.to_dict() for v in bv.list_versions(b)]
        for version in (1, 2):
            for x, y in zip(bv.layers_at(a, version), bv.layers_at(b, version), strict=True):
                pd.testing.assert_frame_equal(x.drop(columns="geometry"), y.drop(columns="geometry"))
                assert shapely.equals_exact(np.asarray(x.geometry.array),
                                            np.asarray(y.geometry.array), tolerance=0).all()
        pd.testing.assert_frame_equal(hist.history(a), hist.history(b), check_dtype=False)
        assert hist.list_scenarios(a) == hist.list_scenarios(b)
        assert [u.__dict__ for u in list_users(a)] == [u.__dict__ for u in list_users(b)]
        assert audit.entries(a, limit=1000) == audit.entries(b, limit=1000)
        assert audit.verify(b)[0]
        da, db = a.load_district(), b.load_district()
        assert da.version == db.version and da.boundary_version == db.boundary_version == 2
        _layers_equal(da, db)
        _tables_equal(da, db)
        assert district_figures(da).to_dict() == district_figures(db).to_dict()
        ga, gb = Gazetteer.build(da), Gazetteer.build(db)
        pts = _points(da, 200, seed=9)
        assert [ga.lookup(x, y, crs="cgcs2000") for x, y in pts] == \
               [gb.lookup(x, y, crs="cgcs2000") for x, y in pts]
        # new rows go after the copied ones (the sequences were moved past them)
        hist.replace_assignment(b, da.assignment)
    finally:
        a.close()
        b.close()


def test_migrate_gpkg_to_postgis_and_back(store_path, tmp_path, district):
    src = copy_without_users(store_path, tmp_path / "src.gpkg")
    _give_history(src, district)
    target = new_pg_database()  # an empty database: not a store yet
    try:
        report = migrate(src, target)
        assert report["tables"]["grids_history"] >= 1 and report["tables"]["audit"] == 3
        assert _counts(target) == _counts(src)
        _same_history(src, target)

        # a target holding a store is refused, and nothing is written
        store = Store(target)
        try:
            add_user(store, "留下", "viewer")
            before = _counts(target)
            with pytest.raises(StoreError, match="already holds a store"):
                migrate(src, target)
            assert _counts(target) == before
            migrate(src, target, force=True)
            assert "留下" not in {u.name for u in list_users(store)}
        finally:
            store.close()

        # and back into a GeoPackage
        back = tmp_path / "back.gpkg"
        migrate(target, back)
        assert _counts(back) == _counts(src)
    finally:
        drop_pg_database(target)


def test_cli_migrate_refuses_an_existing_store(pg_store, store_path, tmp_path):
    src = copy_without_users(store_path, tmp_path / "cli.gpkg")
    cmd = [sys.executable, "-m", "geo_grid.cli", "migrate", "--from", str(src), "--to", pg_store]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and "already holds a store" in r.stderr
    r = subprocess.run([*cmd, "--force"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    # the copy is audited in the target's trail
    store = Store(pg_store)
    try:
        assert [e["route"] for e in audit.entries(store)] == ["geo-grid migrate"]
    finally:
        store.close()


def test_postgis_rebuild_refused_while_served(pg_store):
    """A service holds the store's advisory lock shared; a rebuild fails at once naming it,
    and goes through once the service is gone. A failed rebuild leaves the store as it was."""
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys; from geo_grid.store.backend import open_backend; "
         f"open_backend({str(pg_store)!r}).hold_shared(); print('held', flush=True); "
         "sys.stdin.read()"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(StoreError, match=f"pid {holder.pid}"):
            build_store(pg_store)
    finally:
        holder.stdin.close()
        holder.wait(30)
    before = _counts(pg_store)

    def half_written(conn) -> None:
        conn.exec_driver_sql("CREATE TABLE grids (x integer)")
        raise RuntimeError("killed half way")

    with pytest.raises(StoreError, match="killed half way"):
        open_backend(pg_store).rebuild(half_written)
    assert _counts(pg_store) == before
    t0 = time.perf_counter()
    build_store(pg_store)
    assert time.perf_counter() - t0 < 120
