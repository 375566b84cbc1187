"""Unit tests of the maps package: offline assets, escaping, masking, tiles, scenarios, routes."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import folium
import folium.plugins
import pytest

from geo_grid.errors import InvalidInput
from geo_grid.privacy import mask_name, mask_phone
from maps import assets
from maps._data import tile_settings
from maps.assets import OfflineAssetError, make_offline, render_html
from maps.coverage import coverage_map
from maps.elements import GeoLayer, tojson_html
from maps.emergency import compare_page, emergency_map, scenario_view
from maps.export import write_map
from maps.testing import synthetic_district

XSS = "<img src=x onerror=alert(1)>"
SCRIPT_XSS = "</script><script>alert(2)</script>"


# ------------------------------------------------------------------ helpers


class _Refs(HTMLParser):
    """Every URL a page makes the browser load: src/href/srcset/poster/data attributes and
    url(...)/@import in <style> elements and style attributes."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.refs: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag, attrs):
        for k, v in attrs:
            if v is None:
                continue
            if k in ("src", "href", "poster", "data", "action", "formaction"):
                self.refs.append(v.strip())
            elif k == "srcset":
                self.refs.extend(p.strip().split(" ")[0] for p in v.split(","))
            elif k == "style":
                self.refs.extend(css_urls(v))
        self._in_style = tag == "style"

    def handle_endtag(self, tag):
        if tag == "style":
            self._in_style = False

    def handle_data(self, data):
        if self._in_style:
            self.refs.extend(css_urls(data))


def css_urls(css: str) -> list[str]:
    out = [m.strip("'\" ") for m in re.findall(r"url\(([^)]*)\)", css)]
    out += re.findall(r"@import\s+['\"]([^'\"]+)['\"]", css)
    return out


def external_refs(html: str) -> list[str]:
    p = _Refs()
    p.feed(html)
    return [r for r in p.refs if re.match(r"^(?:[a-z][a-z0-9+.-]*:)?//", r, re.I)
            and not r.lower().startswith(("data:", "blob:"))]


def all_refs(html: str) -> list[str]:
    p = _Refs()
    p.feed(html)
    return p.refs


@pytest.fixture(scope="module")
def district():
    return synthetic_district()


@pytest.fixture(scope="module")
def evil_district():
    d = synthetic_district(seed=11)
    d.members.loc[0, "name"] = XSS
    d.grids.loc[0, "name"] = XSS
    d.buildings.loc[0, "address"] = XSS
    d.buildings.loc[1, "address"] = SCRIPT_XSS
    d.communities.loc[0, "short_name"] = SCRIPT_XSS
    return d


def _scenario(d):
    g0 = d.grids["code"].iloc[0]
    out = d.members.loc[d.members["grid_code"] == g0, "id"].tolist()[:3]
    b = d.buildings["code"].tolist()
    asg = d.assignment
    mid = asg["member_id"].iloc[0]
    return {
        "id": "s1",
        "name": XSS,
        "moves": [
            {"building_code": b[0], "from_member": out[0], "to_member": mid, "reason": "member unavailable", "load": 12},
            {"building_code": b[2], "from_member": None, "to_member": d.members["id"].iloc[-1], "reason": "rebalanced", "load": 3},
        ],
        "uncovered": [b[4], b[5]],
        "sealed": [b[3]],
        "sealed_area": d.buildings.geometry.iloc[8].buffer(0.0003).__geo_interface__,
        "unavailable": out,
        "shortages": [{"grid_code": g0, "uncovered_buildings": 2, "uncovered_households": 40, "closable": False}],
        "summary": {"moves": 2, "uncovered_buildings": 2, "before": {"uncovered_buildings": 5}},
    }


# ------------------------------------------------------------------ offline assets


