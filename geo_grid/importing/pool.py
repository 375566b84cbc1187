"""Importing the reinforcement pool and the posts layer from a street office's own files.

Both read a table (xlsx or CSV in UTF-8 or GBK, title rows above the header allowed) the way
member rosters are read (:func:`geo_grid.importing.people.read_people_table`), with Chinese or
English headers; the posts may also come as GeoJSON points. Every row is checked and every
problem names its row and its column; a file with any bad row writes nothing, otherwise all its
rows are written in one transaction (:mod:`geo_grid.store.pool`).

Pool rows: 姓名 (name), 电话 (phone, optional), 类别/类型 (干部 cadre, 辅警 auxiliary_police,
保安 security, 志愿者 volunteer), 经度/纬度 (WGS-84), 容量 (capacity, the members' load units),
开始/结束 (the window of availability, ISO 8601 or a spreadsheet date; optional) and 编号 (an id;
made when absent). Without ``replace`` an entry with a stored id, or without an id but with the
phone of a stored entry, is updated; the others are added.

Post rows: 编号 (id; made when absent), 类型 (卡口 checkpoint, 信息 information, 隔离 isolation,
后勤 logistics), 经度/纬度 (or the GeoJSON point), 每班人数 (per_shift, 1 by default), 安保人数
(min_security, checkpoints only, 0 by default), 名称 (name) and 社区 (community code; the
community the point lies in when absent).

Reports name rows by number, never by a person's name or phone.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

from geo_grid.crs import coordinate_problems, to_cgcs2000
from geo_grid.errors import InvalidInput
from geo_grid.importing.people import NAME, PeopleReport, _norm, read_people_table
from geo_grid.tables import ColumnKind, Vocabulary, phone_problems
from geo_grid.tables.headers import LATITUDE, LONGITUDE, PHONE

__all__ = ["KIND_WORDS", "POOL", "POSTS", "POST_WORDS", "import_posts", "import_reinforcements"]

KIND = ColumnKind("kind", exact=("类别", "类型", "人员类别", "人员类型", "类别/类型", "力量类型",
                                 "kind", "type"), contains=("类别", "类型"))
CAPACITY = ColumnKind("capacity", exact=("容量", "承载量", "可承担量", "capacity"),
                      contains=("容量",))
FROM = ColumnKind("available_from", exact=("开始", "开始时间", "可用开始", "可用开始时间",
                                           "available_from", "from", "start"),
                  contains=("开始",))
TO = ColumnKind("available_to", exact=("结束", "结束时间", "可用结束", "可用结束时间",
                                       "available_to", "to", "end"), contains=("结束",))
REF = ColumnKind("ref", exact=("编号", "人员编号", "点位编号", "工号", "id"))
PLACE_NAME = ColumnKind("name", exact=("名称", "点位名称", "卡口名称", "岗位名称", "name"),
                        contains=("名称",))
PER_SHIFT = ColumnKind("per_shift", exact=("每班人数", "每班", "班次人数", "per_shift"),
                       contains=("每班",))
MIN_SECURITY = ColumnKind("min_security", exact=("安保人数", "最少安保", "最少安保人数",
                                                 "min_security"), contains=("安保",))
COMMUNITY = ColumnKind("community", exact=("社区", "社区编码", "所属社区", "community_code",
                                           "community"), contains=("社区",))

#: The columns of a pool file.
POOL = Vocabulary((PHONE, LONGITUDE, LATITUDE, NAME, KIND, CAPACITY, FROM, TO, REF))
#: The columns of a posts file.
POSTS = Vocabulary((LONGITUDE, LATITUDE, KIND, PER_SHIFT, MIN_SECURITY, COMMUNITY, PLACE_NAME,
                    REF))

#: Kind words of a pool file → the pool's kinds.
KIND_WORDS = {
    "干部": "cadre", "机关干部": "cadre", "下沉干部": "cadre", "cadre": "cadre",
    "辅警": "auxiliary_police", "协警": "auxiliary_police",
    "auxiliary_police": "auxiliary_police",
    "保安": "security", "安保": "security", "物业保安": "security", "security": "security",
    "志愿者": "volunteer", "volunteer": "volunteer",
}
#: Kind words of a posts file → the post kinds.
POST_WORDS = {
    "卡口": "checkpoint", "卡点": "checkpoint", "检查点": "checkpoint", "checkpoint": "checkpoint",
    "信息": "information", "信息组": "information", "信息管理": "information",
    "information": "information",
    "隔离": "isolation", "隔离组": "isolation", "隔离管理": "isolation", "isolation": "isolation",
    "后勤": "logistics", "后勤组": "logistics", "后勤保障": "logistics", "后勤管理": "logistics",
    "logistics": "logistics",
}
MAX_CAPACITY = 1_000.0


def _problem(code: str, column: str | None, message: str) -> str:
    where = f"column {column!r}: " if column else ""
    return f"{code}: {where}{message}"


def _number(text: str) -> float | None:
    try:
        v = float(text)
    except (TypeError, ValueError):
        return None
    return v if np.isfinite(v) else None


def _coordinates(lon: list[str], lat: list[str], lon_col: str, lat_col: str):
    """lon/lat (CGCS2000 degrees) of each row, or the problem of the row."""
    both = f"{lon_col}/{lat_col}"
    n = len(lon)
    lo = np.array([_number(x) if x else None for x in lon], dtype=float)
    la = np.array([_number(x) if x else None for x in lat], dtype=float)
    probs: list[str | None] = [None] * n
    for i in range(n):
        if not lon[i] or not lat[i]:
            probs[i] = _problem("missing_coordinates", both, "lon and lat are both needed")
        elif not (np.isfinite(lo[i]) and np.isfinite(la[i])):
            probs[i] = _problem("bad_coordinates", both, "lon/lat are not numbers in degrees")
    ok = np.array([p is None for p in probs], dtype=bool)
    if ok.any():
        msgs = coordinate_problems(lo[ok], la[ok], "wgs84")
        for i, m in zip(np.flatnonzero(ok), msgs, strict=True):
            if m:
                probs[i] = _problem("bad_coordinates", both, m)
    ok = np.array([p is None for p in probs], dtype=bool)
    out = np.full((n, 2), np.nan)
    if ok.any():
        x, y = to_cgcs2000(lo[ok], la[ok], "wgs84", validate=False)
        out[ok] = np.column_stack([x, y])
    return out, probs


def _community_of(store, xy: np.ndarray) -> list[str | None]:
    """The community each point (CGCS2000 lon/lat, NaN for none) lies in."""
    with store.engine.connect() as conn:
        comm = store._layer(conn, "communities")
    out: list[str | None] = [None] * len(xy)
    ok = np.isfinite(xy).all(axis=1)
    if ok.any() and len(comm):
        rows = np.flatnonzero(ok)
        p, t = comm.sindex.query(shapely.points(xy[ok]), predicate="intersects")
        codes = comm["code"].astype(str).to_numpy()
        for pi, ti in zip(p, t, strict=True):
            out[rows[pi]] = out[rows[pi]] or codes[ti]
    return out


def _next_ids(prefix: str, taken: set[str], n: int) -> list[str]:
    nums = [int(m.group(1)) for t in taken if (m := re.fullmatch(re.escape(prefix) + r"(\d+)", t))]
    start = max(nums, default=0) + 1
    return [f"{prefix}{i:04d}" for i in range(start, start + n)]


def _columns(frame: pd.DataFrame, cols: dict[str, str | None]):
    n = len(frame)

    def col(kind: str) -> list[str]:
        c = cols.get(kind)
        return [str(s).strip() for s in frame[c]] if c is not None else [""] * n

    return col


def import_reinforcements(db: Path | str, path: Path | str, *, sheet: str | None = None,
                          fields: dict[str, str] | None = None,
                          replace: bool = False) -> PeopleReport:
    """Import a street's reinforcement pool from a table.

    Parameters
    ----------
    db : Path or str
        The store.
    path : Path or str
        The pool file (``.xlsx``, ``.csv``...).
    sheet : str, optional
        The sheet of a workbook (the first by default).
    fields : dict, optional
        Kind → column name for headers not recognised (kinds: ``name, phone, kind, lon, lat,
        capacity, available_from, available_to, ref``).
    replace : bool
        Replace the street's whole pool (otherwise entries are added or updated).

    Returns
    -------
    PeopleReport
        ``written`` is False when bad rows stopped the import (nothing was written).

    Raises
    ------
    InvalidInput
        No header with a name, kind, lon and lat column; no capacity column.
    """
    from sqlalchemy import select

    from geo_grid.store import Store, schema
    from geo_grid.store.pool import PoolEntry, parse_time, read_pool, street_code, write_pool

    table, cols = read_people_table(Path(path), POOL, fields or {},
                                    ("name", "kind", "lon", "lat"), sheet, "reinforcement pool")
    if cols["capacity"] is None:
        raise InvalidInput("the pool file has no capacity column (容量): every entry needs a "
                           "capacity in the members' load units", columns=list(table.header))
    store = Store(db)
    try:
        street = street_code(store)
        f = table.frame
        n = len(f)
        col = _columns(f, cols)
        name, phone, kind_t, cap_t, from_t, to_t, ref = (
            col(k) for k in ("name", "phone", "kind", "capacity", "available_from",
                             "available_to", "ref"))
        xy, xy_bad = _coordinates(col("lon"), col("lat"), cols["lon"], cols["lat"])
        ph_bad = (phone_problems(phone, table.numeric.get(cols["phone"]))
                  if cols["phone"] else [None] * n)
        communities = _community_of(store, xy)
        stored = read_pool(store, street) if not replace else []
        by_phone = {e.phone: e.id for e in stored if e.phone}
        stored_ids = {e.id for e in read_pool(store, street)}
        with store.engine.connect() as conn:
            member_ids = set(conn.execute(select(schema.members.c.id)).scalars())
        first = table.header_row + 2
        rep = PeopleReport(str(path), "reinforcements", cols)
        seen: dict[str, int] = {}
        plans = []
        for i in range(n):
            problems: list[str] = []
            if not name[i]:
                problems.append(_problem("missing_name", cols["name"], "the name is blank"))
            kind = KIND_WORDS.get(_norm(kind_t[i]))
            if kind is None:
                problems.append(_problem(
                    "unknown_kind", cols["kind"], f"{kind_t[i] or 'blank'!r} is not a kind of "
                    f"reinforcement (干部/cadre, 辅警/auxiliary_police, 保安/security, "
                    f"志愿者/volunteer)"))
            if xy_bad[i]:
                problems.append(xy_bad[i])
            if ph_bad[i] and phone[i]:
                problems.append(_problem("bad_phone", cols["phone"], ph_bad[i]))
            cap = _number(cap_t[i]) if cap_t[i] else None
            if not cap_t[i]:
                problems.append(_problem("missing_capacity", cols["capacity"],
                                         "the capacity is blank"))
            elif cap is None or not 0 < cap <= MAX_CAPACITY:
                problems.append(_problem("bad_capacity", cols["capacity"],
                                         f"{cap_t[i]!r} is not a number in (0, "
                                         f"{MAX_CAPACITY:g}]"))
            window = []
            for text, c in ((from_t[i], cols["available_from"]), (to_t[i], cols["available_to"])):
                try:
                    window.append(parse_time(text, "the time") if text else None)
                except InvalidInput as exc:
                    window.append(None)
                    problems.append(_problem("bad_time", c, exc.message))
            if window[0] and window[1] and window[1] < window[0]:
                problems.append(_problem("bad_window", cols["available_to"],
                                         "the end is before the start"))
            rid = ref[i]
            if rid and rid in member_ids:
                problems.append(_problem("id_clash", cols["ref"], f"{rid!r} is a member's id"))
            for key in (rid and "id:" + rid, phone[i] and "phone:" + phone[i]):
                if key and key in seen:
                    problems.append(_problem("duplicate", cols["ref"] if key.startswith("id:")
                                             else cols["phone"],
                                             f"the same entry as row {seen[key]}"))
                elif key:
                    seen[key] = first + i
            target = rid or by_phone.get(phone[i])
            status = "bad" if problems else ("updated" if target in stored_ids else "imported")
            rep.rows.append({"row": first + i, "status": status, "problems": problems})
            plans.append((i, kind, cap, window, target))
        rep.extra.update(street_code=street, replace=replace)
        if rep.bad or n == 0:
            return rep
        fresh = iter(_next_ids("RP", stored_ids, sum(p[4] is None for p in plans)))
        entries = []
        for (i, kind, cap, window, target), entry in zip(plans, rep.rows, strict=True):
            rid = target or next(fresh)
            entry["id"] = rid
            entries.append(PoolEntry(
                id=rid, street_code=street, name=name[i], phone=phone[i], kind=kind,
                lon=float(xy[i, 0]), lat=float(xy[i, 1]), capacity=float(cap),
                available_from=window[0], available_to=window[1],
                community_code=communities[i]))
        rep.extra.update(write_pool(store, entries, replace=replace))
        rep.written = True
        return rep
    finally:
        store.close()


def _geojson_frame(path: Path) -> tuple[pd.DataFrame, dict[str, str | None], int]:
    """A GeoJSON file of points as a text frame with ``经度``/``纬度`` columns (WGS-84 or
    CGCS2000 degrees; another CRS named by the file is transformed)."""
    import geopandas as gpd

    try:
        gdf = gpd.read_file(path)
    except Exception as exc:  # noqa: BLE001 - any reader failure is the file's problem
        raise InvalidInput(f"cannot read {path.name} as GeoJSON: {exc}", file=path.name) from exc
    if gdf.crs is not None and gdf.crs.to_epsg() not in (4326, 4490):
        gdf = gdf.to_crs(4490)
    bad = [i + 1 for i, g in enumerate(gdf.geometry)
           if g is None or g.is_empty or g.geom_type != "Point"]
    if bad:
        raise InvalidInput(f"{path.name}: feature(s) {bad[:10]} are not points; the posts are "
                           "points", file=path.name, features=bad[:100])
    frame = pd.DataFrame({c: ["" if v is None or (isinstance(v, float) and np.isnan(v))
                              else str(v) for v in gdf[c]]
                          for c in gdf.columns if c != gdf.geometry.name}, dtype=object)
    frame["经度"] = [repr(float(g.x)) for g in gdf.geometry]
    frame["纬度"] = [repr(float(g.y)) for g in gdf.geometry]
    cols = POSTS.resolve(frame.columns)
    return frame, cols, 1


def import_posts(db: Path | str, path: Path | str, *, sheet: str | None = None,
                 fields: dict[str, str] | None = None, replace: bool = False) -> PeopleReport:
    """Import a street's posts (checkpoints and the 信息/隔离/后勤 posts).

    Parameters
    ----------
    db : Path or str
        The store.
    path : Path or str
        ``.geojson``/``.json`` points, or a table (``.xlsx``, ``.csv``...) with lon/lat.
    sheet : str, optional
        The sheet of a workbook.
    fields : dict, optional
        Kind → column name for headers not recognised (kinds: ``kind, lon, lat, per_shift,
        min_security, community, name, ref``).
    replace : bool
        Replace the street's posts (otherwise posts are added, or updated by id).

    Returns
    -------
    PeopleReport
        Rows are numbered as in the file (GeoJSON: the feature's position, from 1).
    """
    from geo_grid.rosters.model import Post
    from geo_grid.store import Store
    from geo_grid.store.pool import StoredPost, read_posts, street_code, write_posts

    path = Path(path)
    if path.suffix.lower() in (".geojson", ".json"):
        frame, cols, first = _geojson_frame(path)
        if cols["kind"] is None:
            raise InvalidInput(f"{path.name}: the features have no kind property (类型/kind)",
                               file=path.name)
    else:
        table, cols = read_people_table(path, POSTS, fields or {}, ("kind", "lon", "lat"), sheet,
                                        "posts file")
        frame, first = table.frame, table.header_row + 2
    store = Store(db)
    try:
        street = street_code(store)
        n = len(frame)
        col = _columns(frame, cols)
        kind_t, ref, per_t, sec_t, comm_t, name = (
            col(k) for k in ("kind", "ref", "per_shift", "min_security", "community", "name"))
        xy, xy_bad = _coordinates(col("lon"), col("lat"), cols["lon"], cols["lat"])
        inside = _community_of(store, xy)
        with store.engine.connect() as conn:
            known = set(store._layer(conn, "communities")["code"].astype(str))
        stored_ids = {p.id for p in read_posts(store, street)}
        rep = PeopleReport(str(path), "posts", cols)
        seen: dict[str, int] = {}
        plans = []
        for i in range(n):
            problems: list[str] = []
            kind = POST_WORDS.get(_norm(kind_t[i]))
            if kind is None:
                problems.append(_problem(
                    "unknown_kind", cols["kind"], f"{kind_t[i] or 'blank'!r} is not a kind of "
                    "post (卡口/checkpoint, 信息/information, 隔离/isolation, 后勤/logistics)"))
            if xy_bad[i]:
                problems.append(xy_bad[i])
            counts = []
            for text, c, default in ((per_t[i], cols["per_shift"], 1),
                                     (sec_t[i], cols["min_security"], 0)):
                v = _number(text) if text else float(default)
                if v is None or not v.is_integer() or v < 0 or v > 50:
                    problems.append(_problem("bad_count", c, f"{text!r} is not a whole number "
                                             "from 0 to 50"))
                    v = float(default)
                counts.append(int(v))
            community = comm_t[i] or inside[i]
            if comm_t[i] and comm_t[i] not in known:
                problems.append(_problem("unknown_community", cols["community"],
                                         f"no community has the code {comm_t[i]!r}"))
            pid = ref[i]
            if pid and pid in seen:
                problems.append(_problem("duplicate", cols["ref"],
                                         f"the same id as row {seen[pid]}"))
            elif pid:
                seen[pid] = first + i
            if kind is not None and not problems:
                try:  # the roster's own rules (per_shift ≥ 1, min_security at checkpoints only)
                    Post(pid or "post", kind, float(xy[i, 0]), float(xy[i, 1]), counts[0],
                         counts[1])
                except InvalidInput as exc:
                    which = ("min_security" if "min_security" in exc.message else "per_shift")
                    problems.append(_problem("bad_post", cols[which] or which,
                                             exc.message.split(": ", 1)[-1]))
            status = "bad" if problems else ("updated" if pid in stored_ids else "imported")
            rep.rows.append({"row": first + i, "status": status, "problems": problems})
            plans.append((i, kind, counts, community, pid or None))
        rep.extra.update(street_code=street, replace=replace)
        if rep.bad or n == 0:
            return rep
        fresh = iter(_next_ids("PT", stored_ids if not replace else set(),
                               sum(p[4] is None for p in plans)))
        posts = []
        for (i, kind, counts, community, pid), entry in zip(plans, rep.rows, strict=True):
            pid = pid or next(fresh)
            entry["id"] = pid
            posts.append(StoredPost(id=pid, street_code=street, kind=kind, lon=float(xy[i, 0]),
                                    lat=float(xy[i, 1]), per_shift=counts[0],
                                    min_security=counts[1], name=name[i] or None,
                                    community_code=community))
        rep.extra.update(write_posts(store, posts, replace=replace))
        rep.written = True
        return rep
    finally:
        store.close()

