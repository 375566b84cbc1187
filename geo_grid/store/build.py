"""Building the embedded store from the layers plus a synthetic population, atomically."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sqlalchemy import insert

from geo_grid.district import LAYERS, District
from geo_grid.errors import StoreError
from geo_grid.layers import DEFAULT_BOUNDARIES, load_layers
from geo_grid.population import PopulationParams, generate_households, generate_members
from geo_grid.store import schema
from geo_grid.store.backend import bulk_insert, declare, display, locate, open_backend
from geo_grid.topology import validate

Progress = Callable[[str, float], None]


def now_iso() -> str:
    """The current UTC time as an ISO-8601 string with microseconds."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def boundaries_version(folder: Path) -> str:
    """A short hash of the four layer files: changes whenever a boundary changes."""
    h = hashlib.sha256()
    for name in LAYERS:
        h.update((folder / f"{name}.geojson").read_bytes())
    return h.hexdigest()[:16]


def _records(df: pd.DataFrame, columns) -> list[dict]:
    out = df.reindex(columns=list(columns)).copy()
    for c in out.columns:
        if out[c].dtype.kind in "iub":
            out[c] = out[c].astype(object)
        elif out[c].dtype.kind == "f":
            out[c] = out[c].astype(float)
    return out.to_dict("records")


def _multi(geoms):
    return [shapely.MultiPolygon([g]) if g.geom_type == "Polygon" else g for g in geoms]


def fill_store(conn, district: District, *, meta: dict[str, str],
               progress: Progress | None = None) -> None:
    """Create the store's tables on ``conn`` (an empty store, inside a transaction) and write
    the district into them; the same on a GeoPackage and on PostGIS."""
    # the tables' descriptions in gpkg_contents say whether the data are synthetic
    label = "imported" if meta.get("synthetic") == "false" else "synthetic"
    with schema.DDL_LOCK:
        schema.metadata.create_all(conn)
    for name, gtype in schema.FEATURE_TABLES.items():
        gdf: gpd.GeoDataFrame = getattr(district, name)
        table = schema.metadata.tables[name]
        cols = [c.name for c in table.columns
                if c.name not in ("fid", "geom", *schema.VERSION_COLUMNS)]
        rows = _records(gdf.assign(synthetic=gdf.get("synthetic", True)), cols)
        # every footprint as a MultiPolygon: the declared type of the column (a
        # one-part MultiPolygon reads back as a Polygon)
        geoms = list(gdf.geometry.array)
        if gtype == "MULTIPOLYGON":
            geoms = _multi(geoms)
        for r, g in zip(rows, geoms, strict=True):
            r["geom"] = g
        conn.execute(insert(table), rows)
        declare(conn, table, bounds=tuple(gdf.total_bounds), description=f"{name} ({label})")
        if progress:
            progress(f"wrote {name}", 1)
    # an imported street has no households or members yet: an empty insert is skipped
    if len(district.households):
        bulk_insert(conn, schema.households, _records(
            district.households,
            [c.name for c in schema.households.columns if c.name != "fid"]))
    if len(district.members):
        bulk_insert(conn, schema.members, _records(
            district.members, [c.name for c in schema.members.columns if c.name != "fid"]))
    stamp = now_iso()
    a = district.assignment.assign(valid_from=stamp, valid_to=None, scenario_id=None)
    if len(a):
        bulk_insert(conn, schema.assignments, _records(
            a, [c.name for c in schema.assignments.columns if c.name != "fid"]))
    conn.execute(insert(schema.meta), [{"key": k, "value": v} for k, v in meta.items()])
    # the layers as built are boundary version 1; edits add the next ones
    conn.execute(insert(schema.boundary_versions).values(
        id=1, created_at=stamp, author=meta.get("author", "geo-grid"),
        kind="import" if meta.get("synthetic") == "false" else "init",
        note=meta.get("boundaries", ""), detail="{}"))
    for name in schema.HISTORY_TABLES:
        declare(conn, schema.metadata.tables[name],
                description=f"{name}: past rows of {name.split('_')[0]}")
    for name in schema.ATTRIBUTE_TABLES:
        declare(conn, schema.metadata.tables[name], description=f"{name} ({label})")
    if progress:
        progress("wrote tables", 1)