@pytest.mark.parametrize("mode", ["inline", "served"])
def test_coverage_page_has_no_external_reference(district, mode):
    html = render_html(coverage_map(district, asset_mode=mode))
    assert external_refs(html) == []
    if mode == "inline":
        assert "<script src=" not in html and 'rel="stylesheet"' not in html
        assert "L.Map" in html or "leaflet" in html.lower()
    else:
        refs = [r for r in all_refs(html) if r.startswith("/static/")]
        assert "/static/leaflet/leaflet.js" in refs and "/static/geogrid/geogrid.js" in refs
        for r in refs:  # every served reference exists on disk
            sub = r[len("/static/"):]
            if sub in assets.SERVED_FILES:
                assert assets.SERVED_FILES[sub].is_file()
            else:
                top, _, rest = sub.partition("/")
                assert (assets.SERVED_DIRS[top] / rest).is_file(), r
    for cdn in ("cdn.jsdelivr", "cdnjs", "bootstrapcdn", "code.jquery", "unpkg"):
        assert cdn not in html


def test_emergency_and_compare_pages_have_no_external_reference(district):
    sc = _scenario(district)
    for mode in ("inline", "served"):
        assert external_refs(render_html(emergency_map(district, sc, asset_mode=mode))) == []
        assert external_refs(render_html(compare_page(district, sc, asset_mode=mode))) == []


def test_inline_leaflet_css_images_are_data_uris():
    css = assets.asset_text("leaflet.css")
    assert "url(images/" not in css
    assert "data:image/png;base64," in css


def test_make_offline_is_per_instance_and_handles_folium_plugins():
    cls_js = list(folium.Map.default_js)
    mc_js = list(folium.plugins.MarkerCluster.default_js)
    m = folium.Map(tiles=None, location=[31.5, 120.3])
    folium.plugins.MarkerCluster().add_to(m)
    folium.plugins.HeatMap([[31.5, 120.3, 1]]).add_to(m)
    for mode in ("inline", "served"):
        html = render_html(m, mode=mode)
        assert external_refs(html) == []
        assert "cdnjs" not in html and "jsdelivr" not in html
    assert folium.Map.default_js == cls_js  # class-wide lists untouched
    assert folium.plugins.MarkerCluster.default_js == mc_js
    other = folium.Map(tiles=None)
    assert any("jsdelivr" in u for _, u in other.default_js)


def test_unknown_external_asset_is_refused():
    from folium.elements import JSCSSMixin

    class Odd(JSCSSMixin):
        default_js = [("odd", "https://example.com/odd.js")]

    m = folium.Map(tiles=None)
    Odd().add_to(m)
    with pytest.raises(OfflineAssetError):
        make_offline(m)


# ------------------------------------------------------------------ escaping and masking


def test_user_strings_are_escaped_everywhere(evil_district):
    d = evil_district
    pages = [
        render_html(coverage_map(d, asset_mode="served", show_members=True)),
        render_html(emergency_map(d, _scenario(d), asset_mode="served")),
        render_html(compare_page(d, _scenario(d), asset_mode="served")),
    ]
    for html in pages:
        assert XSS not in html
        assert SCRIPT_XSS not in html
        assert "onerror=alert(1)" not in html or "\\u003cimg src=x onerror=alert(1)\\u003e" in html
        # only our own scripts close: one </script> per <script
        assert html.count("</script>") == html.count("<script")
    assert tojson_html(XSS) in pages[0]  # the grid name, as JSON data for textContent
    assert tojson_html(XSS)[1:-1] in pages[1]  # the scenario name in the summary panel


def test_page_title_is_escaped():
    d = synthetic_district(seed=3)
    d.street.loc[0, "name"] = "<b>街道</b>"
    html = render_html(coverage_map(d))
    assert "<title>&lt;b&gt;街道&lt;/b&gt; 网格覆盖图</title>" in html


def test_names_and_phones_are_masked(district):
    html = render_html(coverage_map(district, show_members=True))
    m = district.members.iloc[0]
    assert tojson_html(mask_name(m["name"]))[1:-1] in html
    assert tojson_html(mask_phone(m["phone"]))[1:-1] in html
    for name, phone in zip(district.members["name"], district.members["phone"], strict=True):
        if len(name) >= 2:
            assert f'"{name}"' not in html
        assert phone not in html


