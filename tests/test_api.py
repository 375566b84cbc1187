"""The service over real HTTP: uvicorn in a subprocess on a free loopback port."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time

import httpx
import pytest

PROBLEM = "application/problem+json"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve_app(app):
    """An ASGI app served by uvicorn in a thread on a free loopback port; yields the base URL."""
    import threading

    import uvicorn

    # an account first, so that the app's first start creates no admin of its own
    settings = getattr(app.state, "settings", None)
    token = provision(settings.db) if settings is not None and settings.db.exists() else ""
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning"))
    t = threading.Thread(target=srv.run, daemon=True)
    t.start()
    try:
        for _ in range(600):
            if srv.started:
                break
            time.sleep(0.05)
        else:
            raise RuntimeError("uvicorn did not start")
        url = ServedURL(f"http://127.0.0.1:{srv.config.port}")
        url.token = token
        yield url
    finally:
        srv.should_exit = True
        t.join(5)


class ServedURL(str):
    """A served base URL that also carries an admin's API token (``.token``, ``.headers``)."""

    token: str = ""

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}


def provision(db, role: str = "admin", scope: str | None = None, name: str | None = None) -> str:
    """Add a user to the store at ``db``; returns its API token."""
    import uuid

    from geo_grid.auth.users import add_user
    from geo_grid.store import Store

    store = Store(db)
    try:
        return add_user(store, name or f"{role}-{uuid.uuid4().hex[:8]}", role, scope)
    finally:
        store.close()


def authed(url: str, **kw) -> httpx.Client:
    """An HTTP client for a served URL, sending its admin token."""
    return httpx.Client(base_url=url, headers=getattr(url, "headers", {}), **kw)


