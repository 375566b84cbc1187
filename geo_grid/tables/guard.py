"""Checks run on a workbook before it is read: zip bombs and sheets that claim too many cells.

An xlsx is a zip of XML parts. Two cheap tricks make a small file very expensive to read:

- a sheet whose only far cell is ``XFD1048576`` (or whose ``<dimension ref=...>`` says so):
  the reader allocates the whole rectangle, 17 billion cells, and the process aborts;
- a part that unpacks to hundreds of megabytes of XML (a 677 KB file holding 199 MB): the
  reader parses it for minutes.

:func:`check_workbook` refuses both before any reader sees the file, from the zip's member
list (sizes as stored in the archive), the sheets' declared dimension, and a scan of the cell
references of each sheet (so a missing or wrong dimension is caught too). The scan streams the
XML in 1 MiB chunks and stops at the first reference past the limit.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

from geo_grid.errors import PayloadTooLarge

__all__ = ["MAX_CELLS", "MAX_RATIO", "MAX_UNPACKED_BYTES", "check_workbook", "parse_ref"]

#: Cells of a sheet's rectangle (rows × columns, from A1) read at most.
MAX_CELLS = 2_000_000
#: Uncompressed bytes of one zip member, and of all of them together, at most.
MAX_UNPACKED_BYTES = 200 * 1024 * 1024
#: Compression ratio refused on a member over :data:`RATIO_FLOOR` bytes unpacked.
MAX_RATIO = 100
RATIO_FLOOR = 10 * 1024 * 1024
#: Excel's own sheet size.
EXCEL_ROWS, EXCEL_COLUMNS = 1_048_576, 16_384

_DIMENSION = re.compile(rb'<(?:\w+:)?dimension\s+ref="([^"]*)"')
_REF = re.compile(r"\$?([A-Za-z]{1,3})\$?([0-9]{1,7})")
# a cell's reference attribute (letters then digits; a row's r="12" has no letters)
_CELL_REF = re.compile(rb' r="([A-Z]{1,3})([0-9]{1,7})"')
_ROW_REF = re.compile(rb'<(?:\w+:)?row\b[^>]*? r="([0-9]{1,7})"')
_CHUNK = 1 << 20


def parse_ref(ref: str) -> tuple[int, int]:
    """1-based (row, column) of a cell reference such as ``XFD1048576``.

    Raises
    ------
    ValueError
        Not a cell reference.
    """
    m = _REF.fullmatch(ref.strip())
    if not m:
        raise ValueError(f"not a cell reference: {ref!r}")
    col = 0
    for ch in m.group(1).upper():
        col = col * 26 + (ord(ch) - 64)
    return int(m.group(2)), col


def _extent_message(name: str, part: str, rows: int, cols: int, max_cells: int, what: str) -> str:
    return (f"{name}: sheet {part} {what} {rows:,} rows × {cols:,} columns "
            f"({rows * cols:,} cells), over the limit of {max_cells:,} cells; "
            "delete the empty rows and columns past the data, or split the sheet")


def check_workbook(path: str | Path, *, max_cells: int = MAX_CELLS,
                   max_unpacked_bytes: int = MAX_UNPACKED_BYTES,
                   max_ratio: float = MAX_RATIO) -> None:
    """Refuse a workbook that would take too much memory or time to read.

    Files that are not zip archives (``.xls``, CSV) pass: the checks are about zip members
    and sheet XML.

    Parameters
    ----------
    path : str or Path
        The workbook (``.xlsx``, ``.xlsm``, ``.ods``).
    max_cells : int
        Most cells of a sheet's rectangle from A1 to its last cell (declared or used).
    max_unpacked_bytes : int
        Most uncompressed bytes of one member, and of the members together.
    max_ratio : float
        Highest compression ratio of a member over 10 MiB unpacked.

    Raises
    ------
    PayloadTooLarge
        With the member or sheet at fault and its size.
    """
    path = Path(path)
    if not zipfile.is_zipfile(path):
        return
    try:
        with zipfile.ZipFile(path) as z:
            infos = z.infolist()
            total = 0
            for info in infos:
                total += info.file_size
                if info.file_size > max_unpacked_bytes:
                    raise PayloadTooLarge(
                        f"{path.name}: member {info.filename} unpacks to {info.file_size:,} "
                        f"bytes, over the limit of {max_unpacked_bytes:,} bytes",
                        member=info.filename, unpacked_bytes=info.file_size)
                ratio = info.file_size / max(info.compress_size, 1)
                if info.file_size > RATIO_FLOOR and ratio > max_ratio:
                    raise PayloadTooLarge(
                        f"{path.name}: member {info.filename} unpacks {info.compress_size:,} "
                        f"bytes to {info.file_size:,} (a ratio of {ratio:.0f}:1, over "
                        f"{max_ratio:g}:1): refused as a zip bomb",
                        member=info.filename, unpacked_bytes=info.file_size)
            if total > max_unpacked_bytes:
                raise PayloadTooLarge(
                    f"{path.name}: its members unpack to {total:,} bytes together, over the "
                    f"limit of {max_unpacked_bytes:,} bytes", unpacked_bytes=total)
            for info in infos:
                name = info.filename
                if name.startswith("xl/worksheets/") and name.endswith(".xml"):
                    _check_sheet(z, info, path.name, max_cells)
    except zipfile.BadZipFile:
        return  # not readable as a zip after all: the reader says why


def _check_sheet(z: zipfile.ZipFile, info: zipfile.ZipInfo, name: str, max_cells: int) -> None:
    """The declared dimension, then every cell reference, of one sheet part."""
    part = info.filename.rsplit("/", 1)[-1].removesuffix(".xml")
    with z.open(info) as f:
        head = f.read(64 * 1024)
        m = _DIMENSION.search(head)
        if m:
            last = m.group(1).decode("ascii", "replace").split(":")[-1]
            try:
                rows, cols = parse_ref(last)
            except ValueError:
                rows = cols = 0  # a dimension nobody can read: the cells below still count
            if rows > EXCEL_ROWS or cols > EXCEL_COLUMNS or rows * cols > max_cells:
                raise PayloadTooLarge(_extent_message(name, part, rows, cols, max_cells,
                                                      "declares"), sheet=part, cells=rows * cols)
        # the dimension may be missing or wrong: the readers size the sheet by its cells
        max_row = max_col = 0
        seen_letters: set[bytes] = set()
        chunk, tail = head, b""
        while chunk:
            data = tail + chunk
            # a reference cut by the chunk's end is matched again with the next chunk
            cut = data.rfind(b"<")
            body, tail = (data[:cut], data[cut:]) if cut > 0 else (data, b"")
            refs = _CELL_REF.findall(body)
            rows = _ROW_REF.findall(body)
            if rows:
                max_row = max(max_row, max(int(r) for r in rows))
            if refs:
                max_row = max(max_row, max(int(r) for _, r in refs))
                letters = {c for c, _ in refs} - seen_letters
                if letters:
                    seen_letters |= letters
                    max_col = max(max_col, max(parse_ref(c.decode() + "1")[1] for c in letters))
                if max_row * max_col > max_cells:
                    raise PayloadTooLarge(_extent_message(name, part, max_row, max_col, max_cells,
                                                          "has cells as far as"),
                                          sheet=part, cells=max_row * max_col)
            chunk = f.read(_CHUNK)
