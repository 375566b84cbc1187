"""A small, fast xlsx writer for one sheet of values: text, numbers, booleans and dates.

Why not openpyxl or xlsxwriter: both build every cell as a Python object and take 7–13 s for a
100,000-row roster of 15 columns on this machine. A roster sheet needs none of their features
(charts, formulas, rich text), so this module writes the sheet's XML directly, column by column
with list comprehensions, and streams it into the zip 10,000 rows at a time (memory stays
bounded). The same rows take about a second.

What it writes
--------------
- Strings as inline strings (``t="inlineStr"``): never formulas, whatever they start with
  (``=SUM(A1)`` stays the text ``=SUM(A1)``), never turned into numbers (``0510`` keeps its 0).
  The table writers (:mod:`geo_grid.tables.writers`, the exports) also quote such text before
  it gets here (:func:`geo_grid.tables.cells.neutralize_values`), so that it does not become a
  formula when the cell is edited or the sheet saved as CSV.
- Columns listed as text get the number format ``@`` (Excel's "Text"), so a value typed there
  later stays text too.
- ints and finite floats as numbers; ``True``/``False`` as booleans; ``datetime``/``date``/
  ``time`` as Excel serial numbers with a date or time format; anything else as its ``str``.
- XML-illegal control characters as Excel's ``_xHHHH_`` escapes (what Excel itself writes), and
  a literal ``_xHHHH_`` in the text escaped so it reads back unchanged.

Readers that were checked to read the output back cell for cell: python-calamine (what
:mod:`geo_grid.tables.readers` uses), openpyxl and pandas.
"""

from __future__ import annotations

import datetime as _dt
import math
import re
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

__all__ = ["column_letter", "write_xlsx"]

_BLOCK = 10_000  # rows per chunk streamed into the zip
_EPOCH = _dt.datetime(1899, 12, 30)  # Excel's 1900 date system, for serials after 1900-03-01
# style ids in styles.xml below: 0 general, 1 text (@), 2 date-time, 3 date, 4 time
_TEXT, _DATETIME, _DATE, _TIME = 1, 2, 3, 4
# control characters XML 1.0 forbids, and a literal _xHHHH_ Excel would read as an escape
_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]|_(?=x[0-9A-Fa-f]{4}_)")
# the same test in two cheap passes (a character class scans fast; '_x' is rare)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_ESCAPE_LIKE = re.compile(r"_x[0-9A-Fa-f]{4}_")
_SPACE = re.compile(r"\s")
# run on the column's strings joined by NUL (neither whitespace nor allowed in a cell as is)
_EDGE_SPACE = re.compile(r"(?:^|\x00)\s|\s(?:\x00|$)")
_XML_SPECIAL = re.compile(r"[&<>]")

_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" '
    'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="application/{workbook_type}"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/'
    'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/styles.xml" ContentType="application/'
    'vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
    "</Types>"
)
# the workbook part's type must agree with the suffix, or Excel refuses to open the file
_WORKBOOK_TYPES = {
    ".xlsm": "vnd.ms-excel.sheet.macroEnabled.main+xml",
    ".xlsx": "vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
}
_ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>'
)
_WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/worksheet" Target="worksheets/sheet1.xml"/>'
    '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/styles" Target="styles.xml"/></Relationships>'
)
_STYLES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    '<numFmts count="2"><numFmt numFmtId="164" formatCode="yyyy-mm-dd h:mm:ss"/>'
    '<numFmt numFmtId="165" formatCode="yyyy-mm-dd"/></numFmts>'
    '<fonts count="1"><font><sz val="11"/><name val="Calibri"/><family val="2"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="5">'
    '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="49" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="165" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="21" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    "</cellXfs>"
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)


def column_letter(j: int) -> str:
    """Excel column letters of a 0-based column index: 0 → ``A``, 26 → ``AA``."""
    s = ""
    j += 1
    while j:
        j, r = divmod(j - 1, 26)
        s = chr(65 + r) + s
    return s


def _excel_text(s: str) -> str:
    """XML-escape a string, with Excel's ``_xHHHH_`` for characters XML cannot hold."""
    s = _ILLEGAL.sub(lambda m: f"_x{ord(m.group(0)):04X}_", s)
    return escape(s)


