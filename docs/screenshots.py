"""Take the README's screenshots of the three maps from a running service.

Usage (with ``make run`` serving on 127.0.0.1:8000, Debian's chromium and a CJK font installed,
e.g. ``apt-get install chromium fonts-noto-cjk``)::

    .venv/bin/python docs/screenshots.py --token TOKEN [--url http://127.0.0.1:8000]

(``TOKEN``: an API token of a street or admin user, ``geo-grid user add ... --role street``.)

It posts one emergency scenario (5 % of members out, seed 1; the buildings inside a small
polygon sealed; a 600 m walking limit so that some buildings go uncovered) and writes
``docs/coverage-map.png``, ``docs/emergency-map.png`` and ``docs/compare-map.png``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import httpx
from playwright.sync_api import sync_playwright

HERE = Path(__file__).parent
SEALED = {
    "type": "Polygon",
    "coordinates": [[[120.372, 31.553], [120.382, 31.553], [120.382, 31.560],
                     [120.372, 31.560], [120.372, 31.553]]],
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--url", default="http://127.0.0.1:8000")
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    ap.add_argument("--token", required=True, help="API token of a street or admin user")
    args = ap.parse_args()
    auth = {"Authorization": f"Bearer {args.token}"}
    body = {"name": "演示：5% 成员无法到岗 + 封控区", "unavailable_fraction": 0.05, "seed": 1,
            "sealed_area": SEALED, "walk_limit_m": 600}
    r = httpx.post(args.url + "/api/v1/scenarios", json=body, headers=auth, timeout=60)
    r.raise_for_status()
    sid = r.json()["id"]
    pages = {"coverage-map.png": "/", "emergency-map.png": f"/map/scenarios/{sid}",
             "compare-map.png": f"/map/scenarios/{sid}/compare"}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=args.chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.set_extra_http_headers(auth)
        for name, path in pages.items():
            page.goto(args.url + path, wait_until="load")
            page.wait_for_timeout(1500)
            page.screenshot(path=str(HERE / name))
            print(HERE / name)
        browser.close()


if __name__ == "__main__":
    main()
