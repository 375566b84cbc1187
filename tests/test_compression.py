"""gzip and ETag/304 over real HTTP, bytes read as they come off the socket (no client decoding)."""

from __future__ import annotations

import gzip
import http.client
import json
import zlib
from urllib.parse import urlsplit

import numpy as np
import pytest
import shapely
from fastapi import FastAPI, Request
from fastapi.responses import Response

from api.edge import EdgeMiddleware, accepts_gzip, gzip_small
from tests.test_api import serve_app

GZ = {"Accept-Encoding": "gzip, deflate, br"}


@pytest.fixture(scope="module")
def base(own_store):
    from api.app import create_app
    from api.settings import Settings

    with serve_app(create_app(Settings(db=own_store, build_if_missing=False))) as url:
        yield url


def fetch(base: str, path: str, headers: dict | None = None, method: str = "GET",
          body: bytes | None = None):
    """(status, headers, raw body bytes as sent on the wire)."""
    u = urlsplit(base)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
    try:
        # the served URL carries an admin's token
        conn.request(method, path, body=body,
                     headers={**getattr(base, "headers", {}), **(headers or {})})
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def plain(h: dict, raw: bytes) -> bytes:
    return gzip.decompress(raw) if h.get("content-encoding") == "gzip" else raw


def test_accept_encoding_parsing():
    assert accepts_gzip("gzip") and accepts_gzip("br, gzip;q=0.5") and accepts_gzip("*")
    assert not accepts_gzip("") and not accepts_gzip("br") and not accepts_gzip("gzip;q=0")
    assert not accepts_gzip("identity, gzip;q=0.000")


def test_coverage_page_is_compressed_under_1_mb(base):
    status, h, raw = fetch(base, "/", GZ)
    assert status == 200 and h["content-encoding"] == "gzip"
    assert int(h["content-length"]) == len(raw) <= 1_000_000
    _, h_id, raw_id = fetch(base, "/")
    assert "content-encoding" not in h_id and len(raw_id) > 1_000_000  # what it saves
    assert gzip.decompress(raw) == raw_id
    assert "accept-encoding" in h["vary"].lower() and "accept-encoding" in h_id["vary"].lower()
    assert h["content-security-policy"] == h_id["content-security-policy"]


@pytest.mark.parametrize(("path", "media"), [
    ("/api/v1/lookup?lon=120.36&lat=31.53", "application/json"),
    ("/api/v1/lookup?lon=120.3655&lat=31.5288&crs=gcj02", "application/json"),
    ("/api/v1/lookup?lon=120.3721&lat=31.5563", "application/json"),
    ("/api/v1/grids", "application/geo+json"),
    ("/api/v1/coverage", "application/json"),
    ("/openapi.json", "application/json"),
    ("/api/v1/members", "application/json"),
])
def test_bodies_over_1_kb_are_gzipped_when_accepted(base, path, media):
    status, h, raw = fetch(base, path, GZ)
    assert status == 200 and h["content-type"].startswith(media)
    assert h.get("content-encoding") == "gzip" and len(raw) == int(h["content-length"])
    _, h_id, raw_id = fetch(base, path)
    assert "content-encoding" not in h_id and len(raw_id) >= 1000
    assert gzip.decompress(raw) == raw_id
    _, h_no, raw_no = fetch(base, path, {"Accept-Encoding": "gzip;q=0, identity"})
    assert "content-encoding" not in h_no and raw_no == raw_id


def test_small_bodies_and_post_answers(base, district):
    status, h, raw = fetch(base, "/healthz", GZ)
    assert status == 200 and len(raw) < 1000 and "content-encoding" not in h
    assert json.loads(raw)["status"] == "ok"
    # a JSON batch answer (POST) is compressed too
    items = json.dumps(list(district.buildings["address"].iloc[:50])).encode()
    status, h, raw = fetch(base, "/api/v1/lookup/batch", {**GZ, "Content-Type": "application/json"},
                           "POST", items)
    assert status == 200 and h["content-encoding"] == "gzip"
    assert len(json.loads(gzip.decompress(raw))["results"]) == 50
    # an error body over 1 KB is a problem+json, gzipped like the rest
    status, h, raw = fetch(base, "/api/v1/lookup?address=" + "%E8%A1%97" * 300, GZ)
    assert status == 422 and h["content-type"].startswith("application/problem+json")
    assert json.loads(plain(h, raw))["code"] == "validation"


