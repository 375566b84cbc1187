"""Members, scenarios, apply/revert and coverage over real HTTP, on a store of its own."""

from __future__ import annotations

import json
import re
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.test_api import PROBLEM, authed, start_server


@pytest.fixture(scope="module")
def http(own_store):
    with start_server(own_store) as url, authed(url, timeout=60) as c:
        yield c


def test_members_of_a_grid(http, district):
    grid = district.grids["code"].iloc[17]
    ms = http.get("/api/v1/members", params={"grid": grid}).json()
    assert len(ms) == (district.members["grid_code"] == grid).sum()
    m = ms[0]
    assert set(m) >= {"id", "role", "grid_code", "available", "buildings", "load", "capacity"}
    assert "*" in m["name"] and "****" in m["phone"]
    one = http.get(f"/api/v1/members/{m['id']}").json()
    assert one == m
    mine = district.assignment[district.assignment["member_id"] == m["id"]]
    assert sorted(mine["building_code"]) == m["buildings"]
    assert m["load"] == pytest.approx(mine["load"].sum())
    r = http.get("/api/v1/members/M99999")
    assert r.status_code == 404 and r.headers["content-type"].startswith(PROBLEM)


def test_scenario_20_percent_under_2_seconds_then_apply_and_revert(http, district):
    r = http.post("/api/v1/scenarios", json={"name": "20% out", "unavailable_fraction": 0.2, "seed": 1,
                                             "walk_limit_m": 1500})
    assert r.status_code == 201, r.text
    assert r.headers["location"] == f"/api/v1/scenarios/{r.json()['id']}"
    body = r.json()
    s = body["summary"]
    assert {"moves", "uncovered_buildings", "uncovered_households", "overloaded_members",
            "max_walk_m", "solve_seconds"} <= set(s)
    assert s["moves"] > 0 and s["max_walk_m"] <= 1500
    # every shortage is explained grid by grid
    short = body["shortages"]
    assert sum(x["uncovered_buildings"] for x in short) == s["uncovered_buildings"]
    sid = body["id"]
    moves = http.get(f"/api/v1/scenarios/{sid}/moves").json()["moves"]
    assert len(moves) == s["moves"]
    assert {"building_code", "from_member", "to_member", "reason"} <= set(moves[0])
    full = http.get(f"/api/v1/scenarios/{sid}").json()
    assert full["coverage_after"]["grid"] and full["status"] == "computed"

    before = http.get("/api/v1/coverage").json()
    assert before["totals"]["uncovered_buildings"] == 0
    assert len(before["grids"]) == len(district.grids)
    out = http.post(f"/api/v1/scenarios/{sid}/apply").json()
    assert out["status"] == "applied"
    after = http.get("/api/v1/coverage").json()
    assert after["totals"]["uncovered_buildings"] == s["uncovered_buildings"]
    gone = body["unavailable_members"][0]
    m = http.get(f"/api/v1/members/{gone}").json()
    assert m["available"] is False and m["buildings"] == []
    # applying twice, or a stale scenario, is a conflict
    assert http.post(f"/api/v1/scenarios/{sid}/apply").status_code == 409
    back = http.post("/api/v1/assignments/revert").json()
    assert back["reverted_scenario"] == sid
    assert http.get("/api/v1/coverage").json()["totals"]["uncovered_buildings"] == 0
    assert http.get(f"/api/v1/members/{gone}").json()["available"] is True


def test_two_rebalances_at_once_never_mix(http, kept_store):
    from geo_grid.store import history

    bodies = [{"name": f"c{i}", "unavailable_fraction": 0.1, "seed": 10 + i} for i in range(2)]
    with ThreadPoolExecutor(2) as pool:
        ids = [r.json()["id"] for r in pool.map(lambda b: http.post("/api/v1/scenarios", json=b), bodies)]
    with ThreadPoolExecutor(2) as pool:
        codes = sorted(r.status_code for r in pool.map(
            lambda s: http.post(f"/api/v1/scenarios/{s}/apply"), ids))
    assert codes == [200, 409]  # the second was computed against the replaced assignment
    applied = [s for s in ids if http.get(f"/api/v1/scenarios/{s}").json()["status"] == "applied"]
    assert len(applied) == 1
    want = {(a["member_id"], a["building_code"])
            for a in history.get_scenario(kept_store, applied[0])["result"]["assignment"]}
    have = set()
    for m in http.get("/api/v1/members").json():
        have |= {(m["id"], b) for b in m["buildings"]}
    assert have == want
    assert http.post("/api/v1/assignments/revert").status_code == 200


@pytest.fixture(scope="module")
def kept_store(own_store):
    from geo_grid.store import Store

    store = Store(own_store)
    yield store
    store.close()


def _uncovered_counts(html: str) -> list[int]:
    """Features in each uncovered-buildings layer of a map page, in page order."""
    dec = json.JSONDecoder()
    out = []
    for m in re.finditer(r"GG\.geo\([\w$]+, ", html):
        data, end = dec.raw_decode(html, m.end())
        spec, _ = dec.raw_decode(html, html.index("{", end))
        if "gg-uncovered" in spec.get("className", ""):
            out.append(len(data["features"]))
    return out