@contextlib.contextmanager
def start_server(db, **env_extra):
    """uvicorn serving ``create_app`` on ``db`` in a subprocess; yields the base URL (a
    :class:`ServedURL` carrying the token of an admin added to the store)."""
    port = free_port()
    token = provision(db)
    env = {**os.environ, "GEO_GRID_DB": str(db), "GEO_GRID_BUILD_IF_MISSING": "false",
           **env_extra}
    url = ServedURL(f"http://127.0.0.1:{port}")
    url.token = token
    with served_process([sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory",
                         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
                        env, url):
        yield url


@contextlib.contextmanager
def served_process(cmd: list[str], env: dict, url: str, timeout: float = 120):
    """Run a server command in a subprocess until its ``/healthz`` answers at ``url``; stop it
    on exit (killed if it does not end within 30 s). A server that exits or does not answer
    within ``timeout`` raises with its output."""
    # the server's output goes to a file: a pipe nobody reads would block the server once its
    # log filled the pipe's buffer
    log = tempfile.TemporaryFile()  # noqa: SIM115 - closed when the server stops
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + timeout
    try:
        while True:
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
            if proc.poll() is not None or time.time() > deadline:
                log.seek(0)
                raise RuntimeError("server did not start: " + log.read().decode(errors="replace"))
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:  # a loaded machine: do not leave it running
            proc.kill()
            proc.wait(10)
        log.close()
        log.close()


@pytest.fixture(scope="module")
def base_url(store_path):
    with start_server(store_path) as url:
        yield url


@pytest.fixture(scope="module")
def http(base_url):
    with authed(base_url, timeout=30) as c:
        yield c


def inside_point(district, code):
    g = district.grids.set_index("code").geometry[code]
    p = g.representative_point()
    return p.x, p.y


def test_healthz_and_docs(http, district):
    r = http.get("/healthz")
    assert r.json()["grids"] == len(district.grids)
    assert http.get("/docs").status_code == 200
    spec = http.get("/openapi.json").json()
    assert "/api/v1/lookup" in spec["paths"] and "/api/v1/grids/{code}" in spec["paths"]


def test_lookup_point_names_grid_community_and_masked_team(http, district):
    code = district.grids["code"].iloc[40]
    lon, lat = inside_point(district, code)
    r = http.get("/api/v1/lookup", params={"lon": lon, "lat": lat})
    assert r.status_code == 200
    body = r.json()
    assert body["covered"] is True
    assert body["street"] == {"code": "320214052", "name": "江溪街道"}
    assert body["grid"]["code"] == code and body["community"]["code"] == code[:12]
    assert set(body["grid"]) == {"code", "name", "kind"}
    team = body["team"]
    members = district.members[district.members["grid_code"] == code]
    assert len(team["social_workers"]) == (members["role"] == "social_worker").sum()
    assert len(team["volunteers"]) == (members["role"] == "volunteer").sum()
    sec = members[members["role"] == "secretary"].iloc[0]
    assert team["secretary"]["id"] == sec["id"]
    assert team["secretary"]["name"] != sec["name"] and "*" in team["secretary"]["name"]
    assert team["secretary"]["name"][0] == sec["name"][0]
    assert team["secretary"]["phone"] == sec["phone"][:3] + "****" + sec["phone"][-4:]
    assert sec["phone"] not in r.text and sec["name"] not in r.text


def test_unmasked_needs_a_role_that_may_see_personal_data(http, district, store_path):
    code = district.grids["code"].iloc[3]
    lon, lat = inside_point(district, code)
    viewer = {"Authorization": f"Bearer {provision(store_path, 'viewer')}"}
    r = http.get("/api/v1/lookup", params={"lon": lon, "lat": lat, "unmasked": "true"},
                 headers=viewer)
    assert r.status_code == 403 and r.headers["content-type"].startswith(PROBLEM)
    assert http.get("/api/v1/lookup", params={"lon": lon, "lat": lat},
                    headers=viewer).status_code == 200
    assert httpx.get(http.base_url.join("/api/v1/lookup"),
                     params={"lon": lon, "lat": lat}).status_code == 401
    r = http.get("/api/v1/lookup", params={"lon": lon, "lat": lat, "unmasked": "true"})
    sec = district.members[(district.members["grid_code"] == code)
                           & (district.members["role"] == "secretary")].iloc[0]
    assert r.json()["team"]["secretary"]["phone"] == sec["phone"]


def test_lookup_outside_is_not_covered(http):
    r = http.get("/api/v1/lookup", params={"lon": 120.6, "lat": 31.3})
    assert r.status_code == 200 and r.json()["covered"] is False


def test_lookup_cgcs2000_and_gcj02(http, district):
    from geo_grid.crs import wgs84_to_gcj02

    code = district.grids["code"].iloc[100]
    lon, lat = inside_point(district, code)
    assert http.get("/api/v1/lookup", params={"lon": lon, "lat": lat, "crs": "cgcs2000"}).json()["grid"]["code"] == code
    glon, glat = wgs84_to_gcj02(lon, lat)
    r = http.get("/api/v1/lookup", params={"lon": float(glon), "lat": float(glat), "crs": "gcj02"})
    assert r.json()["grid"]["code"] == code


def test_errors_are_problem_json(http):
    r = http.get("/api/v1/lookup", params={"lon": 120.3})
    assert r.status_code == 400 and r.headers["content-type"].startswith(PROBLEM)
    assert r.json()["status"] == 400 and "lat" in r.json()["detail"]
    r = http.get("/api/v1/lookup", params={"lon": "abc", "lat": 31.5})
    assert r.status_code == 422 and r.headers["content-type"].startswith(PROBLEM)
    assert "lon" in r.json()["detail"]
    r = http.get("/api/v1/lookup", params={"lon": 31.55, "lat": 120.36})
    assert r.status_code == 422 and "swapped" in r.json()["detail"]
    r = http.get("/api/v1/lookup", params={"lon": 120.3, "lat": 31.5, "crs": "utm"})
    assert r.status_code == 422 and r.json()["code"] == "unknown_crs"
    r = http.get("/api/v1/grids/320214052999999")
    assert r.status_code == 404 and r.headers["content-type"].startswith(PROBLEM)
    assert r.json()["title"] == "Not found" and "320214052999999" in r.json()["detail"]
    r = http.get("/no/such/route")
    assert r.status_code == 404 and r.headers["content-type"].startswith(PROBLEM)


def test_grids_geojson_with_stats(http, district):
    r = http.get("/api/v1/grids")
    assert r.headers["content-type"].startswith("application/geo+json")
    fc = r.json()
    assert fc["type"] == "FeatureCollection" and len(fc["features"]) == len(district.grids)
    hh = sum(f["properties"]["stats"]["households"] for f in fc["features"])
    assert hh == len(district.households)
    f = fc["features"][0]
    assert f["geometry"]["type"] in ("Polygon", "MultiPolygon")
    assert {"code", "name", "kind", "community", "stats"} <= set(f["properties"])
    one = http.get(f"/api/v1/grids/{f['properties']['code']}").json()
    assert one["properties"]["stats"] == f["properties"]["stats"]
    assert one["properties"]["team"]["secretary"]["name"].count("*") >= 1
    comm = district.grids["community_code"].iloc[0]
    part = http.get("/api/v1/grids", params={"community": comm}).json()
    assert len(part["features"]) == (district.grids["community_code"] == comm).sum()


def test_lookup_by_address(http, district):
    b = district.buildings[district.buildings["category"] == "slab"].iloc[5]
    text = f"江苏省无锡市新吴区江溪街道{b['address'].replace('栋', '幢')}2单元301"
    r = http.get("/api/v1/lookup", params={"address": text})
    body = r.json()
    assert r.status_code == 200
    assert body["match"]["status"] == "matched"
    assert body["match"]["building"] == {"code": b["code"], "address": b["address"]}
    assert body["grid"]["code"] == b["grid_code"] and body["covered"] is True
    assert body["match"]["unit"] == 2 and body["match"]["room"] == 301
    r = http.get("/api/v1/lookup", params={"address": "叙丰家园9999栋"}).json()
    assert r["covered"] is False and r["match"]["status"] != "matched"
