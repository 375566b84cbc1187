"""Writing a table back with columns added, in the format of the output file's suffix.

The rows come out in the same order with the same cells; the added columns follow the last
column of the header. ID-number and phone columns are always written as text. Every writer
quotes a text cell that a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@``, tab,
carriage return first: :func:`geo_grid.tables.cells.neutralize`); numbers stay numbers.

- ``.csv .txt .tsv``: every cell as the text read, in the input's encoding (UTF-8 with BOM for
  a workbook input, so that Excel opens it as UTF-8).
- ``.xlsx .xlsm`` from a workbook with other sheets or merged cells: the source workbook is
  reopened with openpyxl and the columns are added to the sheet read, so other sheets, merged
  title cells, styles and widths stay (slow: about 10 s for 100,000 rows).
- ``.xlsx .xlsm`` otherwise: :func:`geo_grid.tables.xlsx.write_xlsx` (about 1 s for 100,000
  rows); title rows, header, then one line per row, cells as read.

Writers are looked up by suffix in :data:`WRITERS`; :func:`register_writer` adds one.
"""

from __future__ import annotations

import csv
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from geo_grid.errors import InvalidInput
from geo_grid.tables.cells import cell_text, is_blank, neutralize, neutralize_values, out_value
from geo_grid.tables.table import Table
from geo_grid.tables.xlsx import write_xlsx

__all__ = ["TEXT_KINDS", "WRITERS", "Output", "register_writer", "write_frame", "write_table"]

#: Column kinds always written as text (a number would lose digits or a leading 0).
TEXT_KINDS = frozenset({"id", "phone"})


@dataclass(frozen=True)
class Output:
    """A table read from a file and the columns to add to it.

    Attributes
    ----------
    table : Table
        As read (:func:`geo_grid.tables.table.read_table`).
    headers : sequence of str
        Headers of the added columns.
    columns : sequence of sequences
        The added columns, one value per data row (None or '' for an empty cell).
    wide : frozenset of str
        Added headers given a wide column (free-text notes).
    """

    table: Table
    headers: Sequence[str]
    columns: Sequence[Sequence[Any]]
    wide: frozenset[str] = field(default_factory=frozenset)

    def text_columns(self) -> list[int]:
        """0-based indexes of the table's columns written as text."""
        return [j for j, lab in enumerate(self.table.frame.columns)
                if self.table.kinds.get(lab) in TEXT_KINDS]

    def widths(self) -> list[float]:
        """Column widths: 14 for the table's columns, 16 for added ones, 24 for text and wide."""
        text = set(self.text_columns())
        ncol = len(self.table.header)
        return [24 if j in text or (j >= ncol and self.headers[j - ncol] in self.wide)
                else 14 if j < ncol else 16
                for j in range(ncol + len(self.headers))]


#: ``writer(output, path) -> path`` by lower-case suffix.
WRITERS: dict[str, Callable[[Output, Path], Path]] = {}


def register_writer(*suffixes: str) -> Callable:
    """Register the decorated function as the writer of files with these suffixes."""

    def deco(fn: Callable[[Output, Path], Path]) -> Callable[[Output, Path], Path]:
        for s in suffixes:
            WRITERS[s.lower()] = fn
        return fn

    return deco


def write_table(output: Output, path: str | Path) -> Path:
    """Write ``output`` to ``path`` with the writer of its suffix.

    Raises
    ------
    InvalidInput
        No writer for the suffix.
    """
    path = Path(path)
    writer = WRITERS.get(path.suffix.lower())
    if writer is None:
        raise InvalidInput(f"unsupported output format {path.suffix.lower()!r}: use .xlsx or .csv")
    return writer(output, path)


@register_writer(".csv", ".txt", ".tsv")
def write_csv(output: Output, path: Path) -> Path:
    """Every cell as the text read, the added columns after; title rows first."""
    table = output.table
    enc = table.encoding if table.format == "csv" else "utf-8-sig"
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    columns = [table.frame[lab].tolist() for lab in table.frame.columns]
    columns += [["" if is_blank(v) else v for v in col] for col in output.columns]
    with path.open("w", encoding=enc, newline="") as fh:
        w = csv.writer(fh, delimiter=delimiter)
        w.writerows(_csv_row(row) for row in table.title_rows)
        w.writerow(_csv_row(list(table.header) + list(output.headers)))
        w.writerows(_csv_row(row, keep=True) for row in zip(*columns, strict=True))
    return path


@register_writer(".xlsx", ".xlsm")
def write_workbook(output: Output, path: Path) -> Path:
    """The fast one-sheet writer, or the source workbook reopened when it has more to keep."""
    src = output.table.source
    if (output.table.format == "xlsx" and src and Path(src).suffix.lower() in (".xlsx", ".xlsm")
            and Path(src).exists() and workbook_has_more(src)):
        return write_into_workbook(output, path)
    table = output.table
    text = output.text_columns()
    # cells as read: the writer leaves None, NaN and '' empty and writes numbers as numbers
    columns = [list(col) for col in zip(*table.values, strict=True)] if table.values \
        else [[] for _ in table.header]
    for j in text:
        columns[j] = table.frame.iloc[:, j].tolist()
    columns += [list(col) for col in output.columns]
    columns = [neutralize_values(col) for col in columns]
    head = [neutralize_values([out_value(v) for v in row]) for row in table.title_rows]
    head.append(neutralize_values(list(table.header) + list(output.headers)))
    return write_xlsx(path, columns, head_rows=head, text_columns=text, widths=output.widths(),
                      sheet_name=table.sheet or "Sheet1")


