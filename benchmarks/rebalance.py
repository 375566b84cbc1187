"""Rebalance benchmark: (a) the reference district, (b) a city-scale synthetic instance.

Both with 20% of the available members unavailable (seeded). For each: the rebalance (current
assignment kept cheap) against the baseline measured in the same run, a from-scratch
re-optimisation of the same scenario (its moves show what a plain re-solve would change).
Prints figures, then as the LAST line one JSON object.

Usage: .venv/bin/python benchmarks/rebalance.py [--store PATH] [--skip-reference] [--skip-city]
[--skip-http]
(a) uses ``geo_grid.store.load_district(PATH)`` (building a temporary store when PATH does not
exist), and falls back to a street-size synthetic instance if the store module is missing.

HTTP (``http_seconds``): the service (``uvicorn api.app:create_app --factory``) runs in a
subprocess on a free 127.0.0.1 port over a copy of the store; the time of
``POST /api/v1/scenarios {"unavailable_fraction": 0.2, "seed": 1}`` end to end (rebalance,
result JSON, kept in the store, response), the first request and the best of three.
Target: under 2 s.

City (b): the rebalance runs with the default decomposition (:mod:`geo_grid.assign.decompose`:
the flow solved by connected components, a component above a million pairs by tiles plus the
seam, coverage checked exactly) and, in the same process on the same current assignment, in one
piece (``decomposition(min_arcs=inf)``, the baseline); both wall and CPU seconds are printed
(the CPU time does not count other processes sharing the machine), with the ratio, the
objectives and the coverage of both. Targets: 15 s, 4 GiB peak. The flow's pieces are solved
by worker processes: the CPU seconds printed count them too (``cpu_children``), and the peak
memory is given for this process and for the largest worker.
"""

from __future__ import annotations

import sys
from pathlib import Path

# run as a script, this folder comes first on sys.path: a sibling module named like a standard
# one (benchmarks/http.py) would shadow it, so the repository root replaces the folder
ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "benchmarks"]

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import shutil  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import urllib.request  # noqa: E402

import numpy as np  # noqa: E402

from geo_grid.assign import Params, rebalance_problem, solve, synthetic_problem  # noqa: E402
from geo_grid.assign.decompose import decomposition  # noqa: E402
from geo_grid.assign.flow import demand_int  # noqa: E402
from geo_grid.assign.rebalance import draw_unavailable  # noqa: E402

