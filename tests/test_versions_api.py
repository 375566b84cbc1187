"""Boundary versions over real HTTP: the list, one version, the diff between two, the diff map.

A copy of the reference store gets two hand-made edits before the service starts on it:

- version 2 splits a grid in two along the north-south line through its centroid (one part
  named with an HTML payload), its buildings and members going to the part they are in;
- version 3 (by an author whose name is a script payload) gives a strip of one grid to its
  neighbour: both grids are reshaped and the buildings in the strip change grid.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
import shapely.ops

from api.models.problem import Problem
from api.models.versions import VersionDiff, VersionItem, VersionOut
from geo_grid.editing.edit import Edit
from geo_grid.store import Store
from geo_grid.store import versions as V  # noqa: N812
from maps.elements import tojson_html
from tests.test_api import authed, start_server

pytestmark = pytest.mark.integration

XSS = "<img src=x onerror=alert(1)>"
SCRIPT_AUTHOR = "</script><script>alert(2)</script>"
PROBLEM = "application/problem+json"


@dataclass(frozen=True)
class Edits:
    """What the two hand-made edits did, to check the service's answers against."""

    path: Path
    grids: int
    buildings: int
    split: Edit
    split_households: int
    strip: Edit
    strip_from: str
    strip_to: str


def _split(store: Store) -> tuple[Edit, int]:
    """A split of the first grid with buildings on both sides of its centroid's meridian."""
    d = store.load_district()
    for g in d.grids.itertuples(index=False):
        b = d.buildings[d.buildings["grid_code"] == g.code]
        c = g.geometry.centroid
        x0, y0, x1, y1 = g.geometry.bounds
        line = shapely.LineString([(c.x, y0 - 0.01), (c.x, y1 + 0.01)])
        parts = list(shapely.ops.split(g.geometry, line).geoms)
        pts = shapely.point_on_surface(b.geometry.to_numpy())
        inside = [shapely.contains(parts[0], pts), shapely.contains(parts[1], pts)] \
            if len(parts) == 2 else None
        if inside is None or not (inside[0].any() and inside[1].any()) \
                or not (inside[0] | inside[1]).all():
            continue
        new = V.code_source(store)(g.community_code, 2)
        added = gpd.GeoDataFrame({"code": new, "name": [XSS, f"{g.name}（东）"],
                                  "community_code": [g.community_code] * 2,
                                  "kind": [g.kind] * 2}, geometry=parts, crs=4490)
        moved = {code: new[0] if west else new[1]
                 for code, west in zip(b["code"], inside[0], strict=True)}
        members = {m: new[0] for m in d.members.loc[d.members["grid_code"] == g.code, "id"]}
        edit = Edit("split", retired=(g.code,), added=added, moved=moved, members=members)
        return edit, int(b["households"].sum())
    raise AssertionError("no grid of the reference district splits along its centroid")


def _strip(store: Store, skip: set[str]) -> tuple[Edit, str, str]:
    """A grid gives the strip along its neighbour (within about 60 m of it) to that neighbour,
    with the buildings in the strip."""
    d = store.load_district()
    grids = d.grids[~d.grids["code"].isin(skip)].set_index("code")
    geoms = grids.geometry
    for a, ga in geoms.items():
        for b in geoms.index[geoms.sindex.query(ga, predicate="touches")]:
            gb = geoms[b]
            piece = ga.intersection(gb.buffer(0.0006))
            if piece.is_empty or piece.area > 0.5 * ga.area:
                continue
            blds = d.buildings[d.buildings["grid_code"] == a]
            pts = shapely.point_on_surface(blds.geometry.to_numpy())
            inside = shapely.contains(piece, pts)
            if not 0 < inside.sum() < len(blds):
                continue
            shapes = [shapely.make_valid(ga.difference(piece)), shapely.make_valid(gb.union(piece))]
            reshaped = gpd.GeoDataFrame(
                {"code": [a, b], "name": [grids.at[a, "name"], grids.at[b, "name"]],
                 "community_code": [grids.at[a, "community_code"], grids.at[b, "community_code"]],
                 "kind": [grids.at[a, "kind"], grids.at[b, "kind"]]}, geometry=shapes, crs=4490)
            moved = dict.fromkeys(blds["code"][inside], b)
            return Edit("geometry", reshaped=reshaped, moved=moved), a, b
    raise AssertionError("no two neighbouring grids to move a strip between")