@pytest.mark.parametrize("encoding", ["gzip", "identity"])
def test_map_page_etag_and_304(base, encoding):
    status, h, raw = fetch(base, "/", {"Accept-Encoding": encoding})
    assert status == 200 and h["etag"].startswith('"') and h["cache-control"] == "no-cache"
    tag = h["etag"]
    assert tag.endswith('-gz"') == (encoding == "gzip")
    status, h304, raw304 = fetch(base, "/", {"Accept-Encoding": encoding, "If-None-Match": tag})
    assert status == 304 and raw304 == b"" and h304["etag"] == tag
    assert "content-encoding" not in h304 and "content-security-policy" in h304
    # the tag of the other encoding names the same page: still not modified
    other = tag[:-4] + '"' if tag.endswith('-gz"') else tag[:-1] + '-gz"'
    assert fetch(base, "/", {"Accept-Encoding": encoding, "If-None-Match": other})[0] == 304
    assert fetch(base, "/", {"Accept-Encoding": encoding, "If-None-Match": f'"x", W/{tag}'})[0] == 304
    # a tag of another page, or of an older version, gets the page
    stale = '"0123456789abcdef0123456789abcdef"'
    status, h2, raw2 = fetch(base, "/", {"Accept-Encoding": encoding, "If-None-Match": stale})
    assert status == 200 and raw2 == raw


def test_etag_follows_the_page(base):
    # the docs pages are HTML too: each its own tag, stable across requests
    tags = {p: fetch(base, p)[1]["etag"] for p in ("/", "/docs", "/redoc")}
    assert len(set(tags.values())) == 3
    assert fetch(base, "/docs")[1]["etag"] == tags["/docs"]
    assert fetch(base, "/docs", {"If-None-Match": tags["/"]})[0] == 200


def test_static_assets_keep_their_own_validators(base):
    status, h, raw = fetch(base, "/static/docs/swagger-ui.css", GZ)
    assert status == 200 and h["etag"]
    assert fetch(base, "/static/docs/swagger-ui.css", {**GZ, "If-None-Match": h["etag"]})[0] == 304


def test_tags_set_by_a_route_work_with_either_encoding():
    # a route that tags its answer and answers 304 itself: the middleware hands it the plain
    # tag and names the gzip version in what goes back
    app = FastAPI()
    app.add_middleware(EdgeMiddleware, minimum_size=1000)
    seen: list[str | None] = []
    body = json.dumps({"items": list(range(2000))}).encode()

    @app.get("/tagged")
    async def tagged(request: Request) -> Response:
        seen.append(request.headers.get("if-none-match"))
        if request.headers.get("if-none-match") == '"v1"':
            return Response(status_code=304, headers={"ETag": '"v1"'})
        return Response(body, media_type="application/json", headers={"ETag": '"v1"'})

    with serve_app(app) as url:
        status, h, raw = fetch(url, "/tagged", GZ)
        assert status == 200 and h["etag"] == '"v1-gz"' and gzip.decompress(raw) == body
        status, h, raw = fetch(url, "/tagged", {**GZ, "If-None-Match": '"v1-gz"'})
        assert status == 304 and h["etag"] == '"v1-gz"' and raw == b"" and seen[-1] == '"v1"'
        status, h, raw = fetch(url, "/tagged", {"If-None-Match": '"v1"'})
        assert status == 304 and h["etag"] == '"v1"'
        status, h, raw = fetch(url, "/tagged", {"If-None-Match": '"v0"'})
        assert status == 200 and raw == body and h["etag"] == '"v1"'


@pytest.mark.parametrize("size", [0, 1, 511, 1000, 1210, 4096, 70_000, 130_000])
def test_gzip_small_round_trips_and_compresses_like_gzip(size):
    rng = np.random.default_rng(size)
    words = [b'{"grid_code":', b'"320214052005001"', b'"name":"\xe5\xbc\xa0*"', b",", b"}", b"[",
             b'"load":12.5', b'"phone":"138****1234"']
    body = b"".join(words[i] for i in rng.integers(0, len(words), size))[:size]
    out = gzip_small(body)
    assert gzip.decompress(out) == body
    assert len(out) <= len(gzip.compress(body, 6, mtime=0)) * 1.05 + 8


def test_lookup_gzip_is_one_valid_member_per_point(base, district):
    # the point lookup joins a grid's ready gzip prefix and the point's own bytes: every answer
    # must decode in one pass as a stream decoder (a browser's) reads it, and equal the plain one
    pts = district.buildings.geometry.representative_point().to_crs(4326).iloc[::400]
    seen = set()
    for p in list(pts) + [shapely.Point(121.0, 31.0)]:
        path = f"/api/v1/lookup?lon={p.x!r}&lat={p.y!r}"
        status, h, raw = fetch(base, path, GZ)
        assert status == 200 and h["content-encoding"] == "gzip"
        assert "accept-encoding" in h["vary"].lower()
        d = zlib.decompressobj(31)
        body = d.decompress(raw)
        assert d.eof and not d.unused_data
        _, h_id, raw_id = fetch(base, path)
        assert body == raw_id and "content-encoding" not in h_id
        seen.add(json.loads(body).get("grid", {}).get("code") if json.loads(body)["covered"]
                 else None)
    assert None in seen and len(seen) > 3
