"""Every HTML page of the service loads nothing from outside its own origin.

The pages are every ``GET`` route without path parameters that answers HTML (found by walking
``app.routes``: the coverage map, ``/docs``, ``/redoc``...) plus the map pages of a computed
scenario; each is fetched over real HTTP, then the stylesheets it links are fetched too. An
external URL in ``src``/``href``/``action``/``srcset``/``poster``/``data``, a CSS ``url(...)`` or
an ``@import``, or a JavaScript ``import``/``fetch`` of an absolute URL fails the test. URLs that
are only text (an ``xmlns`` namespace, a link in a licence comment, an attribution anchor for
tiles the operator configured) are not loads and are not flagged: only loading attributes count.
"""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

import pytest
from fastapi.routing import APIRoute, iter_route_contexts

from tests.test_api import authed, serve_app

#: attributes through which a page loads something (``<a href>`` is a link, not a load, but an
#: external ``href`` on ``<link>``/``<base>`` is): checked by tag below
LOAD_ATTRS = re.compile(
    r"<(?P<tag>[a-zA-Z][\w-]*)\b[^>]*?\b(?P<attr>src|href|action|srcset|poster|data|formaction)"
    r"\s*=\s*(?:\"(?P<dq>[^\"]*)\"|'(?P<sq>[^']*)'|(?P<bare>[^\s>]+))", re.I)
CSS_URL = re.compile(r"url\(\s*[\"']?(?P<url>[^\"')\s]+)", re.I)
CSS_IMPORT = re.compile(r"@import\s+(?:url\()?\s*[\"']?(?P<url>[^\"')\s;]+)", re.I)
JS_LOAD = re.compile(r"(?:\bimport\s*\(|\bimport\s+[^;]*?\bfrom\s+|\bfetch\s*\(|"
                     r"\bimportScripts\s*\()\s*[\"'`](?P<url>[^\"'`]+)", re.I)
SCRIPT = re.compile(r"<script\b[^>]*>(?P<body>.*?)</script>", re.I | re.S)
STYLE = re.compile(r"<style\b[^>]*>(?P<body>.*?)</style>", re.I | re.S)


def external(url: str, origin: str) -> bool:
    """True if ``url`` points outside ``origin`` (absolute or protocol-relative)."""
    url = url.strip()
    if url.startswith("//"):
        url = "http:" + url
    parts = urlsplit(url)
    if parts.scheme in ("", "data", "blob", "about", "javascript", "mailto"):
        return False
    return f"{parts.scheme}://{parts.netloc}" != origin


def loads(html: str) -> list[str]:
    """Every URL an HTML page would load (attributes, inline CSS and scripts)."""
    urls = []
    for m in LOAD_ATTRS.finditer(html):
        if m["tag"].lower() == "a":
            continue  # a hyperlink is followed only when clicked
        value = m["dq"] if m["dq"] is not None else m["sq"] if m["sq"] is not None else m["bare"]
        urls += [u.split()[0] for u in value.split(",") if u.strip()] \
            if m["attr"].lower() == "srcset" else [value.strip()]
    for m in STYLE.finditer(html):
        urls += css_loads(m["body"])
    for m in SCRIPT.finditer(html):
        urls += [j["url"] for j in JS_LOAD.finditer(m["body"])]
    return urls


def css_loads(css: str) -> list[str]:
    return [m["url"] for m in CSS_URL.finditer(css)] + [m["url"] for m in CSS_IMPORT.finditer(css)]


def test_the_checker_catches_external_loads():
    origin = "http://127.0.0.1:8000"
    page = """<html xmlns="http://www.w3.org/1999/xhtml"><head>
      <link rel="stylesheet" href="https://cdn.jsdelivr.net/x.css"><script src="//unpkg.com/a.js"></script>
      <style>@import url("https://fonts.googleapis.com/css"); .a{background:url(/static/a.png)}</style>
      <script>fetch("https://tiles.example/x")</script></head>
      <body><a href="https://openstreetmap.org/copyright">OSM</a><img src="/static/x.png">
      <img srcset="/a.png 1x, http://evil.example/b.png 2x"></body></html>"""
    bad = sorted({u for u in loads(page) if external(u, origin)})
    assert bad == ["//unpkg.com/a.js", "http://evil.example/b.png", "https://cdn.jsdelivr.net/x.css",
                   "https://fonts.googleapis.com/css", "https://tiles.example/x"]
    assert not external("http://127.0.0.1:8000/static/a.js", origin)


@pytest.fixture(scope="module")
def served(own_store):
    from api.app import create_app
    from api.settings import Settings

    app = create_app(Settings(db=own_store, build_if_missing=False))
    with serve_app(app) as url, authed(url, timeout=300) as client:
        yield app, url, client


def html_pages(app, client) -> list[str]:
    """Every GET route without path parameters answering HTML, and a scenario's map pages."""
    paths = []
    for ctx in iter_route_contexts(app.routes):  # routes of included routers too
        if (isinstance(ctx.original_route, APIRoute) and "GET" in ctx.methods
                and "{" not in ctx.path):
            r = client.get(ctx.path)
            if r.status_code == 200 and r.headers["content-type"].startswith("text/html"):
                paths.append(ctx.path)
    created = client.post("/api/v1/scenarios", json={"name": "offline", "unavailable_fraction": 0.2,
                                                      "seed": 3})
    assert created.status_code == 201, created.text
    sid = created.json()["id"]
    return paths + [f"/map/scenarios/{sid}", f"/map/scenarios/{sid}/compare"]


def test_every_html_page_loads_only_from_its_own_origin(served):
    app, origin, client = served
    pages = html_pages(app, client)
    for expected in ("/", "/map/tiles", "/docs", "/redoc", "/docs/oauth2-redirect"):
        assert expected in pages, pages
    found: dict[str, list[str]] = {}
    stylesheets: set[str] = set()
    for path in pages:
        r = client.get(path)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html"), path
        urls = loads(r.text)
        assert urls or path.endswith("redirect"), f"{path}: no loads found, the checker is blind"
        found[path] = [u for u in urls if external(u, origin)]
        stylesheets |= {urljoin(origin + path, u) for u in urls
                        if not external(u, origin) and urlsplit(u).path.endswith(".css")}
    for sheet in sorted(stylesheets):
        r = client.get(sheet)
        assert r.status_code == 200, sheet
        found[sheet] = [u for u in css_loads(r.text) if external(u, origin)]
    assert stylesheets, "the pages link no stylesheet: the checker is blind"
    assert {k: v for k, v in found.items() if v} == {}