def test_no_fstring_html_in_geogrid_js():
    js = re.sub(r"/\*.*?\*/", "", assets.asset_text("geogrid.js"), flags=re.S)
    assert "innerHTML" not in js
    assert "insertAdjacentHTML" not in js


# ------------------------------------------------------------------ content


def _layers(m):
    return {c.layer_name: c for c in m._children.values() if isinstance(c, GeoLayer)}


def test_coverage_layers_and_counts(district):
    m = coverage_map(district)
    layers = _layers(m)
    assert len(layers["网格"].data["features"]) == len(district.grids)
    bl = [v for k, v in layers.items() if k.startswith("楼栋")][0]
    assert len(bl.data["features"]) == len(district.buildings)
    assert bl.spec["minZoom"] == 16
    grid_props = layers["网格"].data["features"][0]["properties"]
    assert grid_props["code"] == district.grids["code"].iloc[0]
    assert grid_props["team"] and all("*" in t for t in grid_props["team"])
    html = render_html(m)
    assert '"maxZoom":' in html.replace(" ", "") or "maxZoom" in html
    assert "L.control.scale" in html and "L.control.layers" in html
    assert "GG.SearchControl" in html and "GG.FullscreenControl" in html and "GG.LegendControl" in html
    assert "GG.heat" in html and "GG.cluster" in html


def test_coordinates_are_rounded(district):
    html = render_html(coverage_map(district))
    assert not re.search(r"\d+\.\d{7,}", html.split("/* leaflet.js */")[0].split("<script>")[-1] if False else "")
    layers = _layers(coverage_map(district))
    ring = layers["网格"].data["features"][0]["geometry"]["coordinates"][0]
    assert all(len(repr(v).split(".")[-1]) <= 6 for pt in ring for v in pt)


def test_gaode_shifts_overlays(district):
    plain = _layers(coverage_map(district))["网格"].data["features"][0]["geometry"]["coordinates"][0][0]
    gaode = _layers(coverage_map(district, tiles="gaode"))["网格"].data["features"][0]["geometry"]["coordinates"][0][0]
    dx, dy = gaode[0] - plain[0], gaode[1] - plain[1]
    assert 0.003 < dx < 0.007 and -0.004 < dy < 0.0  # ≈490 m near Wuxi


def test_tile_settings():
    assert tile_settings("none") is None and tile_settings(None) is None
    assert "openstreetmap" in tile_settings("osm")["url"]
    assert "tk=KEY" in tile_settings("tianditu", tiles_key="KEY")["url"]
    with pytest.raises(InvalidInput):
        tile_settings("tianditu")
    with pytest.raises(InvalidInput):
        tile_settings("https://tiles.example/{z}/{x}/{y}.png")
    t = tile_settings("https://tiles.example/{z}/{x}/{y}.png", tiles_attr="<a>me</a>")
    assert t["attr"] == "&lt;a&gt;me&lt;/a&gt;"
    with pytest.raises(InvalidInput):
        tile_settings("bogus")


def test_fragile_option(district):
    m = coverage_map(district, fragile=[district.grids["code"].iloc[1]])
    frag = [v for k, v in _layers(m).items() if k.startswith("脆弱")]
    assert len(frag) == 1 and len(frag[0].data["features"]) == 1
    assert not [k for k in _layers(coverage_map(district, fragile=False)) if k.startswith("脆弱")]


def test_grid_popups_show_the_core_figures(district):
    from geo_grid.figures import district_figures

    fig = district_figures(district)
    feats = _layers(coverage_map(district, figures=fig))["网格"].data["features"]
    assert len(feats) == len(fig.grid)
    for f in feats:
        p, row = f["properties"], fig.grid.loc[f["properties"]["code"]]
        assert p["households"] == row["households"] and p["uncovered"] == row["uncovered_buildings"]
        assert p["longest_walk_m"] == pytest.approx(row["longest_walk_m"], abs=0.05)
        assert p["resilience"] == row["losses_tolerated"]
        assert p["team_count"] == f"{row['available_members']}/{row['members']}"


