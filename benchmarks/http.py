"""HTTP benchmark: ``/api/v1/lookup`` against a no-op route of the same app, with wrk.

Starts the service (uvicorn, ``--workers 2``, uvloop + httptools, no access log) on a free
loopback port over a store (built in a temporary folder, or a copy of the one ``--db`` names),
then loads it with Debian's ``wrk`` (64 connections, 2 threads, ``--duration`` seconds per route).
Every request carries the API token of a ``viewer`` account the benchmark adds to its store and
``Accept-Encoding: gzip``, as a client of the service (a browser, httpx, requests) would:

- ``/api/v1/lookup?lon=&lat=&crs=wgs84``: seeded random WGS-84 points inside the street (a Lua
  script cycles through them);
- ``/api/v1/_noop``: a route that does nothing, through the same app and middleware, matched
  first: the ceiling of this app on this machine (``noop_rps``, ``ratio``);
- ``/api/v1/_noop`` sent the lookup's query strings (``noop_query_rps``, ``ratio_same_query``):
  what the server and the framework cost for the very same requests (the query parsed), so the
  difference with the lookup is the lookup's own work;
- ``/api/v1/members/{id}``, ``/api/v1/grids/{code}`` (seeded random ids and codes) and
  ``/api/v1/coverage`` (``*_ratio``: against the no-op).

The no-op, lookup and no-op-with-query runs alternate in ``--slices`` short runs each (the machine's
two cores are shared with wrk and whatever else runs, so one long run of each would be measured
under different loads); each route's slices are pooled: requests over time, latency percentiles of the mixture of
the slices' distributions. ``errors`` counts socket errors and non-2xx answers (0 expected).
``cpu_us`` is the server's CPU time (its processes' user + system time, from ``/proc``) per
request: unlike requests per second it hardly depends on what else the machine runs, so
``cpu_ratio`` (the no-op's CPU per request over the lookup's) is the steadier comparison.
The last line printed is one JSON object.

    .venv/bin/python benchmarks/http.py [--db store.gpkg] [--duration 10] [--workers 2]
"""

from __future__ import annotations

import sys
from pathlib import Path

# This file is called http.py: run as a script, its folder would come first on the import path
# and shadow the standard library's ``http`` package (urllib, geopandas... import it).
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import socket  # noqa: E402
import sqlite3  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import urllib.request  # noqa: E402

import numpy as np  # noqa: E402
import shapely  # noqa: E402

from geo_grid.auth.users import add_user  # noqa: E402
from geo_grid.store import Store, build_store, load_district  # noqa: E402

#: wrk script: cycles through the paths of ``paths.lua`` (each thread from its own offset) and
#: prints the run's figures as one JSON line when done.
LUA = r"""
local paths = dofile("%(paths)s")
wrk.headers["Authorization"] = "Bearer %(token)s"
wrk.headers["Accept-Encoding"] = "gzip"
PERCENTILES = {%(percentiles)s}
local counter = 0
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  counter = (id or 0) * 7919
end

function request()
  counter = counter + 1
  return wrk.format("GET", paths[(counter %% #paths) + 1])
end

function done(summary, latency, requests)
  local e = summary.errors
  local q = {}
  for _, p in ipairs(PERCENTILES) do table.insert(q, latency:percentile(p)) end
  io.write(string.format(
    '{"requests":%%d,"duration_us":%%d,"max_us":%%d,"quantiles_us":[%%s],' ..
    '"connect":%%d,"read":%%d,"write":%%d,"status":%%d,"timeout":%%d}\n',
    summary.requests, summary.duration, latency.max, table.concat(q, ","),
    e.connect, e.read, e.write, e.status, e.timeout))
end
"""


#: latency percentiles each wrk run reports: a run's latency distribution, to pool several runs
PERCENTILES = np.concatenate([np.arange(1, 99), np.arange(99, 99.9, 0.1), [99.9, 99.95, 99.99]])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def street_points(district, n: int, seed: int) -> np.ndarray:
    """``n`` seeded uniform points inside the street outline (lon/lat)."""
    street = district.street.geometry.union_all()  # every street of the store
    x0, y0, x1, y1 = street.bounds
    rng = np.random.default_rng(seed)
    out = np.empty((0, 2))
    while len(out) < n:
        xy = np.column_stack([rng.uniform(x0, x1, 4 * n), rng.uniform(y0, y1, 4 * n)])
        out = np.vstack([out, xy[shapely.contains_xy(street, xy[:, 0], xy[:, 1])]])
    return out[:n]


