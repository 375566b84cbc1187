"""The emergency map's reinforcements and posts layers, over real HTTP on a fresh store.

A scenario with inline reinforcements is computed on the reference district (the sealed
rectangle of :func:`tests.test_reinforcements.screenshot`); its map page is fetched and the data
of its layers read back from the JSON the page passes to ``GG.markers`` (not from markup). A
roster naming the scenario adds the posts layer, its gaps as the roster reports them.
"""

from __future__ import annotations

import itertools
import json
import re
from collections import defaultdict

import numpy as np
import pytest

from maps import _data as D  # noqa: N812
from maps.elements import tojson_html
from tests.test_api import authed, start_server
from tests.test_reinforcements import screenshot

XSS = "<img src=x onerror=alert(1)>"
REINFORCEMENTS = "增援力量 / reinforcements"
POSTS = "岗位 / posts"
START = "2026-03-01T08:00:00"


# ------------------------------------------------------------------ reading a page back


def _calls(html: str, opening: str) -> list[list]:
    """The JSON arguments of every call ``opening(<js name>, {...}, {...}...)`` in the page,
    decoded (``|tojson`` writes JSON, with ``<>&'`` as ``\\u003c``... escapes)."""
    dec = json.JSONDecoder()
    out = []
    for m in re.finditer(re.escape(opening) + r"\(\s*(?:[A-Za-z_][\w]*\s*,\s*)?", html):
        args, at = [], m.end()
        while True:
            value, at = dec.raw_decode(html, at)
            args.append(value)
            sep = re.match(r"\s*,\s*", html[at:])
            if not sep or html[at + sep.end()] not in "{[":
                break
            at += sep.end()
        out.append(args)
    return out


def marker_layers(html: str) -> dict[str, dict]:
    """Layer name → the data of each ``GG.markers`` layer of the page."""
    return {spec["name"]: data for data, spec in _calls(html, "GG.markers")}


def panel(html: str) -> dict:
    """The summary panel's properties and card spec."""
    [(props, spec, _)] = _calls(html, "new GG.PanelControl")
    return {"props": props, "labels": {k: label for k, label, *_ in spec["fields"]}}


def legend_titles(html: str) -> list[str]:
    [(spec, _)] = _calls(html, "new GG.LegendControl")
    return [s.get("title", "") for s in spec["sections"]]


# ------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def served(own_store):
    with start_server(own_store) as url, authed(url, timeout=180) as http:
        yield url, http


def _reinforcements(district) -> list[dict]:
    """Four on the lattice inside the sealed rectangle (one of each kind, one named like an
    HTML tag), and one 5 km off the street, out of every building's reach."""
    lons = np.linspace(120.3725, 120.3815, 10)
    lats = np.linspace(31.5535, 31.5595, 10)
    spots = list(itertools.product(lons[1::3], lats[2::5]))
    kinds = ["cadre", "auxiliary_police", "security", "volunteer"]
    ids = ["C1", "AP1", "S1", XSS]
    out = [{"id": i, "kind": k, "lon": float(lo), "lat": float(la), "capacity": 60}
           for i, k, (lo, la) in zip(ids, kinds, spots, strict=False)]
    minx, miny, _, _ = district.grids.total_bounds
    out.append({"id": "FAR", "kind": "volunteer", "lon": float(minx) - 0.05,
                "lat": float(miny) - 0.05, "capacity": 60})
    return out


def _scenario(http, district) -> dict:
    r = http.post("/api/v1/scenarios", json=screenshot(_reinforcements(district)))
    assert r.status_code == 201, r.text
    return r.json()


def _far_point(district) -> tuple[float, float]:
    minx, miny, _, _ = district.grids.total_bounds
    return float(minx) - 0.05, float(miny) - 0.05


def _roster(http, sid: str, posts: list[dict]) -> dict:
    r = http.post("/api/v1/rosters", json={
        "scenario": sid, "start": START, "days": 1, "shift_hours": 8, "posts": posts,
        "max_travel_m": 800, "time_limit_s": 10})
    assert r.status_code == 201, r.text
    return r.json()


