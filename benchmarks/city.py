"""City-scale benchmark: the generated Wuxi city on both store backends, every cost in one run.

Builds the city once (``boundaries/generate.py --city wuxi`` into the layers, then a GeoPackage
store as :mod:`benchmarks._citystore` builds one), copies it to a fresh PostGIS database with
``geo-grid migrate`` (dropped at the end), and measures, printing each figure as it comes with its
baseline:

- ``lookup_pts_per_s``: ``--points`` seeded random points inside the city outline answered by
  the locator's vectorised lookup (:meth:`geo_grid.locator.GridLocator.locate`, best of 3), against
  ``geopandas.sjoin(predicate="within")`` on a subsample in the same run (answers compared);
- ``http_lookup_rps_gpkg`` / ``_postgis``: ``GET /api/v1/lookup`` with wrk as
  ``benchmarks/http.py`` loads it (its functions: 2 workers, a viewer token, gzip, a Lua script
  cycling through seeded points), both services up at once and their slices alternating so
  that the machine's other load weighs on both alike; the no-op route on the GeoPackage service
  is the ceiling;
- ``rebalance_s`` / ``rebalance_peak_mib``: a 20 % outage rebalance of the city's current
  assignment, in a subprocess whose peak resident memory is reset (``/proc/self/clear_refs``)
  after the store is loaded, so the peak is the rebalance's own (with the district it works on);
- ``coverage_s``: the coverage figures (:func:`geo_grid.figures.district_figures`) and the
  ``/api/v1/coverage`` body built from them;
- ``map_bytes_on_wire`` / ``map_first_render_s``: ``benchmarks/maps.py --city`` (the tiled
  page in Chromium) run on the same store when it has a city mode, else the inline coverage
  page's gzip size and no first render.

``--scale district`` (``--district CODE``) and ``--scale street`` (the reference street,
``geo-grid init``) measure the same figures on the smaller layouts (docs/scaling.md);
``--province K`` also builds the locator over K copies of the city's grids side by side (about a
province) and times the lookup there. The LAST line printed is one JSON object.

    .venv/bin/python benchmarks/city.py [--keep DIR] [--skip-postgis] [--points N]
        [--scale city|district|street] [--district 320214] [--skip-maps] [--province K]
"""

from __future__ import annotations

import sys
from pathlib import Path

# run as a script, this folder comes first on sys.path: a sibling module named like a standard
# one (benchmarks/http.py) would shadow it, so the repository root replaces the folder
ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "benchmarks"]

import argparse  # noqa: E402
import contextlib  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402

import numpy as np  # noqa: E402

