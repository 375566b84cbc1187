"""Vector tiles (``GET /tiles/{layer}/{z}/{x}/{y}.mvt``) and the tiled coverage page (``/map/tiles``).

Tiles are decoded with ``mapbox_vector_tile`` and compared with the layers they were cut from:
a grid lands in every tile its box meets and in no far tile, with its code, name and figures;
buildings only from street zoom on. Over real HTTP: ``ETag``/``304`` (plain and gzip), the
media type and gzip on the wire, refusals as problem+json, the caller's scope (a community
user's tiles hold its community's grids only), and an edit of the layers giving new tiles. In
Chromium: the tiled page draws tiles from the service alone, and a grid named like an HTML
tag is shown as text.
"""

from __future__ import annotations

import gzip
import math
import shutil
from pathlib import Path

import httpx
import mapbox_vector_tile
import numpy as np
import pytest
import shapely

from geo_grid.figures import district_figures
from maps.testing import synthetic_district
from maps.vector_tiles import (
    BUILDINGS_MIN_ZOOM,
    EXTENT,
    MEDIA_TYPE,
    TileSource,
    tile_bounds,
    tiles_covering,
    valid_tile,
)
from tests.test_api import authed, provision, serve_app, start_server

XSS = "<img src=x onerror=alert(1)>"
A = "320214052005"  # a community of the reference district
G = "320214052005001"  # a grid in it


def decode(data: bytes) -> dict:
    return mapbox_vector_tile.decode(data) if data else {}


def codes_in(data: bytes, layer: str) -> set[str]:
    tile = decode(data)
    return {f["properties"]["code"] for f in tile.get(layer, {}).get("features", [])}


def lonlat_of_tile_point(z, x, y, px, py):
    """Lon/lat of a point in tile units (y up, as the decoder gives them)."""
    minx, miny, maxx, maxy = tile_bounds(z, x, y)
    mx = minx + px / EXTENT * (maxx - minx)
    my = miny + py / EXTENT * (maxy - miny)
    lon = mx / 20037508.342789244 * 180
    lat = math.degrees(2 * math.atan(math.exp(my / 6378137.0)) - math.pi / 2)
    return lon, lat


@pytest.fixture(scope="module")
def synthetic():
    d = synthetic_district()
    return d, district_figures(d)


@pytest.fixture(scope="module")
def source(synthetic):
    d, fig = synthetic
    return TileSource(d, fig)


# ------------------------------------------------------------------ encoding


def test_a_grid_lands_in_the_tiles_of_its_box_and_not_in_a_far_one(synthetic, source):
    d, fig = synthetic
    grid = d.grids.iloc[0]
    code = str(grid["code"])
    z = 16
    covering = tiles_covering(grid.geometry.bounds, z)
    assert len(covering) > 1  # the check below spans several tiles
    for x, y in covering:
        tile = decode(source.tile("grids", z, x, y))
        feats = [f for f in tile["grids"]["features"] if f["properties"]["code"] == code]
        assert len(feats) == 1, (x, y)
        props = feats[0]["properties"]
        assert props["name"] == grid["name"]
        assert props["households"] == int(fig.grid.loc[code, "households"])
        assert props["members"] == int(fig.grid.loc[code, "members"])
        assert "team" not in props and not any("phone" in k for k in props)
        # the decoded geometry, back in lon/lat, lies on the grid (within the tile's resolution)
        ring = np.asarray(feats[0]["geometry"]["coordinates"][0]
                          if feats[0]["geometry"]["type"] == "Polygon"
                          else feats[0]["geometry"]["coordinates"][0][0], dtype=float)
        inside = [p for p in ring if 0 < p[0] < EXTENT and 0 < p[1] < EXTENT]
        for px, py in inside:
            lon, lat = lonlat_of_tile_point(z, x, y, px, py)
            assert grid.geometry.distance(shapely.Point(lon, lat)) < 2e-5  # about 2 m
    # the first tile column east of the whole district: no grid there
    xs = [x for x, _ in tiles_covering(d.grids.total_bounds, z)]
    far = (max(xs) + 3, covering[0][1])
    assert source.tile("grids", z, *far) == b""
    # every grid whose box meets a tile is in it
    x, y = covering[0]
    expected = {str(c) for c, g in zip(d.grids["code"], d.grids.geometry, strict=True)
                if (x, y) in tiles_covering(g.bounds, z)}
    assert code in expected and codes_in(source.tile("grids", z, x, y), "grids") >= expected


