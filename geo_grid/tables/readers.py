"""Reading a table file into rows of cell values, by file suffix.

Each reader turns a file into a :class:`RawSheet`: every row as a list of cell values, as the
file stores them (an xlsx number stays a number, so an ID number stored as a number can be told
apart from one stored as text). Readers are looked up by suffix in :data:`READERS`; a new
format is one function registered with :func:`register_reader`::

    @register_reader(".parquet")
    def _read_parquet(path, sheet):
        ...
        return RawSheet(rows, "parquet")

Registered: ``.xlsx .xlsm .xls .ods`` (python-calamine) and ``.csv .txt .tsv`` (Python's csv
module, tab-separated for ``.tsv``; the encoding found by :func:`decode_text`).
"""

from __future__ import annotations

import codecs
import csv
import io
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from geo_grid.errors import InvalidInput
from geo_grid.tables.guard import check_workbook

__all__ = [
    "READERS",
    "RawSheet",
    "Reader",
    "decode_text",
    "prime",
    "read_rows",
    "register_reader",
    "suffixes",
]


@dataclass(frozen=True)
class RawSheet:
    """The cells of one sheet as stored in the file.

    Attributes
    ----------
    rows : list of list
        Every row of the sheet, top to bottom, padded to the same width.
    format : str
        ``xlsx`` (any spreadsheet read by calamine) or ``csv``.
    encoding : str
        The text encoding of a CSV (``utf-8``, ``utf-8-sig``, ``utf-16``, ``gb18030``).
    sheet : str or None
        The sheet read from a workbook.
    delimiter : str
        The field separator of a CSV.
    """

    rows: list[list[Any]]
    format: str
    encoding: str = "utf-8"
    sheet: str | None = None
    delimiter: str = ","


#: ``reader(path, sheet) -> RawSheet``; ``sheet`` is a name, an index or None (the first).
Reader = Callable[[Path, "str | int | None"], RawSheet]

#: Readers by lower-case file suffix (with its dot).
READERS: dict[str, Reader] = {}


def register_reader(*suffixes: str) -> Callable[[Reader], Reader]:
    """Register the decorated function as the reader of files with these suffixes."""

    def deco(fn: Reader) -> Reader:
        for s in suffixes:
            READERS[s.lower()] = fn
        return fn

    return deco


def suffixes() -> tuple[str, ...]:
    """The file suffixes a reader is registered for."""
    return tuple(sorted(READERS))


def read_rows(path: str | Path, sheet: str | int | None = None) -> RawSheet:
    """Read a table file with the reader of its suffix; rows padded to the same width.

    Parameters
    ----------
    path : str or Path
    sheet : str or int, optional
        Sheet name or 0-based index in a workbook (the first by default); ignored for CSV.

    Returns
    -------
    RawSheet

    Raises
    ------
    InvalidInput
        No such file, no reader for its suffix, or a file its reader cannot read.
    """
    path = Path(path)
    if not path.exists():
        raise InvalidInput(f"no such file: {path}")
    kept = _take_primed(path, sheet)
    if kept is not None:
        return kept
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise InvalidInput(f"unsupported roster format {path.suffix.lower()!r}: use .xlsx or .csv",
                           suffixes=list(suffixes()))
    raw = reader(path, sheet)
    width = max((len(r) for r in raw.rows), default=0)
    for r in raw.rows:
        if len(r) < width:
            r.extend([""] * (width - len(r)))
    return raw


# Sheets read already (in a child process, by geo_grid.tables.safe) and handed to the next
# read_rows of the same file, sheet and version in this process, which takes them out.
_PRIMED: OrderedDict[tuple, RawSheet] = OrderedDict()
_PRIMED_LOCK = threading.Lock()
_PRIMED_MAX = 4


def _primed_key(path: Path, sheet: str | int | None) -> tuple:
    st = path.stat()
    return (str(path.resolve()), st.st_mtime_ns, st.st_size, sheet)


