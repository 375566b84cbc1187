"""Placing the rows of a roster: by address first, then by coordinates, each row told why.

The added cells of all rows are kept as one list per :data:`ADDED_COLUMNS` key (a
:class:`Cells`); each step below fills or overwrites the cells of the rows it decides.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from geo_grid.address import AddressMatcher
from geo_grid.batch.directory import BuildingLookup
from geo_grid.crs import coordinate_problems, to_cgcs2000
from geo_grid.errors import InvalidInput
from geo_grid.status import MatchStatus

__all__ = ["ADDED_COLUMNS", "Cells", "fill_unplaced", "place_addresses", "place_points"]

#: Added columns: key → header written in the output.
ADDED_COLUMNS: dict[str, str] = {
    "grid_code": "网格编码",
    "grid_name": "网格名称",
    "community": "所属社区",
    "status": "匹配状态",
    "confidence": "置信度",
    "best_candidate": "匹配楼栋",
    "building_code": "楼栋编码",
    "note": "说明",
    "data_problems": "数据问题",
}

#: The added columns being filled: key → one value per row.
Cells = dict[str, list[Any]]

_ADDRESS_KEYS = ("grid_code", "grid_name", "community", "status", "confidence",
                 "best_candidate", "building_code", "note")
_UNDECIDED = ("", "", "", "", None, "", "", "")  # a blank address: coordinates may decide
_CHUNK = 5000  # rows between two progress calls


def place_addresses(
    texts: Sequence[str],
    matcher: AddressMatcher,
    lookup: BuildingLookup,
    progress: Callable[[int, int], None] | None = None,
) -> Cells:
    """Match every address and fill the added cells (status ``''`` for a blank address).

    A text repeated in the roster is answered once (households of one building often share
    their address). A matcher failure on one row makes that row an ``error``; the rest go on.
    """
    n = len(texts)
    memo: dict[str, tuple] = {}
    rows: list[tuple] = [_UNDECIDED] * n
    for start in range(0, n, _CHUNK):
        for i in range(start, min(start + _CHUNK, n)):
            text = texts[i]
            cells = memo.get(text)
            if cells is None:
                cells = memo[text] = _address_cells(text, matcher, lookup)
            rows[i] = cells
        if progress is not None:
            progress(min(start + _CHUNK, n), n)
    if progress is not None and n == 0:
        progress(0, 0)
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in _ADDRESS_KEYS]
    cells = {k: list(col) for k, col in zip(_ADDRESS_KEYS, columns, strict=True)}
    cells["data_problems"] = [""] * n
    return cells


def _address_cells(text: str, matcher: AddressMatcher, lookup: BuildingLookup) -> tuple:
    """The added cells of one address, in :data:`_ADDRESS_KEYS` order."""
    if not text.strip():
        return _UNDECIDED
    try:
        r = matcher.match(text)
    except Exception as exc:  # noqa: BLE001 - one bad row must not stop a batch
        return ("", "", "", MatchStatus.ERROR.value, None, "", "", f"matcher failed: {exc}")
    note = "; ".join(r.reasons)
    confidence = round(r.confidence, 3)
    if r.status == MatchStatus.MATCHED:
        info = lookup(r.building_code)
        if not info:
            return ("", "", "", MatchStatus.ERROR.value, confidence, r.building_address or "",
                    r.building_code or "",
                    f"building {r.building_code} has no grid in the directory; {note}")
        return (info[0] or "", info[1] or "", info[2] or "", MatchStatus.MATCHED.value,
                confidence, r.building_address or "", r.building_code or "", note)
    best = " | ".join(f"{c.address}({c.confidence:.2f})" for c in r.candidates[:3])
    return ("", "", "", str(r.status), confidence, best, "", note)


def place_points(
    cells: Cells,
    frame: pd.DataFrame,
    columns: tuple[str, str],
    locate: Callable[[np.ndarray, np.ndarray], Sequence[Any]],
    crs: str,
    grid_of: Callable[[str], tuple[str | None, str | None] | None] | None,
) -> int:
    """Place by their coordinates the rows whose address did not match; return how many.

    A row with coordinates that are not numbers, out of range or swapped becomes an
    ``error`` (unless its address matched); one outside every grid is ``not_covered``; one in a
    grid is ``located``, also when its address was ambiguous (the note says so).

    Raises
    ------
    InvalidInput
        If ``locate`` fails.
    """
    status = cells["status"]
    todo = [i for i, s in enumerate(status) if s != MatchStatus.MATCHED]
    lon_col, lat_col = columns
    lon = pd.to_numeric(frame[lon_col].iloc[todo], errors="coerce").to_numpy(dtype=float)
    lat = pd.to_numeric(frame[lat_col].iloc[todo], errors="coerce").to_numpy(dtype=float)
    ok, problems = _check_points(lon, lat, crs)
    codes = _locate(lon, lat, ok, crs, locate)
    lons, lats = frame[lon_col].tolist(), frame[lat_col].tolist()
    located = 0
    for k, i in enumerate(todo):
        if not (lons[i].strip() or lats[i].strip()):
            continue
        if not ok[k]:
            _bad_point(cells, i, problems[k] or "lon/lat are not numbers")
        elif _blank_code(codes[k]):
            _not_covered(cells, i)
        else:
            _located(cells, i, str(codes[k]), grid_of)
            located += 1
    return located


def _check_points(lon: np.ndarray, lat: np.ndarray, crs: str) -> tuple[np.ndarray, list]:
    """Which pairs are usable, and the problem of each pair that is not (None otherwise)."""
    ok = np.isfinite(lon) & np.isfinite(lat)
    problems: list[str | None] = [None] * len(lon)
    if ok.any():
        checked = coordinate_problems(lon[ok], lat[ok], crs)
        for k, msg in zip(np.flatnonzero(ok), checked, strict=True):
            if msg is not None:
                problems[k] = msg
                ok[k] = False
    return ok, problems


def _locate(lon: np.ndarray, lat: np.ndarray, ok: np.ndarray, crs: str,
            locate: Callable[[np.ndarray, np.ndarray], Sequence[Any]]) -> list[Any]:
    """Grid code per pair (None where not usable), ``locate`` called once on CGCS2000 lon/lat."""
    codes: list[Any] = [None] * len(lon)
    if ok.any():
        try:
            x, y = to_cgcs2000(lon[ok], lat[ok], crs, validate=False)
            got = list(locate(np.atleast_1d(x), np.atleast_1d(y)))
        except Exception as exc:  # noqa: BLE001
            raise InvalidInput(f"locating coordinates failed: {exc}") from exc
        for k, g in zip(np.flatnonzero(ok), got, strict=True):
            codes[k] = g
    return codes


def _blank_code(g: Any) -> bool:
    return g is None or (isinstance(g, float) and math.isnan(g)) or g == ""


def _with_address(note: str, prev: str) -> str:
    return note + (f" (address: {prev})" if prev else "")


def _bad_point(cells: Cells, i: int, reason: str) -> None:
    if cells["status"][i] in ("", MatchStatus.UNMATCHED, MatchStatus.AMBIGUOUS):
        cells["status"][i] = MatchStatus.ERROR.value
        cells["confidence"][i] = None
        cells["note"][i] = _with_address(f"coordinates: {reason}", cells["note"][i])


def _not_covered(cells: Cells, i: int) -> None:
    if cells["status"][i] in ("", MatchStatus.UNMATCHED):
        cells["status"][i] = MatchStatus.NOT_COVERED.value
        cells["confidence"][i] = None
        cells["note"][i] = _with_address("the coordinates are outside every grid",
                                         cells["note"][i])


def _located(cells: Cells, i: int, code: str, grid_of: Any) -> None:
    was, prev = cells["status"][i], cells["note"][i]
    cells["status"][i] = MatchStatus.LOCATED.value
    cells["confidence"][i] = 1.0
    cells["grid_code"][i] = code
    info = grid_of(code) if callable(grid_of) else None
    if info:
        cells["grid_name"][i] = info[0] or ""
        cells["community"][i] = info[1] or ""
    note = ("address ambiguous; the coordinates decided it" if was == MatchStatus.AMBIGUOUS
            else "located by coordinates")
    cells["note"][i] = _with_address(note, prev)


def fill_unplaced(cells: Cells, has_address: bool, has_coordinates: bool) -> None:
    """Rows nothing decided (blank address, no coordinates) become ``error`` with the reason."""
    reason = ("empty address" if has_address else "no coordinates") + (
        " and no coordinates" if has_coordinates and has_address else "")
    for i, s in enumerate(cells["status"]):
        if s == "":
            cells["status"][i] = MatchStatus.ERROR.value
            cells["note"][i] = reason