PG_SERVER = os.environ.get("GEO_GRID_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
FRACTION, SEED = 0.2, 1


def rss_mib() -> float:
    """Current resident memory of this process (MiB)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def hwm_mib() -> float:
    """Peak resident memory of this process since start or the last :func:`reset_peak` (MiB)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_peak() -> None:
    """Reset the peak resident memory (Linux: writing 5 to clear_refs resets VmHWM)."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def tree_rss_mib(pid: int) -> float:
    """Resident memory of process ``pid`` and its descendants (MiB)."""
    kids: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rpartition(")")[2].split()[1])
            except OSError:
                continue
            kids.setdefault(ppid, []).append(int(entry.name))
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        todo.extend(kids.get(p, ()))
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def mem_available_mib() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) / 1024
    return float("inf")


def dir_mib(path: Path) -> float:
    return path.stat().st_size / 2**20


# ----------------------------------------------------------------------------- building

def build_gpkg(scale: str, district: str, work: Path, res: dict) -> Path:
    """The GeoPackage store of the scale in ``work`` (reused when there, with the build figures
    it was made with, from ``build.json``)."""
    db = work / "city.gpkg"
    info = work / "build.json"
    if db.exists() and info.exists():
        res.update(json.loads(info.read_text()))
        res["reused"] = str(work)
        print(f"reusing {db} (built earlier: {json.loads(info.read_text())})", flush=True)
        return db
    work.mkdir(parents=True, exist_ok=True)
    built: dict = {}
    if scale == "street":
        from geo_grid.store import build_store
        t = time.perf_counter()
        build_store(db)
        built["build_s"] = round(time.perf_counter() - t, 1)
    else:
        from benchmarks._citystore import build_city_store, generate
        if (work / "manifest.json").exists() and (work / "buildings.geojson").exists():
            print(f"reusing the generated layers in {work}", flush=True)
        else:
            t = time.perf_counter()
            generate(work, None if scale == "city" else district)
            built["generate_s"] = round(time.perf_counter() - t, 1)
            print(f"generated the layers in {built['generate_s']} s", flush=True)
        built["addresses_prefixed"] = unique_addresses(work)
        s = build_city_store(work, db)
        built["build_s"] = s["seconds"]
    built["gpkg_mib"] = round(dir_mib(db), 1)
    print(f"GeoPackage store built in {built['build_s']} s, {built['gpkg_mib']} MiB", flush=True)
    info.write_text(json.dumps(built))
    res.update(built)
    return db


def unique_addresses(work: Path) -> int:
    """Make the generated buildings' addresses unique in the layer file (see
    :func:`benchmarks._citystore.unique_addresses`); returns how many buildings were renamed
    (0: the file is left as it is)."""
    import pyogrio

    from benchmarks._citystore import unique_addresses as renamed

    path = work / "buildings.geojson"
    streets = pyogrio.read_dataframe(work / "streets.geojson", read_geometry=False)
    b, n = renamed(pyogrio.read_dataframe(path), streets)
    if n:
        pyogrio.write_dataframe(b, path, driver="GeoJSON")
        print(f"{n:,} repeated building addresses prefixed with their district and street", flush=True)
    return n


def admin_sql(sql: str, fetch: bool = False):
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool
    engine = create_engine(PG_SERVER, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        with engine.connect() as conn:
            r = conn.exec_driver_sql(sql)
            return r.scalar() if fetch else None
    finally:
        engine.dispose()


def migrate_postgis(gpkg: Path, res: dict) -> str:
    """Copy the store into a fresh database with ``geo-grid migrate``; its URL."""
    from sqlalchemy.engine import make_url
    name = f"gg_city_{uuid.uuid4().hex[:10]}"
    url = make_url(PG_SERVER).set(database=name).render_as_string(hide_password=False)
    t = time.perf_counter()
    subprocess.run([str(Path(sys.executable).with_name("geo-grid")), "migrate", "--from", str(gpkg),
                    "--to", url], check=True, cwd=ROOT, capture_output=True, text=True)
    res["migrate_s"] = round(time.perf_counter() - t, 1)
    res["postgis_mib"] = round(admin_sql(f"SELECT pg_database_size('{name}')", fetch=True) / 2**20, 1)
    print(f"PostGIS copy (geo-grid migrate) in {res['migrate_s']} s, database {res['postgis_mib']} MiB",
          flush=True)
    return url


def drop_postgis(url: str) -> None:
    from sqlalchemy.engine import make_url
    admin_sql(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')


# ----------------------------------------------------------------------------- in process

def outline_points(outline, n: int, seed: int) -> np.ndarray:
    """``n`` seeded uniform points inside ``outline`` (lon/lat)."""
    import shapely
    shapely.prepare(outline)
    x0, y0, x1, y1 = outline.bounds
    rng = np.random.default_rng(seed)
    share = max(outline.area / ((x1 - x0) * (y1 - y0)), 0.05)
    parts, got = [], 0
    while got < n:
        m = int((n - got) / share * 1.2) + 1000
        xy = np.column_stack([rng.uniform(x0, x1, m), rng.uniform(y0, y1, m)])
        xy = xy[shapely.contains_xy(outline, xy[:, 0], xy[:, 1])]
        parts.append(xy)
        got += len(xy)
    return np.vstack(parts)[:n]


def locator_bytes(loc) -> int:
    """Bytes of the locator's own index arrays (the polygons are the layer's, shared)."""
    n = loc.raster.nbytes + loc.cand_ptr.nbytes + loc.cand_idx.nbytes + loc.cand_closed.nbytes
    if loc._flat is not None:
        n += len(loc._flat) * loc._flat.itemsize
    return n + loc.codes.nbytes


def raster_cells(district, cell_deg: float) -> int:
    """Cells of the locator's raster over the grids' bounding box (as GridLocator.build cuts it)."""
    minx, miny, maxx, maxy = district.grids.total_bounds
    return (int(np.ceil((maxx - minx + cell_deg) / cell_deg)) + 1) * (
        int(np.ceil((maxy - miny + cell_deg) / cell_deg)) + 1)


def measure_lookup(district, n_points: int, sjoin_points: int, res: dict,
                   cell_deg: float = 1e-4) -> np.ndarray:
    import geopandas as gpd
    import pandas as pd

    from geo_grid.locator import GridLocator

    grids = district.grids[["code", "geometry"]]
    res["locator_cell_deg"] = cell_deg
    res["locator_cells"] = raster_cells(district, cell_deg)
    res["locator_cells_service"] = raster_cells(district, 1e-4)
    gc.collect()
    r0 = rss_mib()
    reset_peak()
    t = time.perf_counter()
    loc = GridLocator.build(grids["code"], grids.geometry.array, cell_deg=cell_deg)
    res["locator_build_s"] = round(time.perf_counter() - t, 3)
    res["locator_rss_mib"] = round(rss_mib() - r0, 1)
    res["locator_build_peak_mib"] = round(hwm_mib() - r0, 1)
    res["locator_build_bytes_per_cell"] = round(res["locator_build_peak_mib"] * 2**20 / res["locator_cells"])
    res["locator_index_mib"] = round(locator_bytes(loc) / 2**20, 1)
    res["locator_bytes_per_grid"] = round(locator_bytes(loc) / len(grids))
    print(f"locator: built in {res['locator_build_s']} s, index {res['locator_index_mib']} MiB "
          f"({res['locator_bytes_per_grid']:,} B per grid; RSS +{res['locator_rss_mib']} MiB, "
          f"build peak +{res['locator_build_peak_mib']:,} MiB), raster {loc.nx}x{loc.ny} cells of "
          f"{cell_deg:g} deg", flush=True)

    outline = district.street.geometry.union_all()  # every street of the store
    pts = outline_points(outline, n_points, 42)
    x, y = pts[:, 0].copy(), pts[:, 1].copy()
    runs = []
    for _ in range(3):
        t = time.perf_counter()
        ours = loc.locate(x, y)
        runs.append(time.perf_counter() - t)
    res["lookup_pts_per_s"] = round(n_points / min(runs))
    k = min(sjoin_points, n_points)
    t = time.perf_counter()
    sub = gpd.GeoDataFrame(geometry=gpd.points_from_xy(x[:k], y[:k]), crs=grids.crs)
    joined = gpd.sjoin(sub, grids, predicate="within", how="left")
    sjoin_s = time.perf_counter() - t
    joined = joined[~joined.index.duplicated(keep="first")]
    theirs = np.array([None if pd.isna(c) else c for c in joined["code"].to_numpy()], dtype=object)
    res["sjoin_pts_per_s"] = round(k / sjoin_s)
    res["lookup_vs_sjoin"] = round(res["lookup_pts_per_s"] / res["sjoin_pts_per_s"], 1)
    res["lookup_identical_to_sjoin"] = bool((loc.codes_of(ours[:k]) == theirs).all())
    res["lookup_covered_share"] = round(float((ours >= 0).mean()), 4)
    print(f"lookup: {res['lookup_pts_per_s']:,} pts/s over {n_points:,} points (best of 3) vs "
          f"geopandas.sjoin {res['sjoin_pts_per_s']:,} pts/s on {k:,}: x{res['lookup_vs_sjoin']}; "
          f"identical: {res['lookup_identical_to_sjoin']}", flush=True)
    return pts


def measure_province(district, copies: int, n_points: int, res: dict) -> None:
    """The locator over ``copies`` copies of the grids laid side by side (a province-sized
    layout of the measured city: same shapes, offset in longitude and latitude)."""
    import shapely

    from geo_grid.locator import GridLocator

    g = district.grids
    x0, y0, x1, y1 = g.total_bounds
    w, h = x1 - x0, y1 - y0
    side = int(np.ceil(np.sqrt(copies)))
    geoms, codes = [], []
    base = g.geometry.to_numpy()
    for i in range(copies):
        dx, dy = (i % side) * w, (i // side) * h
        geoms.append(shapely.transform(base, lambda c, dx=dx, dy=dy: c + [dx, dy]))
        codes.append(np.char.add(f"{i:03d}", g["code"].astype(str).to_numpy().astype(str)))
    geoms = np.concatenate(geoms)
    codes = np.concatenate(codes)
    gc.collect()
    r0 = rss_mib()
    t = time.perf_counter()
    loc = GridLocator.build(codes, geoms)
    build_s = time.perf_counter() - t
    rng = np.random.default_rng(43)
    px = rng.uniform(x0, x0 + side * w, n_points)
    py = rng.uniform(y0, y0 + int(np.ceil(copies / side)) * h, n_points)
    runs = []
    for _ in range(3):
        t = time.perf_counter()
        loc.locate(px, py)
        runs.append(time.perf_counter() - t)
    res["province"] = {
        "copies": copies, "grids": len(codes), "locator_build_s": round(build_s, 2),
        "locator_index_mib": round(locator_bytes(loc) / 2**20, 1),
        "locator_bytes_per_grid": round(locator_bytes(loc) / len(codes)),
        "locator_rss_mib": round(rss_mib() - r0, 1),
        "lookup_pts_per_s": round(n_points / min(runs)),
        "note": "K copies of the city's grids offset side by side; points uniform over their "
                "bounding box (outside cells included)"}
    print(f"province layout ({copies} copies, {len(codes):,} grids): {res['province']}", flush=True)


def measure_coverage(district, res: dict) -> None:
    from api.views import Body, coverage_totals
    from geo_grid.figures import coverage_tables, district_figures, records

    t = time.perf_counter()
    fig = district_figures(district)
    t_fig = time.perf_counter() - t
    cov = coverage_tables(fig)
    r = records(fig.grid[["community_code", "team", "losses_tolerated", "fragile"]]
                .sort_values(["losses_tolerated"], kind="stable"), "grid_code")
    body = Body.of({"totals": coverage_totals(fig), "district": fig.district, "grids": cov["grid"],
                    "communities": cov["community"], "resilience": r,
                    "fragile_grids": fig.fragile_grids()})
    res["coverage_s"] = round(time.perf_counter() - t, 2)
    res["coverage_figures_s"] = round(t_fig, 2)
    res["coverage_body_bytes_gzip"] = len(body.gz or body.plain)
    print(f"coverage: figures {t_fig:.2f} s, with the /api/v1/coverage body {res['coverage_s']} s "
          f"({len(body.plain):,} B, {res['coverage_body_bytes_gzip']:,} B gzip)", flush=True)


def rebalance_child(db: str) -> None:
    """Subprocess: load the store, reset the peak memory, run the 20 % outage rebalance of the
    current assignment; print one JSON line."""
    from geo_grid.assign import Params, rebalance_problem
    from geo_grid.assign.inputs import problem_from_district
    from geo_grid.assign.rebalance import draw_unavailable
    from geo_grid.store import load_district

    params = Params()
    t = time.perf_counter()
    district = load_district(db)
    problem, _ = problem_from_district(district, params)
    load_s = time.perf_counter() - t
    gc.collect()
    base = rss_mib()
    reset_peak()
    out = draw_unavailable(problem.member_ids, problem.available, FRACTION, SEED)
    t, c = time.perf_counter(), time.process_time()
    kept = rebalance_problem(problem, params, unavailable=out,
                             sealed=np.zeros(problem.n_buildings, bool), demand=problem.demand)
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    s = kept.summary
    print(json.dumps({
        "rebalance_s": round(wall, 2), "rebalance_cpu_s": round(cpu, 2),
        "rebalance_peak_mib": round(hwm_mib(), 1), "rebalance_rss_before_mib": round(base, 1),
        "rebalance_peak_over_loaded_mib": round(hwm_mib() - base, 1),
        "rebalance_load_s": round(load_s, 2), "rebalance_unavailable": int(out.sum()),
        "rebalance_moves": s["moves"], "rebalance_uncovered_buildings": s["uncovered_buildings"],
        "rebalance_arcs": s["n_arcs"]}))


def measure_rebalance(db: Path, res: dict) -> None:
    run = subprocess.run([sys.executable, __file__, "--_rebalance", str(db)], cwd=ROOT,
                         capture_output=True, text=True)
    if run.returncode:
        print(f"rebalance failed: {run.stderr[-2000:]}", flush=True)
        res["rebalance_error"] = run.stderr.strip().splitlines()[-1] if run.stderr else "failed"
        return
    r = json.loads(run.stdout.strip().splitlines()[-1])
    res.update(r)
    print(f"rebalance (20 % out, {r['rebalance_unavailable']:,} members): {r['rebalance_s']} s "
          f"(CPU {r['rebalance_cpu_s']} s), peak {r['rebalance_peak_mib']:,} MiB "
          f"({r['rebalance_peak_over_loaded_mib']:,} MiB over the loaded store), "
          f"moves {r['rebalance_moves']:,}, uncovered {r['rebalance_uncovered_buildings']:,}", flush=True)


# ----------------------------------------------------------------------------- HTTP

def stop(proc: subprocess.Popen) -> None:
    """Stop a service and its workers (its own process group: a worker still building its
    locator does not act on SIGTERM, so the group is killed after 20 s)."""
    import signal
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(20)
    except ProcessLookupError:
        pass


def start_server(bh, db, port: int, workers: int, deadline_s: float = 900) -> subprocess.Popen:
    """As ``benchmarks/http.py`` starts it, with a longer wait (and a longer worker health-check
    timeout): at district and city scale each worker builds its locator and views for a minute
    or more before it answers."""
    import urllib.request
    env = {**os.environ, "GEO_GRID_DB": str(db), "GEO_GRID_BUILD_IF_MISSING": "false"}
    cmd = [sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory",
           "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
           "--loop", "uvloop", "--http", "httptools", "--no-access-log", "--log-level", "warning",
           # a worker building its locator answers the supervisor's ping late: with the default
           # 5 s it is killed and restarted, again and again, on a busy machine
           "--timeout-worker-healthcheck", "600"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True)
    deadline, ok = time.time() + deadline_s, 0
    while ok < 4 * workers:  # several answers in a row: every worker has started
        if proc.poll() is not None or time.time() > deadline:
            stop(proc)
            raise RuntimeError("the server exited" if proc.poll() else "the server did not start")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                ok += r.status == 200
        except OSError:
            ok = 0
            time.sleep(0.5)
    bh.wait_idle(proc.pid, deadline)  # every worker loaded, not only the first to answer
    return proc


def run_slices(bh, order, urls, scripts, procs, seconds, slices, runs) -> None:
    """A one-second warm-up of each (service, route), then ``slices`` rounds of them."""
    for label, name in order:
        bh.wrk(urls[label], scripts[name], 1, 64, 2)
    for _ in range(slices):
        for label, name in order:
            runs.setdefault(name, []).append(
                bh.wrk(urls[label], scripts[name], seconds, 64, 2, procs[label].pid))


def measure_http(dbs: dict[str, object], pts: np.ndarray, seconds: int, slices: int, res: dict,
                 together: bool = False) -> None:
    """The service on each backend (2 workers), loaded with wrk: one after the other, or with
    ``together`` both up at once and their slices alternating (fairer under a varying load,
    twice the memory)."""
    import urllib.request

    import benchmarks.http as bh
    from geo_grid.auth.users import add_user
    from geo_grid.store import Store

    tmp = Path(tempfile.mkdtemp(prefix="gg-city-http-"))
    queries = [f"/api/v1/lookup?lon={x:.6f}&lat={y:.6f}&crs=wgs84" for x, y in pts[:10_000]]
    procs, urls, scripts = {}, {}, {}
    runs: dict[str, list[dict]] = {}
    try:
        for label, db in dbs.items():
            store = Store(db)
            try:
                token = add_user(store, f"city-bench-{uuid.uuid4().hex[:6]}", "viewer")
            finally:
                store.close()
            scripts[label] = bh.write_paths(tmp, f"lookup_{label}", queries, token)
            if label == "gpkg":
                scripts["noop"] = bh.write_paths(tmp, "noop", ["/api/v1/_noop"], token)
                res["_token"] = token
            port = bh.free_port()
            t = time.perf_counter()
            procs[label] = start_server(bh, db, port, 2)
            urls[label] = f"http://127.0.0.1:{port}"
            res[f"http_start_s_{label}"] = round(time.perf_counter() - t, 1)
            res[f"http_rss_mib_{label}"] = round(tree_rss_mib(procs[label].pid), 1)
            print(f"service on {label}: up in {res[f'http_start_s_{label}']} s, "
                  f"{res[f'http_rss_mib_{label}']:,} MiB resident (2 workers)", flush=True)
            if label == "gpkg":  # the inline coverage page, as a browser gets it (gzip)
                req = urllib.request.Request(urls["gpkg"] + "/", headers={
                    "Authorization": f"Bearer {res.pop('_token')}", "Accept-Encoding": "gzip"})
                t = time.perf_counter()
                with urllib.request.urlopen(req, timeout=600) as r:
                    body = r.read()
                res["inline_page_bytes_gzip"] = len(body)
                res["inline_page_build_s"] = round(time.perf_counter() - t, 2)
                print(f"inline coverage page: {len(body):,} B gzip (first answer "
                      f"{res['inline_page_build_s']} s)", flush=True)
            if not together:  # one service at a time (memory): its slices, then stop it
                run_slices(bh, [("gpkg", "noop")] * (label == "gpkg") + [(label, label)],
                           urls, scripts, procs, seconds, slices, runs)
                stop(procs.pop(label))
        if together:
            order = [("gpkg", "noop")] if "gpkg" in urls else []
            run_slices(bh, order + [(label, label) for label in dbs], urls, scripts, procs,
                       seconds, slices, runs)
    finally:
        for p in procs.values():
            stop(p)
        shutil.rmtree(tmp, ignore_errors=True)
    best = {name: bh.pooled(rs) for name, rs in runs.items()}
    for name, r in best.items():
        key = "http_noop_rps" if name == "noop" else f"http_lookup_rps_{name}"
        res[key] = r["rps"]
        if name != "noop":
            res[f"http_lookup_p99_ms_{name}"] = r["p99_ms"]
            res[f"http_lookup_cpu_us_{name}"] = r["cpu_us"]
        res.setdefault("http_errors", 0)
        res["http_errors"] += r["errors"]
        print(f"HTTP {name:7s} {r['rps']:9.1f} req/s  p50 {r['p50_ms']:.2f} ms  p99 {r['p99_ms']:.2f} ms"
              f"  server CPU {r['cpu_us']:.0f} us/req  errors {r['errors']}", flush=True)
    if "noop" in best:
        res["http_lookup_vs_noop"] = round(best["gpkg"]["rps"] / best["noop"]["rps"], 3)
    if "postgis" in best and "gpkg" in best:
        res["http_postgis_vs_gpkg"] = round(best["postgis"]["rps"] / best["gpkg"]["rps"], 3)
        res["http_postgis_vs_gpkg_cpu"] = round(best["gpkg"]["cpu_us"] / best["postgis"]["cpu_us"], 3)
        print(f"HTTP lookup PostGIS / GeoPackage: {res['http_postgis_vs_gpkg']} req/s "
              f"(server CPU per request: {res['http_postgis_vs_gpkg_cpu']}; target >= 0.8)", flush=True)


# ----------------------------------------------------------------------------- maps

def measure_maps(work: Path, scale: str, district_code: str, res: dict, timeout: int) -> None:
    """``benchmarks/maps.py --city`` on the same store (when maps.py has a city mode)."""
    import benchmarks.maps as bm
    if scale == "street" or not hasattr(bm, "city_main"):
        res["map_bytes_on_wire"] = res.get("inline_page_bytes_gzip")
        res["map_first_render_s"] = None
        res["map_note"] = "inline coverage page, gzip size; no first render measured"
        print(f"maps: {res['map_note']}", flush=True)
        return
    cmd = [sys.executable, str(ROOT / "benchmarks" / "maps.py"), "--city", "--work", str(work),
           "--district", "all" if scale == "city" else district_code, "--runs", "1", "--pans", "5"]
    print(f"maps: {' '.join(cmd[1:])}", flush=True)
    try:
        run = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        run = None
    if run is None or run.returncode:
        res["map_bytes_on_wire"] = res.get("inline_page_bytes_gzip")
        res["map_first_render_s"] = None
        res["map_note"] = ("benchmarks/maps.py --city " + ("timed out" if run is None else "failed: " + (
            run.stderr.strip().splitlines() or ["?"])[-1]) + "; inline page gzip size instead")
        print(f"maps: {res['map_note']}", flush=True)
        return
    m = json.loads(run.stdout.strip().splitlines()[-1])
    res["map_bytes_on_wire"] = m.get("page_bytes_on_wire")
    res["map_first_render_s"] = m.get("first_render_s")
    res["map_baseline_bytes_on_wire"] = m.get("baseline_page_bytes_on_wire")
    res["map_baseline_first_render_s"] = m.get("baseline_first_render_s")
    res["map_max_blank_tile_ms"] = m.get("max_blank_tile_ms")
    if res["map_bytes_on_wire"] is None:
        res["map_bytes_on_wire"] = res.get("inline_page_bytes_gzip")
        res["map_note"] = "no browser run; inline page gzip size"
    print(f"maps (tiled page): {res['map_bytes_on_wire']} B on the wire, first render "
          f"{res['map_first_render_s']} s; inline page baseline {res.get('map_baseline_bytes_on_wire')} B, "
          f"{res.get('map_baseline_first_render_s')} s", flush=True)


# ----------------------------------------------------------------------------- main

KEYS = ("grids", "buildings", "members", "lookup_pts_per_s", "http_lookup_rps_gpkg",
        "http_lookup_rps_postgis", "rebalance_s", "rebalance_peak_mib", "coverage_s",
        "map_bytes_on_wire", "map_first_render_s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", choices=("city", "district", "street"), default="city")
    ap.add_argument("--district", default="320214", help="with --scale district: its code")
    ap.add_argument("--keep", type=Path, default=None,
                    help="folder for the layers and the store, reused when it holds them")
    ap.add_argument("--skip-postgis", action="store_true")
    ap.add_argument("--skip-http", action="store_true")
    ap.add_argument("--skip-rebalance", action="store_true")
    ap.add_argument("--skip-maps", action="store_true")
    ap.add_argument("--points", type=int, default=1_000_000)
    ap.add_argument("--sjoin-points", type=int, default=100_000)
    ap.add_argument("--http-seconds", type=int, default=3, help="seconds per wrk slice")
    ap.add_argument("--slices", type=int, default=3)
    ap.add_argument("--http-together", action="store_true",
                    help="both services up at once, slices alternating (twice the memory)")
    ap.add_argument("--cell", type=float, default=1e-4,
                    help="locator raster cell (degrees) of the in-process lookup; the service "
                         "builds it at 1e-4 (the city: about 45 s and 0.4 GiB per worker)")
    ap.add_argument("--province", type=int, default=0, help="also the locator over K city copies")
    ap.add_argument("--maps-timeout", type=int, default=900)
    ap.add_argument("--_rebalance", default=None, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a._rebalance:
        rebalance_child(a._rebalance)
        return

    res: dict = {"scale": a.scale}
    if a.scale == "district":
        res["district"] = a.district
    work = a.keep or Path(tempfile.mkdtemp(prefix=f"gg-{a.scale}-"))
    pg_url = None
    try:
        gpkg = build_gpkg(a.scale, a.district, work, res)
        if not a.skip_postgis:
            pg_url = migrate_postgis(gpkg, res)

        from geo_grid.store import load_district
        gc.collect()
        r0 = rss_mib()
        t = time.perf_counter()
        district = load_district(gpkg)
        res["load_s"] = round(time.perf_counter() - t, 1)
        res["district_rss_mib"] = round(rss_mib() - r0, 1)
        res.update(grids=len(district.grids), buildings=len(district.buildings),
                   members=len(district.members), households=len(district.households),
                   communities=len(district.communities))
        print(f"{a.scale}: {res['grids']:,} grids, {res['buildings']:,} buildings, "
              f"{res['members']:,} members, {res['communities']:,} communities; store loaded in "
              f"{res['load_s']} s (+{res['district_rss_mib']:,} MiB)", flush=True)

        pts = measure_lookup(district, a.points, a.sjoin_points, res, a.cell)
        if a.province:
            # K copies side by side: a raster about K times the city's (plus the gaps)
            need = a.province * res["locator_cells"] * res["locator_build_bytes_per_cell"] / 2**20
            if need > 0.8 * mem_available_mib():
                res["province_note"] = (f"not run: its locator build would need about "
                                        f"{need:,.0f} MiB, {mem_available_mib():,.0f} MiB available")
                print(f"province: {res['province_note']}", flush=True)
            else:
                measure_province(district, a.province, a.points, res)
        measure_coverage(district, res)
        del district
        gc.collect()
        if not a.skip_rebalance:
            measure_rebalance(gpkg, res)
        # each service process builds the locator at 1e-4 degree: at city scale that build
        # alone needs GiBs; skip what this machine's free memory cannot hold
        per_process = (res["locator_build_bytes_per_cell"] * res["locator_cells_service"] / 2**20
                       + res["district_rss_mib"])
        res["service_process_estimate_mib"] = round(per_process)
        free = mem_available_mib()
        if not a.skip_http and 2 * per_process > 0.8 * free:
            res["http_note"] = (f"not run: 2 workers would need about {2 * per_process:,.0f} MiB "
                                f"(locator build at 1e-4 deg), {free:,.0f} MiB available")
            print(f"HTTP: {res['http_note']}", flush=True)
            a.skip_http = True
        if not a.skip_maps and a.scale != "street" and per_process > 0.8 * free:
            res["map_note"] = (f"benchmarks/maps.py --city not run: its service would need about "
                               f"{per_process:,.0f} MiB, {free:,.0f} MiB available")
            print(f"maps: {res['map_note']}", flush=True)
            a.skip_maps = True
        if not a.skip_http:
            dbs = {"gpkg": gpkg, **({"postgis": pg_url} if pg_url else {})}
            try:
                measure_http(dbs, pts, a.http_seconds, a.slices, res, a.http_together)
            except Exception as exc:  # noqa: BLE001 - the other figures are still printed
                res["http_note"] = f"failed: {exc}"
                print(f"HTTP: {res['http_note']}", flush=True)
    finally:
        if pg_url:
            drop_postgis(pg_url)
    if not a.skip_maps:
        measure_maps(work, a.scale, a.district, res, a.maps_timeout)
    elif res.get("map_bytes_on_wire") is None and res.get("inline_page_bytes_gzip"):
        res["map_bytes_on_wire"] = res["inline_page_bytes_gzip"]
        res.setdefault("map_note", "inline coverage page, gzip size (maps benchmark skipped); "
                                   "no first render measured")
    if a.keep is None:
        shutil.rmtree(work, ignore_errors=True)
    last = {k: res.get(k) for k in KEYS}
    last.update({k: v for k, v in res.items() if k not in last})
    print(json.dumps(last, ensure_ascii=False))


if __name__ == "__main__":
    main()