def _string_cell(ref: str, s: str, style: str) -> str:
    space = ' xml:space="preserve"' if s[:1].isspace() or s[-1:].isspace() else ""
    return f'<c r="{ref}"{style} t="inlineStr"><is><t{space}>{_excel_text(s)}</t></is></c>'


def _any_cell(ref: str, v: Any, text: bool) -> str:
    """One cell of any type (the slow, general path)."""
    style = f' s="{_TEXT}"' if text else ""
    if v is None or (isinstance(v, str) and v == ""):
        return ""
    if isinstance(v, str):
        return _string_cell(ref, v, style)
    if isinstance(v, bool):
        return f'<c r="{ref}"{style} t="b"><v>{int(v)}</v></c>'
    if isinstance(v, int) or (isinstance(v, float) and math.isfinite(v)):
        return f'<c r="{ref}"{style}><v>{v!r}</v></c>'
    if isinstance(v, float):
        return "" if math.isnan(v) else _string_cell(ref, str(v), style)
    if isinstance(v, _dt.datetime | _dt.date | _dt.time | _dt.timedelta):
        return _date_cell(ref, v)
    return _string_cell(ref, str(v), style)


def _date_cell(ref: str, v: Any) -> str:
    if isinstance(v, _dt.datetime):
        serial, style = (v.replace(tzinfo=None) - _EPOCH) / _dt.timedelta(days=1), _DATETIME
    elif isinstance(v, _dt.date):
        serial, style = (v - _EPOCH.date()).days, _DATE
    elif isinstance(v, _dt.time):
        serial = (v.hour * 3600 + v.minute * 60 + v.second + v.microsecond / 1e6) / 86400
        style = _TIME
    else:
        serial, style = v / _dt.timedelta(days=1), _TIME
    return f'<c r="{ref}" s="{style}"><v>{serial!r}</v></c>'


def _column_cells(letter: str, rows: list[str], values: Sequence[Any], text: bool) -> list[str]:
    """The XML of one column's cells for a block of rows ('' for an empty cell).

    Columns of plain strings (the usual case) and of plain numbers take one list
    comprehension; anything else (dates, booleans, text needing escapes, numbers mixed with
    text) goes cell by cell through :func:`_any_cell`.
    """
    types = set(map(type, values))
    style = f' s="{_TEXT}"' if text else ""
    if types <= {str, type(None)}:
        strings = [v or "" for v in values]
        if not _needs_care(strings):
            if _XML_SPECIAL.search("".join(strings)):
                strings = [escape(s) for s in strings]
            head = f'{style} t="inlineStr"><is><t>'
            return [f'<c r="{letter}{r}"{head}{s}</t></is></c>' if s else ""
                    for r, s in zip(rows, strings, strict=True)]
    elif types <= {int, float, str, type(None)} and _plain_numbers(values):
        # numbers, with None, NaN or '' for an empty cell
        return [f'<c r="{letter}{r}"{style}><v>{v!r}</v></c>' if v == v and v is not None
                and v != "" else "" for r, v in zip(rows, values, strict=True)]
    return [_any_cell(f"{letter}{r}", v, text) for r, v in zip(rows, values, strict=True)]


def _needs_care(strings: list[str]) -> bool:
    """True if a string needs an Excel escape or keeps spaces at its ends (the slow path)."""
    joined = "".join(strings)
    if _CONTROL.search(joined) or ("_x" in joined and _ESCAPE_LIKE.search(joined)):
        return True
    return bool(_SPACE.search(joined)) and bool(_EDGE_SPACE.search("\x00".join(strings)))


def _plain_numbers(values: Sequence[Any]) -> bool:
    """True if every value is a finite number or empty (None, NaN, '')."""
    for v in values:
        if v is None or v == "" or v != v:
            continue
        if isinstance(v, str) or not math.isfinite(v):
            return False
    return True


