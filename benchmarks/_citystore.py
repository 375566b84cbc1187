"""A store of a whole generated district or city (``boundaries/generate.py --city wuxi``).

The city generator writes every street of the chosen districts (``streets.geojson``), and a
store holds many streets: each street is a row of the store's street layer, its committees'
codes extending its code. The store is built as :func:`geo_grid.store.build_store` builds one —
seeded synthetic households and members, the initial assignment — in one go (adding 88 streets
one by one with ``geo-grid init`` would re-read the store 88 times), with
:func:`geo_grid.store.build.build_store_from`.

    .venv/bin/python benchmarks/_citystore.py --district 320214[,320213...] OUT_DIR   # + OUT_DIR/city.gpkg
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

# run as a script, this folder comes first on sys.path: a sibling module named like a standard
# one (benchmarks/http.py) would shadow it, so the repository root replaces the folder
ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "benchmarks"]

FILES = ("streets", "communities", "grids", "buildings")


def generate(out: Path, district: str | None) -> dict:
    """Run the city generator into ``out`` (whole Wuxi, or the districts of a comma-separated
    list of codes) and return its summary."""
    cmd = [sys.executable, str(ROOT / "boundaries" / "generate.py"), "--city", "wuxi"]
    for code in (district or "").split(","):
        if code.strip():
            cmd += ["--district", code.strip()]
    done = subprocess.run([*cmd, str(out)], check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def unique_addresses(bld, streets):
    """The buildings with unique addresses, as the store and its address matcher require, and
    how many were renamed.

    Across the city, village and compound names repeat from one street to another (东湖村12号
    in two districts; 新桥村12栋 and 新桥村12号 are one address to the matcher,
    :func:`geo_grid.address.match.building_keys`): the compound and address of a building whose
    address or key repeats take its district's and street's names in front, as a postal address
    would (and, still repeated within one street, its code after).
    """
    import pandas as pd

    from geo_grid.address.match import building_keys

    def repeated(b) -> pd.Series:
        keys = pd.Series(building_keys(b["compound"], b["number"]), index=b.index)
        return keys.duplicated(keep=False) | b["address"].duplicated(keep=False)

    dup = repeated(bld)
    if not dup.any():
        return bld, 0
    names = dict(zip(streets["code"].astype(str),
                     streets["district_name"].astype(str) + streets["name"].astype(str), strict=False))
    prefix = bld["code"].astype(str).str[:9].map(names).fillna("")
    bld = bld.copy()
    for col in ("compound", "address"):
        bld.loc[dup, col] = prefix[dup] + bld.loc[dup, col].astype(str)
    again = repeated(bld)  # the same compound and number twice in one street
    for col in ("compound", "address"):
        bld.loc[again, col] = bld.loc[again, col].astype(str) + "（" + bld.loc[again, "code"].astype(str) + "）"
    return bld, int(dup.sum())


def build_city_store(layers_dir: Path, db: Path) -> dict:
    """Build the store ``db`` from the generator's files in ``layers_dir``; counts and seconds."""
    import pyogrio

    from geo_grid.assign import initial_assignment
    from geo_grid.district import District
    from geo_grid.population import PopulationParams, generate_households, generate_members
    from geo_grid.store.build import build_store_from, now_iso

    t0 = time.perf_counter()
    raw = {name: pyogrio.read_dataframe(layers_dir / f"{name}.geojson") for name in FILES}
    streets = raw["streets"]
    code = str(streets["district_code"].min())
    street = streets[["code", "name", "geometry"]].astype({"code": str, "name": str})
    comm, grids, bld = (raw[k].drop(columns=["synthetic"], errors="ignore")
                        for k in ("communities", "grids", "buildings"))
    import dataclasses

    bld, _ = unique_addresses(bld, streets)

    params = PopulationParams()
    # at least one party branch per organisation (one organisation per community at least)
    params = dataclasses.replace(params, branches=max(params.branches, 2 * len(comm)))
    households = generate_households(bld, seed=params.seed)
    district = District(street, comm, grids, bld, households=households)
    members = generate_members(district, params)
    district = District(street, comm, grids, bld, households=households, members=members)
    assignment = initial_assignment(district)
    district = District(street, comm, grids, bld, households=households, members=members,
                        assignment=assignment)
    meta = {"boundaries_version": f"city-{code}", "boundaries": str(layers_dir), "built_at": now_iso(),
            "population_params": json.dumps(params.__dict__),
            "synthetic": "street outline, grids, buildings, households and members are synthetic"}
    build_store_from(db, district, meta, force=True)
    return {"grids": len(grids), "buildings": len(bld), "communities": len(comm),
            "households": len(households), "members": len(members),
            "seconds": round(time.perf_counter() - t0, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("out", type=Path)
    ap.add_argument("--district", default="320214",
                    help="district codes (comma-separated), or 'all' for the city")
    a = ap.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    print(json.dumps(generate(a.out, None if a.district == "all" else a.district)))
    print(json.dumps(build_city_store(a.out, a.out / "city.gpkg")))


if __name__ == "__main__":
    main()