def write_frame(frame: Any, path: str | Path, *, text_columns: Sequence[str] = (),
                sheet_name: str = "Sheet1") -> Path:
    """Write a DataFrame (header, then one line per row) as ``.csv`` or ``.xlsx``.

    For reports and exports: CSV in UTF-8 with BOM (Excel opens it as UTF-8), xlsx with the
    fast writer; ``text_columns`` (codes, IDs, phones) get the number format ``@``. NaN and
    None are empty cells.

    Raises
    ------
    InvalidInput
        A suffix other than ``.csv``, ``.tsv``, ``.txt``, ``.xlsx`` or ``.xlsm``.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    header = [str(c) for c in frame.columns]
    columns = [frame.iloc[:, j].tolist() for j in range(frame.shape[1])]
    if suffix in (".xlsx", ".xlsm"):
        text = [j for j, c in enumerate(header) if c in set(text_columns)]
        columns = [neutralize_values(col) for col in columns]
        return write_xlsx(path, columns, head_rows=[neutralize_values(header)], text_columns=text,
                          sheet_name=sheet_name)
    if suffix not in (".csv", ".tsv", ".txt"):
        raise InvalidInput(f"unsupported output format {suffix!r}: use .xlsx or .csv")
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh, delimiter="\t" if suffix == ".tsv" else ",")
        w.writerow(_csv_row(header))
        w.writerows(_csv_row(row) for row in zip(*columns, strict=True))
    return path


def _csv_row(row: Sequence[Any], keep: bool = False) -> list[Any]:
    """The cells of a CSV line: a string quoted if a spreadsheet would run it as a formula
    (:func:`neutralize`), anything else as :func:`cell_text` writes it (``keep``: as it is,
    for the csv module to write). A number is never quoted: ``-3`` stays ``-3``."""
    return [neutralize(v) if isinstance(v, str) else v if keep else cell_text(v) for v in row]


def workbook_has_more(source: str | Path) -> bool:
    """True when an xlsx holds more than one sheet or merged cells (worth copying as a whole).

    Reads the zip's member list and the sheet's XML only, in 1 MiB chunks.
    """
    try:
        with zipfile.ZipFile(source) as z:
            sheets = [n for n in z.namelist()
                      if n.startswith("xl/worksheets/") and n.endswith(".xml")]
            if len(sheets) != 1:
                return True
            with z.open(sheets[0]) as f:
                tail = b""
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    if b"<mergeCell" in tail + chunk:
                        return True
                    tail = chunk[-16:]
    except (OSError, zipfile.BadZipFile):
        return False
    return False


def write_into_workbook(output: Output, path: Path) -> Path:
    """Write the added columns into a copy of the source workbook: its other sheets, merged
    title cells, styles and column widths stay as they were."""
    from openpyxl import load_workbook
    from openpyxl.utils import get_column_letter

    table = output.table
    src = Path(table.source or "")
    try:
        wb = load_workbook(src, keep_vba=src.suffix.lower() == ".xlsm")
    except Exception as exc:  # noqa: BLE001 - any reader failure is the caller's file
        raise InvalidInput(f"cannot reopen {src.name} to write it back: {exc}") from exc
    ws = wb[table.sheet] if table.sheet in wb.sheetnames else wb.worksheets[0]
    ncol = len(table.header)
    hrow = table.header_row + 1  # 1-based sheet row of the header
    widths = output.widths()
    for k, lab in enumerate(output.headers):
        ws.cell(row=hrow, column=ncol + 1 + k, value=neutralize(lab))
        ws.column_dimensions[get_column_letter(ncol + 1 + k)].width = widths[ncol + k]
    _fill(ws, hrow + 1, ncol, output, table.frame.iloc[:, output.text_columns()])
    for row in ws.iter_rows():
        for cell in row:
            # text cells of the source (the workbook's own formulas, type "f", stay formulas)
            if cell.data_type == "s" and isinstance(cell.value, str):
                cell.value = neutralize(cell.value)
    wb.save(path)
    return path


def _fill(ws: Any, first: int, ncol: int, output: Output, text: Any) -> None:
    """Text columns rewritten as text, added columns written, from sheet row ``first``."""
    text_cols = [(list(output.table.frame.columns).index(lab), text[lab].tolist())
                 for lab in text.columns]
    for i in range(len(output.table.frame)):
        r = first + i
        for j, col in text_cols:
            cell = ws.cell(row=r, column=j + 1)
            cell.value = neutralize(col[i]) or None
            cell.number_format = "@"
        for k, col in enumerate(output.columns):
            if not is_blank(col[i]):
                ws.cell(row=r, column=ncol + 1 + k, value=neutralize(col[i]))
