"""Boundary versions: every edit of the grids is a new version, and every past version can be read.

The layers as built (``geo-grid init`` or ``geo-grid import``) are version 1. An edit (a split,
a merge, a redrawn outline, a building given to another grid) is written by :func:`apply_edit`
in one ``BEGIN IMMEDIATE`` transaction: the grid and building rows it replaces are copied to
``grids_history`` / ``buildings_history`` with ``version_to`` set to the new version, the
current tables get the new rows with ``version_from`` set to it, and ``boundary_versions``
gets the version's time, author, note and summary. A row was in force in the versions
``version_from <= v < version_to`` (rows still current have no ``version_to``), so the layers
of any version are one ``UNION ALL`` away (:func:`layers_at`).

Grid codes are never reused: :func:`code_source` hands out the next sequence numbers after
every code the store ever held, current or retired.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sqlalchemy import delete, func, insert, literal, select, text, union, union_all, update

from geo_grid.crs import STORE_EPSG
from geo_grid.district import District
from geo_grid.editing.edit import CodeSource, Edit
from geo_grid.errors import Conflict, InvalidInput, NotFound
from geo_grid.store import schema
from geo_grid.store.build import _multi, now_iso
from geo_grid.store.gpkg import decode_many
from geo_grid.store.history import _immediate, carry_over
from geo_grid.store.store import Store, _single

#: China Standard Time: an ``as_of`` without a time zone is read as the street's local time.
CST = timezone(timedelta(hours=8), "CST")

GRID_COLUMNS = ("code", "name", "community_code", "kind", "synthetic")
BUILDING_COLUMNS = ("code", "grid_code", "community_code", "address", "compound", "number",
                    "category", "floors", "units", "rooms_per_floor", "households", "synthetic")


@dataclass(frozen=True)
class BoundaryVersion:
    """One boundary version: when, by whom, what kind of change, and its summary."""

    id: int
    created_at: str
    author: str
    kind: str
    note: str
    detail: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """The version as JSON-able data."""
        return {"id": self.id, "created_at": self.created_at, "author": self.author,
                "kind": self.kind, "note": self.note, "detail": self.detail}


def _record(row) -> BoundaryVersion:
    return BoundaryVersion(int(row.id), row.created_at, row.author, row.kind, row.note or "",
                           json.loads(row.detail or "{}"))


def list_versions(store: Store) -> list[BoundaryVersion]:
    """Every boundary version, oldest first."""
    b = schema.boundary_versions
    with store.engine.connect() as conn:
        return [_record(r) for r in conn.execute(select(b).order_by(b.c.id))]


def get_version(store: Store, version: int) -> BoundaryVersion:
    """One boundary version.

    Raises
    ------
    NotFound
        If the store has no such version.
    """
    b = schema.boundary_versions
    row = None
    if 0 < int(version) < 2**31:  # beyond that no store has it (and SQLite's INTEGER ends)
        with store.engine.connect() as conn:
            row = conn.execute(select(b).where(b.c.id == int(version))).first()
    if row is None:
        raise NotFound(f"boundary version {version} does not exist", version=int(version))
    return _record(row)


_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_as_of(value: str | datetime) -> datetime:
    """An ``as_of`` time as an aware datetime.

    Parameters
    ----------
    value : str or datetime
        ISO-8601: ``2026-11-01T09:30:00+08:00``, ``2026-11-01T01:30:00Z``, or without a zone
        (``2026-11-01T09:30``, ``2026-11-01``: China Standard Time, UTC+8, the street's own
        clock; a date alone is the start of that day).

    Raises
    ------
    InvalidInput
        If the text is not an ISO-8601 date or time.
    """
    if isinstance(value, datetime):
        when = value
    else:
        raw = value.strip()
        try:
            when = datetime.fromisoformat(raw.replace("Z", "+00:00") if raw.endswith("Z") else raw)
        except ValueError:
            raise InvalidInput(f"as_of {value!r} is not an ISO-8601 time (e.g. "
                               "2026-11-01T09:30:00+08:00 or 2026-11-01)", as_of=value) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=CST)
    try:
        when.astimezone(UTC)
    except OverflowError:
        raise InvalidInput(f"as_of {value!s} is outside the years 1–9999 in UTC",
                           as_of=str(value)) from None
    return when


def version_at(store: Store, when: str | datetime) -> int:
    """The boundary version in force at a time: the newest one created at or before it.

    Raises
    ------
    InvalidInput
        If ``when`` is not an ISO-8601 time.
    NotFound
        If ``when`` is before the store was built.
    """
    at = parse_as_of(when).astimezone(UTC)
    versions = list_versions(store)
    chosen = None
    for v in versions:  # a handful to a few hundred rows: a scan is simplest
        created = datetime.fromisoformat(v.created_at) if v.created_at else None
        if created is None or created.astimezone(UTC) <= at:
            chosen = v.id
    if chosen is None:
        first = versions[0].created_at if versions else "?"
        raise NotFound(f"no boundary version was in force at {at.isoformat()}: the store's first "
                       f"version is from {first}", as_of=at.isoformat())
    return chosen


def _select_at(table: str, columns: tuple[str, ...], version: int) -> tuple[str, dict]:
    cols = ", ".join(f'"{c}"' for c in (*columns, "geom"))
    sql = (f'SELECT {cols} FROM "{table}" WHERE version_from <= :v '
           f'UNION ALL SELECT {cols} FROM "{table}_history" '
           f'WHERE version_from <= :v AND version_to > :v ORDER BY code')
    return sql, {"v": int(version)}


def _frame(conn, table: str, columns: tuple[str, ...], version: int) -> gpd.GeoDataFrame:
    sql, params = _select_at(table, columns, version)
    rows = conn.execute(text(sql), params).all()
    df = pd.DataFrame([r[:-1] for r in rows], columns=list(columns))
    # a raw read gets SQLite's 0/1 or PostgreSQL's booleans: read both as the layers do
    df["synthetic"] = df["synthetic"].astype(bool)
    geoms = _single(decode_many([r[-1] for r in rows]))
    return gpd.GeoDataFrame(df, geometry=geoms, crs=STORE_EPSG)


def layers_at(store: Store, version: int) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """The grids and buildings of a boundary version (in EPSG:4490, ordered by code).

    Raises
    ------
    NotFound
        If the store has no such version.
    """
    get_version(store, version)
    with store.engine.connect() as conn:
        store.backend.begin_read(conn)  # both layers from one read snapshot
        grids = _frame(conn, "grids", GRID_COLUMNS, version)
        buildings = _frame(conn, "buildings", BUILDING_COLUMNS, version)
        conn.rollback()
    return grids, buildings


def district_at(store: Store, version: int | None = None,
                district: District | None = None) -> District:
    """The district with the grids and buildings of a boundary version.

    Parameters
    ----------
    store : Store
    version : int, optional
        The boundary version (the current one when None).
    district : District, optional
        The current district, if already loaded (read from the store otherwise); its street,
        communities, people and assignment are kept.

    Returns
    -------
    District
        ``version`` of the result names the boundary version (``...@b3``), so indexes built
        on it are never confused with the current layers'.
    """
    district = district if district is not None else store.load_district()
    if version is None or int(version) == district.boundary_version:
        return district
    grids, buildings = layers_at(store, int(version))
    base = district.version.split("+b")[0]
    return replace(district, grids=grids, buildings=buildings, version=f"{base}@b{int(version)}",
                   boundary_version=int(version))


def code_source(store: Store) -> CodeSource:
    """Fresh grid codes for one edit: in each community, the next sequence numbers after the
    highest code the store ever held (current or retired), so a retired code is never reused.

    Raises
    ------
    InvalidInput
        (when called) if a community would need a sequence number above 999.
    """
    handed: dict[str, int] = {}

    def codes(community_code: str, n: int) -> list[str]:
        if community_code not in handed:
            with store.engine.connect() as conn:
                g, h = schema.grids, schema.grids_history
                every = union_all(select(g.c.code).where(g.c.code.like(f"{community_code}%")),
                                  select(h.c.code).where(h.c.code.like(f"{community_code}%")))
                top = conn.execute(select(func.max(every.subquery().c.code))).scalar()
            handed[community_code] = int(top[12:]) if top and top[12:].isdigit() else 0
        start = handed[community_code]
        if start + n > 999:
            raise InvalidInput(f"community {community_code} has used grid numbers up to {start:03d};"
                               f" {n} more do not fit in three digits", community=community_code)
        handed[community_code] = start + n
        return [f"{community_code}{i:03d}" for i in range(start + 1, start + n + 1)]

    return codes


def _copy_to_history(conn, name: str, codes: list[str], version: int) -> None:
    table = schema.metadata.tables[name]
    hist = schema.metadata.tables[f"{name}_history"]
    cols = [c.name for c in table.columns if c.name != "fid"]
    for chunk in range(0, len(codes), 500):
        part = codes[chunk:chunk + 500]
        conn.execute(insert(hist).from_select(
            [*cols, "version_to"],
            select(*[table.c[c] for c in cols], literal(version)).where(table.c.code.in_(part))))


def _grid_rows(gdf: gpd.GeoDataFrame, version: int, synthetic: bool) -> list[dict]:
    geoms = _multi(shapely.make_valid(np.asarray(gdf.geometry.array)))
    return [{"code": str(r.code), "name": str(r.name), "community_code": str(r.community_code),
             "kind": str(r.kind), "synthetic": synthetic, "version_from": version, "geom": g}
            for r, g in zip(gdf.itertuples(index=False), geoms, strict=True)]


def apply_edit(store: Store, edit: Edit, *, base: int, author: str,
               note: str = "") -> BoundaryVersion:
    """Write an edit as the next boundary version, all or nothing.

    Parameters
    ----------
    store : Store
    edit : Edit
        Computed on the layers of boundary version ``base``.
    base : int
        The version the edit was computed on: if another edit came first, nothing is written.
    author : str
        Who made the change (recorded with the version).
    note : str
        Why (recorded with the version).

    Returns
    -------
    BoundaryVersion
        The new version.

    Raises
    ------
    Conflict
        If the current version is not ``base``, or a grid or building the edit changes is not
        current, or a new code is already taken.
    """
    g, b, m = schema.grids, schema.buildings, schema.members
    with _immediate(store) as conn:
        current = store.boundary_version(conn)
        if current != int(base):
            raise Conflict(f"the grids changed while this edit was prepared (version {current}, "
                           f"the edit was made on version {base}); prepare it again",
                           current=current, base=int(base))
        version = current + 1
        replaced = [*edit.retired, *[str(c) for c in edit.reshaped["code"]]]
        found = set(conn.execute(select(g.c.code).where(g.c.code.in_(replaced))).scalars())
        if missing := sorted(set(replaced) - found):
            raise Conflict(f"grid(s) {', '.join(missing)} are not current", grids=len(missing))
        added = [str(c) for c in edit.added["code"]]
        gh = schema.grids_history
        taken = set(conn.execute(union(select(g.c.code).where(g.c.code.in_(added)),
                                       select(gh.c.code).where(gh.c.code.in_(added))))
                    .scalars()) if added else set()
        if taken:
            raise Conflict(f"grid code(s) {', '.join(sorted(taken))} were already used",
                           grids=len(taken))
        synthetic = bool(conn.execute(select(schema.street.c.synthetic)).scalar())
        _copy_to_history(conn, "grids", replaced, version)
        if edit.retired:
            conn.execute(delete(g).where(g.c.code.in_(list(edit.retired))))
        for row in _grid_rows(edit.reshaped, version, synthetic):
            conn.execute(update(g).where(g.c.code == row["code"]).values(
                name=row["name"], kind=row["kind"], geom=row["geom"], version_from=version))
        if added:
            conn.execute(insert(g), _grid_rows(edit.added, version, synthetic))
        if edit.moved:
            moved = list(edit.moved)
            _copy_to_history(conn, "buildings", moved, version)
            for code, grid in edit.moved.items():
                conn.execute(update(b).where(b.c.code == code).values(
                    grid_code=grid, version_from=version))
        for member_id, grid in edit.members.items():
            conn.execute(update(m).where(m.c.id == member_id).values(grid_code=grid))
        orphans = conn.execute(select(func.count()).select_from(b).where(
            b.c.grid_code.notin_(select(g.c.code).scalar_subquery()))).scalar()
        if orphans:
            raise Conflict(f"the edit would leave {orphans} building(s) in a retired grid; "
                           "nothing was written", buildings=int(orphans))
        row = {"id": version, "created_at": now_iso(), "author": author, "kind": edit.kind,
               "note": note, "detail": json.dumps(edit.summary(), ensure_ascii=False)}
        conn.execute(insert(schema.boundary_versions).values(**row))
        # the assignment is carried over unchanged; its new version tells a running service
        # (and a scenario computed before the edit) that the grids changed under it
        carry_over(conn, store, "boundary")
    return BoundaryVersion(version, row["created_at"], author, edit.kind, note,
                           json.loads(row["detail"]))


def _metric_area(geoms: np.ndarray, epsg: int) -> np.ndarray:
    return gpd.GeoSeries(geoms, crs=STORE_EPSG).to_crs(epsg).area.to_numpy()


def diff(store: Store, a: int, b: int, metric_epsg: int | None = None,
         tolerance_m2: float = 1.0) -> dict[str, Any]:
    """What changed between two boundary versions.

    Parameters
    ----------
    store : Store
    a, b : int
        The versions to compare (``a`` before, ``b`` after; either order works).
    metric_epsg : int, optional
        The metric CRS for areas (the street's Gauss-Kruger zone when None).
    tolerance_m2 : float
        A grid whose outline changed by less than this area is not reshaped.

    Returns
    -------
    dict
        ``from``, ``to``, ``grids_added``, ``grids_removed``, ``grids_reshaped`` (each a list
        of ``{code, name, community_code, households}``, reshaped with ``area_change_m2``),
        ``buildings_moved`` (``{code, address, from_grid, to_grid, households}``) and
        ``households`` (per grid whose household count changed: ``{code, before, after,
        delta}``).
    """
    from geo_grid.crs import metric_epsg_of

    ga, ba = layers_at(store, a)
    gb, bb = layers_at(store, b)
    epsg = metric_epsg or metric_epsg_of(gb if len(gb) else ga)
    ia, ib = ga.set_index("code"), gb.set_index("code")
    hh_a = ba.groupby("grid_code")["households"].sum()
    hh_b = bb.groupby("grid_code")["households"].sum()

    def head(frame, code, hh) -> dict:
        return {"code": code, "name": str(frame.at[code, "name"]),
                "community_code": str(frame.at[code, "community_code"]),
                "households": int(hh.get(code, 0))}

    added = [head(ib, c, hh_b) for c in ib.index.difference(ia.index)]
    removed = [head(ia, c, hh_a) for c in ia.index.difference(ib.index)]
    both = ia.index.intersection(ib.index)
    reshaped = []
    if len(both):
        ga_both = np.asarray(ia.loc[both].geometry.array)
        gb_both = np.asarray(ib.loc[both].geometry.array)
        changed = ~shapely.equals_exact(ga_both, gb_both, tolerance=1e-9)
        if changed.any():
            sym = _metric_area(shapely.symmetric_difference(ga_both[changed], gb_both[changed]), epsg)
            before = _metric_area(ga_both[changed], epsg)
            after = _metric_area(gb_both[changed], epsg)
            for code, s, x, y in zip(both[changed], sym, before, after, strict=True):
                if s > tolerance_m2:
                    reshaped.append({**head(ib, code, hh_b), "area_change_m2": round(float(y - x), 1),
                                     "area_differs_m2": round(float(s), 1)})
    moved = []
    j = ba[["code", "address", "grid_code", "households"]].merge(
        bb[["code", "grid_code"]], on="code", suffixes=("_a", "_b"))
    for r in j[j.grid_code_a != j.grid_code_b].itertuples(index=False):
        moved.append({"code": r.code, "address": r.address, "from_grid": r.grid_code_a,
                      "to_grid": r.grid_code_b, "households": int(r.households)})
    codes = sorted(set(hh_a.index) | set(hh_b.index))
    deltas = []
    for c in codes:
        x, y = int(hh_a.get(c, 0)), int(hh_b.get(c, 0))
        if x != y:
            deltas.append({"code": c, "before": x, "after": y, "delta": y - x})
    return {"from": int(a), "to": int(b), "grids_added": added, "grids_removed": removed,
            "grids_reshaped": reshaped, "buildings_moved": moved, "households": deltas}


__all__ = ["BoundaryVersion", "apply_edit", "code_source", "diff", "district_at", "get_version",
           "layers_at", "list_versions", "parse_as_of", "version_at"]
