"""A table as read from a file: its header, its rows as text and as stored, and its layout.

:func:`read_table` reads any registered format (:mod:`geo_grid.tables.readers`), finds the
header row with a caller's rule (:func:`geo_grid.tables.headers.find_header_row`), keeps the
title rows above it aside and recognises the kind of each column with a
:class:`~geo_grid.tables.headers.Vocabulary`. What it returns is enough to write the same table
back with columns added (:mod:`geo_grid.tables.writers`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from geo_grid.errors import InvalidInput
from geo_grid.tables.cells import cell_text
from geo_grid.tables.headers import (
    HEADER_SCAN_ROWS,
    ROSTER,
    Vocabulary,
    find_header_row,
    header_candidates,
    unique_labels,
)
from geo_grid.tables.readers import read_rows

__all__ = ["Table", "read_table"]


@dataclass(frozen=True)
class Table:
    """A table as read: its data rows (text), raw cell values and layout.

    Attributes
    ----------
    frame : pandas.DataFrame
        One column per header (labels made unique), every cell as text ('' when empty).
    values : list of list
        The raw cell values as read (numbers stay numbers), used to write other columns back
        unchanged.
    header : tuple of str
        The header labels as read.
    title_rows : tuple of tuple
        Rows above the header (merged title rows), written back unchanged.
    header_row : int
        0-based row index of the header in the file.
    numeric : dict
        Column label → boolean array: cells stored as numbers (xlsx only).
    kinds : dict
        Column label → its kind in the vocabulary read with (``id``, ``phone``, ``lon``,
        ``lat``, ``address`` for a roster).
    format : str
        ``xlsx`` or ``csv``.
    encoding : str
        CSV encoding read (written back the same).
    sheet : str or None
        The sheet read.
    trimmed_blank_rows : int
        Blank rows dropped at the end.
    source : str or None
        The file read (an xlsx written back keeps its other sheets and merged cells).
    """

    frame: pd.DataFrame
    values: list[list[Any]]
    header: tuple[str, ...]
    title_rows: tuple[tuple[Any, ...], ...]
    header_row: int
    numeric: dict[str, np.ndarray]
    kinds: dict[str, str]
    format: str
    encoding: str = "utf-8"
    sheet: str | None = None
    trimmed_blank_rows: int = 0
    source: str | None = None

    def columns_of(self, kind: str) -> list[str]:
        """Labels of the columns of one kind, in order."""
        return [lab for lab, k in self.kinds.items() if k == kind]


def read_table(
    path: str | Path,
    accept: Callable[[list[str]], bool],
    *,
    fallback: Callable[[list[str]], bool] | None = None,
    sheet: str | int | None = None,
    vocabulary: Vocabulary = ROSTER,
    missing: str = "the expected columns",
    hint: str = "name the columns",
) -> Table:
    """Read a table file and find its header row.

    Parameters
    ----------
    path : str or Path
        Any suffix with a registered reader (``.xlsx``, ``.csv``...).
    accept : callable
        ``accept(cells) -> bool`` on a row's normalised non-blank cells: True for the header.
    fallback : callable, optional
        A second rule, tried on the same rows when no row is accepted.
    sheet : str or int, optional
        Sheet name or index (workbooks); the first by default.
    vocabulary : Vocabulary
        Recognises the kind of each column (:attr:`Table.kinds`).
    missing, hint : str
        What the header must hold and what to do about it, for the error message.

    Returns
    -------
    Table

    Raises
    ------
    InvalidInput
        Unreadable file, unknown format, or no header row in the first rows.
    """
    raw = read_rows(path, sheet)
    rows = raw.rows
    header_row = find_header_row(rows, accept)
    if header_row is None and fallback is not None:
        header_row = find_header_row(rows, fallback)
    if header_row is None:
        candidates = header_candidates(rows)
        raise InvalidInput(
            f"no header row with {missing} found in the first {HEADER_SCAN_ROWS} rows; {hint} "
            f"(header candidates: {', '.join(candidates) or 'none'})",
            header_candidates=candidates,
        )
    header = [cell_text(v).strip() for v in rows[header_row]]
    labels = unique_labels(header)
    data = rows[header_row + 1:]
    trimmed = 0
    while data and not any(cell_text(v).strip() for v in data[-1]):
        data.pop()
        trimmed += 1
    frame, numeric = _columns(labels, data)
    return Table(
        frame=frame, values=data, header=tuple(header),
        title_rows=tuple(tuple(r) for r in rows[:header_row]), header_row=header_row,
        numeric=numeric,
        kinds={lab: k for lab in labels if (k := vocabulary.classify(lab)) is not None},
        format=raw.format, encoding=raw.encoding, sheet=raw.sheet, trimmed_blank_rows=trimmed,
        source=str(path),
    )


def _columns(labels: list[str], data: list[list[Any]]) -> tuple[pd.DataFrame, dict]:
    """The text frame and the stored-as-number masks of the data rows."""
    cols = list(zip(*data, strict=True)) if data else [() for _ in labels]
    texts, numeric = {}, {}
    for lab, col in zip(labels, cols, strict=True):
        types = set(map(type, col))
        if types <= {str}:  # a CSV column, or a text-only sheet column: nothing to convert
            texts[lab] = list(col)
            numeric[lab] = np.zeros(len(col), dtype=bool)
            continue
        texts[lab] = [cell_text(v) for v in col]
        numeric[lab] = np.fromiter(
            (isinstance(v, int | float) and not isinstance(v, bool) for v in col),
            dtype=bool, count=len(col))
    return pd.DataFrame(texts, dtype=object), numeric
