"""Accounts over real HTTP: first start, tokens, browser sessions, CSRF, rate limits, audit."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time

import httpx
import pytest

from tests.conftest import copy_without_users
from tests.test_api import PROBLEM, free_port, provision, start_server

GEO_GRID = [sys.executable, "-m", "geo_grid.cli"]


@pytest.fixture(scope="module")
def fresh_store(store_path, tmp_path_factory):
    return copy_without_users(store_path, tmp_path_factory.mktemp("auth") / "fresh.gpkg")


def _wait(url: str, proc: subprocess.Popen) -> None:
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
        if proc.poll() is not None:
            raise RuntimeError("server exited")
    raise RuntimeError("server did not start")


def test_first_start_prints_a_one_time_login(fresh_store, tmp_path):
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([*GEO_GRID, "serve", "--db", str(fresh_store), "--port", str(port)],
                                stdout=out, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            _wait(url, proc)
            text = log.read_text()
            found = re.search(r"(http://127\.0\.0\.1:\d+/login\?token=\S+)", text)
            assert found, text
            login_url = found.group(1)
            # anonymous callers get 401 everywhere but /healthz and /login
            assert httpx.get(url + "/healthz").status_code == 200
            r = httpx.get(url + "/api/v1/grids")
            assert r.status_code == 401 and r.headers["content-type"].startswith(PROBLEM)
            assert r.headers["www-authenticate"].startswith("Bearer")
            page = httpx.get(url + "/", headers={"Accept": "text/html"})
            assert page.status_code == 401 and "<form" in page.text
            # the one-time token starts a session (cookie HttpOnly, SameSite=Strict) once
            r = httpx.get(login_url)
            assert r.status_code == 303 and r.headers["location"] == "/"
            cookie = r.headers["set-cookie"]
            assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
            sid = cookie.split(";")[0].split("=", 1)[1]
            with httpx.Client(base_url=url, cookies={"gg_session": sid}, timeout=120) as browser:
                me = browser.get("/api/v1/session").json()
                assert me["user"] == "admin" and me["role"] == "admin" and me["csrf"]
                assert browser.get("/api/v1/grids").status_code == 200
            assert httpx.get(login_url).status_code == 401  # used up
            # the store now has a user, so a second start prints nothing new
        finally:
            proc.terminate()
            proc.wait(10)
    out = subprocess.run([*GEO_GRID, "audit", "verify", "--db", str(fresh_store)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr


def test_no_users_refuses_a_non_loopback_bind(store_path, tmp_path):
    db = copy_without_users(store_path, tmp_path / "nobody.gpkg")
    from geo_grid.auth.users import list_users
    from geo_grid.store import Store

    s = Store(db)
    assert list_users(s) == []
    s.close()
    out = subprocess.run([*GEO_GRID, "serve", "--db", str(db), "--host", "0.0.0.0",
                          "--port", str(free_port())], capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "no users" in out.stderr


@pytest.fixture(scope="module")
def served(store_path, tmp_path_factory):
    path = tmp_path_factory.mktemp("authsrv") / "s.gpkg"
    shutil.copy(store_path, path)
    with start_server(path) as url:
        yield url, path


def test_tokens_sessions_and_csrf(served, district):
    url, path = served
    viewer = provision(path, "viewer", name="看一看")
    with httpx.Client(base_url=url, timeout=120) as c:
        assert c.get("/api/v1/grids", headers={"Authorization": "Bearer nope"}).status_code == 401
        assert c.get("/api/v1/grids", headers={"Authorization": "Basic x"}).status_code == 401
        r = c.get("/api/v1/grids", headers={"Authorization": f"Bearer {viewer}"})
        assert r.status_code == 200
        # a viewer may read but not change anything
        r = c.post("/api/v1/scenarios", json={"unavailable_fraction": 0.1},
                   headers={"Authorization": f"Bearer {viewer}"})
        assert r.status_code == 403 and r.json()["code"] == "forbidden"
        # ?token= on a page: a session cookie and a redirect to the same page without it
        r = c.get(f"/map/versions/1/diff/1?token={url.token}&x=1")
        assert r.status_code == 303 and r.headers["location"] == "/map/versions/1/diff/1?x=1"
        sid = r.headers["set-cookie"].split(";")[0].split("=", 1)[1]
    with httpx.Client(base_url=url, cookies={"gg_session": sid}, timeout=120) as browser:
        csrf = browser.get("/api/v1/session").json()["csrf"]
        body = {"unavailable_members": [str(district.members.id.iloc[0])]}
        r = browser.post("/api/v1/scenarios", json=body)
        assert r.status_code == 403 and "CSRF" in r.json()["detail"]
        r = browser.post("/api/v1/scenarios", json=body,
                         headers={"X-CSRF-Token": csrf, "Origin": "http://evil.example"})
        assert r.status_code == 403 and "cross-site" in r.json()["detail"]
        r = browser.post("/api/v1/scenarios", json=body, headers={"X-CSRF-Token": csrf})
        assert r.status_code == 201, r.text
        # logging out ends the session
        browser.post("/logout")
    with httpx.Client(base_url=url, cookies={"gg_session": sid}) as gone:
        time.sleep(2.1)  # the service trusts a session for up to two seconds without the store
        assert gone.get("/api/v1/session").status_code == 401


def test_disabled_users_and_rotated_tokens_stop_working(served):
    url, path = served
    token = provision(path, "viewer", name="临时")
    h = {"Authorization": f"Bearer {token}"}
    assert httpx.get(url + "/api/v1/versions", headers=h).status_code == 200
    out = subprocess.run([*GEO_GRID, "user", "token", "临时", "--db", str(path)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    new = out.stdout.strip().splitlines()[-1]
    time.sleep(2.1)
    assert httpx.get(url + "/api/v1/versions", headers=h).status_code == 401
    h2 = {"Authorization": f"Bearer {new}"}
    assert httpx.get(url + "/api/v1/versions", headers=h2).status_code == 200
    subprocess.run([*GEO_GRID, "user", "disable", "临时", "--db", str(path)], check=True,
                   capture_output=True, timeout=120)
    time.sleep(2.1)
    assert httpx.get(url + "/api/v1/versions", headers=h2).status_code == 401


def test_login_form_and_its_rate_limit(served):
    url, path = served
    from geo_grid.auth.users import set_password
    from geo_grid.store import Store

    provision(path, "street", "320214052", name="街道办")
    s = Store(path)
    set_password(s, "街道办", "correct horse battery")
    s.close()
    with httpx.Client(base_url=url, timeout=120) as c:
        assert c.get("/login").status_code == 200
        r = c.post("/login", data={"name": "街道办", "password": "correct horse battery",
                                   "next": "//evil.example/x"})
        assert r.status_code == 303 and r.headers["location"] == "/"  # no open redirect
        codes = [c.post("/login", data={"name": "街道办", "password": "wrong"}).status_code
                 for _ in range(12)]
        assert 401 in codes and codes[-1] == 429


def test_state_changes_and_unmasked_reads_are_audited(served, district):
    url, path = served
    h = url.headers
    member = district.members.iloc[3]
    r = httpx.get(url + f"/api/v1/members/{member.id}", params={"unmasked": "true"}, headers=h)
    assert r.status_code == 200 and r.json()["name"] == member["name"]
    code = str(district.grids.code.iloc[5])
    r = httpx.post(url + f"/api/v1/grids/{code}/split", json={}, headers=h)
    assert r.status_code == 400
    entries = httpx.get(url + "/api/v1/audit", headers=h, params={"limit": 50}).json()
    kinds = {(e["action"], e["outcome"]) for e in entries}
    assert ("read_personal", "ok") in kinds and ("edit", "error:bad_request") in kinds
    edit = next(e for e in entries if e["action"] == "edit")
    assert code in edit["targets"] and edit["route"].endswith("/split")
    # a street user may filter by a code in its scope; a viewer may not read the trail
    comm = code[:12]
    token = provision(path, "street", "320214052")
    assert httpx.get(url + "/api/v1/audit", headers={"Authorization": f"Bearer {token}"},
                     params={"code": comm}).status_code == 200
    viewer = provision(path, "viewer")
    assert httpx.get(url + "/api/v1/audit",
                     headers={"Authorization": f"Bearer {viewer}"}).status_code == 403
    out = subprocess.run([*GEO_GRID, "audit", "verify", "--db", str(path)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "intact" in out.stdout


def test_public_lookup_opens_only_masked_lookups(store_path, tmp_path, district):
    db = tmp_path / "public.gpkg"
    shutil.copy(store_path, db)
    g = district.grids.geometry.iloc[2].representative_point()
    env = {"GEO_GRID_PUBLIC_LOOKUP": "true"}
    with start_server(db, **env) as url:
        r = httpx.get(url + "/api/v1/lookup", params={"lon": g.x, "lat": g.y})
        assert r.status_code == 200 and r.json()["covered"] is True
        assert "*" in r.json()["team"]["secretary"]["name"]
        r = httpx.get(url + "/api/v1/lookup", params={"lon": g.x, "lat": g.y, "unmasked": "true"})
        assert r.status_code == 401
        assert httpx.get(url + "/api/v1/grids").status_code == 401
    assert os.environ.get("GEO_GRID_PUBLIC_LOOKUP") is None


def test_a_rebuilt_store_keeps_its_accounts_and_audit_trail(store_path, tmp_path):
    db = copy_without_users(store_path, tmp_path / "rebuilt.gpkg")
    token = provision(db, "street", "320214052", name="留用")
    out = subprocess.run([*GEO_GRID, "init", "--db", str(db), "--force"], capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    from geo_grid.auth.users import authenticate_token
    from geo_grid.store import Store

    s = Store(db)
    try:
        assert authenticate_token(s, token).name == "留用"
    finally:
        s.close()
    out = subprocess.run([*GEO_GRID, "audit", "verify", "--db", str(db)], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
