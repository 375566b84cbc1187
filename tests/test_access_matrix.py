"""Who may call what: every operation of the live OpenAPI document × every role, over HTTP.

One server on a copy of the reference store, one user per role (and no credentials at all),
one request per operation, role and place: the answer's status is compared with the table
below, which is written out here from the access rules as they are meant to be — not read
from :mod:`geo_grid.auth.policy` — so that the policy and the routes are checked against it.

Places: community A (``320214052005``) and a grid G in it are inside the community and grid
users' scopes; community B (``320214052008``) is outside them. A route that names a grid, a
member, a building or a scenario is called once with a place in G (``in``) and once with a
place in B (``out``); a street-wide route once.

State-changing routes are sent a request that is refused *after* the caller was authorised (a
split with no line and no parts, a merge of one grid, an import without files...), so the
matrix leaves the store as it was; the one exception is ``POST /api/v1/scenarios``, which keeps
a tiny scenario (one member unavailable).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import httpx
import pytest
from shapely.geometry import shape

from tests.test_api import provision, start_server

STREET = "320214052"
A = "320214052005"  # the community and grid users' community
G = "320214052005001"  # the grid user's grid, in A
B = "320214052008"  # another community: outside the community and grid users' scopes

ROLES = ("admin", "street", "community", "grid", "viewer", "service", "anonymous")
#: Each role's scope (None: the whole service).
SCOPES = {"admin": None, "street": STREET, "community": A, "grid": G, "viewer": None,
          "service": None}
#: The actions each role is meant to have (the access rules as specified, written out).
ROLE_ACTIONS = {
    "admin": {"lookup", "read", "read_personal", "scenario", "apply", "edit", "import", "export",
              "campaign", "users", "audit"},
    "street": {"lookup", "read", "read_personal", "scenario", "apply", "edit", "import",
               "export", "campaign", "audit"},
    "community": {"lookup", "read", "read_personal", "scenario", "campaign"},
    "grid": {"lookup", "read", "read_personal", "campaign"},
    "viewer": {"lookup", "read", "export"},
    "service": {"lookup"},
    "anonymous": set(),
}
#: The roles for which community B is outside the scope.
B_OUTSIDE = {"community", "grid"}


@dataclass(frozen=True)
class Op:
    """What an operation needs and what it answers an allowed caller.

    ``action``: the action it needs (None: open to everyone); ``scoped``: it names a place
    whose scope is checked (called with a place in G and one in B); ``ok``: the status an
    allowed caller gets for the request :func:`request_for` sends (a 2xx, or the 4xx of a body
    refused on purpose); ``public_lookup``: open to anonymous callers when the service runs
    with ``GEO_GRID_PUBLIC_LOOKUP=true``.
    """

    action: str | None
    scoped: bool = False
    ok: int = 200
    public_lookup: bool = False


#: Every operation of the OpenAPI document (a new route without an entry fails the test).
EXPECTED: dict[str, Op] = {
    "GET /healthz": Op(None),
    "GET /api/v1/session": Op("authenticated"),
    "GET /api/v1/lookup": Op("lookup", public_lookup=True),
    "POST /api/v1/lookup/batch": Op("lookup"),
    "GET /api/v1/grids": Op("read"),
    "GET /api/v1/grids/{code}": Op("read", scoped=True),
    "GET /api/v1/members": Op("read"),
    "GET /api/v1/members/{member_id}": Op("read", scoped=True),
    "GET /api/v1/scenarios": Op("read"),
    "POST /api/v1/scenarios": Op("scenario", scoped=True, ok=201),
    "GET /api/v1/scenarios/{sid}": Op("read", scoped=True),
    "GET /api/v1/scenarios/{sid}/moves": Op("read", scoped=True),
    # the trade-off curve: computed on the first call, then read from the store
    "GET /api/v1/scenarios/{sid}/tradeoff": Op("read", scoped=True),
    # an unknown scenario: allowed callers get its 404, nothing is applied
    "POST /api/v1/scenarios/{sid}/apply": Op("apply", ok=404),
    # nothing was applied on this store: nothing to revert
    "POST /api/v1/assignments/revert": Op("apply", ok=409),
    "GET /api/v1/coverage": Op("read"),
    # rosters: a request refused after the caller was authorised, an unknown roster
    "POST /api/v1/rosters": Op("scenario", ok=422),
    "GET /api/v1/rosters/{rid}": Op("read", ok=404),
    "GET /api/v1/rosters/{rid}/xlsx": Op("read", ok=404),
    # the reinforcement pool: an upload without its file, the (masked) list; the posts layer
    "POST /api/v1/reinforcements": Op("import", ok=422),
    "GET /api/v1/reinforcements": Op("read"),
    "GET /api/v1/posts": Op("read"),
    # campaigns: a body refused after the caller was authorised (none sent), an unknown campaign
    "POST /api/v1/campaigns": Op("scenario", ok=422),
    "POST /api/v1/campaigns/{cid}/visits": Op("campaign", ok=422),
    "GET /api/v1/campaigns/{cid}/progress": Op("read", ok=404),
    "GET /api/v1/campaigns/{cid}/report.xlsx": Op("read", ok=404),
    "GET /api/v1/export": Op("export"),
    # imports without their files
    "POST /api/v1/imports/layers": Op("import", ok=422),
    "POST /api/v1/imports/members": Op("import", ok=422),
    "POST /api/v1/imports/households": Op("import", ok=422),
    "GET /api/v1/versions": Op("read"),
    "GET /api/v1/versions/{version}": Op("read"),
    "GET /api/v1/versions/{a}/diff/{b}": Op("read"),
    # edits with bodies refused after the caller was authorised
    "POST /api/v1/grids/{code}/split": Op("edit", scoped=True, ok=400),
    "POST /api/v1/grids/merge": Op("edit", ok=422),
    "POST /api/v1/grids/densify": Op("edit", ok=422),
    "PUT /api/v1/grids/{code}/geometry": Op("edit", scoped=True, ok=422),
    "PUT /api/v1/buildings/{code}/grid": Op("edit", scoped=True, ok=422),
    "GET /api/v1/audit": Op("audit"),
    # OGC API - Features: collection "grids", feature G / a grid of B
    "GET /ogc": Op("read"),
    "GET /ogc/conformance": Op("read"),
    "GET /ogc/collections": Op("read"),
    "GET /ogc/collections/{collection_id}": Op("read"),
    "GET /ogc/collections/{collection_id}/items": Op("read"),
    "GET /ogc/collections/{collection_id}/items/{feature_id}": Op("read", scoped=True),
    # the map pages; a scenario's maps draw its members' moves from their homes: personal data
    "GET /": Op("read"),
    "GET /map/scenarios/{sid}": Op("read_personal", scoped=True),
    "GET /map/scenarios/{sid}/compare": Op("read_personal", scoped=True),
    "GET /map/versions/{a}/diff/{b}": Op("read"),
    # the tiled coverage map and its vector tiles (cut for the caller's scope, as the grid list)
    "GET /map/tiles": Op("read"),
    "GET /tiles/{layer}/{z}/{x}/{y}.mvt": Op("read"),
    # a campaign's progress map and phone page (an unknown campaign)
    "GET /map/campaigns/{cid}": Op("read", ok=404),
    "GET /m/campaigns/{cid}": Op("campaign", ok=404),
}
#: Routes outside the OpenAPI document, listed by hand (``"authenticated"``: any user).
EXTRA: dict[str, Op] = {
    "GET /openapi.json": Op("authenticated"),
    "GET /docs": Op("authenticated"),
    "GET /login": Op(None),
}

#: Known bugs: cells where the service answers otherwise than the table says it should, as
#: ``reason -> predicate(key, where, role, op)`` (reported to the lead engineer). A cell a
#: predicate covers may only answer 403; the test fails as soon as one of them answers as the
#: table says, so that the entry is removed once the bug is fixed.
KNOWN_MISMATCHES: dict = {}


def known_mismatch(key: str, where: str, role: str, op: Op) -> str | None:
    """The known bug that explains a cell answering 403 where the table says otherwise."""
    return next((why for why, covers in KNOWN_MISMATCHES.items() if covers(key, where, role, op)),
                None)


def expected(op: Op, role: str, where: str, public_lookup: bool = False) -> int:
    """The status ``role`` should get for ``op`` on a place in G (``in``) or in B (``out``)."""
    if op.action is None:
        return op.ok
    if role == "anonymous":
        return op.ok if public_lookup and op.public_lookup else 401
    if op.action == "authenticated":
        return op.ok
    if op.action not in ROLE_ACTIONS[role]:
        return 403
    if op.scoped and where == "out" and role in B_OUTSIDE:
        return 403
    return op.ok


# ------------------------------------------------------------------ the server and its users


@dataclass
class Places:
    """Codes in G (``in``) and in B (``out``) to put in paths and bodies."""

    grid: dict[str, str]
    member: dict[str, str]
    building: dict[str, str]
    scenario: dict[str, str]
    point: tuple[float, float]  # a point inside G
    point_b: tuple[float, float]  # a point inside B's first grid


@pytest.fixture(scope="module")
def servers(own_store, tmp_path_factory):
    """The matrix's server, and one started with ``GEO_GRID_PUBLIC_LOOKUP=true`` on another
    copy of the store; both start at once (each takes seconds to load the district)."""
    import contextlib
    import shutil
    from concurrent.futures import ThreadPoolExecutor

    public_db = tmp_path_factory.mktemp("public") / "s.gpkg"
    shutil.copy(own_store, public_db)
    with contextlib.ExitStack() as stack, ThreadPoolExecutor(2) as pool:
        main = pool.submit(stack.enter_context, start_server(own_store))
        public = pool.submit(stack.enter_context,
                             start_server(public_db, GEO_GRID_PUBLIC_LOOKUP="true"))
        yield main.result(), public.result()


@pytest.fixture(scope="module")
def server(servers):
    return servers[0]


@pytest.fixture(scope="module")
def tokens(server, own_store) -> dict[str, str | None]:
    return {"admin": server.token,
            **{role: provision(own_store, role, SCOPES[role])
               for role in ("street", "community", "grid", "viewer", "service")},
            "anonymous": None}


@pytest.fixture(scope="module")
def client(server):
    with httpx.Client(base_url=server, timeout=120) as c:
        yield c


def auth(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


@pytest.fixture(scope="module")
def places(client, server) -> Places:
    admin = server.headers
    grids = client.get("/api/v1/grids", headers=admin).json()["features"]
    by_code = {f["properties"]["code"]: f for f in grids}
    assert G in by_code
    g_b = min(c for c in by_code if c.startswith(B))
    members = {}
    buildings = {}
    for where, grid in (("in", G), ("out", g_b)):
        rows = client.get("/api/v1/members", params={"grid": grid}, headers=admin).json()
        m = next(r for r in rows if r["buildings"])
        members[where], buildings[where] = m["id"], m["buildings"][0]
    scenarios = {}
    for where in ("in", "out"):
        r = client.post("/api/v1/scenarios", headers=admin,
                        json={"unavailable_members": [members[where]]})
        assert r.status_code == 201, r.text
        scenarios[where] = r.json()["id"]

    def inside(code):
        p = shape(by_code[code]["geometry"]).representative_point()
        return p.x, p.y

    return Places(grid={"in": G, "out": g_b}, member=members, building=buildings,
                  scenario=scenarios, point=inside(G), point_b=inside(g_b))


def _form(**fields: str) -> dict:
    """A multipart form of plain fields (no file)."""
    return {"files": {k: (None, v) for k, v in fields.items()}}


def request_for(key: str, where: str, p: Places) -> tuple[str, str, dict]:
    """The method, the URL and the httpx arguments of a minimal request for operation ``key``."""
    method, path = key.split(" ", 1)
    code = p.building[where] if path.startswith("/api/v1/buildings/") else p.grid[where]
    sid = "0" * 12 if path.endswith("/apply") else p.scenario[where]
    url = (path.replace("{code}", code).replace("{member_id}", p.member[where])
           .replace("{sid}", sid).replace("{version}", "1").replace("{a}", "1")
           .replace("{b}", "1").replace("{collection_id}", "grids")
           .replace("{feature_id}", p.grid[where]).replace("{rid}", "0" * 12)
           .replace("{layer}", "grids").replace("{z}", "0").replace("{x}", "0").replace("{y}", "0"))
    kw: dict = {}
    if key == "GET /api/v1/lookup":
        kw["params"] = {"lon": p.point[0], "lat": p.point[1]}
    elif key == "POST /api/v1/lookup/batch":
        kw["json"] = [{"lon": p.point[0], "lat": p.point[1]}]
    elif key == "GET /api/v1/export":
        kw["params"] = {"format": "csv"}
    elif key == "POST /api/v1/scenarios":
        kw["json"] = {"unavailable_members": [p.member[where]]}
    elif key == "POST /api/v1/rosters":
        kw["json"] = {"start": "2026-01-01T00:00:00", "days": 0}  # days below 1: 422
    elif key == "POST /api/v1/grids/{code}/split":
        kw["json"] = {}  # neither line nor parts: 400 once the caller may edit the grid
    elif key == "POST /api/v1/grids/merge":
        kw["json"] = {"codes": [p.grid[where]]}  # one grid: 422
    elif key in ("POST /api/v1/grids/densify", "PUT /api/v1/grids/{code}/geometry",
                 "PUT /api/v1/buildings/{code}/grid"):
        kw["json"] = {}  # a required field missing: 422
    elif key == "POST /api/v1/imports/layers":
        kw.update(_form(replace="true"))  # no layer files: 422
    elif key.startswith("POST /api/v1/imports/") or key == "POST /api/v1/reinforcements":
        kw.update(_form(sheet="x"))  # no file: 422
    return method, url, kw


# ------------------------------------------------------------------ the matrix


def test_every_role_on_every_operation(client, tokens, places):
    spec = client.get("/openapi.json", headers=auth(tokens["admin"])).json()
    operations = [f"{m.upper()} {path}" for path, item in spec["paths"].items()
                  for m in item if m in ("get", "post", "put", "patch", "delete")]
    missing = [k for k in operations if k not in EXPECTED]
    assert not missing, f"operations without an entry in EXPECTED: {missing}"
    stale = [k for k in EXPECTED if k not in operations]
    assert not stale, f"EXPECTED names operations the service no longer has: {stale}"

    table = {**EXPECTED, **EXTRA}
    mismatches: dict[tuple[str, str, str], str] = {}
    known: dict[str, list] = {why: [] for why in KNOWN_MISMATCHES}
    fixed: list[str] = []
    cells = 0
    for key in [*operations, *EXTRA]:
        op = table[key]
        for where in ("in", "out") if op.scoped else ("in",):
            method, url, kw = request_for(key, where, places)
            for role in ROLES:
                want = expected(op, role, where)
                r = client.request(method, url, headers=auth(tokens[role]), **kw)
                cells += 1
                why = known_mismatch(key, where, role, op) if want != 403 else None
                if why is not None and r.status_code == 403:
                    known[why].append((key, where, role))
                    continue
                if why is not None and r.status_code == want:
                    fixed.append(f"{method} {url} as {role}: {why}")
                if r.status_code != want:
                    mismatches[(key, where, role)] = (
                        f"{method} {url} as {role}: {r.status_code} (expected {want}) "
                        f"{r.text[:160]!r}")
    assert cells > 300
    assert not mismatches, "status differs from the table:\n" + "\n".join(mismatches.values())
    assert not fixed, ("cells of a known bug now answer as the table says: remove the bug from "
                       "KNOWN_MISMATCHES:\n" + "\n".join(fixed))


def test_anonymous_lookup_with_public_lookup(servers, places):
    with httpx.Client(base_url=servers[1], timeout=60) as c:
        for key, op in EXPECTED.items():
            if "{" in key:
                continue
            method, path, kw = request_for(key, "in", places)
            want = expected(op, "anonymous", "in", public_lookup=True)
            r = c.request(method, path, **kw)
            assert r.status_code == want, (key, r.status_code, r.text[:200])
        r = c.get("/api/v1/lookup", params={"lon": places.point[0], "lat": places.point[1]})
        body = r.json()
        assert body["covered"] is True and body["grid"]["code"] == G
        assert "*" in json.dumps(body, ensure_ascii=False)  # the team's names are masked
        # personal data in full still needs a user who may see it
        r = c.get("/api/v1/lookup", params={"lon": places.point[0], "lat": places.point[1],
                                            "unmasked": "true"})
        assert r.status_code == 401, r.text


# ------------------------------------------------------------------ lists and personal data


def _grid_codes(client, token, **params) -> set[str]:
    r = client.get("/api/v1/grids", headers=auth(token), params=params)
    assert r.status_code == 200, r.text
    return {f["properties"]["code"] for f in r.json()["features"]}


def _member_grids(client, token) -> tuple[set[str], set[str]]:
    r = client.get("/api/v1/members", headers=auth(token))
    assert r.status_code == 200, r.text
    rows = r.json()
    return {m["id"] for m in rows}, {m["grid_code"] for m in rows}


def test_lists_are_filtered_to_the_scope(client, tokens, places):
    every = _grid_codes(client, tokens["admin"])
    of_a = {c for c in every if c.startswith(A)}
    assert G in of_a and len(of_a) > 1 and len(every) > len(of_a)
    assert _grid_codes(client, tokens["community"]) == of_a
    assert _grid_codes(client, tokens["grid"]) == {G}
    assert _grid_codes(client, tokens["street"]) == every
    assert _grid_codes(client, tokens["viewer"]) == every

    ids, grids = _member_grids(client, tokens["admin"])
    r = client.get("/api/v1/members", headers=auth(tokens["admin"]))
    ids_a = {m["id"] for m in r.json() if (m["grid_code"] or "").startswith(A)}
    ids_g = {m["id"] for m in r.json() if m["grid_code"] == G}
    community_ids, community_grids = _member_grids(client, tokens["community"])
    assert community_ids == ids_a and community_grids <= of_a
    grid_ids, grid_grids = _member_grids(client, tokens["grid"])
    assert grid_ids == ids_g and grid_grids == {G}
    assert places.member["in"] in grid_ids and places.member["out"] not in community_ids

    def scenario_ids(role):
        r = client.get("/api/v1/scenarios", headers=auth(tokens[role]))
        assert r.status_code == 200, r.text
        return {s["id"] for s in r.json()}

    both = {places.scenario["in"], places.scenario["out"]}
    assert both <= scenario_ids("admin")
    assert scenario_ids("community") & both == {places.scenario["in"]}
    assert scenario_ids("grid") & both == {places.scenario["in"]}


def test_unmasked_needs_the_role_and_the_scope(client, tokens, places):
    other_a = min(c for c in _grid_codes(client, tokens["admin"])
                  if c.startswith(A) and c != G)
    cases = [
        # (role, path, status)
        ("viewer", f"/api/v1/grids/{G}", 403),
        ("viewer", f"/api/v1/members/{places.member['in']}", 403),
        ("community", f"/api/v1/grids/{G}", 200),
        ("community", f"/api/v1/grids/{other_a}", 200),
        ("community", f"/api/v1/grids/{places.grid['out']}", 403),
        ("community", f"/api/v1/members/{places.member['in']}", 200),
        ("community", f"/api/v1/members/{places.member['out']}", 403),
        ("grid", f"/api/v1/grids/{G}", 200),
        ("grid", f"/api/v1/grids/{other_a}", 403),
        ("street", f"/api/v1/grids/{places.grid['out']}", 200),
        ("service", f"/api/v1/grids/{G}", 403),
        ("community", "/api/v1/members", 200),
        ("viewer", "/api/v1/members", 403),
    ]
    got = []
    for role, path, want in cases:
        r = client.get(path, headers=auth(tokens[role]), params={"unmasked": "true"})
        got.append((role, path, r.status_code, want))
    assert [g for g in got if g[2] != g[3]] == []
    # the lookup's unmasked answer: by the grid found at the point
    for role, point, want in (("community", places.point, 200),
                              ("community", places.point_b, 403),
                              ("viewer", places.point, 403)):
        r = client.get("/api/v1/lookup", headers=auth(tokens[role]),
                       params={"lon": point[0], "lat": point[1], "unmasked": "true"})
        assert r.status_code == want, (role, point, r.text[:200])
    # unmasked really unmasks: the community user sees a name of G's team in full
    masked = client.get(f"/api/v1/members/{places.member['in']}",
                        headers=auth(tokens["community"])).json()
    full = client.get(f"/api/v1/members/{places.member['in']}", headers=auth(tokens["community"]),
                      params={"unmasked": "true"}).json()
    assert "*" in (masked["name"] or "*") and full["name"] and "*" not in full["name"]


def test_store_left_unchanged(client, server):
    """The matrix applied, reverted, edited and imported nothing: still version 1."""
    versions = client.get("/api/v1/versions", headers=server.headers).json()
    assert [v["id"] for v in versions] == [1]
    r = client.post("/api/v1/assignments/revert", headers=server.headers)
    assert r.status_code == 409, r.text

