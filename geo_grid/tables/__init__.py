"""Reading and writing tables of people and places: rosters, member lists, household lists.

The pieces, each usable on its own:

- :mod:`~geo_grid.tables.readers` — a file into rows of cell values, by suffix (``.csv``/
  ``.tsv``/``.txt`` with UTF-8, UTF-16 or GB18030 text; ``.xlsx``/``.xlsm``/``.xls``/``.ods``
  with python-calamine); :func:`register_reader` adds a format.
- :mod:`~geo_grid.tables.headers` — :func:`normalize_header`, column kinds as synonyms tables
  (:class:`ColumnKind`, :class:`Vocabulary`, :data:`ROSTER`) and the header row below merged
  title rows.
- :mod:`~geo_grid.tables.table` — :func:`read_table` → :class:`Table` (text frame, raw values,
  title rows, column kinds).
- :mod:`~geo_grid.tables.ids` — ID-number checksums and numbers stored as numbers.
- :mod:`~geo_grid.tables.guard` — :func:`check_workbook`, run by the workbook reader: zip
  members that unpack to too much, sheets reaching past 2 million cells are refused.
- :mod:`~geo_grid.tables.safe` — :func:`read_table_safely`: an upload read in a child process
  with a memory and a time limit.
- :mod:`~geo_grid.tables.cells` — :func:`neutralize`: a text cell a spreadsheet would run as a
  formula gets a leading ``'`` (every writer calls it).
- :mod:`~geo_grid.tables.writers` — the table written back with columns added (CSV, a fast
  xlsx, or into the source workbook), :func:`write_frame` for a plain DataFrame;
  :mod:`~geo_grid.tables.xlsx` is the fast xlsx writer.
"""

from geo_grid.tables.cells import (
    cell_text,
    is_blank,
    neutralize,
    neutralize_frame,
    neutralize_values,
    out_value,
)
from geo_grid.tables.guard import check_workbook
from geo_grid.tables.headers import (
    ROSTER,
    ColumnKind,
    Vocabulary,
    find_header_row,
    normalize_header,
)
from geo_grid.tables.ids import check_id_number, check_phone, id_problems, phone_problems
from geo_grid.tables.readers import READERS, RawSheet, decode_text, read_rows, register_reader
from geo_grid.tables.safe import read_rows_safely, read_table_safely
from geo_grid.tables.table import Table, read_table
from geo_grid.tables.writers import WRITERS, Output, register_writer, write_frame, write_table
from geo_grid.tables.xlsx import write_xlsx

__all__ = [
    "READERS",
    "ROSTER",
    "WRITERS",
    "ColumnKind",
    "Output",
    "RawSheet",
    "Table",
    "Vocabulary",
    "cell_text",
    "check_workbook",
    "check_id_number",
    "check_phone",
    "decode_text",
    "find_header_row",
    "id_problems",
    "is_blank",
    "neutralize",
    "neutralize_frame",
    "neutralize_values",
    "normalize_header",
    "out_value",
    "phone_problems",
    "read_rows",
    "read_rows_safely",
    "read_table",
    "read_table_safely",
    "register_reader",
    "register_writer",
    "write_frame",
    "write_table",
    "write_xlsx",
]