def test_buildings_only_from_street_zoom(synthetic, source):
    d, _ = synthetic
    b = d.buildings.iloc[0]
    for z in range(BUILDINGS_MIN_ZOOM - 3, BUILDINGS_MIN_ZOOM + 3):
        x, y = tiles_covering(b.geometry.bounds, z)[0]
        codes = codes_in(source.tile("buildings", z, x, y), "buildings")
        if z < BUILDINGS_MIN_ZOOM:
            assert codes == set(), z
        else:
            assert str(b["code"]) in codes, z
    # grids and communities are drawn at city zoom too
    x, y = tiles_covering(d.grids.total_bounds, 11)[0]
    assert codes_in(source.tile("communities", 11, x, y), "communities") == set(d.communities["code"].astype(str))


def test_coverage_layer_carries_figures_and_no_personal_data(synthetic, source):
    d, fig = synthetic
    x, y = tiles_covering(d.grids.total_bounds, 12)[0]
    feats = decode(source.tile("coverage", 12, x, y))["coverage"]["features"]
    assert {f["properties"]["code"] for f in feats} == set(d.grids["code"].astype(str))
    names = set(d.members["name"].astype(str))
    for f in feats:
        p = f["properties"]
        row = fig.grid.loc[p["code"]]
        assert p["members"] == int(row["members"])
        assert p["uncovered_load"] == pytest.approx(float(row["uncovered_load"]), abs=0.06)
        assert not names & {str(v) for v in p.values()}


def test_allow_filters_features(synthetic, source):
    d, _ = synthetic
    keep = str(d.grids["code"].iloc[0])
    x, y = tiles_covering(d.grids.total_bounds, 12)[0]
    assert codes_in(source.tile("grids", 12, x, y, allow=lambda c: c == keep), "grids") == {keep}
    assert source.tile("grids", 12, x, y, allow=lambda c: False) == b""


def test_valid_tile():
    assert valid_tile(0, 0, 0) and valid_tile(3, 7, 7)
    assert not valid_tile(3, 8, 0) and not valid_tile(3, 0, 8) and not valid_tile(23, 0, 0)
    assert not valid_tile(-1, 0, 0) and not valid_tile(2, -1, 0)


# ------------------------------------------------------------------ the service over HTTP


@pytest.fixture(scope="module")
def server(own_store):
    with start_server(own_store) as url:
        yield url


@pytest.fixture(scope="module")
def ref_grids(district):
    return district.grids


def _tile_of(geom, z):
    return tiles_covering(geom.bounds, z)[0]