def _fitted(params: PopulationParams, district: District) -> PopulationParams:
    """``params`` with no more party organisations and branches than a small street's
    volunteers can fill (every branch gets at least one member); the reference district's
    are unchanged."""
    import dataclasses

    volunteers = len(district.grids) * params.volunteers
    orgs = max(len(district.communities), min(params.organisations, volunteers // 2))
    branches = max(orgs, min(params.branches, volunteers))
    return dataclasses.replace(params, organisations=orgs, branches=branches)


def synthetic_district(boundaries: Path | str | None = None,
                       params: PopulationParams = PopulationParams(),
                       progress: Progress | None = None) -> District:
    """The layers of a folder checked, with a seeded synthetic population and its initial
    assignment: what :func:`build_store` writes, and what ``geo-grid init`` adds to a store
    holding other streets.

    Parameters
    ----------
    boundaries : Path or str, optional
        Folder of the layers (the reference district by default).
    params : PopulationParams
        Team sizes and seed of the synthetic population.
    progress : callable, optional
        Called as ``progress(step, advance)``.

    Returns
    -------
    District

    Raises
    ------
    StoreError
        If the layers have topology violations.
    """
    from geo_grid.assign import initial_assignment

    folder = Path(boundaries) if boundaries is not None else DEFAULT_BOUNDARIES
    layers = load_layers(folder)
    violations = validate(layers)
    if violations:
        raise StoreError(
            f"{len(violations)} topology violations in {folder}; run `geo-grid validate`: "
            + "; ".join(str(v) for v in violations[:5]),
            violations=len(violations),
        )
    if progress:
        progress("validated layers", 1)
    households = generate_households(layers.buildings, seed=params.seed)
    district = District(layers.street, layers.communities, layers.grids, layers.buildings,
                        households=households)
    members = generate_members(district, _fitted(params, district))
    district = District(layers.street, layers.communities, layers.grids, layers.buildings,
                        households=households, members=members)
    if progress:
        progress("drew population", 1)
    assignment = initial_assignment(district)
    if progress:
        progress("assigned buildings", 1)
    return District(layers.street, layers.communities, layers.grids, layers.buildings,
                    households=households, members=members, assignment=assignment)


def build_store(path: Path | str, boundaries: Path | str | None = None,
                params: PopulationParams = PopulationParams(),
                progress: Progress | None = None) -> dict:
    """Build the embedded GeoPackage store from the layers plus a seeded synthetic population.

    The store is written to a temporary file beside ``path`` and moved into place only when it is
    complete, so a build that fails leaves the previous store untouched.

    Parameters
    ----------
    path : Path or str
        The ``.gpkg`` file to create or replace.
    boundaries, params, progress
        As for :func:`synthetic_district`.

    Returns
    -------
    dict
        Counts and timings of the build.

    Raises
    ------
    StoreError
        If the layers have topology violations or writing fails.
    """
    t0 = time.perf_counter()
    path = locate(path)
    folder = Path(boundaries) if boundaries is not None else DEFAULT_BOUNDARIES
    district = synthetic_district(folder, params, progress)
    version = boundaries_version(folder)
    meta = {
        "boundaries_version": version,
        "boundaries": str(folder),
        "built_at": now_iso(),
        "population_params": json.dumps(params.__dict__),
        "synthetic": "street outline, grids, buildings, households and members are synthetic",
    }
    _write_atomically(path, district, meta, progress)
    return {
        "path": display(path),
        "communities": len(district.communities),
        "grids": len(district.grids),
        "buildings": len(district.buildings),
        "households": len(district.households),
        "residents": int(np.asarray(district.households["size"], dtype=np.int64).sum()),
        "members": len(district.members),
        "assigned_pairs": len(district.assignment),
        "build_seconds": round(time.perf_counter() - t0, 3),
        "boundaries_version": version,
    }


def build_store_from(path: Path | str, district: District, meta: dict[str, str], *,
                     force: bool = False, progress: Progress | None = None) -> Path:
    """Write a store of given layers and tables (no synthetic population), atomically.

    Used by the importer: the store is written to a temporary file beside ``path`` and moved
    into place with ``os.replace`` only when it is complete, so an import that fails, or a
    process killed at any moment, leaves an existing store exactly as it was.

    Parameters
    ----------
    path : Path or str
        The ``.gpkg`` file to create (or replace with ``force``).
    district : District
        Layers in EPSG:4490 with the store's columns; empty tables are fine.
    meta : dict
        Rows of ``geo_grid_meta`` (``synthetic``, ``sources``, ``boundaries_version``...).
    force : bool
        Replace an existing store.
    progress : callable, optional
        Called as ``progress(step, advance)``.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    StoreError
        If the store exists and ``force`` is not given, or writing fails.
    """
    path = locate(path)
    if open_backend(path).exists() and not force:
        raise StoreError(f"store {display(path)} exists; give --force to replace it",
                         path=display(path))
    _write_atomically(path, district, meta, progress)
    return path


def _write_atomically(path, district: District, meta: dict[str, str],
                      progress: Progress | None) -> None:
    """Write the store as a whole and put it in place of an existing one, atomically.

    On a GeoPackage: a temporary file beside ``path``, moved into place when complete; on
    PostGIS: one transaction (see :mod:`geo_grid.store.backend`). A failure, or a process
    killed at any moment, leaves an existing store exactly as it was. The store's lock is held
    alone throughout: a running service holding it makes this fail at once with a
    :class:`StoreError`, before anything is written. The accounts, sessions and audit trail of
    the store replaced are kept.
    """
    open_backend(path).rebuild(
        lambda conn: fill_store(conn, district, meta=meta, progress=progress))


def remove_stale_builds(db: Path) -> list[Path]:
    """Delete temporary stores left beside ``db`` by builds that were killed (their process
    is gone); return them."""
    gone = []
    for tmp in Path(db).parent.glob(f".{Path(db).name}.building-*"):
        pid = tmp.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            tmp.unlink(missing_ok=True)
            gone.append(tmp)
    return gone


#: What a rebuilt or re-imported store keeps from the store it replaces: the accounts, their
#: sessions and the audit trail (with its head in ``geo_grid_meta``), so that replacing the
#: layers neither locks the office out nor breaks the trail.
CARRIED_TABLES = ("users", "sessions", "audit")
CARRIED_META = ("audit_head",)
