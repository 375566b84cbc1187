"""The OpenAPI document over real HTTP: every JSON body of ``/api/v1`` typed, with an example;
errors documented as problem+json; the lookup, batch and health answers match their models."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from api.models.batch import BatchResult
from api.models.health import Health
from api.models.lookup import LookupResult
from api.models.problem import Problem
from tests.test_api import authed, provision, serve_app

JSON_TYPES = ("application/json", "application/geo+json")


@pytest.fixture(scope="module")
def http(store_path):
    from api.app import create_app
    from api.settings import Settings

    app = create_app(Settings(db=store_path, build_if_missing=False))
    with serve_app(app) as url, authed(url, timeout=120) as c:
        yield c


@pytest.fixture(scope="module")
def spec(http) -> dict:
    r = http.get("/openapi.json")
    assert r.status_code == 200
    return r.json()


def resolve(spec: dict, schema: dict, seen: frozenset = frozenset()) -> dict:
    """``schema`` with a top-level ``$ref`` followed (into ``#/components/schemas``)."""
    ref = schema.get("$ref")
    if ref is None:
        return schema
    assert ref.startswith("#/components/schemas/") and ref not in seen, ref
    return resolve(spec, spec["components"]["schemas"][ref.rsplit("/", 1)[1]], seen | {ref})


def named(spec: dict, schema: dict) -> bool:
    """True if a body schema names its members: an object with properties, an array of such
    objects, or a union whose every branch is one (a nullable branch aside)."""
    s = resolve(spec, schema)
    for key in ("anyOf", "oneOf", "allOf"):
        if key in s:
            branches = [b for b in s[key] if resolve(spec, b).get("type") != "null"]
            return bool(branches) and all(named(spec, b) for b in branches)
    if s.get("type") == "array":
        return named(spec, s.get("items", {}))
    return bool(s.get("properties"))


def has_example(spec: dict, media: dict) -> bool:
    if "example" in media or media.get("examples"):
        return True
    s = resolve(spec, media.get("schema", {}))
    if s.get("type") == "array" and "items" in s:
        s = resolve(spec, s["items"])
    return "example" in s or bool(s.get("examples"))


def json_bodies(spec: dict):
    """(method, path, status, media type, media object) of every 200/201 JSON body under /api/v1."""
    for path, ops in spec["paths"].items():
        if not path.startswith("/api/v1"):
            continue
        for method, op in ops.items():
            for status in ("200", "201"):
                content = op.get("responses", {}).get(status, {}).get("content", {})
                for media_type, media in content.items():
                    if media_type in JSON_TYPES:
                        yield method.upper(), path, status, media_type, media


def test_every_json_body_has_named_properties_and_an_example(spec):
    bodies = list(json_bodies(spec))
    # the routes of the README, at least: lookup, batch, grids, members, scenarios, coverage
    paths = {p for _, p, *_ in bodies}
    for p in ("/api/v1/lookup", "/api/v1/lookup/batch", "/api/v1/grids", "/api/v1/coverage",
              "/api/v1/versions", "/api/v1/versions/{version}", "/api/v1/versions/{a}/diff/{b}"):
        assert p in paths, p
    untyped = [f"{m} {p} {s} {t}" for m, p, s, t, media in bodies
               if not named(spec, media.get("schema", {}))]
    no_example = [f"{m} {p} {s} {t}" for m, p, s, t, media in bodies if not has_example(spec, media)]
    assert not untyped, f"bodies without named properties: {untyped}"
    assert not no_example, f"bodies without an example: {no_example}"


def test_every_api_route_documents_a_body_for_its_success(spec):
    # a route that says nothing about its 200/201 body escapes the check above
    silent = []
    for path, ops in spec["paths"].items():
        if path.startswith("/api/v1"):
            for method, op in ops.items():
                ok = {s: r for s, r in op["responses"].items() if s in ("200", "201")}
                if not ok or not any(r.get("content") for r in ok.values()):
                    silent.append(f"{method.upper()} {path}")
    assert not silent, silent


def test_errors_are_documented_as_problem_json(spec):
    assert named(spec, {"$ref": "#/components/schemas/Problem"})
    lookup = spec["paths"]["/api/v1/lookup"]["get"]["responses"]
    for status in ("400", "422"):
        assert set(lookup[status]["content"]) == {"application/problem+json"}
        assert lookup[status]["content"]["application/problem+json"]["schema"]["$ref"].endswith(
            "/Problem")
    params = {p["name"] for p in spec["paths"]["/api/v1/lookup"]["get"]["parameters"]}
    assert params == {"lon", "lat", "crs", "address", "unmasked", "as_of", "street"}


def strict(model: type[BaseModel], body: dict) -> None:
    """Validate ``body`` against ``model`` and check that the model names every member."""
    model.model_validate(body)
    assert set(body) <= set(model.model_fields), set(body) - set(model.model_fields)


def test_lookup_answers_match_the_model(http, district):
    b = district.street.total_bounds
    c = district.grids.geometry.iloc[7].representative_point()
    point = http.get("/api/v1/lookup", params={"lon": c.x, "lat": c.y}).json()
    strict(LookupResult, point)
    assert point["covered"] and "match" not in point and point["point"]["lon"] == c.x
    assert point["grid"]["code"] == district.grids["code"].iloc[7]
    outside = http.get("/api/v1/lookup", params={"lon": b[0] - 0.05, "lat": b[1]}).json()
    strict(LookupResult, outside)
    assert outside["covered"] is False and outside["team"] is None
    addr = district.buildings["address"].iloc[11]
    by_address = http.get("/api/v1/lookup", params={"address": addr}).json()
    strict(LookupResult, by_address)
    assert by_address["match"]["status"] == "matched" and "point" not in by_address
    full = http.get("/api/v1/lookup", params={"lon": c.x, "lat": c.y, "unmasked": "true"}).json()
    strict(LookupResult, full)
    assert full["grid"] == point["grid"] and full["team"] != point["team"]


def test_lookup_errors_are_problems(http, store_path):
    viewer = {"Authorization": f"Bearer {provision(store_path, 'viewer')}"}
    for params, status in [({"lon": "east", "lat": 31.5}, 422), ({"lon": 120.3}, 400),
                           ({"lon": 31.53, "lat": 120.36}, 422),
                           ({"lon": 120.3, "lat": 31.5, "crs": "mars"}, 422),
                           ({"lon": 120.3, "lat": 31.5, "unmasked": "true"}, 403),
                           ({"address": "x" * 201}, 422)]:
        r = http.get("/api/v1/lookup", params=params, headers=viewer)
        assert r.status_code == status, (params, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        Problem.model_validate(r.json())  # details of the error come as extra members
    bad = http.get("/api/v1/lookup", params={"lon": "east", "lat": 31.5}).json()
    assert bad["code"] == "validation" and bad["errors"][0]["loc"] == ["query", "lon"]


def test_batch_and_health_match_their_models(http, district):
    c = district.grids.geometry.iloc[3].representative_point()
    items = [district.buildings["address"].iloc[5], {"lon": c.x, "lat": c.y},
             {"lon": 100.0, "lat": 20.0}, 42, "", {"address": "不存在的地方99号"}]
    body = http.post("/api/v1/lookup/batch", json=items).json()
    strict(BatchResult, body)
    for item in body["results"]:
        strict(BatchResult.model_fields["results"].annotation.__args__[0], item)
    assert body["summary"]["items"] == len(items)
    health = http.get("/healthz").json()
    strict(Health, health)
    assert health["grids"] == len(district.grids) and health["members"] == len(district.members)


def test_plain_and_model_parsed_point_queries_answer_alike(http, district):
    # plain decimals take the short path; any other spelling of the same query goes through
    # the query model: the answers must not differ
    c = district.grids.geometry.iloc[21].representative_point()
    lon, lat = round(c.x, 6), round(c.y, 6)
    plain = http.get(f"/api/v1/lookup?lon={lon}&lat={lat}")
    assert plain.status_code == 200
    for query in (f"lon={lon}&lat={lat}&unmasked=false", f"lon=+{lon}&lat={lat}",
                  f"lon={lon}e0&lat={lat}", f"lat={lat}&lon={lon}&crs=wgs84",
                  f"lon=1&lon={lon}&lat={lat}&crs=WGS84"):
        r = http.get(f"/api/v1/lookup?{query}")
        assert r.status_code == 200 and r.content == plain.content, query
    assert plain.json()["grid"]["code"] == district.grids["code"].iloc[21]
    # the short path keeps the checks of the core
    swapped = http.get(f"/api/v1/lookup?lon={lat}&lat={lon}")
    assert swapped.status_code == 422 and swapped.json()["code"] == "invalid_coordinate"
