"""The members, scenarios, coverage and grids routes answer what their response models say,
and a scenario kept before scenarios carried their figures gets them once, stored."""

from __future__ import annotations

import pytest

from api.models.coverage import CommunityFigures, Coverage, GridFigures
from api.models.grids import GridCollection, GridFeature
from api.models.members import Member
from api.models.scenarios import Applied, Moves, Reverted, ScenarioFull, ScenarioItem, ScenarioOut
from tests.test_api import authed, provision, serve_app


@pytest.fixture(scope="module")
def http(own_store):
    from api.app import create_app
    from api.settings import Settings

    app = create_app(Settings(db=own_store, build_if_missing=False))
    with serve_app(app) as url, authed(url, timeout=120) as c:
        yield c


def _strict(model, body):
    """Validate ``body`` and check that the model names every field the body has."""
    model.model_validate(body)
    assert set(body) <= set(model.model_fields), set(body) - set(model.model_fields)


def test_bodies_match_their_models(http, district):
    grid = district.grids["code"].iloc[3]
    ms = http.get("/api/v1/members", params={"grid": grid}).json()
    assert ms
    for m in ms:
        _strict(Member, m)
    _strict(Member, http.get(f"/api/v1/members/{ms[0]['id']}").json())
    cov = http.get("/api/v1/coverage").json()
    _strict(Coverage, cov)
    for row in cov["grids"]:
        _strict(GridFigures, row)
    for row in cov["communities"]:
        _strict(CommunityFigures, row)
    GridCollection.model_validate(http.get("/api/v1/grids").json())
    one = http.get(f"/api/v1/grids/{grid}").json()
    GridFeature.model_validate(one)
    assert one["properties"]["team"]["secretary"] is not None
    r = http.post("/api/v1/scenarios", json={"name": "m", "unavailable_fraction": 0.1, "seed": 2})
    assert r.status_code == 201
    _strict(ScenarioOut, r.json())
    sid = r.json()["id"]
    assert r.json()["links"]["self"] == f"/api/v1/scenarios/{sid}"
    assert r.json()["links"]["compare"] == f"/map/scenarios/{sid}/compare"
    _strict(ScenarioFull, http.get(f"/api/v1/scenarios/{sid}").json())
    for item in http.get("/api/v1/scenarios").json():
        _strict(ScenarioItem, item)
    _strict(Moves, http.get(f"/api/v1/scenarios/{sid}/moves").json())
    _strict(Applied, http.post(f"/api/v1/scenarios/{sid}/apply").json())
    _strict(Reverted, http.post("/api/v1/assignments/revert").json())


def test_openapi_names_every_property_of_these_routes(http):
    doc = http.get("/openapi.json").json()
    routes = {("/api/v1/members", "get"), ("/api/v1/members/{member_id}", "get"),
              ("/api/v1/coverage", "get"), ("/api/v1/scenarios", "post"),
              ("/api/v1/scenarios", "get"), ("/api/v1/scenarios/{sid}", "get"),
              ("/api/v1/scenarios/{sid}/moves", "get"), ("/api/v1/scenarios/{sid}/apply", "post"),
              ("/api/v1/assignments/revert", "post"), ("/api/v1/grids", "get"),
              ("/api/v1/grids/{code}", "get")}
    schemas = doc["components"]["schemas"]
    for path, method in routes:
        ok = {k: v for k, v in doc["paths"][path][method]["responses"].items() if k in ("200", "201")}
        assert ok, (path, method)
        for resp in ok.values():
            (media, content), = resp["content"].items()
            assert media == ("application/geo+json" if path.startswith("/api/v1/grids")
                             else "application/json")
            ref = content["schema"].get("$ref") or content["schema"]["items"]["$ref"]
            schema = schemas[ref.rsplit("/", 1)[1]]
            assert schema["properties"] and schema.get("examples"), (path, ref)


def test_a_scenario_kept_without_figures_gets_them_once(http, own_store):
    from geo_grid.store import Store, history

    r = http.post("/api/v1/scenarios", json={"name": "old", "unavailable_fraction": 0.2, "seed": 9})
    sid, summary = r.json()["id"], r.json()["summary"]
    store = Store(own_store)
    try:
        kept = history.get_scenario(store, sid)
        old = {k: v for k, v in kept["result"].items()
               if k not in ("figures_before", "figures_after", "uncovered_before", "uncovered_after")}
        legacy = history.save_scenario(store, "legacy", kept["spec"], old, kept["base_version"])
        assert not history.has_figures(history.get_scenario(store, legacy))
        full = http.get(f"/api/v1/scenarios/{legacy}").json()
        assert full["district_after"]["uncovered_buildings"] == summary["uncovered_buildings"]
        assert len(full["uncovered_before"]) == summary["before"]["uncovered_buildings"]
        assert history.has_figures(history.get_scenario(store, legacy))  # stored back
    finally:
        store.close()


def test_read_routes_mask_unless_the_role_may_unmask(http, district, own_store):
    m = district.members.iloc[5]
    grid = m["grid_code"]
    masked = http.get(f"/api/v1/members/{m['id']}").json()
    assert masked["name"] != m["name"] and "*" in masked["name"]
    viewer = {"Authorization": f"Bearer {provision(own_store, 'viewer')}"}
    for path in (f"/api/v1/members/{m['id']}", f"/api/v1/grids/{grid}", "/api/v1/members"):
        assert http.get(path, params={"unmasked": "true"}, headers=viewer).status_code == 403
        assert http.get(path, params={"unmasked": "true"},
                        headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert http.get(path, params={"unmasked": "maybe"}).status_code == 422
    full = http.get(f"/api/v1/members/{m['id']}", params={"unmasked": "true"}).json()
    assert full["name"] == m["name"] and full["phone"] == m["phone"]
    assert {k: v for k, v in full.items() if k not in ("name", "phone")} == \
        {k: v for k, v in masked.items() if k not in ("name", "phone")}
    team = http.get(f"/api/v1/grids/{grid}", params={"unmasked": "1"}).json()["properties"]["team"]
    names = {p["name"] for p in team["social_workers"] + team["volunteers"]} | {
        team["secretary"]["name"]}
    assert m["name"] in names
    ms = http.get("/api/v1/members", params={"grid": grid, "unmasked": "true"}).json()
    assert m["name"] in {x["name"] for x in ms}