# ------------------------------------------------------------------ tests


def test_reinforcement_layer_is_the_scenarios_placements(served, district):
    _, http = served
    sc = _scenario(http, district)
    summary = sc["summary"]
    placements = summary["placements"]
    assert placements, "the scenario placed nothing: the test would prove nothing"
    page = http.get(f"/map/scenarios/{sc['id']}")
    assert page.status_code == 200
    html = page.text
    layers = marker_layers(html)
    assert REINFORCEMENTS in layers and POSTS not in layers
    data = layers[REINFORCEMENTS]

    # one marker per reinforcement of the scenario, by id (the HTML-like id decoded intact)
    markers = {m["props"]["id"]: m for m in data["markers"]}
    assert sorted(markers) == sorted(r["id"] for r in sc["scenario"]["reinforcements"])
    assert len(data["markers"]) == len(markers)
    assert XSS in markers
    # one line per reinforcement and building the summary places, with its load and reasons
    want = defaultdict(float)
    reasons = defaultdict(set)
    for p in placements:
        want[p["reinforcement"], p["building"]] += p["load"]
        reasons[p["reinforcement"], p["building"]].add(p["reason"])
    got = {(ln["props"]["reinforcement"], ln["props"]["building"]): ln for ln in data["lines"]}
    assert sorted(got) == sorted(want)
    for key, ln in got.items():
        assert ln["props"]["load"] == pytest.approx(want[key], abs=1e-3)
        assert set(ln["props"]["reasons"]) == reasons[key]
    # a line starts at its reinforcement's base; heavier loads draw wider lines
    for (rid, _), ln in got.items():
        assert ln["latlngs"][0] == [markers[rid]["lat"], markers[rid]["lon"]]
    by_load = sorted(got.values(), key=lambda ln: ln["props"]["load"])
    assert by_load[0]["weight"] <= by_load[-1]["weight"]

    # used ones in their kind's colour with the load placed on them, unused ones grey
    used = {p["reinforcement"] for p in placements}
    assert "FAR" not in used
    for rid, m in markers.items():
        p = m["props"]
        assert p["used"] == (rid in used)
        assert p["load"] == pytest.approx(sum(v for (r, _), v in want.items() if r == rid), abs=1e-3)
        assert sorted(p["buildings"]) == sorted(b for r, b in want if r == rid)
        assert m["color"] == (D.REINFORCEMENT_COLORS[p["kind"]] if rid in used else D.UNUSED_COLOR)

    # the summary panel and the legend count the reinforcements used and the load placed
    placed = sum(p["load"] for p in placements)
    card = panel(html)
    assert card["props"]["s_reinforcements_used"] == summary["reinforcements_used"] == len(used)
    assert card["props"]["s_placed_load"] == pytest.approx(placed, abs=0.01)
    assert card["labels"]["s_placed_load"] == "增援承担负担（户）"
    titles = legend_titles(html)
    assert any(t.startswith(f"增援力量（启用 {len(used)}/{len(markers)}，") for t in titles), titles
    assert not any("岗位" in t for t in titles)

    # user data only as escaped JSON: the id never appears as markup
    assert XSS not in html
    assert tojson_html(XSS) in html