@pytest.fixture(scope="module")
def edits(store_path, tmp_path_factory) -> Edits:
    path = tmp_path_factory.mktemp("versions") / "s.gpkg"
    shutil.copy(store_path, path)
    store = Store(path)
    try:
        d = store.load_district()
        split, hh = _split(store)
        V.apply_edit(store, split, base=1, author="tester", note="split along the meridian")
        strip, a, b = _strip(store, {*split.retired, *split.added["code"]})
        V.apply_edit(store, strip, base=2, author=SCRIPT_AUTHOR, note=f"strip to {XSS}")
    finally:
        store.close()
    return Edits(path, len(d.grids), len(d.buildings), split, hh, strip, a, b)


@pytest.fixture(scope="module")
def service(edits):
    with start_server(edits.path) as url, authed(url, timeout=120) as c:
        yield url, c


@pytest.fixture(scope="module")
def http(service):
    return service[1]


def strict(model, body: dict) -> None:
    """``body`` validates against ``model``, which names every member of it."""
    model.model_validate(body)
    names = {f.alias or n for n, f in model.model_fields.items()}
    assert set(body) <= names, set(body) - names


def codes(rows: list[dict]) -> set[str]:
    return {r["code"] for r in rows}


def test_list_is_oldest_first_with_the_newest_current(http, edits):
    r = http.get("/api/v1/versions")
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    body = r.json()
    for item in body:
        strict(VersionItem, item)
    assert [v["id"] for v in body] == [1, 2, 3]
    assert [v["kind"] for v in body] == ["init", "split", "geometry"]
    assert [v["current"] for v in body] == [False, False, True]
    assert [v["author"] for v in body[1:]] == ["tester", SCRIPT_AUTHOR]
    assert body[2]["note"] == f"strip to {XSS}"
    assert body[0]["detail"] == {}  # the store as built recorded no summary
    split = body[1]["detail"]
    assert split["retired"] == list(edits.split.retired)
    assert split["added"] == list(edits.split.added["code"])
    assert split["buildings_moved"] == len(edits.split.moved)
    assert split["members_moved"] == len(edits.split.members)
    assert body[2]["detail"]["reshaped"] == [edits.strip_from, edits.strip_to]
    assert body[0]["created_at"] <= body[1]["created_at"] <= body[2]["created_at"]


def test_one_version_has_its_counts_and_links(http, edits):
    first, split, strip = (http.get(f"/api/v1/versions/{v}") for v in (1, 2, 3))
    for r in (first, split, strip):
        assert r.status_code == 200
        strict(VersionOut, r.json())
    first, split, strip = first.json(), split.json(), strip.json()
    assert (first["grids"], first["buildings"]) == (edits.grids, edits.buildings)
    assert (split["grids"], split["buildings"]) == (edits.grids + 1, edits.buildings)
    assert (strip["grids"], strip["buildings"]) == (edits.grids + 1, edits.buildings)
    assert first["links"] == {"self": "/api/v1/versions/1", "diff": None, "diff_map": None}
    assert split["links"] == {"self": "/api/v1/versions/2", "diff": "/api/v1/versions/1/diff/2",
                              "diff_map": "/map/versions/1/diff/2"}
    assert not split["current"] and strip["current"]
    assert strip["author"] == SCRIPT_AUTHOR and strip["kind"] == "geometry"
    # the links lead somewhere
    assert http.get(strip["links"]["diff"]).json()["to"] == 3
    assert http.get(strip["links"]["diff_map"]).status_code == 200


