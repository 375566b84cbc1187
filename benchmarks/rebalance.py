"""Rebalance benchmark: (a) the reference district, (b) a city-scale synthetic instance.

Both with 20% of the available members unavailable (seeded). For each: the rebalance (current
assignment kept cheap) against the baseline measured in the same run, a from-scratch
re-optimisation of the same scenario (its moves show what a plain re-solve would change).
Prints figures, then as the LAST line one JSON object.

Usage: .venv/bin/python benchmarks/rebalance.py [--store PATH] [--skip-city]
(a) uses ``geo_grid.store.load_district(PATH)`` (building a temporary store when PATH does not
exist), and falls back to a street-size synthetic instance if the store module is missing.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from geo_grid.assign import Params, rebalance_problem, solve, synthetic_problem  # noqa: E402
from geo_grid.assign.flow import demand_int  # noqa: E402
from geo_grid.assign.rebalance import draw_unavailable  # noqa: E402

FRACTION, SEED = 0.2, 1


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def with_current(problem, params):
    f = solve(problem, params).flow
    return problem.with_(cur_member=f[:, 0], cur_building=f[:, 1],
                         cur_share=f[:, 2] / np.maximum(demand_int(problem, params)[f[:, 1]], 1))


def run(label: str, problem, params: Params) -> dict:
    t = time.perf_counter()
    if not len(problem.cur_member):
        problem = with_current(problem, params)
    t_initial = time.perf_counter() - t
    out = draw_unavailable(problem.member_ids, problem.available, FRACTION, SEED)
    kw = dict(unavailable=out, sealed=np.zeros(problem.n_buildings, bool), demand=problem.demand)
    t = time.perf_counter()
    kept = rebalance_problem(problem, params, **kw)
    t_kept = time.perf_counter() - t
    t = time.perf_counter()
    scratch = rebalance_problem(problem, params, **kw, from_scratch=True)
    t_scratch = time.perf_counter() - t
    s, z = kept.summary, scratch.summary
    print(f"[{label}] {problem.n_buildings:,} buildings, {problem.n_members:,} members, "
          f"{int(out.sum()):,} unavailable; arcs {s['n_arcs']:,}")
    print(f"  initial assignment (baseline solve): {t_initial:.2f} s")
    print(f"  rebalance:   {t_kept:.2f} s  moves {s['moves']:,}  moved load {s['moved_load']:,.0f}"
          f"  uncovered buildings {s['before']['uncovered_buildings']:,} → "
          f"{s['uncovered_buildings']:,}  (load {s['uncovered_load']:,.0f})  "
          f"max walk {s['max_walk_m']:.0f} m  short grids {len(kept.shortages):,}")
    print(f"  from scratch: {t_scratch:.2f} s  moves {z['moves']:,}  moved load "
          f"{z['moved_load']:,.0f}  uncovered {z['uncovered_buildings']:,}")
    return {
        "buildings": problem.n_buildings, "members": problem.n_members,
        "unavailable": int(out.sum()), "arcs": s["n_arcs"],
        "initial_seconds": round(t_initial, 3),
        "rebalance_seconds": round(t_kept, 3), "moves": s["moves"], "moved_load": s["moved_load"],
        "uncovered_before": s["before"]["uncovered_buildings"],
        "uncovered_buildings": s["uncovered_buildings"],
        "uncovered_households": s["uncovered_households"],
        "short_grids": int(len(kept.shortages)),
        "scratch_seconds": round(t_scratch, 3), "scratch_moves": z["moves"],
        "scratch_moved_load": z["moved_load"],
        "scratch_uncovered_buildings": z["uncovered_buildings"],
    }


def reference_problem(store: str | None, params: Params):
    try:
        from geo_grid.assign.inputs import problem_from_district
        from geo_grid.store import load_district
    except ImportError:
        print("(no geo_grid.store: street-size synthetic instance instead)")
        return "synthetic street", synthetic_problem(231, 4341, 3003, seed=SEED)
    path = Path(store) if store else None
    if path is None or not path.exists():
        from geo_grid.store.build import build_store
        path = Path(tempfile.mkdtemp()) / "reference.gpkg"
        build_store(path)
    t = time.perf_counter()
    district = load_district(path)
    problem, _ = problem_from_district(district, params)
    print(f"(reference district loaded from {path} in {time.perf_counter() - t:.2f} s)")
    return "reference district", problem


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--store", default=None)
    ap.add_argument("--skip-city", action="store_true")
    args = ap.parse_args()
    params = Params()
    result: dict = {"fraction_unavailable": FRACTION, "seed": SEED,
                    "walk_limit_m": params.walk_limit_m,
                    "k_buildings": params.k_buildings, "k_members": params.k_members}
    label, ref = reference_problem(args.store, params)
    result["a"] = {"instance": label, **run(label, ref, params)}
    result["a"]["target_seconds"] = 1.0
    if not args.skip_city:
        t = time.perf_counter()
        city = synthetic_problem(8800, 150_000, 100_000, seed=SEED)
        print(f"(city instance generated in {time.perf_counter() - t:.2f} s)")
        result["b"] = {"instance": "synthetic city", **run("city", city, params),
                       "target_seconds": 60.0}
    result["peak_rss_mib"] = round(peak_rss_mib(), 1)
    result["target_rss_mib"] = 8192
    print(f"peak memory {result['peak_rss_mib']:,.0f} MiB")
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