def write_paths(folder: Path, name: str, paths: list[str], token: str) -> Path:
    """A wrk Lua script cycling through ``paths``, authenticated with the API ``token``."""
    data = folder / f"{name}_paths.lua"
    data.write_text("return {\n" + ",\n".join(json.dumps(p) for p in paths) + "\n}\n")
    script = folder / f"{name}.lua"
    script.write_text(LUA % {"paths": str(data), "token": token,
                             "percentiles": ",".join(f"{p:g}" for p in PERCENTILES)})
    return script


def start_server(db: Path, port: int, workers: int) -> subprocess.Popen:
    env = {**os.environ, "GEO_GRID_DB": str(db), "GEO_GRID_BUILD_IF_MISSING": "false"}
    cmd = [sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory",
           "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
           "--loop", "uvloop", "--http", "httptools", "--no-access-log", "--log-level", "warning"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env)
    deadline = time.time() + 120
    ok = 0
    while ok < 4 * workers:  # several answers in a row: every worker has started
        if proc.poll() is not None:
            raise RuntimeError("the server exited")
        if time.time() > deadline:
            proc.terminate()
            raise RuntimeError("the server did not start")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                ok += r.status == 200
        except OSError:
            ok = 0
            time.sleep(0.3)
    wait_idle(proc.pid, deadline)
    return proc


def wait_idle(pid: int, deadline: float, cores: float = 0.25) -> None:
    """Wait until the server's processes use less than ``cores`` of CPU for two seconds in a
    row (or ``deadline``): answers in a row may all come from the first worker up while
    another still loads the store and builds its index (a minute at city scale), which would
    otherwise be measured together with the requests."""
    calm, last = 0, process_tree_cpu(pid)
    while calm < 2 and time.time() < deadline:
        time.sleep(1.0)
        now = process_tree_cpu(pid)
        calm = calm + 1 if now - last < cores else 0
        last = now


