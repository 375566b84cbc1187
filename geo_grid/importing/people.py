"""Importing a street's grid force (members) from its own roster (xlsx or csv).

The roster is read with :func:`geo_grid.tables.read_table` (title rows above the header are
skipped, GBK/GB18030 csv files decoded), its columns recognised by their Chinese or English
headers (or named with ``--field kind=COLUMN``), and each row checked: an ID number's checksum,
a phone, a known role, a grid given by code or name (or the grid of the building the address is
placed in). Rows are matched to members already in the store by ID number (kept only as a
digest), else by phone: a match is updated, anything else is a new member with a fresh id, the
default capacity of its role and ``available`` true.

A file with any bad row writes nothing unless ``skip_bad_rows`` is given; the write is one
transaction. Names and phones never appear in the report: rows are named by their row number in
the file.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import shapely

from geo_grid.crs import to_cgcs2000, to_metric
from geo_grid.district import District
from geo_grid.errors import InvalidInput
from geo_grid.tables import ColumnKind, Vocabulary, id_problems, phone_problems, read_table
from geo_grid.tables.headers import ADDRESS, ID_NUMBER, LATITUDE, LONGITUDE, PHONE

__all__ = ["ROLE_WORDS", "MEMBERS", "PeopleReport", "import_members", "parse_fields"]

NAME = ColumnKind("name", exact=("姓名", "名字", "name"), contains=("姓名",))
ROLE = ColumnKind("role", exact=("职务", "角色", "岗位", "身份", "role"),
                  contains=("职务", "角色", "岗位"))
GRID = ColumnKind("grid", exact=("所属网格", "网格", "网格编码", "网格名称", "网格号", "grid",
                                 "grid_code"), contains=("网格",))

#: The columns of a member roster, in the order they are recognised.
MEMBERS = Vocabulary((ID_NUMBER, PHONE, LONGITUDE, LATITUDE, NAME, ROLE, GRID, ADDRESS))

#: Role words of a roster → the store's roles.
ROLE_WORDS = {
    "网格长": "secretary", "书记": "secretary", "支部书记": "secretary", "secretary": "secretary",
    "党员社工": "social_worker", "社工": "social_worker", "专职网格员": "social_worker",
    "social_worker": "social_worker",
    "志愿者": "volunteer", "党员志愿者": "volunteer", "volunteer": "volunteer",
}


@dataclass
class PeopleReport:
    """What an import did (or would have done), row by row.

    ``rows`` holds one entry per data row: ``row`` (1-based row number in the file),
    ``status`` and ``problems`` (and ``member_id`` or ``building_code`` when known).
    """

    file: str
    kind: str
    columns: dict[str, str | None]
    rows: list[dict[str, Any]] = field(default_factory=list)
    written: bool = False
    assignment_version: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def bad(self) -> list[dict[str, Any]]:
        """The rows refused."""
        return [r for r in self.rows if r["problems"]]

    def summary(self) -> dict[str, int]:
        """Rows per status."""
        counts = pd.Series([r["status"] for r in self.rows], dtype=object).value_counts()
        return {str(k): int(v) for k, v in counts.sort_index().items()}

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data."""
        return {"file": self.file, "kind": self.kind, "columns": self.columns,
                "written": self.written, "assignment_version": self.assignment_version,
                "summary": self.summary(), "bad_rows": len(self.bad), **self.extra,
                "rows": self.rows}


def parse_fields(pairs: list[str] | None) -> dict[str, str]:
    """``["grid=网格号", ...]`` → ``{"grid": "网格号"}``.

    Raises
    ------
    InvalidInput
        A pair without ``=``.
    """
    out = {}
    for p in pairs or []:
        k, sep, v = p.partition("=")
        if not sep or not k.strip() or not v.strip():
            raise InvalidInput(f"--field {p!r}: expected FIELD=COLUMN")
        out[k.strip()] = v.strip()
    return out


