"""Reading a household roster: the header row is the one that names an address column (or
lon/lat columns), found below any merged title rows."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from geo_grid.tables.headers import ADDRESS, ROSTER, normalize_header
from geo_grid.tables.table import Table, read_table

__all__ = ["ADDRESS_HEADERS", "Roster", "find_address_column", "read_roster"]

#: A roster as read (the generic :class:`geo_grid.tables.Table`).
Roster = Table

#: Address headers in order of preference (compared after :func:`normalize_header`).
ADDRESS_HEADERS: tuple[str, ...] = ADDRESS.exact


def find_address_column(columns: Sequence[Any], explicit: str | None = None) -> str | None:
    """Find the address column among ``columns`` (original header labels).

    Parameters
    ----------
    columns : sequence
        Header labels as read.
    explicit : str, optional
        A name given by the caller, compared after :func:`normalize_header`.

    Returns
    -------
    str or None
        The original label of the address column, or None if none is recognised: an exact
        :data:`ADDRESS_HEADERS` name first, then any header with 住址/地址 (a 户籍 or 邮
        address last).

    Raises
    ------
    InvalidInput
        If ``explicit`` is given and no column has that name.
    """
    return ROSTER.find(columns, "address", explicit)


def read_roster(
    path: str | Path,
    *,
    sheet: str | int | None = None,
    address_column: str | None = None,
    lon_column: str | None = None,
    lat_column: str | None = None,
) -> Roster:
    """Read a roster and find its header row.

    The header is the first of the top rows that holds the named columns, else an
    address-like header (:data:`ADDRESS_HEADERS`) among at least two labels, else lon/lat
    headers; rows above it are title rows (merged cells read as one value and blanks).

    Parameters
    ----------
    path : str or Path
        ``.xlsx`` or ``.csv`` (any suffix of :data:`geo_grid.tables.READERS`).
    sheet : str or int, optional
        Sheet name or index (xlsx); the first by default.
    address_column, lon_column, lat_column : str, optional
        Column names given by the caller (compared after :func:`normalize_header`).

    Returns
    -------
    Roster

    Raises
    ------
    InvalidInput
        Unreadable file, unknown format, or no header row found.
    """
    wanted = [normalize_header(c) for c in (address_column, lon_column, lat_column) if c]
    if wanted:
        def accept(cells: list[str]) -> bool:
            return all(w in cells for w in wanted)
        fallback = None
    else:
        def accept(cells: list[str]) -> bool:
            return len(cells) >= 2 and find_address_column(cells) is not None

        def fallback(cells: list[str]) -> bool:
            return {"lon", "lat"} <= {ROSTER.classify(c) for c in cells}
    return read_table(path, accept, fallback=fallback, sheet=sheet, vocabulary=ROSTER,
                      missing="an address column", hint="name it with the address column option")
