"""A roster request (the API's and the CLI's JSON spec) computed against a store."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from geo_grid.errors import InvalidInput
from geo_grid.rosters.solve import solve_roster
from geo_grid.rosters.sources import (
    people_from_district,
    post_from_dict,
    posts_from_layer,
    reinforcements,
)

#: The spec's rules and their defaults.
DEFAULTS = {"days": 7, "shift_hours": 8, "max_hours_per_week": 48, "min_rest_hours": 12,
            "max_travel_m": 2000, "time_limit_s": 30, "max_candidates": 40}


def run_spec(store, district, spec: dict[str, Any]) -> dict[str, Any]:
    """Compute the roster ``spec`` asks for; returns the roster as a dict (person ids only).

    ``spec``: ``start`` (ISO time), ``days``, ``shift_hours``, ``posts`` (``"layer"`` or a list
    of posts), ``checkpoints`` (with ``"layer"``), ``max_hours_per_week``, ``min_rest_hours``,
    ``max_travel_m``, ``reinforcements`` (a list, or ``"pool"``: the store's pool entries
    available during the whole roster, listed in ``reinforcements_from_pool``), ``scenario``
    (its unavailable members are left out),
    ``previous`` (a kept roster's id, re-solved with few changes), ``time_limit_s``,
    ``max_candidates`` (the nearest people kept per post, 40 by default: the model's size).
    """
    from geo_grid.rosters.model import Roster
    from geo_grid.rosters.store import get_roster
    from geo_grid.store.history import get_scenario

    s = {**DEFAULTS, **{k: v for k, v in spec.items() if v is not None}}
    try:
        start = datetime.fromisoformat(str(s["start"]))
    except (KeyError, ValueError):
        raise InvalidInput("start must be an ISO 8601 time", start=s.get("start")) from None
    posts_in = s.get("posts", "layer")
    if posts_in == "layer":
        from geo_grid.store.pool import read_posts, street_code

        stored = read_posts(store, street_code(store)) if store is not None else []
        posts = posts_from_layer(district, s.get("checkpoints") or (), stored)
    elif isinstance(posts_in, list):
        posts = [post_from_dict(p) for p in posts_in]
    else:
        raise InvalidInput('posts must be "layer" or a list of posts')
    if not posts:
        raise InvalidInput("no posts to staff")
    unavailable: list[str] = []
    if s.get("scenario"):
        unavailable = list(get_scenario(store, s["scenario"])["result"].get("unavailable", []))
    epsg = district.metric_epsg
    people = people_from_district(district, unavailable)
    extra = s.get("reinforcements") or []
    from_pool = None
    if extra == "pool":
        from geo_grid.store.pool import parse_time, pool_for_period

        # the pool entries available during the whole roster (the solver has no per-person
        # hours of availability); their capacity is in load units, not shifts: not a limit
        begin = parse_time(start, "start")
        entries = pool_for_period(store, begin, begin + timedelta(days=int(s["days"])))
        extra = [{"id": e.id, "kind": e.kind, "lon": e.lon, "lat": e.lat} for e in entries]
        from_pool = [e.id for e in entries]
    elif isinstance(extra, str):
        raise InvalidInput('reinforcements must be "pool" or a list of reinforcements')
    people += reinforcements(extra, epsg)
    previous = None
    if s.get("previous"):
        previous = Roster.from_dict(get_roster(store, s["previous"])["result"])
    roster = solve_roster(posts, people, start, int(s["days"]), int(s["shift_hours"]),
                          float(s["max_hours_per_week"]), float(s["min_rest_hours"]),
                          float(s["max_travel_m"]), previous=previous,
                          time_limit_s=float(s["time_limit_s"]), epsg=epsg,
                          max_candidates=int(s["max_candidates"]))
    out = roster.to_dict()
    # only who works: people with no shift are left out of the answer
    out["people"] = [p for p in out["people"] if p["shifts"]]
    out["posts"] = [{"id": p.id, "kind": p.kind, "lon": p.lon, "lat": p.lat,
                     "per_shift": p.per_shift, "min_security": p.min_security} for p in posts]
    out["unavailable_members"] = len(unavailable)
    if from_pool is not None:
        out["reinforcements_from_pool"] = from_pool
    return out