def _norm(s: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", s)).lower()


def read_people_table(path: Path, vocab: Vocabulary, fields: dict[str, str],
                      need: tuple[str, ...], sheet: str | None, what: str,
                      any_of: tuple[str, ...] = ()):
    """Read a roster and resolve its columns (``fields`` override the headers).

    The header is the first row with a column of every kind in ``need`` and of one kind in
    ``any_of`` (title rows above it are skipped)."""
    unknown = set(fields) - {k.name for k in vocab.kinds}
    if unknown:
        raise InvalidInput(f"unknown field(s) {', '.join(sorted(unknown))}; fields are: "
                           f"{', '.join(k.name for k in vocab.kinds)}")
    wanted = [vocab.kind(n) for n in need]
    either = [vocab.kind(n) for n in any_of]
    names = {_norm(v) for v in fields.values()}

    def has(k: ColumnKind, cells: list[str]) -> bool:
        return any(k.matches(c) or (k.name in fields and c in names) for c in cells)

    def accept(cells: list[str]) -> bool:
        return (all(has(k, cells) for k in wanted)
                and (not either or any(has(k, cells) for k in either)))

    table = read_table(path, accept, sheet=sheet, vocabulary=vocab,
                       missing=" and ".join([k.name for k in wanted]
                                            + ([" or ".join(any_of)] if any_of else [])),
                       hint=f"name the columns of the {what} with --field")
    cols = vocab.resolve(table.frame.columns, fields)
    return table, cols


def grid_resolver(district: District):
    """A function mapping a grid code or name to a grid code (None when unknown or ambiguous)."""
    g = district.grids
    codes = set(g["code"].astype(str))
    names: dict[str, list[str]] = {}
    for code, name in zip(g["code"].astype(str), g["name"].astype(str), strict=True):
        names.setdefault(_norm(name), []).append(code)

    def resolve(text: str) -> str | None:
        t = text.strip()
        if t in codes:
            return t
        hit = names.get(_norm(t), [])
        return hit[0] if len(hit) == 1 else None

    return resolve


def place_addresses(district: District, texts: list[str]):
    """Building code of each address (None when not placed) and the matcher's status."""
    from geo_grid.address import AddressMatcher

    matcher = AddressMatcher.from_district(district)
    res = matcher.match_many([t if t.strip() else None for t in texts])
    codes = [r.building_code if r is not None and r.status == "matched" else None for r in res]
    status = [None if r is None else str(r.status) for r in res]
    return codes, status


def building_points(district: District, codes) -> np.ndarray:
    """Centroids (metres of the street's metric CRS) of buildings by code; NaN when unknown."""
    b = district.buildings
    epsg = district.metric_epsg
    idx = pd.Index(b["code"].astype(str)).get_indexer(pd.Index([str(c) for c in codes]))
    xy = np.full((len(idx), 2), np.nan)
    ok = idx >= 0
    if ok.any():
        cen = b.geometry.iloc[idx[ok]].to_crs(epsg).centroid.array
        xy[ok] = shapely.get_coordinates(cen)
    return xy


def _points(district: District, lon: list[str], lat: list[str]):
    """Metric x/y, building and grid of the rows with lon/lat (WGS-84/CGCS2000 degrees)."""
    n = len(lon)
    xy = np.full((n, 2), np.nan)
    home: list[str | None] = [None] * n
    grid: list[str | None] = [None] * n
    bad: list[str | None] = [None] * n
    lo = pd.to_numeric(pd.Series(lon, dtype=object), errors="coerce").to_numpy(float)
    la = pd.to_numeric(pd.Series(lat, dtype=object), errors="coerce").to_numpy(float)
    ok = np.isfinite(lo) & np.isfinite(la) & (np.abs(lo) <= 180) & (np.abs(la) <= 90)
    for i in np.flatnonzero(~ok):
        if str(lon[i]).strip() or str(lat[i]).strip():
            bad[i] = "lon/lat are not coordinates in degrees"
    if ok.any():
        x, y = to_cgcs2000(lo[ok], la[ok], "wgs84", validate=False)
        mx, my = to_metric(x, y, district.metric_epsg)
        xy[ok] = np.column_stack([mx, my])
        pts = shapely.points(np.asarray(x), np.asarray(y))
        rows = np.flatnonzero(ok)
        for layer, out in ((district.buildings, home), (district.grids, grid)):
            p, t = layer.sindex.query(pts, predicate="within")
            codes = layer["code"].astype(str).to_numpy()
            for pi, ti in zip(p, t, strict=True):
                out[rows[pi]] = codes[ti]
    return xy, home, grid, bad


def next_member_ids(taken: set[str], n: int) -> list[str]:
    """``n`` member ids ``M00001``-style above every id in ``taken``."""
    nums = [int(m.group(1)) for t in taken if (m := re.fullmatch(r"M(\d+)", t))]
    start = max(nums, default=0) + 1
    return [f"M{i:05d}" for i in range(start, start + n)]


def _taken_ids(store) -> set[str]:
    """Every member id ever used: current members and any id in the assignment history."""
    from sqlalchemy import select

    from geo_grid.store import schema

    with store.engine.connect() as conn:
        a = set(conn.execute(select(schema.members.c.id)).scalars())
        a |= set(conn.execute(select(schema.assignments.c.member_id).distinct()).scalars())
    return a


def import_members(db: Path | str, path: Path | str, *, sheet: str | None = None,
                   fields: dict[str, str] | None = None,
                   skip_bad_rows: bool = False) -> PeopleReport:
    """Import (upsert) the members of a roster into a store.

    Parameters
    ----------
    db : Path or str
        The store.
    path : Path or str
        The roster (``.xlsx``, ``.csv``...), with or without title rows above the header.
    sheet : str, optional
        The sheet of a workbook (the first by default).
    fields : dict, optional
        Kind → column name, for headers not recognised (kinds: ``name, phone, id, role, grid,
        address, lon, lat``).
    skip_bad_rows : bool
        Import the good rows of a file that has bad ones (otherwise nothing is written).

    Returns
    -------
    PeopleReport
        ``written`` is False when bad rows stopped the import.
    """
    from geo_grid.assign.model import DEFAULT_CAPACITY
    from geo_grid.store import Store
    from geo_grid.store.people import id_digest, read_member_keys, write_members

    fields = fields or {}
    table, cols = read_people_table(Path(path), MEMBERS, fields, ("name",), sheet, "member roster")
    if cols["phone"] is None and cols["id"] is None:
        raise InvalidInput("the roster has neither a phone nor an ID-number column; name one "
                           "with --field phone=COLUMN or --field id=COLUMN")
    if cols["grid"] is None and cols["address"] is None and cols["lon"] is None:
        raise InvalidInput("the roster has no grid (所属网格), address (居住地址) or lon/lat "
                           "columns: a member cannot be given a grid")
    store = Store(db)
    try:
        district = store.load_district()
        f = table.frame
        n = len(f)

        def col(kind: str) -> list[str]:
            c = cols.get(kind)
            return [s.strip() for s in f[c]] if c is not None else [""] * n

        name, phone, idn, role_t, grid_t, addr = (col(k) for k in
                                                  ("name", "phone", "id", "role", "grid", "address"))
        id_bad = id_problems(idn, table.numeric.get(cols["id"]) if cols["id"] else None)
        ph_bad = phone_problems(phone, table.numeric.get(cols["phone"]) if cols["phone"] else None)
        resolve = grid_resolver(district)
        homes, _ = place_addresses(district, addr) if cols["address"] else ([None] * n, None)
        home_xy = building_points(district, [h or "" for h in homes])
        b_grid = dict(zip(district.buildings["code"].astype(str),
                          district.buildings["grid_code"].astype(str), strict=True))
        if cols["lon"] is not None and cols["lat"] is not None:
            pxy, phome, pgrid, pbad = _points(district, col("lon"), col("lat"))
        else:
            pxy, phome, pgrid, pbad = np.full((n, 2), np.nan), [None] * n, [None] * n, [None] * n
        g = district.grids
        gxy = dict(zip(g["code"].astype(str), shapely.get_coordinates(
            g.geometry.to_crs(district.metric_epsg).representative_point().array), strict=True))

        mem = district.members
        by_phone = dict(zip(mem["phone"].astype(str), mem["id"].astype(str), strict=True))
        by_key = read_member_keys(store)
        taken = _taken_ids(store)
        first = table.header_row + 2  # 1-based row number of the first data row
        seen: dict[str, int] = {}
        plans = []
        rep = PeopleReport(str(path), "members", cols)
        for i in range(n):
            problems, notes = [], []
            status = "imported"
            if not name[i]:
                problems.append("missing_name: the name is blank")
            role = ROLE_WORDS.get(_norm(role_t[i]))
            if role is None:
                problems.append(f"bad_role: {role_t[i] or 'blank'!r} is not a known role "
                                f"({', '.join(sorted(ROLE_WORDS))})")
            if id_bad[i] and not id_bad[i].startswith("15-digit"):
                problems.append(f"bad_id: {id_bad[i]}")
            if ph_bad[i]:
                problems.append(f"bad_phone: {ph_bad[i]}")
            if not phone[i] and not idn[i]:
                problems.append("missing_key: neither a phone nor an ID number")
            if pbad[i]:
                problems.append(f"bad_coordinates: {pbad[i]}")
            home, xy = None, None
            if homes[i] is not None:
                home, xy = homes[i], home_xy[i]
            elif np.isfinite(pxy[i]).all():
                home, xy = phome[i] or "", pxy[i]
            elif addr[i]:
                notes.append("unplaced_address: the address was not placed in a building")
            grid = resolve(grid_t[i]) if grid_t[i] else None
            if grid_t[i] and grid is None:
                problems.append(f"unknown_grid: no grid has the code or name {grid_t[i]!r} "
                                "(or the name is used by several grids: give the code)")
            elif grid is None:
                grid = b_grid.get(homes[i] or "") or pgrid[i]
                if grid is None:
                    problems.append("unknown_grid: no grid given and the home is in no grid")
            key = id_digest(idn[i]) if idn[i] and not id_bad[i] else None
            for k in (key, phone[i] and "phone:" + phone[i]):
                if k and k in seen:
                    problems.append(f"duplicate: the same person as row {seen[k]}")
                elif k:
                    seen[k] = first + i
            target = (by_key.get(key) if key else None) or by_phone.get(phone[i])
            if problems:
                status = "bad"
            elif target is not None:
                status = "updated"
            elif notes:
                status = "imported_unplaced"
            entry = {"row": first + i, "status": status, "problems": problems, "notes": notes}
            if target is not None:
                entry["member_id"] = target
            rep.rows.append(entry)
            plans.append((i, role, grid, home, xy, key, target))
        if rep.bad and not skip_bad_rows:
            return rep

        new_rows, upd_rows, keys = [], [], {}
        good = [p for p, r in zip(plans, rep.rows, strict=True) if not r["problems"]]
        fresh = iter(next_member_ids(taken, sum(p[6] is None for p in good)))
        for (i, role, grid, home, xy, key, target), entry in zip(
                plans, rep.rows, strict=True):
            if entry["problems"]:
                continue
            if target is None:
                mid = next(fresh)
                entry["member_id"] = mid
                if xy is None:  # unplaced: at the grid's own point until an address is known
                    xy, home = gxy[grid], ""
                new_rows.append({
                    "id": mid, "name": name[i], "phone": phone[i], "role": role,
                    "grid_code": grid, "branch_code": "", "branch_name": "", "org_code": "",
                    "org_name": "", "home_building": home or "", "x": float(xy[0]),
                    "y": float(xy[1]), "available": True,
                    "capacity": float(DEFAULT_CAPACITY[role])})
            else:
                mid = target
                u = {"id": mid, "name": name[i], "phone": phone[i] or None, "role": role,
                     "grid_code": grid}
                if xy is not None:
                    u.update(home_building=home or "", x=float(xy[0]), y=float(xy[1]))
                upd_rows.append(u)
            if key:
                keys[mid] = key
        if new_rows or upd_rows:
            rep.assignment_version = write_members(store, pd.DataFrame(new_rows),
                                                   pd.DataFrame(upd_rows), keys)
            rep.written = True
        return rep
    finally:
        store.close()
