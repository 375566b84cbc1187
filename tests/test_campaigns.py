"""Door-to-door campaigns over real HTTP on a copy of the reference store: creating one over
two grids, recording visits (idempotently, also under concurrent replays), the progress and
the report against figures recomputed here, the scope of a community user, and the phone page
in Chromium recording a visit while offline."""

from __future__ import annotations

import shutil
import uuid
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tests.test_api import provision, start_server

A = "320214052005"  # the community user's community
B = "320214052008"  # another community


@pytest.fixture(scope="module")
def server(own_store):
    with start_server(own_store) as url:
        yield url


@pytest.fixture(scope="module")
def client(server):
    with httpx.Client(base_url=server, headers=server.headers, timeout=60) as c:
        yield c


def _owners(district) -> dict[str, str]:
    """Building → member with the largest load (ties: the smallest id), recomputed here."""
    best: dict[str, tuple[float, str]] = {}
    for r in district.assignment.itertuples(index=False):
        key = (-float(r.load), str(r.member_id))
        if r.building_code not in best or key < best[r.building_code]:
            best[r.building_code] = key
    return {b: k[1] for b, k in best.items()}


@pytest.fixture(scope="module")
def grids(district) -> tuple[str, str]:
    """A grid of A and one of B, each with several buildings."""
    counts = district.buildings["grid_code"].value_counts()
    in_a = sorted(g for g in counts.index if g.startswith(A) and counts[g] >= 3)
    in_b = sorted(g for g in counts.index if g.startswith(B) and counts[g] >= 3)
    return in_a[0], in_b[0]


@pytest.fixture(scope="module")
def campaign(client, grids):
    deadline = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    r = client.post("/api/v1/campaigns", json={"name": "入户排查 <b>&", "deadline": deadline,
                                               "scope": {"grids": list(grids)}})
    assert r.status_code == 201, r.text
    return r.json()


def _visit(building: str, reached: int, status: str = "done", **extra) -> dict:
    return {"id": str(uuid.uuid4()), "building": building, "unit": "1", "status": status,
            "households_reached": reached, "member": None,
            "at": datetime.now(UTC).isoformat(), **extra}


def _buildings(district, grid: str):
    b = district.buildings
    return b[b["grid_code"] == grid].sort_values("code")


def test_campaign_holds_the_two_grids(campaign, district, grids):
    b = district.buildings[district.buildings["grid_code"].isin(grids)]
    assert campaign["buildings"] == len(b) > 0
    assert campaign["households"] == int(b["households"].sum())


def test_bad_campaigns_are_refused(client, grids):
    later = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    r = client.post("/api/v1/campaigns", json={"name": "x", "deadline": later,
                                               "scope": {"grids": ["999"]}})
    assert r.status_code == 404, r.text
    r = client.post("/api/v1/campaigns", json={"name": "x", "deadline": "tomorrow",
                                               "scope": {"grids": [grids[0]]}})
    assert r.status_code in (400, 422), r.text
    r = client.post("/api/v1/campaigns", json={"name": "x", "deadline": later,
                                               "scope": {"grids": [grids[0]], "scenario": "a"}})
    assert r.status_code == 422, r.text


