"""Stateless replicas: two ``geo-grid serve`` processes on one PostGIS database.

Each process keeps the district in memory; a change made through one (an apply, a revert, a
grid split, a disabled user) reaches the other through the store's change notifications
(:mod:`geo_grid.store.changes`), and two applies at once never both go through. The servers
are real subprocesses on their own loopback ports; the database is a fresh copy of the
reference store (no PostGIS: the tests fail, they are never skipped).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest
import shapely

from geo_grid.store import Store, history
from tests.conftest import drop_pg_database, new_pg_database
from tests.test_api import PROBLEM, free_port, provision, served_process

GEO_GRID = str(Path(sys.executable).with_name("geo-grid"))


@contextlib.contextmanager
def serve(db, *args: str):
    """``geo-grid serve --db db [args]`` in a subprocess on a free loopback port; yields its
    URL."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GEO_GRID_")}
    with served_process([GEO_GRID, "serve", "--db", str(db), "--port", str(port), *args], env,
                        f"http://127.0.0.1:{port}") as url:
        yield url


@pytest.fixture(scope="module")
def replicas(pg_store_template):
    """Two servers on one fresh PostGIS copy of the reference store: ``(db, a, b)``, each
    an HTTP client sending an admin's token."""
    db = new_pg_database(template=pg_store_template.name)
    try:
        token = provision(db)
        headers = {"Authorization": f"Bearer {token}"}
        with serve(db) as url_a, serve(db) as url_b, \
                httpx.Client(base_url=url_a, headers=headers, timeout=120) as a, \
                httpx.Client(base_url=url_b, headers=headers, timeout=120) as b:
            yield db, a, b
    finally:
        drop_pg_database(db)


def until(check, limit: float, step: float = 0.01) -> float:
    """Seconds until ``check()`` is true (polled every ``step``); fails past ``limit``."""
    t0 = time.perf_counter()
    while True:
        if check():
            return time.perf_counter() - t0
        if time.perf_counter() - t0 > limit:
            pytest.fail(f"not seen within {limit} s")
        time.sleep(step)


def scenario(client: httpx.Client, seed: int) -> str:
    r = client.post("/api/v1/scenarios", json={"name": f"out {seed}",
                                               "unavailable_fraction": 0.2, "seed": seed})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def test_same_answers(replicas, district):
    """Grids, coverage and a lookup answer byte for byte the same on both."""
    _, a, b = replicas
    p = district.buildings.geometry.iloc[40].representative_point()
    for path, params in (("/api/v1/grids", {}), ("/api/v1/coverage", {}),
                         ("/api/v1/lookup", {"lon": p.x, "lat": p.y})):
        ra, rb = a.get(path, params=params), b.get(path, params=params)
        assert ra.status_code == rb.status_code == 200, (path, ra.text)
        assert ra.content == rb.content, path
        assert ra.headers.get("etag") == rb.headers.get("etag"), path


def test_apply_and_revert_seen_on_the_other(replicas):
    """A scenario applied on A shows in B's coverage within 1 s; a revert on B in A's."""
    _, a, b = replicas
    before = a.get("/api/v1/coverage").content
    assert b.get("/api/v1/coverage").content == before
    sid = scenario(a, 11)
    r = a.post(f"/api/v1/scenarios/{sid}/apply")
    assert r.status_code == 200, r.text
    stamp = r.json()["assignment_version"]
    after = a.get("/api/v1/coverage").content
    assert after != before  # a fifth of the members unavailable changes the coverage
    delay = until(lambda: b.get("/api/v1/coverage").content == after, 5)
    print(f"\napply on A seen on B after {delay * 1000:.0f} ms")
    assert delay < 1.0
    assert b.get(f"/api/v1/scenarios/{sid}").json()["status"] == "applied"

    # a revert asked of the version before the apply is refused, naming the apply's version
    base = history.scenario_head(store := Store(replicas[0]), sid)["base_version"]
    store.close()
    r = b.post("/api/v1/assignments/revert", params={"version": base})
    assert r.status_code == 409 and r.headers["content-type"].startswith(PROBLEM)
    assert r.json()["current"] == stamp and stamp in r.json()["detail"]
    r = b.post("/api/v1/assignments/revert", params={"version": stamp})
    assert r.status_code == 200, r.text
    assert b.get("/api/v1/coverage").content == before
    delay = until(lambda: a.get("/api/v1/coverage").content == before, 5)
    print(f"revert on B seen on A after {delay * 1000:.0f} ms")
    assert delay < 1.0


def test_split_seen_on_the_other(replicas, district):
    """A grid split on A: B answers 404 for the old grid and serves the parts within 1 s."""
    _, a, b = replicas
    code = str(district.grids.code.iloc[10])
    assert b.get(f"/api/v1/grids/{code}").status_code == 200
    r = a.post(f"/api/v1/grids/{code}/split", json={"parts": 2, "author": "replica test"})
    assert r.status_code == 201, r.text
    parts = r.json()["edit"]["added"]
    delay = until(lambda: b.get(f"/api/v1/grids/{code}").status_code == 404, 5)
    print(f"\nsplit on A seen on B after {delay * 1000:.0f} ms")
    assert delay < 1.0
    for part in parts:
        ra, rb = a.get(f"/api/v1/grids/{part}"), b.get(f"/api/v1/grids/{part}")
        assert ra.status_code == rb.status_code == 200
        assert ra.content == rb.content
    # the lookup of a point of the old grid finds one of the parts on both
    p = shapely.Point(district.grids.set_index("code").geometry[code].representative_point())
    la = a.get("/api/v1/lookup", params={"lon": p.x, "lat": p.y})
    lb = b.get("/api/v1/lookup", params={"lon": p.x, "lat": p.y})
    assert la.json()["grid"]["code"] in parts and la.content == lb.content


