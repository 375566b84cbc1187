"""Batch lookup of Chinese rosters (CSV or xlsx): every row placed in a grid, or told why not.

A community office's household roster goes in; the same rows come out in the same format with
columns added (grid code, grid name, community, match status, confidence, matched building,
building code, notes, data problems) and a summary report. Nothing is dropped and the order is
kept: a row that cannot be placed says why in its own line.

Reading, header detection, ID checks and writing live in :mod:`geo_grid.tables`; this package
holds the batch itself: the grid directory (:mod:`~geo_grid.batch.directory`), placing rows
(:mod:`~geo_grid.batch.rows`) and the summary (:mod:`~geo_grid.batch.report`).

Public API (for the CLI ``geo-grid lookup-batch IN -o OUT [--address-column C]`` and the API's
``POST /api/v1/lookup/batch``)
--------------------------------------------------------------------------------------------
``GridDirectory.from_district(district)`` / ``GridDirectory.from_frames(buildings, grids, communities)``
    Maps building code → (grid code, grid name, community name), and grid code → (grid name,
    community name). Any callable ``code -> (grid_code, grid_name, community) | None`` or a
    mapping works in its place for addresses.
``run_batch(path_in, path_out, matcher, directory, *, address_column=None, sheet=None,
lon_column=None, lat_column=None, locate=None, progress=None, crs="wgs84") -> dict``
    Read, match, write; returns the summary report (``rows, matched, ambiguous, unmatched,
    located, not_covered, errors, by_community, id_problems, address_column, header_row, seconds``).
``read_roster(path, *, sheet=None, address_column=None) -> Roster``
    xlsx (python-calamine, read directly so that cells stored as numbers are known) or CSV
    (UTF-8 with or without BOM, UTF-16, else GB18030). Title rows above the header (merged
    cells) are kept aside.
``lookup_roster(roster, matcher, directory, ...) -> BatchResult`` and
``write_batch_result(result, path)``
    The two halves of :func:`run_batch`, for callers that hold rows in memory.
``lookup_records(addresses, matcher, directory) -> list[dict]``
    A JSON-ready answer per address (for a JSON array of up to 10,000 items).

Statuses are :class:`geo_grid.status.MatchStatus` words: ``matched``, ``ambiguous``,
``unmatched`` (addresses), ``located``, ``not_covered`` (coordinates), ``error``.

Cells: ID-number and phone columns are always written as text (number format ``@``). An
18-digit ID stored as a number in the xlsx has already lost its last digits (Excel keeps 15
significant digits): the row is flagged in ``数据问题`` and counted in ``id_problems``; an ID
stored as text is checked against its GB 11643 checksum.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from geo_grid.address import AddressMatcher
from geo_grid.batch.directory import BuildingLookup, GridDirectory, building_lookup
from geo_grid.batch.reading import ADDRESS_HEADERS, Roster, find_address_column, read_roster
from geo_grid.batch.report import id_problem_notes, summary
from geo_grid.batch.rows import (
    ADDED_COLUMNS,
    fill_unplaced,
    place_addresses,
    place_points,
)
from geo_grid.crs import normalize_crs
from geo_grid.errors import InvalidInput
from geo_grid.status import MatchStatus
from geo_grid.tables import Output, check_id_number, normalize_header, write_table

__all__ = [
    "ADDED_COLUMNS",
    "ADDRESS_HEADERS",
    "BatchResult",
    "BuildingLookup",
    "GridDirectory",
    "Roster",
    "check_id_number",
    "find_address_column",
    "lookup_records",
    "lookup_roster",
    "normalize_header",
    "read_roster",
    "run_batch",
    "write_batch_result",
]

#: Added columns given a wide column in the xlsx (free text).
_WIDE = frozenset({"说明", "匹配楼栋", "数据问题"})


@dataclass(frozen=True)
class BatchResult:
    """The roster with its added columns, and the summary report."""

    roster: Roster
    added: pd.DataFrame
    report: dict[str, Any]


def lookup_roster(
    roster: Roster,
    matcher: AddressMatcher,
    directory: Any,
    *,
    address_column: str | None = None,
    lon_column: str | None = None,
    lat_column: str | None = None,
    locate: Callable[[np.ndarray, np.ndarray], Sequence[Any]] | None = None,
    progress: Callable[[int, int], None] | None = None,
    crs: str | None = "wgs84",
) -> BatchResult:
    """Place every row of a roster.

    Parameters
    ----------
    roster : Roster
        From :func:`read_roster`.
    matcher : AddressMatcher
        Built once for the district.
    directory : GridDirectory, callable, mapping or DataFrame
        Building code → (grid code, grid name, community name).
    address_column : str, optional
        The address column; found by its header when not given.
    lon_column, lat_column : str, optional
        Coordinate columns (found by header 经度/纬度/lon/lat when not given); used, with
        ``locate``, for rows whose address is blank or not matched.
    locate : callable, optional
        ``locate(lon_array, lat_array) -> grid codes`` (None or '' where outside every grid),
        called with CGCS2000 lon/lat.
    crs : str, optional
        CRS of the coordinate columns (:func:`geo_grid.crs.normalize_crs` names: ``wgs84``
        by default, ``cgcs2000``, ``gcj02``, ``bd09``, ``epsg:4549`` metres). Each pair is
        checked on its own (range, swapped lon/lat or x/y): a bad pair makes its row an
        ``error`` with the reason, the other rows go on.
    progress : callable, optional
        ``progress(done, total)`` while matching.

    Returns
    -------
    BatchResult
        ``added`` has one row per roster row, in order, with the :data:`ADDED_COLUMNS` keys;
        ``status`` is ``matched``, ``ambiguous``, ``unmatched`` (addresses), ``located`` or
        ``not_covered`` (by coordinates), or ``error``.
    """
    t0 = time.perf_counter()
    crs_name = normalize_crs(crs)
    frame = roster.frame
    addr_col, points = _columns(roster, address_column, lon_column, lat_column, locate)
    if addr_col is not None:
        cells = place_addresses(frame[addr_col].tolist(), matcher, building_lookup(directory),
                                progress)
    else:
        cells = place_addresses([""] * len(frame), matcher, building_lookup(directory))
    if points is not None:
        place_points(cells, frame, points, locate, crs_name, getattr(directory, "grid", None))
    fill_unplaced(cells, addr_col is not None, points is not None)
    cells["data_problems"] = id_problem_notes(roster)
    report = summary(cells, roster, addr_col=addr_col, points=points, crs=crs_name)
    report["seconds"] = round(time.perf_counter() - t0, 3)
    return BatchResult(roster=roster, added=pd.DataFrame(cells), report=report)


def _columns(
    roster: Roster,
    address_column: str | None,
    lon_column: str | None,
    lat_column: str | None,
    locate: Any,
) -> tuple[str | None, tuple[str, str] | None]:
    """The address column and the (lon, lat) columns used, checked against the roster."""
    frame = roster.frame
    addr_col = find_address_column(list(frame.columns), address_column)
    lon_col = lon_column or next(iter(roster.columns_of("lon")), None)
    lat_col = lat_column or next(iter(roster.columns_of("lat")), None)
    for c in (lon_col, lat_col):
        if c is not None and c not in frame.columns:
            raise InvalidInput(f"no column named {c!r}", column=c)
    points = (lon_col, lat_col) if locate is not None and lon_col and lat_col else None
    if addr_col is None and points is None:
        raise InvalidInput(
            "no address column recognised; columns are: " + ", ".join(map(str, frame.columns)),
            columns=list(map(str, frame.columns)),
        )
    return addr_col, points


def lookup_records(
    addresses: Sequence[str | None], matcher: AddressMatcher, directory: Any
) -> list[dict[str, Any]]:
    """A JSON-ready answer per address, in order (for ``POST /api/v1/lookup/batch`` arrays).

    Each item is ``{"index", "address", "grid_code", "grid_name", "community", "match"}``
    where ``match`` is :meth:`MatchResult.to_dict` (None for a blank address, with
    ``"error": "empty address"``).
    """
    lookup = building_lookup(directory)
    out = []
    for i, (text, r) in enumerate(zip(addresses, matcher.match_many(list(addresses)),
                                      strict=True)):
        item: dict[str, Any] = {"index": i, "address": text, "grid_code": None,
                                "grid_name": None, "community": None, "match": None}
        if r is None:
            item["error"] = "empty address"
        else:
            item["match"] = r.to_dict()
            if r.status == MatchStatus.MATCHED:
                info = lookup(r.building_code)
                if info:
                    item["grid_code"], item["grid_name"], item["community"] = info
        out.append(item)
    return out


def write_batch_result(result: BatchResult, path: str | Path) -> Path:
    """Write the roster with its added columns, in the format of ``path``'s suffix.

    See :mod:`geo_grid.tables.writers`: CSV in the input's encoding; xlsx into a copy of the
    source workbook when it has other sheets or merged cells, else with the fast writer. ID
    and phone columns are written as text (number format ``@``), other cells as read.

    Returns
    -------
    pathlib.Path
    """
    added = result.added
    output = Output(result.roster, headers=list(ADDED_COLUMNS.values()),
                    columns=[added[k].tolist() for k in ADDED_COLUMNS], wide=_WIDE)
    return write_table(output, path)


def run_batch(
    path_in: str | Path,
    path_out: str | Path,
    matcher: AddressMatcher,
    directory: Any,
    *,
    address_column: str | None = None,
    sheet: str | int | None = None,
    lon_column: str | None = None,
    lat_column: str | None = None,
    locate: Callable[[np.ndarray, np.ndarray], Sequence[Any]] | None = None,
    progress: Callable[[int, int], None] | None = None,
    crs: str | None = "wgs84",
) -> dict[str, Any]:
    """Read a roster, place every row, write it out with the added columns.

    Parameters
    ----------
    path_in, path_out : str or Path
        ``.xlsx`` or ``.csv`` (the output format follows ``path_out``'s suffix; give the same
        suffix as the input to keep the format).
    matcher : AddressMatcher
    directory : GridDirectory, callable, mapping or DataFrame
        Building code → (grid code, grid name, community name).
    address_column, sheet, lon_column, lat_column, locate, progress, crs
        See :func:`read_roster` and :func:`lookup_roster`.

    Returns
    -------
    dict
        The summary report, with ``read_s``, ``match_s``, ``write_s`` and ``seconds``.

    Raises
    ------
    InvalidInput
        Unreadable input, no address column, unknown column name or format.
    """
    t0 = time.perf_counter()
    roster = read_roster(path_in, sheet=sheet, address_column=address_column,
                         lon_column=lon_column if locate else None,
                         lat_column=lat_column if locate else None)
    t1 = time.perf_counter()
    result = lookup_roster(roster, matcher, directory, address_column=address_column,
                           lon_column=lon_column, lat_column=lat_column, locate=locate,
                           progress=progress, crs=crs)
    t2 = time.perf_counter()
    write_batch_result(result, path_out)
    t3 = time.perf_counter()
    report = dict(result.report)
    report.update(read_s=round(t1 - t0, 3), match_s=round(t2 - t1, 3), write_s=round(t3 - t2, 3),
                  seconds=round(t3 - t0, 3), output=str(path_out))
    return report
