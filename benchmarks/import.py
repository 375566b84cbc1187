"""Import benchmark: a city-sized street office's own layers through ``import_store``.

Generates (seeded, :mod:`benchmarks._citygen`) a street of about 8,800 grids in some 300
communities with about 150,000 buildings around 120.4°E 31.5°N — jittered grid outlines that
tile exactly, communities as unions of their grids, unique addresses, households 20–120 — and
writes it as one GeoPackage (four layers) and the buildings also as a zipped Shapefile (UTF-8
``.cpg``) and as GeoJSON. Writing is not measured. Then, in one process:

- ``baseline_s``: the minimum any import must do, ``pyogrio.read_dataframe`` of the four layers
  and ``geopandas.sjoin`` of the buildings to the grids;
- ``validate_s``: :func:`geo_grid.importing.read_layers` (read, convert, check; no store);
- ``import_s``: the whole :func:`geo_grid.importing.import_store` into a new ``.gpkg``;
- ``edit_split_s``: on the imported district, one grid split into 2 parts
  (:func:`geo_grid.editing.split_into_parts`), the edit written as the next boundary version
  (:func:`geo_grid.store.versions.apply_edit`) and the point locator updated for the new grid
  layer (:meth:`geo_grid.locator.GridLocator.with_edit`, what :class:`geo_grid.lookup.Gazetteer`
  does after an edit); its parts follow as ``split_parts_s``, ``apply_edit_s`` and
  ``locator_s``, and the full build the service does once at start as
  ``locator_full_build_s``;
- ``peak_mib``: the process's peak RSS (``ru_maxrss``).

The checks: no import error, the store holds every grid and building, version 2 holds the two
new grids and the split grid's buildings are located in them.

Usage::

    .venv/bin/python benchmarks/import.py [--grids 8800] [--seed N] [--keep DIR]
        [--buildings gpkg|shp|geojson] [--profile FILE]

``--grids 500`` makes a quick run; ``--buildings`` picks the buildings file the measured runs
read (the GeoPackage layer by default); ``--profile FILE`` writes the ``cProfile`` statistics of
a second ``read_layers`` run to FILE. The last line printed is one JSON object whose first keys
are ``buildings``, ``validate_s``, ``import_s``, ``edit_split_s``, ``peak_mib`` (wall clock);
then the same runs' CPU time (``*_cpu_s``: other work on the shared machine inflates the wall
clock, much less this), the import's parts (``import_read_check_s``, ``import_store_write_s``)
and the split's, the baseline and ``ratio_vs_baseline`` (``import_s / baseline_s``), the load
average when the run started and ended, and the targets (import ≤ 60 s, validate ≤ 30 s,
split ≤ 2 s) with whether each is met.
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
import os  # noqa: E402
import resource  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import geopandas as gpd  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pyogrio  # noqa: E402
import shapely  # noqa: E402

from benchmarks._citygen import make_city, write_city  # noqa: E402
from geo_grid.district import LAYERS  # noqa: E402
from geo_grid.editing import split_into_parts  # noqa: E402
from geo_grid.importing import import_store, read_layers  # noqa: E402
from geo_grid.locator import GridLocator  # noqa: E402
from geo_grid.store import Store  # noqa: E402
from geo_grid.store.versions import apply_edit, code_source  # noqa: E402

TARGETS = {"import_s": 60.0, "validate_s": 30.0, "edit_split_s": 2.0}


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far, MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def baseline(files: dict[str, str]) -> float:
    """Seconds to read the four layers with pyogrio and join the buildings to the grids."""
    t = time.perf_counter()
    frames = {}
    for name, spec in files.items():
        path, _, layer = spec.rpartition(":") if spec.endswith(f":{name}") else (spec, "", "")
        frames[name] = pyogrio.read_dataframe(path, layer=layer or None)
    joined = gpd.sjoin(frames["buildings"], frames["grids"][["网格编码", "geometry"]],
                       predicate="intersects", how="left")
    if len(joined) < len(frames["buildings"]):
        raise RuntimeError("the baseline join lost buildings")
    return time.perf_counter() - t


def split_one(db: Path) -> dict:
    """Split a grid into 2 on the imported store; time the split, the write and the locator."""
    store = Store(db)
    t = time.perf_counter()
    district = store.load_district()
    load_s = time.perf_counter() - t
    # the grid in the middle of the code list, a typical one
    codes = sorted(district.grids["code"])
    code = codes[len(codes) // 2]
    base = store.boundary_version()
    # the locator the service holds before the edit (built once when it starts)
    g = district.grids
    tb = time.perf_counter()
    before = GridLocator.build(g["code"].to_numpy(), g.geometry.array)
    build_s = time.perf_counter() - tb

    t0, cpu = time.perf_counter(), time.process_time()
    edit = split_into_parts(district, code, 2, code_source(store))
    t1 = time.perf_counter()
    version = apply_edit(store, edit, base=base, author="benchmark",
                         note=f"split {code} into 2")
    t2 = time.perf_counter()
    # the locator of the new grid layer, updated around the split grid as the service does
    # (GridLocator.with_edit: equal to a full build, see tests/test_locator_edit.py)
    locator = before.with_edit(edit.retired, edit.added["code"], edit.added.geometry.array)
    t3, cpu = time.perf_counter(), time.process_time() - cpu

    # checks: the store's version 2, and the split grid's buildings in the new grids
    added = set(edit.added["code"])
    b = district.buildings[district.buildings["grid_code"] == code]
    pts = shapely.point_on_surface(np.asarray(b.geometry.array))
    found = set(locator.codes_of(locator.locate(shapely.get_x(pts), shapely.get_y(pts))))
    stored = int(pd.read_sql("SELECT count(*) AS n FROM grids", store.engine)["n"].iloc[0])
    store.close()
    return {
        "split_grid": code, "split_buildings": len(b), "new_version": version.id,
        "load_district_s": load_s,
        "split_parts_s": t1 - t0, "apply_edit_s": t2 - t1, "locator_s": t3 - t2,
        "locator_full_build_s": build_s,
        "edit_split_s": t3 - t0, "edit_split_cpu_s": cpu,
        "locator_cells": locator.nx * locator.ny,
        "split_ok": bool(version.id == base + 1 and len(added) == 2 and found == added
                         and stored == len(g) + 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--grids", type=int, default=8_800, help="about this many grids")
    ap.add_argument("--seed", type=int, default=20261201)
    ap.add_argument("--keep", type=Path, default=None, help="write the files and store here")
    ap.add_argument("--buildings", choices=("gpkg", "shp", "geojson"), default="gpkg",
                    help="the buildings file the measured runs read")
    ap.add_argument("--profile", type=Path, default=None,
                    help="write cProfile stats of a second read_layers run here")
    args = ap.parse_args()
    load = os.getloadavg()[0]
    folder = args.keep or Path(tempfile.mkdtemp(prefix="geo-grid-import-"))
    folder.mkdir(parents=True, exist_ok=True)

    t = time.perf_counter()
    city = make_city(args.grids, args.seed)
    gen_s = time.perf_counter() - t
    t = time.perf_counter()
    paths = write_city(city, folder)
    write_s = time.perf_counter() - t
    n_grids, n_buildings = len(city.grids), len(city.buildings)
    n_communities = len(city.communities)
    del city
    print(f"generated {n_grids} grids, {n_communities} communities, {n_buildings} buildings in "
          f"{gen_s:.1f} s, written in {write_s:.1f} s: {folder}")
    files = {k: f"{paths['gpkg']}:{k}" for k in LAYERS}
    if args.buildings != "gpkg":
        files["buildings"] = str(paths["shp_zip" if args.buildings == "shp" else "geojson"])

    baseline_s = baseline(files)
    print(f"baseline pyogrio.read_dataframe ×4 + geopandas.sjoin: {baseline_s:.2f} s")

    t, cpu = time.perf_counter(), time.process_time()
    result = read_layers(files)
    validate_s, validate_cpu_s = time.perf_counter() - t, time.process_time() - cpu
    if result.errors:
        raise SystemExit(f"the generated layers have {len(result.errors)} error(s): "
                         + "; ".join(str(v) for v in result.errors[:5]))
    n_warnings = len(result.warnings)
    del result
    print(f"read_layers: {validate_s:.2f} s (cpu {validate_cpu_s:.2f} s; {n_warnings} warnings)")

    db = folder / "store.gpkg"
    db.unlink(missing_ok=True)
    marks: list[float] = []
    t, cpu = time.perf_counter(), time.process_time()
    imported = import_store(db, files, report_path=folder / "import-report.json",
                            progress=lambda step, n: marks.append(time.perf_counter()))
    import_s, import_cpu_s = time.perf_counter() - t, time.process_time() - cpu
    # the first progress call comes once the layers are read and checked; the rest is the store
    import_read_s = marks[0] - t if marks else float("nan")
    counts = imported.report["counts"]
    del imported
    print(f"import_store: {import_s:.2f} s (cpu {import_cpu_s:.2f} s; read and check "
          f"{import_read_s:.2f} s, store {import_s - import_read_s:.2f} s), store {db} "
          f"{db.stat().st_size / 2**20:.0f} MiB")

    split = split_one(db)
    print(f"split {split['split_grid']} into 2: {split['edit_split_s']:.2f} s (split "
          f"{split['split_parts_s']:.2f} s, apply_edit {split['apply_edit_s']:.2f} s, locator "
          f"{split['locator_s']:.2f} s over {split['locator_cells']} cells); "
          f"loading the district first took {split['load_district_s']:.2f} s")

    if args.profile:
        import cProfile

        cProfile.runctx("read_layers(files)", globals(), {"files": files},
                        filename=str(args.profile))
        print(f"profile of read_layers written to {args.profile}")

    peak = peak_rss_mib()
    figures = {"validate_s": validate_s, "import_s": import_s,
               "edit_split_s": split["edit_split_s"]}
    out = {
        "buildings": n_buildings,
        "validate_s": round(validate_s, 2),
        "import_s": round(import_s, 2),
        "edit_split_s": round(split["edit_split_s"], 3),
        "peak_mib": round(peak),
        "grids": n_grids,
        "communities": n_communities,
        "buildings_format": args.buildings,
        "validate_cpu_s": round(validate_cpu_s, 2),
        "import_cpu_s": round(import_cpu_s, 2),
        "import_read_check_s": round(import_read_s, 2),
        "import_store_write_s": round(import_s - import_read_s, 2),
        "edit_split_cpu_s": round(split["edit_split_cpu_s"], 3),
        "split_parts_s": round(split["split_parts_s"], 3),
        "apply_edit_s": round(split["apply_edit_s"], 3),
        "locator_s": round(split["locator_s"], 3),
        "locator_full_build_s": round(split["locator_full_build_s"], 2),
        "locator_cells": split["locator_cells"],
        "load_district_s": round(split["load_district_s"], 2),
        "baseline_s": round(baseline_s, 2),
        "baseline": "pyogrio.read_dataframe of the 4 layers + geopandas.sjoin(buildings, grids)",
        "ratio_vs_baseline": round(import_s / baseline_s, 2),
        "warnings": n_warnings,
        "store_counts": counts,
        "split_ok": split["split_ok"],
        "load_avg_1m": round(load, 2),
        "load_avg_1m_end": round(os.getloadavg()[0], 2),
        "cores": os.cpu_count(),
        "targets_s": TARGETS,
        "targets_met": {k: bool(figures[k] <= v) for k, v in TARGETS.items()},
    }
    if counts["grids"] != n_grids or counts["buildings"] != n_buildings:
        raise SystemExit(f"the store does not hold every feature: {counts}")
    if args.keep is None:
        shutil.rmtree(folder, ignore_errors=True)
    print(json.dumps(out, ensure_ascii=False))


if __name__ == "__main__":
    main()