def test_disabled_user_refused_on_the_other(replicas):
    """A user disabled (by the CLI, through the store) is refused by both within 2 s, though
    both had its token cached."""
    db, a, b = replicas
    name = f"viewer-{uuid.uuid4().hex[:6]}"
    token = provision(db, "viewer", name=name)
    auth = {"Authorization": f"Bearer {token}"}
    for client in (a, b):  # cached as valid on both
        assert client.get("/api/v1/coverage", headers=auth).status_code == 200
    out = subprocess.run([GEO_GRID, "user", "disable", name, "--db", str(db)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    t_done = time.perf_counter()
    delays = []
    for client in (b, a):
        until(lambda c=client: c.get("/api/v1/coverage", headers=auth).status_code == 401, 3)
        delays.append(time.perf_counter() - t_done)
    print(f"\ndisabled user refused by B after {delays[0] * 1000:.0f} ms, "
          f"by A after {delays[1] * 1000:.0f} ms")
    # within 2 s as required; the token cache alone would keep the token for up to 2 s
    # (api.auth.CACHE_SECONDS), so the notification is what makes it under one
    assert max(delays) < 1.0
    r = b.get("/api/v1/coverage", headers=auth)
    assert r.status_code == 401 and r.headers["content-type"].startswith(PROBLEM)


def test_concurrent_applies_one_wins(replicas):
    """Two scenarios applied at once, one on each replica: one 200, one 409 naming the
    version it lost to; both replicas end on the winner's assignment."""
    db, a, b = replicas
    sids = {"a": scenario(a, 21), "b": scenario(b, 22)}
    store = Store(db)
    try:
        base = {c: history.scenario_head(store, sid)["base_version"] for c, sid in sids.items()}
    finally:
        store.close()
    assert base["a"] == base["b"]  # both computed on the same assignment
    go = threading.Barrier(2)
    answers: dict[str, httpx.Response] = {}

    def fire(c: str, client: httpx.Client) -> None:
        go.wait()
        answers[c] = client.post(f"/api/v1/scenarios/{sids[c]}/apply")

    threads = [threading.Thread(target=fire, args=x) for x in (("a", a), ("b", b))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    codes = sorted(r.status_code for r in answers.values())
    assert codes == [200, 409], {c: r.text for c, r in answers.items()}
    won = next(c for c, r in answers.items() if r.status_code == 200)
    lost = "b" if won == "a" else "a"
    stamp = answers[won].json()["assignment_version"]
    problem = answers[lost]
    assert problem.headers["content-type"].startswith(PROBLEM)
    body = problem.json()
    assert body["status"] == 409 and body["code"] == "conflict"
    assert body["current"] == stamp and stamp in body["detail"]
    # both replicas serve the winner's assignment
    winner = {"a": a, "b": b}[won]
    final = winner.get("/api/v1/coverage").content
    for client in (a, b):
        until(lambda c=client: c.get("/api/v1/coverage").content == final, 1)
        assert client.get(f"/api/v1/scenarios/{sids[won]}").json()["status"] == "applied"
        assert client.get(f"/api/v1/scenarios/{sids[lost]}").json()["status"] != "applied"


def test_members_import_seen_on_the_other(replicas, district):
    """A roster imported through A: B lists the new members within 1 s, as A does."""
    _, a, b = replicas
    before = len(b.get("/api/v1/members").json())
    grid = str(district.grids.code.iloc[3])
    roster = ("姓名,手机号码,职务,所属网格\n"
              f"复制甲,13900000001,专职网格员,{grid}\n复制乙,13900000002,党员志愿者,{grid}\n")
    r = a.post("/api/v1/imports/members",
               files={"file": ("roster.csv", roster.encode(), "text/csv")})
    assert r.status_code == 201, r.text
    assert len(a.get("/api/v1/members").json()) == before + 2
    delay = until(lambda: len(b.get("/api/v1/members").json()) == before + 2, 5)
    print(f"\nmembers import on A seen on B after {delay * 1000:.0f} ms")
    assert delay < 1.0
    assert a.get("/api/v1/members").content == b.get("/api/v1/members").content


def test_gpkg_workers_agree(store_path, tmp_path):
    """On a GeoPackage, the workers of one ``--workers 2`` service agree within about a
    second of an apply (each compares the file's assignment version once a second)."""
    from tests.conftest import copy_without_users

    db = copy_without_users(store_path, tmp_path / "workers.gpkg")
    token = provision(db)
    headers = {"Authorization": f"Bearer {token}"}
    with serve(db, "--workers", "2") as url:
        def fresh(path: str) -> bytes:  # a new connection each time: either worker answers
            r = httpx.get(url + path, headers={**headers, "Connection": "close"}, timeout=120)
            assert r.status_code == 200, r.text
            return r.content

        before = fresh("/api/v1/coverage")
        with httpx.Client(base_url=url, headers=headers, timeout=120) as a:
            sid = scenario(a, 31)
            r = a.post(f"/api/v1/scenarios/{sid}/apply")
            assert r.status_code == 200, r.text
            after = a.get("/api/v1/coverage").content
        assert after != before

        # the delay is when the first round of a dozen answers in a row (from either worker)
        # that all show the apply began
        t0 = time.perf_counter()
        while True:
            delay = time.perf_counter() - t0
            if all(fresh("/api/v1/coverage") == after for _ in range(12)):
                break
            assert delay < 5, "the workers still disagree after 5 s"
            time.sleep(0.05)
        print(f"\nGeoPackage, 2 workers: both serve the apply after {delay * 1000:.0f} ms")
        assert delay < 2.5  # a check each second, then the reload (about half a second)