def prime(path: str | Path, sheet: str | int | None, raw: RawSheet) -> None:
    """Hand ``raw`` to the next :func:`read_rows` of ``path`` and ``sheet`` (once).

    Used after a file was read in a child process (:mod:`geo_grid.tables.safe`): the caller's
    own reading code then gets the rows without reading the file a second time. A changed
    file (another size or modification time) is read again; at most four sheets are kept.
    """
    path = Path(path)
    with _PRIMED_LOCK:
        _PRIMED[_primed_key(path, sheet)] = raw
        while len(_PRIMED) > _PRIMED_MAX:
            _PRIMED.popitem(last=False)


def _take_primed(path: Path, sheet: str | int | None) -> RawSheet | None:
    if not _PRIMED:
        return None
    with _PRIMED_LOCK:
        return _PRIMED.pop(_primed_key(path, sheet), None)


def decode_text(raw: bytes) -> tuple[str, str]:
    """Decode the bytes of a text file: UTF-8 (with or without BOM), UTF-16 with BOM, else
    GB18030 (a superset of GBK and GB2312, what Chinese Excel and WPS save as "CSV").

    Returns
    -------
    text : str
    encoding : str
        ``utf-8``, ``utf-8-sig``, ``utf-16`` or ``gb18030``: writing the text back in it gives
        a file the same program opens the same way.

    Raises
    ------
    InvalidInput
        Bytes that none of these encodings decode.
    """
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return raw.decode("utf-16"), "utf-16"
    if raw.startswith(codecs.BOM_UTF8):
        try:
            return raw.decode("utf-8-sig"), "utf-8-sig"
        except UnicodeDecodeError:
            pass
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("gb18030"), "gb18030"
    except UnicodeDecodeError as exc:
        raise InvalidInput("cannot decode the file: it is not UTF-8, UTF-16 or GB18030 (GBK) "
                           f"text (bad bytes at offset {exc.start})") from exc


@register_reader(".csv", ".txt", ".tsv")
def read_csv(path: Path, sheet: str | int | None = None) -> RawSheet:
    """Read a delimited text file (tab-separated for ``.tsv``), every cell as text."""
    text, encoding = decode_text(path.read_bytes())
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    return RawSheet(rows, "csv", encoding=encoding, delimiter=delimiter)


@register_reader(".xlsx", ".xlsm", ".xls", ".ods")
def read_workbook(path: Path, sheet: str | int | None = None) -> RawSheet:
    """Read one sheet of a workbook with python-calamine (numbers stay numbers, dates are
    ``datetime``; merged cells hold their value in the top-left cell, blanks elsewhere).

    The file is checked first (:func:`geo_grid.tables.guard.check_workbook`): a zip member
    that unpacks to too much, or a sheet reaching past 2 million cells, is refused with
    :class:`~geo_grid.errors.PayloadTooLarge` before calamine allocates it.
    """
    from python_calamine import CalamineWorkbook

    check_workbook(path)
    try:
        wb = CalamineWorkbook.from_path(str(path))
    except Exception as exc:  # noqa: BLE001 - any reader failure is the caller's file
        raise InvalidInput(f"cannot read {path.name} as a spreadsheet: {exc}") from exc
    name = _sheet_name(wb.sheet_names, sheet)
    rows = wb.get_sheet_by_name(name).to_python(skip_empty_area=False)
    return RawSheet([list(r) for r in rows], "xlsx", sheet=name)


def _sheet_name(names: list[str], sheet: str | int | None) -> str:
    if sheet is None:
        if not names:
            raise InvalidInput("the workbook has no sheets")
        return names[0]
    if isinstance(sheet, int):
        if not 0 <= sheet < len(names):
            raise InvalidInput(f"sheet index {sheet} out of range; sheets: {names}")
        return names[sheet]
    if sheet not in names:
        raise InvalidInput(f"no sheet {sheet!r}; sheets: {names}")
    return sheet
