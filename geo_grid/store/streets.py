"""Several streets in one store: adding a street to a store that already holds others.

A street office's store holds its own street; a district's or a city's holds many, each keyed by
its code. Codes are hierarchical (street 9 digits, community 12, grid 15, building 17) and unique
across the whole store, so every row of every layer and table belongs to the street its code (or
its grid's, or its building's) starts with (:func:`geo_grid.district.street_of`).

:func:`add_street` writes one more street into a store in one write transaction, all or nothing:
its four layers, and its households, members and assignment when it has them. It becomes the
next boundary version (kind ``add_street``) and the next assignment version (the current rows of
the other streets carried over unchanged, the new street's added), so a running service, or a
replica listening on PostGIS, reloads and answers for the new street at once.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import shapely
from sqlalchemy import insert, select, union

from geo_grid.address.match import building_keys
from geo_grid.district import District
from geo_grid.errors import Conflict, InvalidInput
from geo_grid.importing.people import next_member_ids
from geo_grid.store import schema
from geo_grid.store.backend import bulk_insert, widen_bounds
from geo_grid.store.build import _multi, _records, now_iso
from geo_grid.store.history import (
    ASSIGNMENT_COLUMNS,
    _ensure_versions,
    _immediate,
    _new_stamp,
    _push,
    _replace_current,
    _rows_of,
)
from geo_grid.store.store import Store

#: Two streets may share an edge; overlapping by more than this (m²) refuses the new one.
OVERLAP_TOLERANCE_M2 = 1.0


def street_codes(store: Store) -> list[str]:
    """The codes of the streets a store holds, sorted."""
    with store.engine.connect() as conn:
        return sorted(conn.execute(select(schema.street.c.code)).scalars())


def _taken(conn, table, history, codes: list[str]) -> set[str]:
    """Which of ``codes`` a layer uses now or used in an earlier boundary version."""
    out: set[str] = set()
    for i in range(0, len(codes), 500):
        part = codes[i:i + 500]
        q = select(table.c.code).where(table.c.code.in_(part))
        if history is not None:
            q = union(q, select(history.c.code).where(history.c.code.in_(part)))
        out |= set(conn.execute(q).scalars())
    return out


def _check_codes(conn, new: District) -> None:
    """Refuse codes (and building addresses) another street of the store uses or used."""
    checks = (("communities", schema.communities, None),
              ("grids", schema.grids, schema.grids_history),
              ("buildings", schema.buildings, schema.buildings_history))
    for name, table, history in checks:
        taken = _taken(conn, table, history, [str(c) for c in getattr(new, name)["code"]])
        if taken:
            raise Conflict(f"{len(taken)} {name} code(s) of the new street are already used in "
                           f"the store ({', '.join(sorted(taken)[:5])}); codes are unique across "
                           "every street", layer=name, codes=sorted(taken)[:20])
    # an address names one building store-wide: the same text, or the same compound and
    # number written otherwise (12栋 / 12号), as the address matcher reads them
    b = schema.buildings
    old = conn.execute(select(b.c.address, b.c.compound, b.c.number)).all()
    nb = new.buildings
    keys = building_keys(nb["compound"], nb["number"])
    taken = set(building_keys([r.compound for r in old], [r.number for r in old]))
    texts = {r.address for r in old}
    same = sorted({str(a) for a, k in zip(nb["address"], keys, strict=True)
                   if str(a) in texts or k in taken})
    if same:
        raise Conflict(f"{len(same)} building address(es) of the new street are already in the "
                       f"store ({', '.join(same[:5])}); an address names one building: put the "
                       "street's or district's name in front of the compound",
                       layer="buildings", addresses=same[:20])


def _check_overlap(store: Store, conn, new: District) -> None:
    """Refuse a street whose outline overlaps another street of the store (sharing an edge is
    fine)."""
    old = store._layer(conn, "street")
    if not len(old):
        return
    epsg = new.metric_epsg
    mine = new.street.geometry.to_crs(epsg).union_all()
    theirs = old.geometry.to_crs(epsg).to_numpy()
    area = shapely.area(shapely.intersection(theirs, mine))
    bad = np.flatnonzero(area > OVERLAP_TOLERANCE_M2)
    if len(bad):
        i = int(bad[np.argmax(area[bad])])
        raise InvalidInput(f"the new street overlaps street {old['code'].iloc[i]} "
                           f"({old['name'].iloc[i]}) by {area[i]:.1f} m²; streets may share "
                           "edges, not area", street=str(old["code"].iloc[i]),
                           overlap_m2=round(float(area[i]), 1))


def _renumbered(conn, new: District) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The new street's households, members and assignment with ids above the store's own
    (household ids are numbers, member ids ``M00001``-style; both unique store-wide)."""
    hh, mem, asg = new.households, new.members, new.assignment
    if len(hh):
        top = conn.execute(select(schema.households.c.id).order_by(
            schema.households.c.id.desc()).limit(1)).scalar() or 0
        hh = hh.assign(id=np.arange(int(top) + 1, int(top) + 1 + len(hh), dtype=np.int64))
    if len(mem):
        # above every id used, now or in the assignment history (as an import of members does)
        used = set(conn.execute(select(schema.members.c.id)).scalars()) | set(
            conn.execute(select(schema.assignments.c.member_id).distinct()).scalars())
        ids = next_member_ids({str(t) for t in used}, len(mem))
        rename = dict(zip(mem["id"].astype(str), ids, strict=True))
        mem = mem.assign(id=ids)
        if used:
            # party organisation and branch codes are numbered per street (O001, B001...):
            # the new street's carry its code in front, so that they name one branch store-wide
            code = str(new.street["code"].iloc[0])
            mem = mem.assign(**{c: [f"{code}-{v}" if v is not None else v for v in mem[c]]
                                for c in ("branch_code", "org_code") if c in mem.columns})
        if len(asg):
            asg = asg.assign(member_id=asg["member_id"].astype(str).map(rename))
    return hh, mem, asg


