"""OGC API – Features under /ogc over real HTTP: the landing page, conformance and collections,
paging, bbox, CRS and axis order, datetime, scope, problems, and GDAL's OAPIF driver (what QGIS
uses) reading the layers."""

from __future__ import annotations

import shutil

import pytest
import shapely

from tests.test_api import PROBLEM, authed, provision, start_server

OGC_CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG4490 = "http://www.opengis.net/def/crs/EPSG/0/4490"
COMMUNITY = "320214052005"


@pytest.fixture(scope="module")
def db(store_path, tmp_path_factory):
    path = tmp_path_factory.mktemp("ogc") / "s.gpkg"
    shutil.copy(store_path, path)
    return path


@pytest.fixture(scope="module")
def url(db):
    with start_server(db) as u:
        yield u


@pytest.fixture(scope="module")
def http(url):
    with authed(url, timeout=60) as c:
        yield c


def links(doc: dict) -> dict[str, dict]:
    return {link["rel"]: link for link in doc["links"]}


def test_landing_and_conformance(http):
    r = http.get("/ogc")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    rel = links(r.json())
    assert rel["service-desc"]["href"].endswith("/openapi.json")
    assert rel["service-desc"]["type"] == "application/vnd.oai.openapi+json;version=3.0"
    assert rel["conformance"]["href"].endswith("/ogc/conformance")
    assert rel["data"]["href"].endswith("/ogc/collections")
    assert rel["self"]["href"].endswith("/ogc")
    assert http.get(rel["service-desc"]["href"]).status_code == 200
    conf = http.get("/ogc/conformance").json()["conformsTo"]
    assert set(conf) == {
        "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
        "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
        "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
        "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    }
    assert "/ogc/collections/{collection_id}/items" in http.get("/openapi.json").json()["paths"]


def test_collections(http, district):
    doc = http.get("/ogc/collections").json()
    ids = [c["id"] for c in doc["collections"]]
    assert ids == ["streets", "communities", "grids", "buildings"]
    grids = http.get("/ogc/collections/grids").json()
    assert grids == doc["collections"][2]
    assert grids["crs"] == [OGC_CRS84, EPSG4490] and grids["storageCrs"] == EPSG4490
    bbox = grids["extent"]["spatial"]["bbox"][0]
    assert bbox == pytest.approx(list(district.grids.total_bounds))
    assert grids["extent"]["spatial"]["crs"] == OGC_CRS84
    start, end = grids["extent"]["temporal"]["interval"][0]
    assert start.startswith("20") and end is None
    assert links(grids)["items"]["href"].endswith("/ogc/collections/grids/items")
    assert links(grids)["items"]["type"] == "application/geo+json"
    r = http.get("/ogc/collections/members")
    assert r.status_code == 404 and r.headers["content-type"].startswith(PROBLEM)


def test_paging_gets_every_grid_once(http, district):
    seen = []
    href = "/ogc/collections/grids/items?limit=50"
    pages = 0
    while href:
        r = http.get(href)
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("application/geo+json")
        assert r.headers["content-crs"] == f"<{OGC_CRS84}>"
        page = r.json()
        assert page["numberMatched"] == len(district.grids)
        assert page["numberReturned"] == len(page["features"]) <= 50
        seen += [f["id"] for f in page["features"]]
        href = links(page).get("next", {}).get("href")
        pages += 1
    assert pages == -(-len(district.grids) // 50)
    assert sorted(seen) == sorted(district.grids["code"]) and len(set(seen)) == len(seen)
    last = http.get("/ogc/collections/grids/items", params={"limit": 50, "offset": 200}).json()
    assert "prev" in links(last) and "next" not in links(last)
    f = last["features"][0]
    assert {"code", "name", "community_code", "kind", "households"} <= set(f["properties"])
    b = http.get("/ogc/collections/buildings/items", params={"limit": 3}).json()["features"][0]
    assert {"address", "floors", "households", "grid_code"} <= set(b["properties"])
    assert not {"members", "phone", "name"} & set(b["properties"])


def test_bbox(http, district):
    x, y = district.grids.geometry.iloc[10].representative_point().coords[0]
    box = (x - 0.004, y - 0.003, x + 0.004, y + 0.003)
    expected = set(district.grids.loc[district.grids.intersects(shapely.box(*box)), "code"])
    assert 1 <= len(expected) < len(district.grids)
    r = http.get("/ogc/collections/grids/items",
                 params={"bbox": ",".join(map(str, box)), "limit": 1000})
    assert {f["id"] for f in r.json()["features"]} == expected
    assert r.json()["numberMatched"] == len(expected)
    # the same box in EPSG:4490 axis order (lat, lon)
    r = http.get("/ogc/collections/grids/items", params={
        "bbox": ",".join(map(str, (box[1], box[0], box[3], box[2]))), "bbox-crs": EPSG4490,
        "limit": 1000})
    assert {f["id"] for f in r.json()["features"]} == expected
    for bad in ("1,2,3", "a,b,c,d", "121,31,120,32"):
        r = http.get("/ogc/collections/grids/items", params={"bbox": bad})
        assert r.status_code == 400 and r.headers["content-type"].startswith(PROBLEM)


def test_crs_swaps_axes(http, district):
    code = district.grids["code"].iloc[0]
    lonlat = http.get(f"/ogc/collections/grids/items/{code}").json()
    r = http.get(f"/ogc/collections/grids/items/{code}", params={"crs": EPSG4490})
    assert r.status_code == 200 and r.headers["content-crs"] == f"<{EPSG4490}>"
    latlon = r.json()
    ring, swapped = lonlat["geometry"]["coordinates"][0], latlon["geometry"]["coordinates"][0]
    assert [[b, a] for a, b in ring] == swapped
    assert 31 < swapped[0][0] < 32 and 120 < swapped[0][1] < 121  # latitude first
    assert lonlat["properties"]["code"] == code
    page = http.get("/ogc/collections/grids/items", params={"crs": EPSG4490, "limit": 5})
    assert page.headers["content-crs"] == f"<{EPSG4490}>"
    assert 31 < page.json()["features"][0]["geometry"]["coordinates"][0][0][0] < 32
    r = http.get("/ogc/collections/grids/items", params={"crs": "EPSG:3857"})
    assert r.status_code == 400 and r.headers["content-type"].startswith(PROBLEM)


def test_datetime(http, district):
    # before the store's first version: no layers were in force then, a 404 problem
    r = http.get("/ogc/collections/grids/items", params={"datetime": "2000-01-01T00:00:00Z"})
    assert r.status_code == 404 and r.headers["content-type"].startswith(PROBLEM)
    assert "first version" in r.json()["detail"]
    r = http.get("/ogc/collections/grids/items",
                 params={"datetime": "2100-01-01T00:00:00Z", "limit": 1000})
    assert r.status_code == 200 and r.json()["numberMatched"] == len(district.grids)
    for bad in ("2020-01-01/2021-01-01", "../2021-01-01", "yesterday"):
        r = http.get("/ogc/collections/grids/items", params={"datetime": bad})
        assert r.status_code == 400 and r.headers["content-type"].startswith(PROBLEM), bad


def test_problems(http, district):
    r = http.get("/ogc/collections/grids/items/320214052999999")
    assert r.status_code == 404 and r.headers["content-type"].startswith(PROBLEM)
    assert "320214052999999" in r.json()["detail"]
    for params in ({"limit": "0"}, {"limit": "x"}, {"offset": "-1"}, {"colour": "red"}):
        r = http.get("/ogc/collections/grids/items", params=params)
        assert r.status_code == 400 and r.headers["content-type"].startswith(PROBLEM), params
    # a limit above the maximum is served at the maximum, not refused
    r = http.get("/ogc/collections/buildings/items", params={"limit": 50000})
    assert r.status_code == 200 and r.json()["numberReturned"] == len(district.buildings)
    assert http.get("/ogc/collections/grids/items",
                    headers={"Authorization": "Bearer nope"}).status_code == 401


def test_community_and_grid_scope(url, db, district):
    community = {"Authorization": f"Bearer {provision(db, 'community', COMMUNITY)}"}
    grid = COMMUNITY + "001"
    grid_user = {"Authorization": f"Bearer {provision(db, 'grid', grid)}"}
    mine = set(district.grids.loc[district.grids["community_code"] == COMMUNITY, "code"])
    with authed(url, timeout=60) as c:
        r = c.get("/ogc/collections/grids/items", params={"limit": 1000}, headers=community)
        assert r.status_code == 200, r.text
        page = r.json()
        assert {f["id"] for f in page["features"]} == mine and page["numberMatched"] == len(mine)
        b = c.get("/ogc/collections/buildings/items", params={"limit": 10000},
                  headers=community).json()
        assert {f["properties"]["grid_code"] for f in b["features"]} <= mine
        assert b["numberMatched"] == district.buildings["grid_code"].isin(mine).sum()
        comms = c.get("/ogc/collections/communities/items", headers=community).json()
        assert [f["id"] for f in comms["features"]] == [COMMUNITY]
        assert c.get("/ogc/collections/streets/items",
                     headers=community).json()["numberMatched"] == 0
        other = sorted(set(district.grids["code"]) - mine)[0]
        assert c.get(f"/ogc/collections/grids/items/{other}", headers=community).status_code == 403
        assert c.get(f"/ogc/collections/grids/items/{sorted(mine)[0]}",
                     headers=community).status_code == 200
        # a grid user's buildings are those of its grid (checked by their grid_code)
        b = c.get("/ogc/collections/buildings/items", params={"limit": 10000},
                  headers=grid_user).json()
        assert b["numberMatched"] == (district.buildings["grid_code"] == grid).sum() > 0
        assert {f["properties"]["grid_code"] for f in b["features"]} == {grid}


def test_gdal_oapif_reads_layers(url, district):
    pyogrio = pytest.importorskip("pyogrio")
    if "OAPIF" not in pyogrio.list_drivers():
        pytest.skip("pyogrio's bundled GDAL has no OAPIF driver")
    # The OAPIF driver sends its own HEADERS (Accept) with every request, which GDAL_HTTP_HEADERS
    # does not reach (tried: the server saw no token); the bearer token goes by GDAL's HTTP auth
    # options instead (GDAL >= 3.9), set for this test and restored after it.
    options = {"GDAL_HTTP_AUTH": "BEARER", "GDAL_HTTP_BEARER": url.token}
    before = {k: pyogrio.get_gdal_config_option(k) for k in options}
    pyogrio.set_gdal_config_options(options)
    try:
        names = [row[0] for row in pyogrio.list_layers("OAPIF:" + url + "/ogc")]
        assert names == ["streets", "communities", "grids", "buildings"]
        # PAGE_SIZE (an OAPIF open option): GDAL asks 50 at a time and follows the next links
        grids = pyogrio.read_dataframe("OAPIF:" + url + "/ogc", layer="grids", PAGE_SIZE=50)
        buildings = pyogrio.read_dataframe("OAPIF:" + url + "/ogc", layer="buildings")
        # GDAL sends the box in its layer's CRS (EPSG:4490, lat/lon) with bbox-crs
        box = (120.36, 31.56, 120.37, 31.57)
        boxed = pyogrio.read_dataframe("OAPIF:" + url + "/ogc", layer="grids", bbox=box)
    finally:
        pyogrio.set_gdal_config_options(before)
    assert sorted(grids["code"]) == sorted(district.grids["code"])
    assert sorted(buildings["code"]) == sorted(district.buildings["code"])
    inside = district.grids.intersects(shapely.box(*box))
    assert 0 < inside.sum() < len(district.grids)
    assert set(boxed["code"]) == set(district.grids.loc[inside, "code"])
    assert grids.crs is not None and grids.crs.to_epsg() in (4490, 4326)
    # whatever CRS GDAL asked for (the storage CRS, EPSG:4490, lat/lon on the wire), the
    # geometries come back in place: the axis order was declared and followed
    ours = district.grids.set_index("code").geometry
    got = grids.set_index("code").geometry
    for code in got.index[:20]:
        assert got[code].centroid.distance(ours[code].centroid) < 1e-5


def test_datetime_serves_the_version_in_force(http, district):
    # last in the module: it writes a new boundary version (a split) to the module's store
    from datetime import UTC, datetime

    code = str(district.grids["code"].iloc[10])
    before = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    r = http.post(f"/api/v1/grids/{code}/split", json={"parts": 2, "author": "test"})
    assert r.status_code == 201, r.text
    parts = r.json()["edit"]["added"]
    now = http.get("/ogc/collections/grids/items", params={"limit": 1000}).json()
    ids = {f["id"] for f in now["features"]}
    assert code not in ids and set(parts) <= ids and now["numberMatched"] == len(district.grids) + 1
    then = http.get("/ogc/collections/grids/items", params={"limit": 100, "datetime": before})
    assert then.status_code == 200 and then.json()["numberMatched"] == len(district.grids)
    nxt = links(then.json())["next"]["href"]
    assert "datetime=" in nxt and http.get(nxt).json()["numberMatched"] == len(district.grids)
    old = http.get(f"/ogc/collections/grids/items/{code}", params={"datetime": before})
    assert old.status_code == 200 and old.json()["id"] == code
    assert http.get(f"/ogc/collections/grids/items/{code}").status_code == 404
    grids = http.get("/ogc/collections/grids").json()
    assert grids["extent"]["temporal"]["interval"][0][0] < before