FRACTION, SEED = 0.2, 1


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def peak_child_rss_mib() -> float:
    """The largest peak of the worker processes ended so far (MiB)."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0


def cpu_seconds() -> float:
    """CPU seconds of this process and of its ended worker processes."""
    ch = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + ch.ru_utime + ch.ru_stime


def with_current(problem, params):
    f = solve(problem, params).flow
    return problem.with_(cur_member=f[:, 0], cur_building=f[:, 1],
                         cur_share=f[:, 2] / np.maximum(demand_int(problem, params)[f[:, 1]], 1))


def run(label: str, problem, params: Params, one_piece: bool = False) -> dict:
    t = time.perf_counter()
    if not len(problem.cur_member):
        problem = with_current(problem, params)
    t_initial = time.perf_counter() - t
    out = draw_unavailable(problem.member_ids, problem.available, FRACTION, SEED)
    kw = dict(unavailable=out, sealed=np.zeros(problem.n_buildings, bool), demand=problem.demand)
    t, c = time.perf_counter(), cpu_seconds()
    kept = rebalance_problem(problem, params, **kw)
    t_kept, c_kept = time.perf_counter() - t, cpu_seconds() - c
    rss_kept, rss_workers = peak_rss_mib(), peak_child_rss_mib()
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
    extra = {}
    if one_piece:
        # the baseline: the same rebalance with the flow solved in one piece
        t, c = time.perf_counter(), cpu_seconds()
        with decomposition(min_arcs=math.inf):
            mono = rebalance_problem(problem, params, **kw)
        t_mono, c_mono = time.perf_counter() - t, cpu_seconds() - c
        o = mono.summary
        print(f"  one piece (baseline): {t_mono:.2f} s (CPU {c_mono:.2f} s)  moves {o['moves']:,}"
              f"  uncovered load {o['uncovered_load']:,.1f}  objective "
              f"{mono.solution.objective_int:,}")
        print(f"  in parts:             {t_kept:.2f} s (CPU {c_kept:.2f} s)  moves {s['moves']:,}"
              f"  uncovered load {s['uncovered_load']:,.1f}  objective "
              f"{kept.solution.objective_int:,}  (x{t_mono / t_kept:.2f} faster, CPU "
              f"x{c_mono / c_kept:.2f}; objective +"
              f"{(kept.solution.objective_int / mono.solution.objective_int - 1) * 100:.3f}%;"
              f" peak memory after it {rss_kept:,.0f} MiB, largest worker "
              f"{rss_workers:,.0f} MiB)")
        extra = {
            "rebalance_cpu_seconds": round(c_kept, 3),
            "one_piece_seconds": round(t_mono, 3), "one_piece_cpu_seconds": round(c_mono, 3),
            "speedup": round(t_mono / t_kept, 2), "cpu_speedup": round(c_mono / c_kept, 2),
            "objective": kept.solution.objective_int,
            "one_piece_objective": mono.solution.objective_int,
            "uncovered_load": s["uncovered_load"],
            "one_piece_uncovered_load": o["uncovered_load"], "one_piece_moves": o["moves"],
            "peak_rss_mib_after_rebalance": round(rss_kept, 1),
            "peak_worker_rss_mib": round(rss_workers, 1),
        }
    return {
        **extra,
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




def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _request(url: str, body: dict | None = None, timeout: float = 60.0):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method="POST" if body is not None else "GET",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.status, json.loads(r.read())


def http_scenario(store: Path, repeats: int = 3) -> dict:
    """Time POST /api/v1/scenarios against a uvicorn subprocess on a copy of the store."""
    tmp = Path(tempfile.mkdtemp())
    db = tmp / "bench.gpkg"
    shutil.copy(store, db)
    port = _free_port()
    env = {**os.environ, "GEO_GRID_DB": str(db), "GEO_GRID_BUILD_IF_MISSING": "false"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        t_start = time.perf_counter()
        while True:
            try:
                _request(f"{base}/api/v1/coverage", timeout=30)
                break
            except OSError:
                if proc.poll() is not None or time.perf_counter() - t_start > 120:
                    raise RuntimeError("the service did not start: "
                                       + (proc.stderr.read().decode() if proc.stderr else "")) from None
                time.sleep(0.2)
        times, status, summary = [], None, None
        for _ in range(repeats):
            t = time.perf_counter()
            status, out = _request(f"{base}/api/v1/scenarios", {"unavailable_fraction": FRACTION,
                                                                "seed": SEED})
            times.append(time.perf_counter() - t)
            summary = out["summary"]
        print(f"[http] POST /api/v1/scenarios → {status}: first {times[0]:.2f} s, "
              f"best {min(times):.2f} s (solve {summary['solve_seconds']:.2f} s, "
              f"moves {summary['moves']:,})")
        return {"http_seconds": round(times[0], 3), "http_best_seconds": round(min(times), 3),
                "http_status": status, "http_target_seconds": 2.0}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(tmp, ignore_errors=True)


def reference_problem(store: str | None, params: Params):
    try:
        from geo_grid.assign.inputs import problem_from_district
        from geo_grid.store import load_district
    except ImportError:
        print("(no geo_grid.store: street-size synthetic instance instead)")
        return "synthetic street", synthetic_problem(231, 4341, 3003, seed=SEED), None
    path = Path(store) if store else None
    if path is None or not path.exists():
        from geo_grid.store.build import build_store
        path = Path(tempfile.mkdtemp()) / "reference.gpkg"
        build_store(path)
    t = time.perf_counter()
    district = load_district(path)
    problem, _ = problem_from_district(district, params)
    print(f"(reference district loaded from {path} in {time.perf_counter() - t:.2f} s)")
    return "reference district", problem, path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--store", default=None)
    ap.add_argument("--skip-reference", action="store_true",
                    help="skip part (a), the reference district (and the HTTP timing)")
    ap.add_argument("--skip-city", action="store_true")
    ap.add_argument("--skip-http", action="store_true")
    args = ap.parse_args()
    params = Params()
    result: dict = {"fraction_unavailable": FRACTION, "seed": SEED,
                    "walk_limit_m": params.walk_limit_m,
                    "k_buildings": params.k_buildings, "k_members": params.k_members}
    path = None
    if not args.skip_reference:
        label, ref, path = reference_problem(args.store, params)
        result["a"] = {"instance": label, **run(label, ref, params)}
        result["a"]["target_seconds"] = 1.0
    if path is not None and not args.skip_http:
        http = http_scenario(path)
        result["a"].update(http)
        result["http_seconds"] = http["http_seconds"]
    if not args.skip_city:
        t = time.perf_counter()
        city = synthetic_problem(8800, 150_000, 100_000, seed=SEED)
        print(f"(city instance generated in {time.perf_counter() - t:.2f} s)")
        result["b"] = {"instance": "synthetic city", **run("city", city, params, one_piece=True),
                       "target_seconds": 15.0, "target_rss_mib": 4096}
    result["peak_rss_mib"] = round(peak_rss_mib(), 1)
    result["target_rss_mib"] = 8192
    print(f"peak memory {result['peak_rss_mib']:,.0f} MiB")
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