def _sheet_head(nrows: int, ncols: int, widths: Sequence[float | None],
                text_columns: frozenset[int]) -> str:
    cols = "".join(
        f'<col min="{j + 1}" max="{j + 1}" width="{w}" customWidth="1"'
        f'{f" style={chr(34)}{_TEXT}{chr(34)}" if j in text_columns else ""}/>'
        for j, w in enumerate(widths) if w
    )
    ref = f"A1:{column_letter(max(ncols, 1) - 1)}{max(nrows, 1)}"
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
        'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
        f'<dimension ref="{ref}"/><sheetViews><sheetView workbookViewId="0"/></sheetViews>'
        f'<sheetFormatPr defaultRowHeight="15"/>{f"<cols>{cols}</cols>" if cols else ""}'
        "<sheetData>"
    )


def write_xlsx(
    path: str | Path,
    columns: Sequence[Sequence[Any]],
    *,
    head_rows: Sequence[Sequence[Any]] = (),
    text_columns: Sequence[int] = (),
    widths: Sequence[float | None] = (),
    sheet_name: str = "Sheet1",
    compresslevel: int = 1,
) -> Path:
    """Write one sheet: ``head_rows`` (title and header rows) then the data, column-wise.

    Parameters
    ----------
    path : str or Path
        The ``.xlsx`` (or ``.xlsm``, without macros) to write, replaced if it exists.
    columns : sequence of sequences
        The data, one sequence per column, all of the same length (row ``i`` of the sheet's
        data is ``[col[i] for col in columns]``). None and ``''`` leave the cell empty.
    head_rows : sequence of sequences
        Rows written first, as given (title rows, then the header).
    text_columns : sequence of int
        0-based columns given the number format ``@`` (Excel "Text"), for ID numbers and phones.
    widths : sequence of float or None
        Column widths in characters; None keeps Excel's default.
    sheet_name : str
        At most 31 characters, none of ``[]:*?/\\``.
    compresslevel : int
        zlib level; 1 is several times faster than 6 for a file about 20% larger.

    Returns
    -------
    pathlib.Path
    """
    path = Path(path)
    n = len(columns[0]) if columns else 0
    ncols = max([len(columns)] + [len(r) for r in head_rows])
    text = frozenset(text_columns)
    letters = [column_letter(j) for j in range(ncols)]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=compresslevel) as z:
        workbook_type = _WORKBOOK_TYPES.get(path.suffix.lower(), _WORKBOOK_TYPES[".xlsx"])
        z.writestr("[Content_Types].xml", _CONTENT_TYPES.replace("{workbook_type}", workbook_type))
        z.writestr("_rels/.rels", _ROOT_RELS)
        z.writestr("xl/workbook.xml", _workbook_xml(sheet_name))
        z.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS)
        z.writestr("xl/styles.xml", _STYLES)
        with z.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as f:
            f.write(_sheet_head(len(head_rows) + n, ncols, widths, text).encode())
            for r, row in enumerate(head_rows, start=1):
                cells = "".join(_any_cell(f"{letters[j]}{r}", v, j in text)
                                for j, v in enumerate(row))
                f.write(f'<row r="{r}">{cells}</row>'.encode())
            first = len(head_rows) + 1
            for start in range(0, n, _BLOCK):
                stop = min(start + _BLOCK, n)
                rows = [str(r) for r in range(first + start, first + stop)]
                cells = [_column_cells(letters[j], rows, col[start:stop], j in text)
                         for j, col in enumerate(columns)]
                xml = "".join(f'<row r="{r}">{"".join(c)}</row>'
                              for r, c in zip(rows, zip(*cells, strict=True), strict=True))
                f.write(xml.encode())
            f.write(b"</sheetData></worksheet>")
    return path


def _workbook_xml(sheet_name: str) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
        'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
        f"<sheets><sheet name={quoteattr(_sheet_title(sheet_name))} sheetId=\"1\" "
        'r:id="rId1"/></sheets></workbook>'
    )


def _sheet_title(name: str) -> str:
    """A sheet name Excel accepts: 1–31 characters, none of ``[]:*?/\\``."""
    clean = re.sub(r"[\[\]:*?/\\]", "_", name or "").strip("'")[:31]
    return clean or "Sheet1"
