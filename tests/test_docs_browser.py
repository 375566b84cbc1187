"""``/docs`` and ``/redoc`` render in Debian's chromium with the network cut off.

Every request that is not to the loopback server is aborted and recorded; the pages must show
the API's operations from their local assets and must not even try to reach anything else.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest

from tests.test_api import serve_app

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]

sync_api = pytest.importorskip("playwright.sync_api")
if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
    pytest.skip("Debian's chromium is not installed", allow_module_level=True)


@pytest.fixture(scope="module")
def server(store_path):
    from api.app import create_app
    from api.settings import Settings

    with serve_app(create_app(Settings(db=store_path, build_if_missing=False))) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def offline_page(browser):
    """A page whose requests leave only for 127.0.0.1; the others are aborted and listed."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    external: list[str] = []
    errors: list[str] = []

    def route(r):
        host = r.request.url.split("/")[2].split(":")[0] if "://" in r.request.url else ""
        if r.request.url.startswith(("data:", "blob:", "about:")) or host in ("127.0.0.1", "localhost"):
            r.continue_()
        else:
            external.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text)
            if m.type == "error" and "Content Security Policy" not in m.text else None)
    return page, external, errors


def operations(url: str) -> list[tuple[str, str]]:
    spec = httpx.get(url + "/openapi.json", headers=getattr(url, "headers", {})).json()
    return [(m.upper(), p) for p, ops in spec["paths"].items() for m in ops]


def test_swagger_ui_renders_every_operation_offline(browser, server, tmp_path):
    page, external, errors = offline_page(browser)
    page.goto(f"{server}/docs?token={server.token}")
    page.locator(".opblock").first.wait_for(timeout=20000)
    ops = operations(server)
    shown = page.eval_on_selector_all(
        ".opblock", "els => els.map(e => [e.querySelector('.opblock-summary-method').textContent,"
        " e.querySelector('.opblock-summary-path').getAttribute('data-path')])")
    assert sorted(map(tuple, shown)) == sorted(ops)
    # the lookup operation opens and shows its parameters and typed answer
    page.locator("#operations-lookup-lookup_api_v1_lookup_get .opblock-summary").click()
    page.locator("#operations-lookup-lookup_api_v1_lookup_get tr[data-param-name='lon']").wait_for()
    assert page.locator("#operations-lookup-lookup_api_v1_lookup_get").inner_text().count("covered")
    page.screenshot(path=str(tmp_path / "docs.png"))
    assert external == [] and errors == []
    page.close()


def test_redoc_renders_offline(browser, server, tmp_path):
    page, external, errors = offline_page(browser)
    page.goto(f"{server}/redoc?token={server.token}")
    page.get_by_text("/api/v1/lookup", exact=False).first.wait_for(state="attached", timeout=20000)
    page.get_by_text("covered", exact=False).first.wait_for(state="attached", timeout=20000)
    assert "geo-grid" in page.inner_text("body")
    page.screenshot(path=str(tmp_path / "redoc.png"))
    assert external == [] and errors == []
    page.close()
