"""Cell values as read from a spreadsheet or CSV: their text, blankness and written form."""

from __future__ import annotations

import datetime as _dt
import math
import re
from typing import Any

__all__ = ["FORMULA_TRIGGERS", "cell_text", "is_blank", "neutralize", "neutralize_frame",
           "neutralize_values", "out_value"]

#: First characters that make a spreadsheet program read a typed or imported cell as a
#: formula (or, for tab and carriage return, hide the one that follows).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
# a plain signed number ("-3", "+86138...", "-1.5e3"): read as that number, never as a formula
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


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


def neutralize(v: Any) -> Any:
    """A cell value made safe to write to a CSV or a workbook (formula injection).

    A string that begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return would be
    run as a formula by Excel, WPS or LibreOffice when the file is opened (``=HYPERLINK(...)``,
    ``=cmd|' /C calc'!A0``); it is given a leading single quote, as OWASP recommends, so the
    program shows it as text. Anything else is returned as it is: numbers stay numbers (a
    negative number is a number, not text starting with ``-``, and so is the text of a plain
    signed number such as ``-3`` read from a CSV).

    Parameters
    ----------
    v : Any
        The value about to be written.

    Returns
    -------
    Any
        ``"'" + v`` for a string starting with a trigger, else ``v``.
    """
    if (isinstance(v, str) and v and v[0] in FORMULA_TRIGGERS
            and not _PLAIN_NUMBER.fullmatch(v)):
        return "'" + v
    return v


def neutralize_values(values: Any) -> Any:
    """A sequence of cells with :func:`neutralize` applied (``values`` itself, unchanged, when
    no cell needs it: the common case costs one pass)."""
    trig = FORMULA_TRIGGERS
    if not any(v.__class__ is str and v[:1] in trig and v for v in values):
        return values
    return [neutralize(v) if v.__class__ is str else v for v in values]


def neutralize_frame(frame: Any) -> Any:
    """A copy of a DataFrame with every string cell passed through :func:`neutralize`
    (columns of numbers are left alone)."""
    out = frame.copy()
    for j in range(out.shape[1]):
        col = out.iloc[:, j]
        if col.dtype == object or str(col.dtype) in ("string", "str"):
            out.iloc[:, j] = [neutralize(v) for v in col.tolist()]
    return out