def test_posts_layer_shows_the_latest_roster_and_its_gaps(served, district):
    _, http = served
    sc = _scenario(http, district)
    url = f"/map/scenarios/{sc['id']}"
    first = http.get(url)
    assert POSTS not in marker_layers(first.text)
    tag = first.headers["etag"]
    assert http.get(url, headers={"If-None-Match": tag}).status_code == 304

    # a staffed gate near the sealed area, and a post 5 km off the street: nobody lives within
    # max_travel_m of it, so each of its shifts misses its two people
    far_lon, far_lat = _far_point(district)
    gate = {"id": "gate-<b>1</b>", "kind": "checkpoint", "lon": 120.377, "lat": 31.556, "per_shift": 1}
    far = {"id": "far", "kind": "logistics", "lon": far_lon, "lat": far_lat, "per_shift": 2}
    roster = _roster(http, sc["id"], [gate, far])
    gaps = defaultdict(list)
    for u in roster["unfilled"]:
        gaps[u["post"]].append(u)
    assert len(gaps["far"]) == 3 and all(u["missing"] == 2 for u in gaps["far"])

    # the page changed: the old tag no longer matches, the new one does
    second = http.get(url, headers={"If-None-Match": tag})
    assert second.status_code == 200 and second.headers["etag"] != tag
    assert http.get(url, headers={"If-None-Match": second.headers["etag"]}).status_code == 304
    layers = marker_layers(second.text)
    posts = {m["props"]["id"]: m for m in layers[POSTS]["markers"]}
    assert sorted(posts) == sorted([gate["id"], far["id"]])
    for pid, m in posts.items():
        p = m["props"]
        assert p["unfilled"] == len(gaps[pid])
        assert p["staffing"] == ("short" if gaps[pid] else "staffed")
        assert m["color"] == D.POST_COLORS[p["staffing"]]
        assert p["roster"] == roster["id"]
    short = posts["far"]["props"]
    assert short["staffing"] == "short" and short["missing"] == 6
    assert short["first_unfilled"][0].startswith("03-01 08:00–16:00 缺 2 人")
    assert len(short["first_unfilled"]) == 3
    assert any(t.startswith("岗位排班（缺员 ") for t in legend_titles(second.text))
    assert "gate-<b>" not in second.text
    # the reinforcements are still there
    assert REINFORCEMENTS in layers

    # the latest roster of the scenario is the one drawn
    again = _roster(http, sc["id"], [gate])
    third = http.get(url)
    posts = {m["props"]["id"]: m["props"] for m in marker_layers(third.text)[POSTS]["markers"]}
    assert sorted(posts) == [gate["id"]] and posts[gate["id"]]["roster"] == again["id"]


@pytest.mark.browser
def test_layer_control_lists_the_new_layers_in_chromium(served, district, tmp_path):
    from tests.test_maps_browser import ARGS, CHROMIUM, Page

    sync_api = pytest.importorskip("playwright.sync_api")
    url, http = served
    sc = _scenario(http, district)
    far_lon, far_lat = _far_point(district)
    _roster(http, sc["id"], [{"id": "far", "kind": "logistics", "lon": far_lon, "lat": far_lat,
                              "per_shift": 2}])
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            p = Page(browser, headers=url.headers).open(f"{url}/map/scenarios/{sc['id']}")
            labels = p.js("Array.from(document.querySelectorAll("
                          "'.leaflet-control-layers-overlays label')).map(l => l.textContent.trim())")
            assert REINFORCEMENTS in labels and POSTS in labels, labels
            n = len(sc["scenario"]["reinforcements"])
            assert p.js("document.querySelectorAll('.gg-marker.gg-reinf').length") == n
            assert p.js("document.querySelectorAll('.gg-marker.gg-post').length") == 1
            assert p.js("document.querySelectorAll('path.gg-placement').length") == len(
                {(x["reinforcement"], x["building"]) for x in sc["summary"]["placements"]})
            # the HTML-like id shows as text in its popup and never runs
            p.js("""(x) => { const st = Object.values(GG.maps)[0];
                const m = st.layers[x].getLayers().find(l => l.ggProps && l.ggProps.id.startsWith('<'));
                st.map.setView(m.getLatLng(), 17, {animate: false}); m.openPopup(); }""", REINFORCEMENTS)
            p.page.wait_for_selector(".leaflet-popup-content .gg-card")
            assert XSS in p.js("document.querySelector('.leaflet-popup-content').textContent")
            assert p.js("document.querySelectorAll('img[src=\"x\"]').length") == 0
            p.page.screenshot(path=str(tmp_path / "emergency-layers.png"))
            p.check_clean()
            p.close()
        finally:
            browser.close()