def test_export_writes_standalone_file(district, tmp_path):
    out = write_map(district, tmp_path / "map.html")
    html = out.read_text(encoding="utf-8")
    assert external_refs(html) == [] and "<script src=" not in html


# ------------------------------------------------------------------ scenarios


def test_scenario_from_plain_dict(district):
    sc = _scenario(district)
    m = emergency_map(district, sc)
    assert m.gg_counts["uncovered"] >= 2 and m.gg_counts["moves"] == 2 and m.gg_counts["sealed"] == 1
    layers = _layers(m)
    unc = [v for k, v in layers.items() if k.startswith("未覆盖")][0]
    codes = {f["properties"]["code"] for f in unc.data["features"]}
    assert set(sc["uncovered"]) <= codes
    assert "封控区域" in layers
    assert [k for k in layers if k.startswith("缺员网格")]


def test_scenario_from_rebalance_result(district):
    assign = pytest.importorskip("geo_grid.assign")
    g0 = district.grids["code"].iloc[0]
    out = tuple(district.members.loc[district.members["grid_code"] == g0, "id"])
    r = assign.rebalance(district, assign.Scenario(name="t", unavailable_members=out))
    sv = scenario_view(r)
    assert sv.uncovered_before is not None and sv.uncovered is not None
    assert len(sv.uncovered_before) == r.summary["before"]["uncovered_buildings"]
    stored = {"id": "x", "name": "t", "status": "proposed", "spec": r.scenario.to_dict(), "result": r.to_dict()}
    sv2 = scenario_view(stored)
    assert len(sv2.moves) == len(r.moves) and sv2.id == "x"
    page = compare_page(district, r)
    assert page.gg_counts["before"]["uncovered"] == r.summary["before"]["uncovered_buildings"]
    assert page.gg_counts["after"]["uncovered"] == r.summary["uncovered_buildings"]


# ------------------------------------------------------------------ size and time


def test_reference_scale_page_size():
    # build time is measured by benchmarks/maps.py, not asserted here
    from geo_grid.figures import district_figures

    d = synthetic_district(communities=33, grids_per_community=7, buildings_per_grid=20)
    fig = district_figures(d)  # once per assignment version in the service, not per page
    html = render_html(coverage_map(d, asset_mode="inline", figures=fig))
    assert len(html.encode()) <= 5_000_000


# ------------------------------------------------------------------ routes


@pytest.fixture(scope="module")
def client(district):
    """The map routes on a small FastAPI app, served by uvicorn over real HTTP."""
    from fastapi import FastAPI

    from api import errors
    from maps import routes

    app = FastAPI()
    errors.install(app)
    app.state.district = district
    app.state.scenarios = {"s1": _scenario(district)}
    routes.mount_static(app)
    app.include_router(routes.router)
    from tests.test_api import authed, serve_app

    with serve_app(app) as url, authed(url, timeout=60) as c:
        yield c


def test_routes_serve_pages_and_assets(client):
    r = client.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in r.headers["content-security-policy"]
    refs = [u for u in all_refs(r.text) if u.startswith("/static/")]
    assert refs
    for u in refs:
        a = client.get(u)
        assert a.status_code == 200, u
    assert client.get("/static/leaflet/images/layers.png").status_code == 200
    for path in ("/map/scenarios/s1", "/map/scenarios/s1/compare"):
        r = client.get(path)
        assert r.status_code == 200 and external_refs(r.text) == []
        assert XSS not in r.text
    assert client.get("/map/scenarios/nope").status_code == 404


def test_route_cache_is_per_version(client, district):
    a = client.get("/").text
    b = client.get("/").text
    assert a == b
