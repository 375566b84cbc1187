"""The two store backends side by side: build time and ``/api/v1/lookup`` latency.

Builds the reference store as a GeoPackage file (in a temporary folder) and into a new
PostGIS database (``gg_bench_<random>`` on ``--server``, dropped at the end), then serves each
in turn (uvicorn, one worker) and sends ``--requests`` single lookups one after the other
with httpx (seeded random points inside the street, one connection kept alive), after a
warm-up. The lookup is answered from the locator in the service's memory on both backends, so
the two latencies should agree; the build differs by how fast each database takes the rows.
The last line printed is one JSON object.

    .venv/bin/python -m benchmarks.backends [--requests 400] [--server postgresql+psycopg://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import numpy as np
import shapely
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from geo_grid.auth.users import add_user
from geo_grid.store import Store, build_store, load_district
from geo_grid.store.backend import locate


def _admin(server: str, sql: str) -> None:
    engine = create_engine(server, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql(sql)
    finally:
        engine.dispose()


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _lookups(db, points: np.ndarray, n: int, warmup: int = 50) -> dict:
    store = Store(db)
    try:
        token = add_user(store, f"bench-{uuid.uuid4().hex[:6]}", "viewer")
    finally:
        store.close()
    port = _port()
    env = {**os.environ, "GEO_GRID_DB": str(db), "GEO_GRID_BUILD_IF_MISSING": "false"}
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory",
                             "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
                             "--no-access-log"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.time() + 120
        while True:
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
            if time.time() > deadline or proc.poll() is not None:
                raise RuntimeError("the service did not start")
        times = []
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}) as http:
            for i in range(warmup + n):
                x, y = points[i % len(points)]
                t0 = time.perf_counter()
                r = http.get("/api/v1/lookup", params={"lon": x, "lat": y, "crs": "cgcs2000"})
                dt = time.perf_counter() - t0
                if r.status_code != 200:
                    raise RuntimeError(f"lookup answered {r.status_code}: {r.text[:200]}")
                if i >= warmup:
                    times.append(dt * 1000)
        t = np.asarray(times)
        return {"requests": n, "p50_ms": round(float(np.percentile(t, 50)), 2),
                "p95_ms": round(float(np.percentile(t, 95)), 2),
                "mean_ms": round(float(t.mean()), 2)}
    finally:
        proc.terminate()
        proc.wait(30)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=400)
    ap.add_argument("--server", default=os.environ.get(
        "GEO_GRID_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"))
    args = ap.parse_args()
    name = f"gg_bench_{uuid.uuid4().hex[:10]}"
    url = locate(make_url(args.server).set(database=name).render_as_string(hide_password=False))
    out: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        gpkg = Path(tmp) / "bench.gpkg"
        try:
            for label, db in (("gpkg", gpkg), ("postgis", url)):
                t0 = time.perf_counter()
                build_store(db)
                out[f"{label}_build_s"] = round(time.perf_counter() - t0, 2)
                print(f"{label}: built in {out[f'{label}_build_s']} s", flush=True)
            district = load_district(gpkg)
            street = district.street.geometry.union_all()  # every street of the store
            rng = np.random.default_rng(7)
            x0, y0, x1, y1 = street.bounds
            pts = np.column_stack([rng.uniform(x0, x1, 4000), rng.uniform(y0, y1, 4000)])
            pts = pts[shapely.contains_xy(street, pts[:, 0], pts[:, 1])]
            for label, db in (("gpkg", gpkg), ("postgis", url)):
                lat = _lookups(db, pts, args.requests)
                out[f"{label}_lookup"] = lat
                print(f"{label}: lookup p50 {lat['p50_ms']} ms, p95 {lat['p95_ms']} ms "
                      f"({lat['requests']} requests)", flush=True)
        finally:
            _admin(args.server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print(json.dumps(out))


if __name__ == "__main__":
    main()
