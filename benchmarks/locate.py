"""Point → grid: our raster locator against geopandas.sjoin, in the same process.

Draws 1M seeded random points over the street's bounding box, answers them with
``GridLocator.locate`` and with ``geopandas.sjoin(points, grids, predicate="within")``, checks the
answers are identical, times single in-process lookups and the index build (best of 3, and the
first build's peak resident memory over the process before it, Linux). The last line printed is
one JSON object.

    .venv/bin/python benchmarks/locate.py [--points N] [--boundaries DIR]
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
import time  # noqa: E402
from contextlib import suppress  # noqa: E402

import geopandas as gpd  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from geo_grid.layers import load_layers  # noqa: E402
from geo_grid.locator import GridLocator  # noqa: E402


def _status_mib(field: str) -> float:
    """A memory figure of this process from /proc/self/status (MiB; NaN where there is none)."""
    with suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--points", type=int, default=1_000_000)
    ap.add_argument("--boundaries", default=None)
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args()

    layers = load_layers(args.boundaries)
    grids = layers.grids[["code", "geometry"]]
    builds = []
    with suppress(OSError):  # reset the peak (VmHWM) to the current resident size
        Path("/proc/self/clear_refs").write_text("5")
    rss0 = _status_mib("VmRSS")
    for _ in range(3):
        t = time.perf_counter()
        loc = GridLocator.build(grids["code"], grids.geometry.array)
        builds.append(time.perf_counter() - t)
        if len(builds) == 1:
            build_peak_mib = _status_mib("VmHWM") - rss0
    build_s = min(builds)

    rng = np.random.default_rng(args.seed)
    minx, miny, maxx, maxy = layers.street.total_bounds
    n = args.points
    x = rng.uniform(minx, maxx, n)
    y = rng.uniform(miny, maxy, n)

    runs = []
    for _ in range(3):
        t = time.perf_counter()
        ours = loc.locate(x, y)
        runs.append(time.perf_counter() - t)
    ours_s = min(runs)

    t = time.perf_counter()
    pts = gpd.GeoDataFrame(geometry=gpd.points_from_xy(x, y), crs=grids.crs)
    joined = gpd.sjoin(pts, grids, predicate="within", how="left")
    sjoin_s = time.perf_counter() - t

    joined = joined[~joined.index.duplicated(keep="first")]
    theirs = np.array([None if pd.isna(c) else c for c in joined["code"].to_numpy()], dtype=object)
    identical = bool((loc.codes_of(ours) == theirs).all())

    k = 100_000
    lat_ns = np.empty(k, dtype=np.int64)
    xs, ys = x[:k].tolist(), y[:k].tolist()
    one = loc.locate_one
    for i in range(k):
        t0 = time.perf_counter_ns()
        one(xs[i], ys[i])
        lat_ns[i] = time.perf_counter_ns() - t0

    covered = float((ours >= 0).mean())
    print(f"grids: {len(grids)}, raster {loc.nx}x{loc.ny} cells of {loc.cell} deg, "
          f"{len(loc.cand_ptr) - 1} boundary cells")
    print(f"index build: {build_s:.3f} s (best of 3), peak +{build_peak_mib:.1f} MiB")
    print(f"ours:  {n / ours_s / 1e6:.2f} M points/s ({ours_s * 1e3:.1f} ms, best of 3)")
    print(f"geopandas.sjoin(predicate='within'): {n / sjoin_s / 1e6:.2f} M points/s ({sjoin_s:.2f} s)")
    print(f"covered share: {covered:.3f}; identical answers: {identical}")
    print(f"single lookup: p50 {np.percentile(lat_ns, 50) / 1e3:.2f} us, "
          f"p99 {np.percentile(lat_ns, 99) / 1e3:.2f} us")
    print(json.dumps({
        "points": n,
        "ours_pts_per_s": round(n / ours_s),
        "sjoin_pts_per_s": round(n / sjoin_s),
        "ratio": round(sjoin_s / ours_s, 1),
        "identical": identical,
        "single_p50_us": round(float(np.percentile(lat_ns, 50)) / 1e3, 3),
        "build_s": round(build_s, 3),
        "build_peak_mib": round(build_peak_mib, 1),
    }))


if __name__ == "__main__":
    main()
