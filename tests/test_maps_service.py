"""The reference district's maps from the real service, in Debian's chromium with the network cut off.

The service is ``create_app`` under uvicorn on a copy of the reference store (real HTTP); scenarios
are posted over HTTP like a client would; the exported map is written by the real CLI and opened from
disk. Every page must render fully with no request leaving the machine.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.test_api import authed, start_server
from tests.test_maps_browser import CHROMIUM, XSS, Page, click_latlng

pytestmark = [pytest.mark.browser, pytest.mark.integration]

sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def browser():
    args = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--disable-background-networking", "--disable-component-update"]
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=args)
        yield b
        b.close()


@pytest.fixture(scope="module")
def service(own_store):
    with start_server(own_store) as url, authed(url, timeout=120) as c:
        yield url, c


def test_coverage_page_draws_every_grid_of_the_reference_district(browser, service, district):
    url, http = service
    n_grids = len(http.get("/api/v1/grids").json()["features"])
    assert n_grids == len(district.grids) >= 200
    p = Page(browser, headers=url.headers).open(url + "/")
    assert p.js("document.querySelectorAll('path.gg-grid').length") == n_grids
    # a click inside a grid opens its popup with its code
    g = district.grids.iloc[40]
    pt = g.geometry.representative_point()
    click_latlng(p, pt.y, pt.x)
    p.page.locator(".leaflet-popup-content").wait_for(timeout=5000)
    assert g["code"] in p.page.locator(".leaflet-popup-content").inner_text()
    p.check_clean()
    p.close()


def test_emergency_page_draws_the_scenarios_uncovered_buildings_red(browser, service, district):
    url, http = service
    sealed = district.buildings["code"].iloc[:30].tolist()
    r = http.post("/api/v1/scenarios", json={
        "name": XSS, "unavailable_fraction": 0.3, "seed": 7, "sealed_buildings": sealed,
        "walk_limit_m": 300})
    assert r.status_code == 201, r.text
    res = r.json()
    n_unc = res["summary"]["uncovered_buildings"]
    assert n_unc > 0  # a tight limit with 30% out leaves some buildings uncovered
    p = Page(browser, headers=url.headers).open(url + f"/map/scenarios/{res['id']}")
    assert p.js("document.querySelectorAll('path.gg-uncovered').length") == n_unc
    fills = p.js("[...document.querySelectorAll('path.gg-uncovered')].map(e => getComputedStyle(e).fill)")
    for r, g, b in map(_rgb, set(fills)):
        assert r > 180 and g < 80 and b < 80, (r, g, b)
    assert p.js("document.querySelectorAll('path.gg-move').length") > 0
    # the scenario's name (user data) shows literally and never runs
    assert XSS in p.page.locator("body").inner_text()
    p.check_clean()
    p.close()
    p = Page(browser, width=1400, headers=url.headers).open(url + f"/map/scenarios/{res['id']}/compare", maps=2)
    assert p.js("document.querySelectorAll('path.gg-grid').length") == 2 * len(district.grids)
    p.check_clean()
    p.close()


def test_exported_map_renders_from_disk(browser, own_store, district, tmp_path):
    out = tmp_path / "jiangxi.html"
    r = subprocess.run([sys.executable, "-m", "geo_grid.cli", "map", "--db", str(own_store), "-o", str(out)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    p = Page(browser).open(out.as_uri())
    assert p.js("document.querySelectorAll('path.gg-grid').length") == len(district.grids)
    p.check_clean()
    p.close()


def _rgb(css: str) -> tuple[int, int, int]:
    if css.startswith("#"):
        return tuple(int(css[i:i + 2], 16) for i in (1, 3, 5))
    nums = css[css.index("(") + 1:css.index(")")].split(",")
    return tuple(int(float(x)) for x in nums[:3])
