"""Shift-roster benchmark: 200 posts × 14 days × 3 shifts, 2,000 people (seeded synthetic).

Posts sit on a 20 × 10 lattice 600 m apart; people are scattered over the same area (a fifth
of them auxiliary police or security guards); each post keeps its 20 nearest eligible people
(a checkpoint: 20 security people and 20 others).
Prints one JSON line: posts, days, shifts, people, status, gap, solve_s, unfilled,
assignments, max_hours.
Run: ``.venv/bin/python -m benchmarks.shifts`` (as a module: ``benchmarks/http.py`` would shadow
the standard library's ``http`` if the file were run as a script).
"""

from __future__ import annotations

import json
import random
import time
from datetime import datetime

from geo_grid.crs import from_metric, to_metric
from geo_grid.rosters import Person, Post, solve_roster

EPSG = 4549


def main(n_posts: int = 200, n_people: int = 2000, days: int = 14, seed: int = 7) -> dict:
    rng = random.Random(seed)
    x0, y0 = (float(v) for v in to_metric(120.30, 31.57, EPSG))
    posts = []
    for j in range(n_posts):
        x, y = x0 + (j % 20) * 600, y0 + (j // 20) * 600
        lon, lat = (float(v) for v in from_metric(x, y, EPSG))
        if j % 4 == 0:
            posts.append(Post(f"cp{j}", "checkpoint", lon, lat, per_shift=2, min_security=1))
        else:
            kind = ("information", "isolation", "logistics")[j % 3]
            posts.append(Post(f"g{j}", kind, lon, lat, per_shift=1))
    kinds = ["volunteer"] * 5 + ["social_worker"] * 2 + ["cadre", "auxiliary_police", "security"]
    people = [Person(f"m{i}", rng.choice(kinds), x0 + rng.uniform(-300, 11_700),
                     y0 + rng.uniform(-300, 5_700)) for i in range(n_people)]
    t = time.perf_counter()
    r = solve_roster(posts, people, datetime(2026, 3, 1, 8), days, time_limit_s=55, epsg=EPSG,
                     max_candidates=20, workers=2, seed=seed)
    return {"posts": n_posts, "days": days, "shifts": days * 3, "people": n_people,
            "status": r.status, "gap": r.gap, "solve_s": round(time.perf_counter() - t, 2),
            "unfilled": sum(u.missing for u in r.unfilled),
            "assignments": len(r.assignments()),
            "max_hours": max(p.hours for p in r.people)}


if __name__ == "__main__":
    print(json.dumps(main()))
