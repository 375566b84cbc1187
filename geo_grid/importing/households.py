"""Importing households: per-building counts, or a household roster aggregated to buildings.

Two shapes of file are understood:

- **counts** (a ``户数``/households column): one row a building, named by its code (楼栋编码)
  or its address (placed by the address matcher), with households, residents (人口) and
  vulnerable households by kind (独居老人, 残疾, 慢病/慢性病, 婴幼儿). Each building's
  households are drawn as that many rows: residents spread as evenly as whole people allow,
  the first ``k`` households carrying a flag counted ``k``.
- **roster** (no households column): one row a household, with its address (or building code),
  size (家庭人口/人数) and flags (a yes/no column per kind, or a 类别 column naming kinds).

The households of every building named in the file are replaced (a building in the file with no
row left gets none) and the buildings' ``households`` count set to match, in one transaction.
Kinds the store has no column for (低保, 特困) are reported as ``unknown_kinds``. Once the
households table has rows, a building with none counts no households in the figures, whatever
its layer says: ``buildings_without_households`` counts the buildings still to be loaded.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from geo_grid.errors import InvalidInput
from geo_grid.importing.people import PeopleReport, _norm, place_addresses, read_people_table
from geo_grid.population import HOUSEHOLD_SIZE_P
from geo_grid.tables import ColumnKind, Vocabulary
from geo_grid.tables.headers import ADDRESS

__all__ = ["FLAG_WORDS", "HOUSEHOLDS", "import_households"]

BUILDING = ColumnKind("building", exact=("楼栋编码", "楼栋代码", "楼栋编号", "建筑编码", "建筑物编码",
                                         "building_code", "building"),
                      contains=("楼栋编码", "建筑编码", "楼栋代码"))
COUNT = ColumnKind("households", exact=("户数", "住户数", "总户数", "居民户数", "households"),
                   contains=("户数",))
RESIDENTS = ColumnKind("residents", exact=("人口", "常住人口", "总人口", "居住人口", "residents"),
                       contains=("人口",), avoid=("家庭",))
SIZE = ColumnKind("size", exact=("家庭人口", "家庭人数", "户人口", "户内人数", "人数", "家庭成员数",
                                 "size"), contains=("人数",))
TAGS = ColumnKind("tags", exact=("类别", "标签", "重点人群", "人群类别", "特殊人群", "tags"))
ELDERLY = ColumnKind("elderly_alone", exact=("elderly_alone",), contains=("独居",))
DISABLED = ColumnKind("disabled", exact=("disabled",), contains=("残疾",))
CHRONIC = ColumnKind("chronic", exact=("chronic",), contains=("慢病", "慢性病"))
INFANT = ColumnKind("infant", exact=("infant",), contains=("婴幼儿", "婴儿"))

#: The columns of a households file, in the order they are recognised.
HOUSEHOLDS = Vocabulary((BUILDING, COUNT, SIZE, RESIDENTS, TAGS, ELDERLY, DISABLED, CHRONIC,
                         INFANT, ADDRESS))
FLAGS = ("elderly_alone", "disabled", "chronic", "infant")
#: Words of a kind of vulnerable household → the store's flag.
FLAG_WORDS = {"独居": "elderly_alone", "残疾": "disabled", "慢病": "chronic", "慢性病": "chronic",
              "婴幼儿": "infant", "婴儿": "infant"}
#: Kinds an office counts that the store has no column for.
UNKNOWN_KIND_WORDS = ("低保", "特困", "优抚", "困难")
_YES = {"是", "有", "1", "y", "yes", "true", "√", "✓", "x"}
_MEAN_SIZE = sum(k * p for k, p in HOUSEHOLD_SIZE_P.items())


def _whole(text: str) -> int | None:
    """A cell as a whole number ≥ 0 (None when blank or not one)."""
    try:
        v = float(text)
    except ValueError:
        return None
    return int(v) if v >= 0 and v == int(v) else None


def import_households(db: Path | str, path: Path | str, *, sheet: str | None = None,
                      fields: dict[str, str] | None = None,
                      skip_bad_rows: bool = False) -> PeopleReport:
    """Replace the households of the buildings a file names.

    Parameters
    ----------
    db : Path or str
        The store.
    path : Path or str
        Per-building counts or a household roster (``.xlsx``, ``.csv``...).
    sheet : str, optional
        The sheet of a workbook.
    fields : dict, optional
        Kind → column (kinds: ``building, households, size, residents, tags, elderly_alone,
        disabled, chronic, infant, address``).
    skip_bad_rows : bool
        Import the good rows of a file that has bad ones.

    Returns
    -------
    PeopleReport
        ``extra`` holds ``mode`` (counts or roster), ``buildings`` replaced, ``households`` and
        ``residents`` written and ``unknown_kinds``.
    """
    from geo_grid.store import Store
    from geo_grid.store.people import replace_households

    fields = fields or {}
    table, cols = read_people_table(Path(path), HOUSEHOLDS, fields, (), sheet,
                                     "households file", any_of=("building", "address"))
    if cols["building"] is None and cols["address"] is None:
        raise InvalidInput("the households file has neither a building code (楼栋编码) nor an "
                           "address (地址) column; name one with --field building=COLUMN or "
                           "--field address=COLUMN")
    unknown_kinds = sorted({w for c in table.frame.columns for w in UNKNOWN_KIND_WORDS
                            if w in _norm(str(c))})
    mode = "counts" if cols["households"] is not None else "roster"
    store = Store(db)
    try:
        district = store.load_district()
        f = table.frame
        n = len(f)

        def col(kind: str) -> list[str]:
            c = cols.get(kind)
            return [s.strip() for s in f[c]] if c is not None else [""] * n

        codes_known = set(district.buildings["code"].astype(str))
        bcode = col("building")
        addr = col("address")
        placed = [None] * n
        if cols["address"] is not None and any(not c for c in bcode):
            placed, _ = place_addresses(district, [a if not c else "" for a, c in
                                                   zip(addr, bcode, strict=True)])
        unit_room = _unit_room(district, addr) if mode == "roster" and cols["address"] else None
        first = table.header_row + 2
        rep = PeopleReport(str(path), "households", cols)
        out = []
        seen: dict[str, int] = {}
        for i in range(n):
            problems: list[str] = []
            code = bcode[i] or placed[i]
            if bcode[i] and bcode[i] not in codes_known:
                problems.append(f"unknown_building: no building has the code {bcode[i]!r}")
                code = None
            elif code is None:
                problems.append("unplaced_address: the address was not placed in a building"
                                if addr[i] else "missing_building: no building code or address")
            if mode == "counts":
                rows, more = _count_rows(code, {k: col(k)[i] for k in
                                                ("households", "residents", *FLAGS)})
                if code is not None and code in seen:
                    more.append(f"duplicate: building already in row {seen[code]}")
            else:
                ur = unit_room[i] if unit_room is not None else (0, 0)
                rows, more, kinds = _roster_row(code, col("size")[i], col("tags")[i],
                                                {k: col(k)[i] for k in FLAGS}, ur)
                unknown_kinds = sorted(set(unknown_kinds) | set(kinds))
            problems += more
            if code is not None:
                seen.setdefault(code, first + i)
            rep.rows.append({"row": first + i, "status": "bad" if problems else "imported",
                             "problems": problems, "building_code": code})
            if not problems:
                out.extend(rows)
        named = sorted({r["building_code"] for r in rep.rows
                        if not r["problems"] and r["building_code"]})
        frame = pd.DataFrame(out, columns=["building_code", "unit", "room", "size", *FLAGS])
        # once the households table has rows, a building without any counts 0 households
        # whatever its layer says: name those, so the office knows what is still to load
        b = district.buildings
        kept = set(district.households["building_code"].astype(str)) - set(named)
        has_rows = kept | set(frame["building_code"])
        missing = b[(b["households"] > 0) & ~b["code"].astype(str).isin(has_rows)
                    & ~b["code"].astype(str).isin(named)]
        rep.extra = {"mode": mode, "buildings": len(named), "households": len(frame),
                     "residents": int(frame["size"].sum()) if len(frame) else 0,
                     "unknown_kinds": unknown_kinds,
                     "buildings_without_households": int(len(missing)) if has_rows else 0}
        if rep.bad and not skip_bad_rows:
            return rep
        if named:
            rep.assignment_version = replace_households(store, named, frame)
            rep.written = True
        return rep
    finally:
        store.close()


def _unit_room(district, addresses: list[str]) -> list[tuple[int, int]]:
    from geo_grid.address import parse

    out = []
    for a in addresses:
        p = parse(a) if a else None
        out.append((int(getattr(p, "unit", None) or 0), int(getattr(p, "room", None) or 0)))
    return out


def _count_rows(code: str | None, cells: dict[str, str]) -> tuple[list[dict], list[str]]:
    """The household rows of one building's counts, and the row's problems."""
    problems = []
    hh = _whole(cells["households"])
    if hh is None:
        problems.append(f"bad_count: households {cells['households'] or 'blank'!r} is not a "
                        "whole number ≥ 0")
        return [], problems
    res = _whole(cells["residents"]) if cells["residents"] else None
    if cells["residents"] and res is None:
        problems.append(f"bad_count: residents {cells['residents']!r} is not a whole number ≥ 0")
    elif res is not None and res < hh:
        problems.append(f"bad_count: {res} residents cannot fill {hh} households")
    flags = {}
    for k in FLAGS:
        v = _whole(cells[k]) if cells[k] else 0
        if v is None or v > hh:
            problems.append(f"bad_count: {k} {cells[k]!r} is not a whole number ≤ households")
        flags[k] = v or 0
    if problems or code is None:
        return [], problems
    # residents not given: the usual mean household size of the synthetic population
    res = res if res is not None else int(round(hh * _MEAN_SIZE))
    sizes = np.full(hh, res // hh if hh else 0) + (np.arange(hh) < (res % hh if hh else 0))
    return [{"building_code": code, "unit": 0, "room": 0, "size": int(sizes[j]),
             **{k: j < flags[k] for k in FLAGS}} for j in range(hh)], problems


def _truthy(text: str) -> bool | None:
    t = _norm(text)
    if not t or t in {"否", "无", "0", "n", "no", "false"}:
        return False
    return True if t in _YES else None


def _roster_row(code, size_t: str, tags: str, cells: dict[str, str],
                unit_room: tuple[int, int]) -> tuple[list[dict], list[str], list[str]]:
    """The one household row of a roster line, its problems and the kinds of its 类别 cell
    the store has no column for."""
    problems = []
    size = _whole(size_t) if size_t else 1
    if size is None or size < 1:
        problems.append(f"bad_size: {size_t!r} is not a household size ≥ 1")
    flags = {k: False for k in FLAGS}
    for k in FLAGS:
        v = _truthy(cells[k])
        if v is None:
            problems.append(f"bad_flag: {k} {cells[k]!r} is not yes or no (是/否)")
        flags[k] = bool(v)
    for word, k in FLAG_WORDS.items():
        if word in tags:
            flags[k] = True
    kinds = [w for w in UNKNOWN_KIND_WORDS if w in tags]
    if problems or code is None:
        return [], problems, kinds
    return [{"building_code": code, "unit": unit_room[0], "room": unit_room[1], "size": size,
             **flags}], problems, kinds