def process_tree_cpu(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` and its descendants so far (Linux ``/proc``)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:  # gone meanwhile
                continue
            ppid = int(stat.rpartition(")")[2].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
    ticks = os.sysconf("SC_CLK_TCK")
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        todo.extend(children.get(p, ()))
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    return total


def wrk(url: str, script: Path, seconds: float, connections: int, threads: int,
        server_pid: int | None = None) -> dict:
    """One wrk run; its figures (requests/s, latency percentiles in ms, errors, and the server's
    CPU seconds over the run when ``server_pid`` is given)."""
    cpu0 = process_tree_cpu(server_pid) if server_pid else 0.0
    run = subprocess.run(
        ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds:g}s",
         "--timeout", "10s", "-s", str(script), url], capture_output=True, text=True)
    if run.returncode:
        raise RuntimeError(f"wrk failed: {run.stderr or run.stdout}")
    out = run.stdout
    line = [ln for ln in out.splitlines() if ln.startswith("{")][-1]
    r = json.loads(line)
    r["errors"] = r["connect"] + r["read"] + r["write"] + r["status"] + r["timeout"]
    r["server_cpu_s"] = process_tree_cpu(server_pid) - cpu0 if server_pid else 0.0
    return r


def pooled(runs: list[dict]) -> dict:
    """Requests per second and latency percentiles of several wrk runs taken as one.

    Each run gives its latency quantiles; the pooled distribution is their mixture weighted by
    the runs' request counts.
    """
    n = np.array([r["requests"] for r in runs], dtype=float)
    secs = sum(r["duration_us"] for r in runs) / 1e6
    qs = [np.maximum.accumulate(np.asarray(r["quantiles_us"], dtype=float)) for r in runs]
    xs = np.unique(np.concatenate(qs))
    cdf = sum(w * np.interp(xs, q, PERCENTILES, left=0, right=100) for w, q in zip(n / n.sum(), qs, strict=True))

    def pct(p: float) -> float:
        return round(float(np.interp(p, cdf, xs)) / 1000, 3)

    return {"rps": round(n.sum() / secs, 1), "p50_ms": pct(50), "p90_ms": pct(90),
            "p99_ms": pct(99), "max_ms": max(r["max_us"] for r in runs) / 1000,
            "requests": int(n.sum()), "errors": sum(r["errors"] for r in runs),
            "cpu_us": round(sum(r["server_cpu_s"] for r in runs) / n.sum() * 1e6, 1)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", type=Path, default=None, help="store to serve (built in a temp dir if absent)")
    ap.add_argument("--duration", type=int, default=10, help="seconds of load per route")
    ap.add_argument("--slices", type=int, default=5,
                    help="the no-op and lookup runs alternate in this many slices each")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--points", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install -y wrk")

    with tempfile.TemporaryDirectory(prefix="geo-grid-http-") as tmp:
        tmp = Path(tmp)
        db = args.db
        if db is None or not db.exists():
            db = tmp / "jiangxi.gpkg"
            t = time.perf_counter()
            build_store(db)
            print(f"built the store in {time.perf_counter() - t:.1f} s")
        else:  # the benchmark's account goes into a copy, never into the caller's store
            src, dst = sqlite3.connect(db), sqlite3.connect(tmp / db.name)
            src.backup(dst)
            src.close()
            dst.close()
            db = tmp / db.name
        store = Store(db)
        token = add_user(store, "http-benchmark", "viewer")
        store.close()
        district = load_district(db)
        rng = np.random.default_rng(args.seed)
        pts = street_points(district, args.points, args.seed)
        queries = [f"lon={x:.6f}&lat={y:.6f}&crs=wgs84" for x, y in pts]
        scripts = {
            "noop": write_paths(tmp, "noop", ["/api/v1/_noop"], token),
            "lookup": write_paths(tmp, "lookup", [f"/api/v1/lookup?{q}" for q in queries], token),
            "noop_query": write_paths(tmp, "noop_query", [f"/api/v1/_noop?{q}" for q in queries], token),
            "members": write_paths(tmp, "members", [
                f"/api/v1/members/{m}" for m in rng.choice(district.members["id"].to_numpy(), 2000)], token),
            "grids": write_paths(tmp, "grids", [
                f"/api/v1/grids/{c}" for c in rng.choice(district.grids["code"].to_numpy(), 2000)], token),
            "coverage": write_paths(tmp, "coverage", ["/api/v1/coverage"], token),
        }
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        proc = start_server(db, port, args.workers)
        try:
            for name in scripts:  # warm every route (caches, first-request costs)
                wrk(url, scripts[name], 1, args.connections, args.threads)
            runs: dict[str, list[dict]] = {}
            # the no-op and the lookup alternate in short slices, so that whatever else the
            # machine does weighs on both alike; the other routes follow, one slice each
            slice_s = max(1, round(args.duration / args.slices))  # wrk takes whole seconds
            sliced = ["noop", "lookup", "noop_query"]
            order = sliced * args.slices + ["members", "grids", "coverage"]
            for name in order:
                secs = slice_s if name in sliced else args.duration
                runs.setdefault(name, []).append(
                    wrk(url, scripts[name], secs, args.connections, args.threads, proc.pid))
        finally:
            proc.terminate()
            proc.wait(20)

    best = {name: pooled(rs) for name, rs in runs.items()}
    for name, r in best.items():
        print(f"{name:9s} {r['rps']:9.1f} req/s  p50 {r['p50_ms']:6.2f} ms  "
              f"p90 {r['p90_ms']:6.2f} ms  p99 {r['p99_ms']:6.2f} ms  "
              f"max {r['max_ms']:7.2f} ms  server CPU {r['cpu_us']:6.1f} us/req  errors {r['errors']}")
    bad = {name: r["errors"] for name, r in best.items() if r["errors"]}
    if bad:
        print(f"runs with errors or non-2xx answers: {bad}")
    noop, lookup = best["noop"], best["lookup"]
    out = {
        "lookup_rps": lookup["rps"], "noop_rps": noop["rps"],
        "ratio": round(lookup["rps"] / noop["rps"], 3),
        "lookup_p50_ms": lookup["p50_ms"], "lookup_p99_ms": lookup["p99_ms"],
        "noop_p99_ms": noop["p99_ms"],
        "noop_query_rps": best["noop_query"]["rps"],
        "ratio_same_query": round(lookup["rps"] / best["noop_query"]["rps"], 3),
        "lookup_cpu_us": lookup["cpu_us"], "noop_cpu_us": noop["cpu_us"],
        "noop_query_cpu_us": best["noop_query"]["cpu_us"],
        "cpu_ratio": round(noop["cpu_us"] / lookup["cpu_us"], 3),
        "tool": f"wrk -t{args.threads} -c{args.connections} (no-op and lookup: {args.slices} "
                f"alternating {slice_s} s runs each; other routes: {args.duration} s)",
        "workers": args.workers,
    }
    for name in ("members", "grids", "coverage"):
        out[f"{name}_rps"] = best[name]["rps"]
        out[f"{name}_p99_ms"] = best[name]["p99_ms"]
        out[f"{name}_ratio"] = round(best[name]["rps"] / noop["rps"], 3)
    out["errors"] = sum(bad.values())
    print(json.dumps(out))


if __name__ == "__main__":
    main()