def _layer_rows(gdf, table, version: int, synthetic: bool) -> list[dict]:
    cols = [c.name for c in table.columns if c.name not in ("fid", "geom")]
    frame = gdf.assign(synthetic=synthetic)
    if "version_from" in cols:
        frame = frame.assign(version_from=version)
    rows = _records(frame, cols)
    for r, g in zip(rows, _multi(list(gdf.geometry.array)), strict=True):
        r["geom"] = g
    return rows


def add_street(store: Store, new: District, *, author: str, note: str = "",
               synthetic: bool = False) -> dict[str, Any]:
    """Add one street to a store that holds others, all or nothing.

    Parameters
    ----------
    store : Store
    new : District
        One street's layers (checked, e.g. by :func:`geo_grid.importing.read_layers`), with its
        households, members and assignment if it has them (empty tables otherwise). Household
        and member ids are renumbered above the store's.
    author, note : str
        Recorded with the boundary version.
    synthetic : bool
        Whether the new street's layers are synthetic (labelled so in the store).

    Returns
    -------
    dict
        ``street``, ``name``, ``boundary_version``, ``assignment_version``, ``streets`` (every
        code now in the store) and the counts written.

    Raises
    ------
    InvalidInput
        The district does not hold exactly one street, or its outline overlaps a street of the
        store.
    Conflict
        The store holds that street already, or a community, grid or building code or a building
        address of the new street is taken. Nothing is written then.
    """
    if len(new.street) != 1:
        raise InvalidInput(f"add one street at a time (got {len(new.street)} street features)")
    code = str(new.street["code"].iloc[0])
    with _immediate(store) as conn:
        present = sorted(conn.execute(select(schema.street.c.code)).scalars())
        if code in present:
            raise Conflict(f"the store holds street {code} already", street=code)
        _check_overlap(store, conn, new)
        _check_codes(conn, new)
        hh, mem, asg = _renumbered(conn, new)
        version = store.boundary_version(conn) + 1
        for name in ("street", "communities", "grids", "buildings"):
            gdf = getattr(new, name)
            table = schema.metadata.tables[name]
            if len(gdf):
                conn.execute(insert(table), _layer_rows(gdf, table, version, synthetic))
                widen_bounds(conn, name, tuple(gdf.total_bounds))
        if len(hh):
            bulk_insert(conn, schema.households, _records(
                hh, [c.name for c in schema.households.columns if c.name != "fid"]))
        if len(mem):
            bulk_insert(conn, schema.members, _records(
                mem, [c.name for c in schema.members.columns if c.name != "fid"]))
        # the next assignment version: every street's current rows, and the new street's
        _ensure_versions(conn)
        current = store.assignment_version(conn)
        rows = _rows_of(conn, current)
        if len(asg):
            added = asg.reindex(columns=list(ASSIGNMENT_COLUMNS))
            rows = added if not len(rows) else pd.concat([rows, added], ignore_index=True)
        stamp = _new_stamp(conn, current)
        _replace_current(conn, rows, None, stamp)
        counts = {"communities": len(new.communities), "grids": len(new.grids),
                  "buildings": len(new.buildings), "households": len(hh), "members": len(mem),
                  "assigned_pairs": len(asg)}
        detail = {"street": code, "name": str(new.street["name"].iloc[0])} | counts
        conn.execute(insert(schema.boundary_versions).values(
            id=version, created_at=now_iso(), author=author, kind="add_street", note=note,
            detail=json.dumps(detail, ensure_ascii=False)))
        _push(conn, stamp, current, "street")
    return detail | {"boundary_version": version, "assignment_version": stamp,
                     "streets": sorted([*present, code])}


__all__ = ["OVERLAP_TOLERANCE_M2", "add_street", "street_codes"]