def test_visits_replays_and_progress(client, server, campaign, district, grids):
    cid = campaign["id"]
    url = f"/api/v1/campaigns/{cid}/visits"
    b_a, b_b = _buildings(district, grids[0]), _buildings(district, grids[1])
    first, second, third = b_a.iloc[0], b_a.iloc[1], b_b.iloc[0]
    reached: dict[str, int] = defaultdict(int)

    # a building done in full, then the same visit again: the first answer, with 200
    v = _visit(first.code, int(first.households))
    r1 = client.post(url, json=v)
    assert r1.status_code == 201, r1.text
    assert r1.json()["building_reached"] == int(first.households)
    r2 = client.post(url, json=v)
    assert r2.status_code == 200 and r2.json() == r1.json()
    reached[first.code] += int(first.households)

    # more households than the building has: refused, nothing counted
    r = client.post(url, json=_visit(second.code, int(second.households) + 1))
    assert r.status_code == 422, r.text
    # a building that is not in the campaign
    other = district.buildings[~district.buildings["grid_code"].isin(grids)].iloc[0]
    assert client.post(url, json=_visit(other.code, 0)).status_code == 404

    # 20 concurrent requests with one visit id: one counted, every answer the same
    v = _visit(third.code, 1, status="not_home")

    def send(_):
        with httpx.Client(base_url=server, headers=server.headers, timeout=60) as c:
            r = c.post(url, json=v)
            return r.status_code, r.json()

    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(send, range(20)))
    statuses = sorted(s for s, _ in answers)
    assert statuses == [200] * 19 + [201], statuses
    assert all(body == answers[0][1] for _, body in answers)
    assert answers[0][1]["building_reached"] == 1
    reached[third.code] += 1

    r = client.post(url, json=_visit(second.code, 1, status="refused"))
    assert r.status_code == 201
    reached[second.code] += 1

    # the progress, recomputed here from what was sent
    prog = client.get(f"/api/v1/campaigns/{cid}/progress").json()
    camp = district.buildings[district.buildings["grid_code"].isin(grids)]
    owners = _owners(district)
    want_grid, want_comm, want_member = (defaultdict(lambda: [0, 0]) for _ in range(3))
    for row in camp.itertuples(index=False):
        got = min(int(row.households), reached.get(row.code, 0))
        for table, key in ((want_grid, row.grid_code), (want_comm, row.community_code),
                           (want_member, owners.get(row.code))):
            table[key][0] += got
            table[key][1] += int(row.households)
    total = sum(v[0] for v in want_grid.values()), int(camp["households"].sum())
    assert (prog["totals"]["reached"], prog["totals"]["households"]) == total
    assert prog["totals"]["percent"] == round(100 * total[0] / total[1], 1)
    # done: every household reached (a building with no households counts as done)
    done = sum(min(int(r.households), reached.get(r.code, 0)) >= int(r.households)
               for r in camp.itertuples(index=False))
    assert prog["totals"]["done_buildings"] == done
    assert prog["totals"]["overdue_buildings"] == 0 and prog["overdue"] == []
    for rows, key, want in ((prog["grids"], "grid", want_grid),
                            (prog["communities"], "community", want_comm),
                            (prog["members"], "member", want_member)):
        assert {r[key]: [r["reached"], r["households"]] for r in rows} == \
            {k: list(v) for k, v in want.items()}
    for r in prog["grids"]:
        assert r["percent"] == round(100 * r["reached"] / r["households"], 1)


def test_community_user_only_records_in_its_community(server, own_store, campaign, district,
                                                      grids):
    token = provision(own_store, "community", A)
    url = f"/api/v1/campaigns/{campaign['id']}/visits"
    with httpx.Client(base_url=server, headers={"Authorization": f"Bearer {token}"},
                      timeout=60) as c:
        outside = _buildings(district, grids[1]).iloc[1]
        r = c.post(url, json=_visit(outside.code, 1))
        assert r.status_code == 403, r.text
        inside = _buildings(district, grids[0]).iloc[2]
        r = c.post(url, json=_visit(inside.code, 0, status="not_home"))
        assert r.status_code == 201, r.text
        # its progress counts only its community's buildings
        prog = c.get(f"/api/v1/campaigns/{campaign['id']}/progress").json()
        assert {r["community"] for r in prog["communities"]} == {A}


def test_overdue_report_and_map(client, district, grids, tmp_path):
    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    r = client.post("/api/v1/campaigns", json={"name": "=HYPERLINK(\"x\")", "deadline": past,
                                               "scope": {"grids": [grids[0]]}})
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    b = _buildings(district, grids[0])
    done = b[b["households"] > 0].iloc[0]
    r = client.post(f"/api/v1/campaigns/{cid}/visits",
                    json=_visit(done.code, int(done.households)))
    assert r.status_code == 201
    prog = client.get(f"/api/v1/campaigns/{cid}/progress").json()
    assert prog["past_deadline"] is True
    late = set(b.loc[b["households"] > 0, "code"]) - {done.code}
    assert sorted(prog["overdue"]) == sorted(late)
    assert prog["totals"]["overdue_buildings"] == len(late)

    r = client.get(f"/api/v1/campaigns/{cid}/report.xlsx")
    assert r.status_code == 200
    path = tmp_path / "report.xlsx"
    path.write_bytes(r.content)
    from geo_grid.tables.readers import read_rows

    rows = read_rows(path).rows
    assert str(rows[0][0]).startswith("'=")  # the name, neutralized
    grid_row = next(r for r in rows if r[1] == grids[0])
    assert int(grid_row[5]) == int(done.households)
    assert int(grid_row[8]) == len(late)

    page = client.get(f"/map/campaigns/{cid}")
    assert page.status_code == 200
    assert f"/api/v1/campaigns/{cid}/progress" in page.text
    assert client.get("/map/campaigns/000000000000").status_code == 404