def test_tile_media_type_gzip_etag_and_304(server, ref_grids):
    g = ref_grids[ref_grids["code"] == G].geometry.iloc[0]
    x, y = _tile_of(g, 14)
    with authed(server, timeout=60) as c:
        r = c.get(f"/tiles/grids/14/{x}/{y}.mvt", headers={"Accept-Encoding": "identity"})
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == MEDIA_TYPE
        assert G in codes_in(r.content, "grids")
        etag = r.headers["etag"]
        assert etag.startswith('"') and "gzip" not in r.headers.get("content-encoding", "")
        again = c.get(f"/tiles/grids/14/{x}/{y}.mvt", headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.content == b""
        assert again.headers["etag"] == etag
        # gzip on the wire (httpx decodes it; the raw stream is smaller than the tile)
        with c.stream("GET", f"/tiles/grids/14/{x}/{y}.mvt",
                      headers={"Accept-Encoding": "gzip"}) as s:
            raw = b"".join(s.iter_raw())
            assert s.headers["content-encoding"] == "gzip"
            gz_etag = s.headers["etag"]
        assert gzip.decompress(raw) == r.content and len(raw) < len(r.content)
        assert gz_etag != etag  # a strong tag names one byte sequence
        assert c.get(f"/tiles/grids/14/{x}/{y}.mvt", headers={
            "If-None-Match": gz_etag, "Accept-Encoding": "gzip"}).status_code == 304
        # another tile has another tag
        other = c.get(f"/tiles/grids/14/{x + 1}/{y}.mvt")
        assert other.status_code == 200 and other.headers["etag"] != etag


def test_invalid_tiles_are_problems(server):
    with authed(server, timeout=60) as c:
        for path, status in (("/tiles/grids/23/0/0.mvt", 422), ("/tiles/grids/3/a/0.mvt", 422),
                             ("/tiles/grids/3/8/0.mvt", 404), ("/tiles/grids/3/0/8.mvt", 404),
                             ("/tiles/roads/3/0/0.mvt", 404)):
            r = c.get(path)
            assert r.status_code == status, (path, r.text)
            assert r.headers["content-type"].startswith("application/problem+json"), path
        assert httpx.get(server + "/tiles/grids/0/0/0.mvt").status_code == 401


def test_tiles_are_cut_for_the_callers_scope(server, own_store, ref_grids):
    codes = ref_grids["code"].astype(str)
    of_a = set(codes[codes.str.startswith(A)])
    assert len(of_a) > 1
    z = 12
    tiles = tiles_covering(ref_grids.total_bounds, z)
    community = provision(own_store, "community", A)
    grid_user = provision(own_store, "grid", G)

    def union(token, layer="grids"):
        out = set()
        with httpx.Client(base_url=server, headers={"Authorization": f"Bearer {token}"},
                          timeout=60) as c:
            for x, y in tiles:
                r = c.get(f"/tiles/{layer}/{z}/{x}/{y}.mvt")
                assert r.status_code == 200, r.text
                out |= codes_in(r.content, layer)
        return out

    assert union(server.token) == set(codes)
    assert union(community) == of_a
    assert union(community, "coverage") == of_a
    assert union(grid_user) == {G}
    assert union(community, "communities") == {A}
    # buildings: a community user's are those of its grids
    b = ref_grids[ref_grids["code"] == G].geometry.iloc[0]
    x, y = _tile_of(b, 16)
    with httpx.Client(base_url=server, headers={"Authorization": f"Bearer {grid_user}"},
                      timeout=60) as c:
        feats = decode(c.get(f"/tiles/buildings/16/{x}/{y}.mvt").content).get("buildings", {})
    assert feats and {f["properties"]["grid"] for f in feats["features"]} == {G}


def test_an_edit_gives_new_tiles(tmp_path):
    """A maps-only app whose district object is replaced (as a boundary edit replaces the
    service's snapshot): the next request answers the new layers, with a new ETag."""
    from fastapi import FastAPI

    from maps import routes

    d = synthetic_district()
    app = FastAPI()
    app.state.district = d
    routes.mount_static(app)
    app.include_router(routes.tile_router)
    code = str(d.grids["code"].iloc[0])
    x, y = _tile_of(d.grids.geometry.iloc[0], 15)
    with serve_app(app) as url, httpx.Client(base_url=url, timeout=60) as c:
        r1 = c.get(f"/tiles/grids/15/{x}/{y}.mvt")
        names = {f["properties"]["code"]: f["properties"]["name"] for f in decode(r1.content)["grids"]["features"]}
        assert names[code] == d.grids["name"].iloc[0]
        renamed = synthetic_district()
        renamed.grids.loc[0, "name"] = "改名后的网格"
        app.state.district = renamed
        r2 = c.get(f"/tiles/grids/15/{x}/{y}.mvt", headers={"If-None-Match": r1.headers["etag"]})
        assert r2.status_code == 200 and r2.headers["etag"] != r1.headers["etag"]
        names = {f["properties"]["code"]: f["properties"]["name"] for f in decode(r2.content)["grids"]["features"]}
        assert names[code] == "改名后的网格"


# ------------------------------------------------------------------ the tiled page in Chromium

CHROMIUM = "/usr/bin/chromium"


@pytest.mark.browser
def test_tiled_page_draws_tiles_offline_and_shows_names_as_text(tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        pytest.skip("Debian's chromium is not installed")
    from fastapi import FastAPI

    from maps import routes
    from tests.test_maps_browser import ARGS, Page

    d = synthetic_district(seed=5)
    d.grids.loc[0, "name"] = XSS
    app = FastAPI()
    app.state.district = d
    routes.mount_static(app)
    app.include_router(routes.router)
    app.include_router(routes.tile_router)
    grid = d.grids.geometry.iloc[0]
    # a point of the grid away from its buildings, so that the click lands on the grid
    pt = grid.difference(shapely.union_all(d.buildings.geometry.to_numpy()).buffer(1e-4)).representative_point()
    with serve_app(app) as url, sync_api.sync_playwright() as pw:
        html = httpx.get(url + "/map/tiles").text
        assert XSS not in html and "<img" not in html  # no feature (and no name) in the page
        assert "https://" not in html and "http://" not in html.replace("http://www.w3.org", "")
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            p = Page(browser)
            p.page.goto(url + "/map/tiles")
            p.page.locator(".leaflet-container[data-gg-tiles-loaded]").wait_for(timeout=20000)
            p.js("([la, lo]) => Object.values(GG.maps)[0].map.setView([la, lo], 17, {animate: false})",
                 [pt.y, pt.x])
            p.page.locator("path.leaflet-interactive").first.wait_for(timeout=20000)
            p.page.wait_for_timeout(500)
            stats = p.js("() => GG.tileStats")
            assert stats["loaded"] >= 2 and stats["firstAt"] is not None
            # click the grid's inside (away from its buildings): its card opens
            xy = p.js("([la, lo]) => { const m = Object.values(GG.maps)[0].map;"
                      " const r = m.getContainer().getBoundingClientRect();"
                      " const q = m.latLngToContainerPoint([la, lo]); return [r.left + q.x, r.top + q.y]; }",
                      [pt.y, pt.x])
            p.page.mouse.click(xy[0], xy[1])
            popup = p.page.locator(".leaflet-popup-content")
            popup.wait_for(timeout=10000)
            assert XSS in popup.inner_text()  # the name, as text
            assert popup.locator("img").count() == 0
            # wherever the name is drawn, it is text: no <img> element made from it
            assert p.page.locator("img[src='x']").count() == 0
            p.page.wait_for_timeout(300)
            p.check_clean()
            p.close()
        finally:
            browser.close()


def test_the_coverage_page_is_tiled_above_the_threshold(monkeypatch):
    """``/`` inlines every feature for a street, and is the tiled page for a district of more
    than ``TILED_ABOVE`` grids (lowered here to the synthetic district's size)."""
    from fastapi import FastAPI

    from maps import routes

    d = synthetic_district()
    app = FastAPI()
    app.state.district = d
    routes.mount_static(app)
    app.include_router(routes.router)
    with serve_app(app) as url:
        inline = httpx.get(url + "/", timeout=60).text
        assert str(d.grids["name"].iloc[0]) in inline and "vtiles.js" not in inline
        monkeypatch.setattr(routes, "TILED_ABOVE", len(d.grids) - 1)
        tiled = httpx.get(url + "/", timeout=60).text
        assert "vtiles.js" in tiled and "/tiles/grids/{z}/{x}/{y}.mvt" in tiled
        assert str(d.grids["name"].iloc[0]) not in tiled
        assert tiled == httpx.get(url + "/map/tiles", timeout=60).text