def test_diff_of_a_split(http, edits):
    r = http.get("/api/v1/versions/1/diff/2")
    assert r.status_code == 200
    body = r.json()
    strict(VersionDiff, body)
    split = edits.split
    assert (body["from"], body["to"]) == (1, 2)
    assert codes(body["grids_added"]) == set(split.added["code"])
    assert codes(body["grids_removed"]) == set(split.retired)
    assert body["grids_reshaped"] == []
    assert len(body["buildings_moved"]) == len(split.moved)
    assert {m["code"]: m["to_grid"] for m in body["buildings_moved"]} == split.moved
    assert {m["from_grid"] for m in body["buildings_moved"]} == set(split.retired)
    # the removed grid's households are shared out over the parts, none lost or made up
    assert sum(h["delta"] for h in body["households"]) == 0
    assert body["grids_removed"][0]["households"] == edits.split_households
    assert sum(g["households"] for g in body["grids_added"]) == edits.split_households
    assert sum(m["households"] for m in body["buildings_moved"]) == edits.split_households
    assert XSS in {g["name"] for g in body["grids_added"]}


def test_diff_of_a_reshape_and_across_versions(http, edits):
    body = http.get("/api/v1/versions/2/diff/3").json()
    strict(VersionDiff, body)
    a, b = edits.strip_from, edits.strip_to
    assert body["grids_added"] == [] and body["grids_removed"] == []
    change = {g["code"]: g["area_change_m2"] for g in body["grids_reshaped"]}
    assert set(change) == {a, b}
    assert change[a] < 0 < change[b]
    assert {m["code"] for m in body["buildings_moved"]} == set(edits.strip.moved)
    assert {(m["from_grid"], m["to_grid"]) for m in body["buildings_moved"]} == {(a, b)}
    moved_hh = sum(m["households"] for m in body["buildings_moved"])
    deltas = {h["code"]: h["delta"] for h in body["households"]}
    assert deltas == ({a: -moved_hh, b: moved_hh} if moved_hh else {})
    # from the store as built to now: both edits; the other way round: the same, reversed
    both = http.get("/api/v1/versions/1/diff/3").json()
    back = http.get("/api/v1/versions/3/diff/1").json()
    assert codes(both["grids_added"]) == set(edits.split.added["code"]) == codes(back["grids_removed"])
    assert codes(both["grids_removed"]) == set(edits.split.retired) == codes(back["grids_added"])
    assert codes(both["grids_reshaped"]) == {a, b}
    assert (back["from"], back["to"]) == (3, 1)
    assert sum(h["delta"] for h in both["households"]) == 0
    # answered from the cache the second time: the same body
    assert http.get("/api/v1/versions/2/diff/3").json() == body


def test_a_version_against_itself_changed_nothing(http):
    same = http.get("/api/v1/versions/2/diff/2").json()
    assert (same["from"], same["to"]) == (2, 2)
    assert all(same[k] == [] for k in ("grids_added", "grids_removed", "grids_reshaped",
                                       "buildings_moved", "households"))
    page = http.get("/map/versions/2/diff/2")
    assert page.status_code == 200 and "gg-diff-unchanged" in page.text


@pytest.mark.parametrize("path", ["/api/v1/versions/99", "/api/v1/versions/1/diff/99",
                                  "/api/v1/versions/0/diff/2", "/map/versions/1/diff/99"])
def test_unknown_version_is_a_404_problem(http, path):
    r = http.get(path)
    assert r.status_code == 404, r.text
    assert r.headers["content-type"].startswith(PROBLEM)
    body = r.json()
    Problem.model_validate(body)
    assert body["code"] == "not_found" and "does not exist" in body["detail"]
    assert body["instance"] == path