# ------------------------------------------------------------------ the phone page in Chromium

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.mark.browser
def test_phone_page_keeps_a_visit_offline_and_sends_it_later(server, client, campaign):
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        pytest.skip("Debian's chromium is not installed")
    cid = campaign["id"]
    before = {b["code"]: b["reached"]
              for b in client.get(f"/api/v1/campaigns/{cid}/progress").json()["buildings"]}
    errors: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            context = browser.new_context(viewport={"width": 390, "height": 844},
                                          is_mobile=True, has_touch=True)
            page = context.new_page()
            page.on("pageerror", lambda e: errors.append(str(e)))
            # failed requests (but the browser's own favicon request: the map page names none)
            page.on("response", lambda r: errors.append(f"{r.status} {r.url}")
                    if r.status >= 400 and not r.url.endswith("/favicon.ico") else None)
            # the token in the address starts a session (a cookie) and redirects without it
            page.goto(f"{server}/m/campaigns/{cid}?token={server.token}")
            assert "token=" not in page.url
            assert any(c["name"] for c in context.cookies())
            items = page.locator("#gg-list li")
            try:
                items.first.wait_for(timeout=15000)
            except Exception:
                raise AssertionError((page.url, errors, page.content()[:3000])) from None
            # the page fits the phone: nothing wider than the viewport
            assert page.evaluate("document.documentElement.scrollWidth") <= 390
            li = items.nth(1) if items.count() > 1 else items.first
            code = li.get_attribute("data-code")
            households = int(page.evaluate(
                "c => JSON.parse(document.getElementById('gg-data').textContent).members"
                ".flatMap(m => m.buildings).find(b => b.code === c).households", code))
            reached = min(2, households - before[code])
            assert reached > 0

            context.set_offline(True)
            li.locator("input.unit").fill("2")
            li.locator("input.hh").fill(str(reached))
            li.locator("button.record").click()
            page.locator("body[data-queued='1']").wait_for(timeout=5000)
            kept = page.evaluate("Object.keys(localStorage).map(k => localStorage.getItem(k))")
            assert any(code in k for k in kept)
            now = client.get(f"/api/v1/campaigns/{cid}/progress").json()
            assert {b["code"]: b["reached"] for b in now["buildings"]}[code] == before[code]

            context.set_offline(False)
            page.locator("body[data-queued='0']").wait_for(timeout=20000)

            # the progress map polls the same figures and paints them
            total = client.get(f"/api/v1/campaigns/{cid}/progress").json()["totals"]["reached"]
            page.goto(f"{server}/map/campaigns/{cid}")
            page.locator(f"body[data-gg-campaign-reached='{total}']").wait_for(timeout=15000)
            panel = page.locator(".gg-campaign-panel").inner_text()
            assert "<b>&" in panel and f"{total}/" in panel  # the name shown as text
        finally:
            browser.close()
    after = client.get(f"/api/v1/campaigns/{cid}/progress").json()
    assert {b["code"]: b["reached"] for b in after["buildings"]}[code] == before[code] + reached
    assert errors == []


def test_an_older_store_gets_the_campaign_tables(store_path, tmp_path):
    import sqlite3

    from geo_grid.store import Store

    db = tmp_path / "old.gpkg"
    shutil.copy(store_path, db)
    with sqlite3.connect(db) as conn:
        for name in ("campaigns", "campaign_buildings", "campaign_visits"):
            conn.execute(f"DROP TABLE {name}")
            conn.execute("DELETE FROM gpkg_contents WHERE table_name = ?", (name,))
    Store(db).close()
    with sqlite3.connect(db) as conn:
        tables = {r[0] for r in conn.execute("SELECT table_name FROM gpkg_contents")}
    assert {"campaigns", "campaign_buildings", "campaign_visits"} <= tables
