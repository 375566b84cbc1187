"""Shift rosters: every roster checked by an independent checker written here."""

from __future__ import annotations

import io
import math
import random
from datetime import datetime, timedelta

import httpx
import pytest

from geo_grid.crs import to_metric
from geo_grid.rosters import Person, Post, solve_roster

START = datetime(2026, 3, 1, 8, 0)
LON, LAT = 120.30, 31.57
EPSG = 4549


def near(dx: float, dy: float) -> tuple[float, float]:
    """Metres east/north of the test centre."""
    x, y = to_metric(LON, LAT, EPSG)
    return float(x) + dx, float(y) + dy


def check(roster, posts, people, *, shift_hours=8, max_week=48, rest=12, travel=2000):
    """Independent check of every rule; returns the number of filled places."""
    by_id = {q.id: q for q in people}
    post_of = {p.id: p for p in posts}
    px = {}
    for p in posts:
        x, y = to_metric(p.lon, p.lat, EPSG)
        px[p.id] = (float(x), float(y))
    work: dict[str, list] = {}
    filled = 0
    unfilled = {(u.post, u.start) for u in roster.unfilled}
    for s in roster.shifts:
        assert s.end - s.start == timedelta(hours=shift_hours)
        post = post_of[s.post]
        assert len(s.people) <= post.per_shift and len(set(s.people)) == len(s.people)
        sec = sum(by_id[q].kind in ("auxiliary_police", "security") for q in s.people)
        if len(s.people) < post.per_shift or sec < post.min_security:
            assert (s.post, s.start) in unfilled
        filled += len(s.people)
        for q in s.people:
            person = by_id[q]
            d = math.hypot(person.x - px[s.post][0], person.y - px[s.post][1])
            assert d <= travel + 1e-6, (q, s.post, d)
            work.setdefault(q, []).append((s.start, s.end))
    for q, spans in work.items():
        spans.sort()
        for (a0, a1), (b0, _b1) in zip(spans, spans[1:], strict=False):
            assert b0 >= a1 + timedelta(hours=rest), (q, a0, b0)  # no overlap, and rest
        for t0, _ in spans:
            hours = sum((e - b).total_seconds() / 3600 for b, e in spans
                        if t0 <= b < t0 + timedelta(days=7))
            assert hours <= max_week, (q, t0, hours)
        assert by_id[q].capacity is None or len(spans) <= by_id[q].capacity
    return filled


def lonlat(dx, dy):
    from geo_grid.crs import from_metric
    x, y = near(dx, dy)
    lo, la = from_metric(x, y, EPSG)
    return float(lo), float(la)


def small_instance(seed=3, n_people=14):
    rng = random.Random(seed)
    posts = [Post("gate", "checkpoint", *lonlat(0, 0), per_shift=2, min_security=1),
             Post("info", "information", *lonlat(800, 0)),
             Post("far", "logistics", *lonlat(0, 900))]
    people = []
    for i in range(n_people):
        kind = ("security", "auxiliary_police", "volunteer", "social_worker", "cadre")[i % 5]
        x, y = near(rng.uniform(-600, 900), rng.uniform(-600, 900))
        people.append(Person(f"p{i}", kind, x, y))
    people.append(Person("remote", "security", *near(5000, 5000)))  # beyond any post
    return posts, people


def test_small_roster_meets_every_rule():
    posts, people = small_instance()
    r = solve_roster(posts, people, START, 3, time_limit_s=20, epsg=EPSG)
    assert r.status in ("optimal", "feasible") and not r.unfilled
    assert check(r, posts, people) == 3 * 3 * (2 + 1 + 1)
    assert "remote" not in {q for s in r.shifts for q in s.people}
    assert 0 <= r.gap <= 1
    hours = [p.hours for p in r.people if p.shifts]
    assert max(hours) <= 48


def test_infeasible_instance_lists_unfilled_slots():
    posts = [Post("gate", "checkpoint", *lonlat(0, 0), per_shift=2, min_security=2)]
    people = [Person("s1", "security", *near(10, 0)), Person("v1", "volunteer", *near(0, 10)),
              Person("v2", "volunteer", *near(0, 20), capacity=1)]
    r = solve_roster(posts, people, START, 2, time_limit_s=10, epsg=EPSG)
    assert r.status == "infeasible"
    assert r.unfilled and all(u.post == "gate" for u in r.unfilled)
    assert all(u.missing_security >= 1 for u in r.unfilled)
    check(r, posts, people)


