"""Cell values as read from a spreadsheet or CSV: their text, blankness and written form."""

from __future__ import annotations

import datetime as _dt
import math
from typing import Any

__all__ = ["cell_text", "is_blank", "out_value"]


def cell_text(v: Any) -> str:
    """The text of a cell as read: ``''`` for empty, an integral float without its ``.0``.

    Parameters
    ----------
    v : Any
        A value from a reader (str, int, float, bool, date/time or None).

    Returns
    -------
    str
    """
    if v is None:
        return ""
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, float):
        if math.isnan(v):
            return ""
        if v.is_integer() and abs(v) < 1e21:
            return str(int(v))
        return repr(v)
    if isinstance(v, _dt.datetime | _dt.date | _dt.time):
        return v.isoformat()
    return str(v)


def is_blank(v: Any) -> bool:
    """True for None, NaN and ``''`` (a cell with nothing to say)."""
    return v is None or (isinstance(v, float) and math.isnan(v)) or (isinstance(v, str) and v == "")


def out_value(v: Any) -> Any:
    """The value to write back for a cell read from a file: NaN and ``''`` become None
    (an empty cell), an integral float an int (``12.0`` was typed ``12``)."""
    if isinstance(v, float):
        if math.isnan(v):
            return None
        if v.is_integer() and abs(v) < 2**53:
            return int(v)
    if v == "":
        return None
    return v