def test_version_must_be_a_number(http):
    r = http.get("/api/v1/versions/latest")
    assert r.status_code == 422 and r.headers["content-type"].startswith(PROBLEM)
    assert r.json()["errors"][0]["loc"] == ["path", "version"]


def test_diff_map_page_escapes_names_and_authors(http, edits):
    r = http.get("/map/versions/1/diff/3")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in r.headers["content-security-policy"]
    html = r.text
    # the hostile grid name, note and author are in the page only as escaped JSON
    for hostile in (XSS, SCRIPT_AUTHOR, f"strip to {XSS}"):
        assert hostile not in html
    assert tojson_html(XSS) in html
    assert tojson_html(SCRIPT_AUTHOR)[1:-1] in html  # inside the title string
    assert "<img" not in html and html.count("<script") == html.count("</script>")
    # every layer named with its count, assets from our own static mount
    assert "gg-diff-added" in html and "gg-diff-removed" in html and "gg-diff-moved" in html
    assert "/static/leaflet/leaflet.js" in html
    assert "cdn.jsdelivr" not in html and "unpkg.com" not in html


@pytest.mark.browser
def test_diff_map_renders_its_layers_in_chromium(service, edits, tmp_path):
    # imported here: the module skips itself when chromium or playwright is missing, and the
    # HTTP tests above must not be skipped with it
    from tests.test_maps_browser import ARGS, CHROMIUM, Page

    sync_api = pytest.importorskip("playwright.sync_api")
    url, http = service
    diff = http.get("/api/v1/versions/1/diff/3").json()
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            p = Page(browser, headers=url.headers).open(url + "/map/versions/1/diff/3")

            def count(cls: str) -> int:
                return p.js(f"document.querySelectorAll('path.{cls}').length")

            assert count("gg-diff-added") == len(diff["grids_added"]) == 2
            assert count("gg-diff-removed") == len(diff["grids_removed"]) == 1
            assert count("gg-diff-after") == count("gg-diff-before") == 2
            assert count("gg-diff-moved") == len(diff["buildings_moved"])
            assert count("gg-diff-unchanged") == edits.grids + 1 - 4
            assert p.js("document.querySelectorAll('.gg-legend').length") == 1
            # the hostile author and note are shown as text, and nothing of theirs ran
            title = p.js("document.querySelector('.gg-map-title').textContent")
            assert title.startswith("版本1（") and "geo-grid" in title and SCRIPT_AUTHOR in title
            assert f"strip to {XSS}" in p.js("document.querySelector('.gg-summary').textContent")
            # a moved building's tooltip says from which grid to which
            xy = p.js("""() => { const st = Object.values(GG.maps)[0];
                const key = Object.keys(st.layers).find(k => k.startsWith("调整楼栋"));
                const b = st.layers[key].getLayers()[0]; st.map.setView(b.getBounds().getCenter(), 18,
                    {animate: false});
                const r = st.map.getContainer().getBoundingClientRect();
                const pt = st.map.latLngToContainerPoint(b.getBounds().getCenter());
                return [r.left + pt.x, r.top + pt.y, b.feature.properties.code]; }""")
            p.page.mouse.move(xy[0], xy[1])
            p.page.locator(".leaflet-tooltip").wait_for(timeout=5000)
            tip = p.js("document.querySelector('.leaflet-tooltip').textContent")
            move = next(m for m in diff["buildings_moved"] if m["code"] == xy[2])
            assert f"（{move['from_grid']}） → " in tip and tip.endswith(f"（{move['to_grid']}）")
            box = p.page.locator(".gg-search input")
            box.fill("<img")
            p.page.wait_for_selector(".gg-search-item")
            assert XSS in p.js("document.querySelector('.gg-search-results').textContent")
            assert p.js("document.querySelectorAll('img[src=\"x\"]').length") == 0
            p.page.screenshot(path=str(tmp_path / "diff.png"))
            p.check_clean()
            p.close()
        finally:
            browser.close()