def test_resolve_after_an_absence_changes_few_shifts():
    posts, people = small_instance(seed=5, n_people=20)
    first = solve_roster(posts, people, START, 3, time_limit_s=20, epsg=EPSG)
    assert not first.unfilled
    gone = max(first.people, key=lambda p: p.shifts).id
    lost = sum(gone in s.people for s in first.shifts)
    rest = [q for q in people if q.id != gone]
    again = solve_roster(posts, rest, START, 3, previous=first, time_limit_s=20, epsg=EPSG)
    check(again, posts, rest)
    assert not again.unfilled
    assert gone not in {q for s in again.shifts for q in s.people}
    # the absent person's shifts change; little else does
    assert lost <= again.changes <= lost + 4, (lost, again.changes)


def test_bad_rules_are_refused():
    from geo_grid.errors import InvalidInput

    posts, people = small_instance()
    with pytest.raises(InvalidInput, match="days"):
        solve_roster(posts, people, START, 0)
    with pytest.raises(InvalidInput, match="min_security"):
        Post("x", "information", LON, LAT, min_security=1)


# ------------------------------------------------------------------ on the reference street


def check_street(out: dict, district, body: dict) -> None:
    """Check a roster computed on ``district`` for ``body`` with :func:`check`."""
    from geo_grid.rosters import Roster
    from geo_grid.rosters.sources import people_from_district, posts_from_layer, reinforcements

    assert district.metric_epsg == EPSG
    posts = posts_from_layer(district, body["checkpoints"])
    people = people_from_district(district) + reinforcements(body["reinforcements"], EPSG)
    roster = Roster.from_dict(out)
    assert len(roster.shifts) == len(posts) * body["days"] * 3
    check(roster, posts, people)


def street_body(district) -> dict:
    c = district.communities.geometry.iloc[0].representative_point()
    return {"start": "2026-03-01T08:00:00", "days": 2, "posts": "layer",
            "checkpoints": [{"id": "gate-1", "kind": "checkpoint", "lon": c.x, "lat": c.y,
                             "per_shift": 2, "min_security": 1}],
            "reinforcements": [{"id": f"r{i}", "kind": "security", "lon": c.x, "lat": c.y}
                               for i in range(4)],
            "time_limit_s": 40}


def test_cli_roster_shifts(own_store, tmp_path):
    import json

    from openpyxl import load_workbook
    from typer.testing import CliRunner

    from geo_grid.cli import app
    from geo_grid.rosters.store import get_roster
    from geo_grid.store import Store, load_district

    d = load_district(own_store)
    body = street_body(d)
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps(body), encoding="utf-8")
    out = tmp_path / "roster.xlsx"
    r = CliRunner().invoke(app, ["roster-shifts", "--db", str(own_store), "--spec", str(spec),
                                 "-o", str(out)])
    assert r.exit_code == 0, r.output
    summary = json.loads(r.output.strip().splitlines()[-1])
    # the solve is time-limited (a loaded machine may stop it before every place is filled):
    # whatever it returns must say so consistently, and pass the checker below
    assert summary["status"] == ("infeasible" if summary["unfilled"] else summary["status"])
    assert summary["status"] in ("optimal", "feasible", "infeasible")
    store = Store(own_store)
    try:
        kept = get_roster(store, summary["id"])
    finally:
        store.close()
    check_street(kept["result"], d, body)
    wb = load_workbook(out, read_only=True)
    assert "post gate-1" in wb.sheetnames and "summary" in wb.sheetnames


# ------------------------------------------------------------------ over HTTP


@pytest.fixture(scope="module")
def server(own_store):
    from tests.test_api import start_server

    with start_server(own_store) as url:
        yield url


def test_roster_api(server, own_store, district):
    from geo_grid.store import load_district

    d = load_district(own_store)
    body = street_body(d)
    with httpx.Client(base_url=server, headers=server.headers, timeout=120) as h:
        r = h.post("/api/v1/rosters", json=body)
        assert r.status_code == 201, r.text
        out = r.json()
        assert out["status"] in ("optimal", "feasible", "infeasible")
        assert {s["post"] for s in out["shifts"]} >= {"gate-1"}
        gate = [s for s in out["shifts"] if s["post"] == "gate-1"]
        assert len(gate) == 6
        # person ids only: no names in the answer
        names = set(d.members["name"]) if "name" in d.members else set()
        assert not any(n and n in r.text for n in names)
        check_street(out, d, body)
        got = h.get(f"/api/v1/rosters/{out['id']}")
        assert got.status_code == 200 and got.json()["shifts"] == out["shifts"]
        x = h.get(f"/api/v1/rosters/{out['id']}/xlsx")
        assert x.status_code == 200
        from openpyxl import load_workbook

        wb = load_workbook(io.BytesIO(x.content))
        assert any(n.startswith("post gate-1") for n in wb.sheetnames)
        assert h.get("/api/v1/rosters/000000000000").status_code == 404
    from tests.test_api import provision

    viewer = provision(own_store, "viewer")
    r = httpx.post(server + "/api/v1/rosters", json=body, timeout=60,
                   headers={"Authorization": f"Bearer {viewer}"})
    assert r.status_code == 403, r.text