def test_maps_draw_the_stored_result_before_and_after_apply(http):
    body = http.post("/api/v1/scenarios", json={"name": "map", "unavailable_fraction": 0.3, "seed": 7,
                                                "walk_limit_m": 1200}).json()
    sid, s = body["id"], body["summary"]
    want = [s["before"]["uncovered_buildings"], s["uncovered_buildings"]]
    assert want[0] > 0

    def counts():
        return (_uncovered_counts(http.get(f"/map/scenarios/{sid}").text),
                _uncovered_counts(http.get(f"/map/scenarios/{sid}/compare").text))

    assert counts() == ([want[1]], want)
    assert http.post(f"/api/v1/scenarios/{sid}/apply").status_code == 200
    assert counts() == ([want[1]], want)
    assert http.post("/api/v1/assignments/revert").status_code == 200


def test_map_of_an_older_scenario_matches_its_summary(http):
    old = http.post("/api/v1/scenarios", json={"name": "old", "unavailable_fraction": 0.25, "seed": 3}).json()
    new = http.post("/api/v1/scenarios", json={"name": "new", "unavailable_fraction": 0.1, "seed": 4}).json()
    assert http.post(f"/api/v1/scenarios/{new['id']}/apply").status_code == 200
    s = old["summary"]
    html = http.get(f"/map/scenarios/{old['id']}/compare").text
    assert _uncovered_counts(html) == [s["before"]["uncovered_buildings"], s["uncovered_buildings"]]
    assert http.post("/api/v1/assignments/revert").status_code == 200


def test_empty_assignment_then_revert_stack(http, district):
    base = http.get("/api/v1/coverage").json()["totals"]["uncovered_buildings"]
    out0 = {m["id"] for m in http.get("/api/v1/members").json() if not m["available"]}
    one = http.post("/api/v1/scenarios", json={"name": "few", "unavailable_fraction": 0.1, "seed": 5}).json()
    assert http.post(f"/api/v1/scenarios/{one['id']}/apply").status_code == 200
    after_one = http.get("/api/v1/coverage").json()["totals"]
    out_one = {m["id"] for m in http.get("/api/v1/members").json() if not m["available"]}
    all_out = http.post("/api/v1/scenarios", json={"name": "all", "unavailable_fraction": 1.0}).json()
    assert http.post(f"/api/v1/scenarios/{all_out['id']}/apply").status_code == 200
    ms = http.get("/api/v1/members").json()
    assert all(not m["available"] and m["buildings"] == [] for m in ms)

    r = http.post("/api/v1/assignments/revert")
    assert r.status_code == 200, r.text
    assert r.json()["reverted_scenario"] == all_out["id"]
    assert http.get("/api/v1/coverage").json()["totals"] == after_one
    assert {m["id"] for m in http.get("/api/v1/members").json() if not m["available"]} == out_one
    r = http.post("/api/v1/assignments/revert")
    assert r.json()["reverted_scenario"] == one["id"]
    assert http.get("/api/v1/coverage").json()["totals"]["uncovered_buildings"] == base
    assert {m["id"] for m in http.get("/api/v1/members").json() if not m["available"]} == out0


def test_changes_by_another_process_are_noticed(http, kept_store):
    from geo_grid.store import history

    rows = history.assignment_at(kept_store, history.current_version(kept_store))
    first = rows["building_code"].iloc[0]
    version = history.replace_assignment(kept_store, rows[rows["building_code"] != first])
    body = http.post("/api/v1/scenarios", json={"name": "after cli", "unavailable_fraction": 0.05,
                                                "seed": 2}).json()
    assert history.get_scenario(kept_store, body["id"])["base_version"] == version
    time.sleep(1.1)
    assert http.get("/api/v1/coverage").json()["totals"]["uncovered_buildings"] == 1
    assert http.post(f"/api/v1/scenarios/{body['id']}/apply").status_code == 200
    assert http.post("/api/v1/assignments/revert").json()["reverted_scenario"] == body["id"]
    assert http.post("/api/v1/assignments/revert").json()["reverted_scenario"] is None
    assert http.get("/api/v1/coverage").json()["totals"]["uncovered_buildings"] == 0


def test_bad_scenarios_are_422(http):
    r = http.post("/api/v1/scenarios", json={"unavailable_fraction": 1.5})
    assert r.status_code == 422 and r.headers["content-type"].startswith(PROBLEM)
    r = http.post("/api/v1/scenarios", json={"bogus": 1})
    assert r.status_code == 422
    r = http.post("/api/v1/scenarios", json={"sealed_area": {"type": "Polygon", "coordinates": [[1, 2]]}})
    assert r.status_code == 422, r.text
    assert http.post("/api/v1/scenarios/nope/apply").status_code == 404
