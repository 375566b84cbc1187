"""Real-browser tests of the maps: Debian's chromium driven by playwright, network blocked.

Every test routes all requests through a handler that lets ``file:``, ``data:``, ``blob:`` and
loopback through and aborts (and records) anything else; each test asserts nothing else was tried.
Screenshots go to pytest's ``tmp_path``.
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import pytest

from geo_grid.privacy import mask_name
from maps.assets import render_html
from maps.coverage import coverage_map
from maps.emergency import compare_page, emergency_map
from maps.testing import synthetic_district

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
XSS = "<img src=x onerror=alert(1)>"

sync_api = pytest.importorskip("playwright.sync_api")
if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
    pytest.skip("Debian's chromium is not installed", allow_module_level=True)


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


class Page:
    """A page with the network cut off, console errors and dialogs recorded."""

    def __init__(self, browser, width=1200, height=800, headers=None):
        self.page = browser.new_page(viewport={"width": width, "height": height})
        if headers:  # the service's API token, sent with every request of the page
            self.page.set_extra_http_headers(headers)
        self.external: list[str] = []
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)

        def on_dialog(d):
            self.dialogs.append(d.message)
            d.dismiss()

        self.page.on("dialog", on_dialog)
        self.page.route("**/*", self._route)

    def _route(self, route):
        url = route.request.url
        local = url.startswith(("file:", "data:", "blob:", "about:")) or url.split("/")[2].split(":")[0] in (
            "127.0.0.1", "localhost")
        if local:
            route.continue_()
        else:
            self.external.append(url)
            route.abort()

    def open(self, url, maps=1):
        self.page.goto(url)
        # locators, not wait_for_function: the served pages' CSP forbids eval
        self.page.locator(".gg-search").nth(maps - 1).wait_for(state="attached", timeout=15000)
        self.page.wait_for_timeout(200)
        return self

    def js(self, expr, arg=None):
        return self.page.evaluate(expr, arg)

    def check_clean(self):
        assert self.external == [], self.external
        assert self.errors == [], self.errors
        assert self.dialogs == [], self.dialogs

    def close(self):
        self.page.close()


MAP0 = "Object.values(GG.maps)[0].map"


def click_latlng(p: Page, lat, lon, which=0):
    xy = p.js(f"([la, lo]) => {{ const m = Object.values(GG.maps)[{which}].map; const r = m.getContainer().getBoundingClientRect();"
              " const pt = m.latLngToContainerPoint([la, lo]); return [r.left + pt.x, r.top + pt.y]; }", [lat, lon])
    p.page.mouse.click(xy[0], xy[1])


@pytest.fixture(scope="module")
def district():
    return synthetic_district()


@pytest.fixture(scope="module")
def evil():
    d = synthetic_district(seed=5)
    d.members.loc[d.members.index[0], "name"] = XSS
    d.grids.loc[0, "name"] = XSS
    d.buildings.loc[0, "address"] = XSS
    return d


def write(tmp_path, name, html):
    f = tmp_path / name
    f.write_text(html, encoding="utf-8")
    return f.as_uri()


def test_coverage_map_draws_every_grid_offline(browser, district, tmp_path):
    url = write(tmp_path, "coverage.html", render_html(coverage_map(district, asset_mode="inline")))
    p = Page(browser).open(url)
    assert p.js("document.querySelectorAll('path.gg-grid').length") == len(district.grids)
    assert p.js("document.querySelectorAll('path.gg-community').length") == len(district.communities)
    # buildings only at street zoom
    p.js(f"{MAP0}.setZoom(14, {{animate: false}})")
    p.page.wait_for_timeout(200)
    assert p.js("document.querySelectorAll('path.gg-building').length") == 0
    p.js(f"{MAP0}.setZoom(17, {{animate: false}})")
    p.page.wait_for_timeout(200)
    assert p.js("document.querySelectorAll('path.gg-building').length") == len(district.buildings)
    assert p.js(f"{MAP0}.getMaxZoom()") >= 18
    assert p.js("document.querySelectorAll('.gg-search input').length") == 1
    assert p.js("document.querySelectorAll('.leaflet-control-scale').length") == 1
    assert p.js("document.querySelectorAll('.leaflet-control-layers').length") == 1
    assert p.js("document.querySelectorAll('.gg-fullscreen a').length") == 1
    assert p.js("document.querySelectorAll('.gg-legend').length") == 1
    p.page.screenshot(path=str(tmp_path / "coverage.png"))
    p.check_clean()
    p.close()


def test_click_grid_opens_popup_with_code(browser, district, tmp_path):
    url = write(tmp_path, "coverage.html", render_html(coverage_map(district)))
    p = Page(browser).open(url)
    g = district.grids.iloc[2]
    pt = g.geometry.representative_point()
    click_latlng(p, pt.y, pt.x)
    p.page.wait_for_selector(".leaflet-popup-content .gg-card", timeout=5000)
    text = p.js("document.querySelector('.leaflet-popup-content').textContent")
    assert g["code"] in text and g["name"] in text
    p.page.screenshot(path=str(tmp_path / "popup.png"))
    p.check_clean()
    p.close()


def test_search_finds_address_and_flies_there(browser, district, tmp_path):
    url = write(tmp_path, "coverage.html", render_html(coverage_map(district)))
    p = Page(browser).open(url)
    b = district.buildings.iloc[7]
    p.js(f"window.__found = null; {MAP0}.on('gg:found', e => window.__found = e.label)")
    box = p.page.locator(".gg-search input")
    box.fill(b["address"])
    p.page.wait_for_selector(".gg-search-item")
    assert b["address"] in p.js("document.querySelector('.gg-search-results').textContent")
    box.press("Enter")
    p.page.wait_for_function("window.__found !== null", timeout=8000)
    assert p.js("window.__found") == b["address"]
    zoom = p.js(f"{MAP0}.getZoom()")
    assert zoom >= 16
    c = p.js(f"(() => {{ const c = {MAP0}.getCenter(); return [c.lat, c.lng]; }})()")
    cen = b.geometry.centroid
    dist_m = math.hypot((c[1] - cen.x) * 111320 * math.cos(math.radians(cen.y)), (c[0] - cen.y) * 110540)
    assert dist_m < 30
    text = p.js("document.querySelector('.leaflet-popup-content').textContent")
    assert b["address"] in text and b["code"] in text
    # a grid code finds its grid
    box.fill(district.grids["code"].iloc[4])
    p.page.wait_for_selector(".gg-search-item")
    assert district.grids["name"].iloc[4] in p.js("document.querySelector('.gg-search-results').textContent")
    p.page.screenshot(path=str(tmp_path / "search.png"))
    p.check_clean()
    p.close()


def _scenario(d):
    b = d.buildings["code"].tolist()
    g0 = d.grids["code"].iloc[0]
    out = d.members.loc[d.members["grid_code"] == g0, "id"].tolist()[:2]
    return {"id": "s1", "name": XSS, "uncovered": [b[1], b[4], b[9]], "sealed": [b[3]],
            "unavailable": out,
            "moves": [{"building_code": b[2], "from_member": out[0], "to_member": d.members["id"].iloc[5],
                       "reason": "member unavailable", "load": 10}],
            "summary": {"moves": 1, "uncovered_buildings": 3}}


def test_emergency_map_draws_uncovered_buildings_red(browser, district, tmp_path):
    sc = _scenario(district)
    m = emergency_map(district, sc)
    url = write(tmp_path, "emergency.html", render_html(m))
    p = Page(browser).open(url)
    fills = p.js("Array.from(document.querySelectorAll('path.gg-uncovered')).map(e => e.getAttribute('fill'))")
    assert len(fills) == m.gg_counts["uncovered"] >= 3
    assert set(fills) == {"#d7191c"}
    assert p.js("document.querySelectorAll('path.gg-move').length") >= 1
    assert p.js("document.querySelectorAll('path.gg-sealed').length") == 1
    assert XSS in p.js("document.querySelector('.gg-summary').textContent")
    p.page.screenshot(path=str(tmp_path / "emergency.png"))
    p.check_clean()
    p.close()


def test_xss_member_name_shows_literally_and_never_runs(browser, evil, tmp_path):
    html = render_html(coverage_map(evil, show_members=True))
    p = Page(browser).open(write(tmp_path, "xss.html", html))
    assert p.js("document.querySelectorAll('img[src=\"x\"]').length") == 0
    # grid popup: the name shows as text
    g = evil.grids.iloc[0]
    pt = g.geometry.representative_point()
    click_latlng(p, pt.y, pt.x)
    p.page.wait_for_selector(".leaflet-popup-content .gg-card")
    assert XSS in p.js("document.querySelector('.leaflet-popup-content').textContent")
    # the member's popup (masked name, literally)
    p.js("""(() => { const st = Object.values(GG.maps)[0]; const g = st.layers.members;
        const m = g.getLayers().find(x => x.ggProps.name.startsWith("<")); g.zoomToShowLayer(m, () => m.openPopup()); })()""")
    p.page.wait_for_function("document.querySelector('.leaflet-popup-content') && "
                             "document.querySelector('.leaflet-popup-content').textContent.includes('党员住址')")
    member_text = p.js("document.querySelector('.leaflet-popup-content').textContent")
    assert mask_name(XSS) in member_text
    # the building address, through the search
    box = p.page.locator(".gg-search input")
    box.fill("<img")
    p.page.wait_for_selector(".gg-search-item")
    assert XSS in p.js("document.querySelector('.gg-search-results').textContent")
    box.press("Enter")
    p.page.wait_for_function("document.querySelector('.leaflet-popup-content') && "
                             "document.querySelector('.leaflet-popup-content').textContent.includes('楼栋')", timeout=8000)
    assert XSS in p.js("document.querySelector('.leaflet-popup-content').textContent")
    p.page.wait_for_timeout(300)
    assert p.js("document.querySelectorAll('img[src=\"x\"]').length") == 0
    p.page.screenshot(path=str(tmp_path / "xss.png"))
    assert p.dialogs == []
    p.check_clean()
    p.close()


# ------------------------------------------------------------------ served by a local server


@pytest.fixture(scope="module")
def server(district):
    from fastapi import FastAPI

    from maps import routes

    app = FastAPI()
    app.state.district = district
    app.state.scenarios = {"s1": _scenario(district)}
    routes.mount_static(app)
    app.include_router(routes.router)
    from tests.test_api import serve_app

    with serve_app(app) as url:
        yield url


def test_served_pages_render_offline(browser, server, district, tmp_path):
    p = Page(browser).open(server + "/")
    assert p.js("document.querySelectorAll('path.gg-grid').length") == len(district.grids)
    p.check_clean()
    p.close()
    p = Page(browser).open(server + "/map/scenarios/s1")
    assert p.js("document.querySelectorAll('path.gg-uncovered').length") >= 3
    p.check_clean()
    p.close()


def test_compare_maps_are_synchronised(browser, district, tmp_path, server):
    url = write(tmp_path, "compare.html", render_html(compare_page(district, _scenario(district))))
    for u in (url, server + "/map/scenarios/s1/compare"):
        p = Page(browser, width=1400).open(u, maps=2)
        assert p.js("Object.keys(GG.maps).length") == 2
        assert p.js("document.querySelectorAll('path.gg-grid').length") == 2 * len(district.grids)
        b = district.buildings.geometry.iloc[10].centroid
        p.js("([la, lo]) => Object.values(GG.maps)[0].map.setView([la, lo], 17, {animate: false})", [b.y, b.x])
        p.page.wait_for_timeout(200)
        right = p.js("(() => { const m = Object.values(GG.maps)[1].map; const c = m.getCenter(); return [c.lat, c.lng, m.getZoom()]; })()")
        assert right[2] == 17 and abs(right[0] - b.y) < 1e-5 and abs(right[1] - b.x) < 1e-5
        # and the other way round
        p.js("Object.values(GG.maps)[1].map.setZoom(15, {animate: false})")
        p.page.wait_for_timeout(200)
        assert p.js("Object.values(GG.maps)[0].map.getZoom()") == 15
        p.page.screenshot(path=str(tmp_path / "compare.png"))
        p.check_clean()
        p.close()
