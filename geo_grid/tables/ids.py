"""Checks of resident ID numbers and phone numbers read from a table.

Two ways a number column goes wrong in Excel:

- **Stored as a number.** Excel keeps 15 significant digits, so an 18-digit ID typed into a
  number cell has already lost its last digits (``320214199001011234`` → ``3.20214199001011E+17``);
  a phone with an area code loses its leading 0 (``051085001234`` → ``51085001234``). Nothing
  can repair that: the cell must be re-entered as text.
- **A typing error.** An 18-digit ID carries a check character (GB 11643-1999, ISO 7064
  MOD 11-2) that catches any single wrong digit and most swaps.

:func:`id_problems` and :func:`phone_problems` check a whole column at once (vectorised) and
say what is wrong in words, one entry per row.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

import numpy as np

__all__ = ["check_id_number", "check_phone", "id_problems", "phone_problems"]

_ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
_ID_CHECK = "10X98765432"
_ID18 = re.compile(r"^[0-9]{17}[0-9X]$")
_SCI = re.compile(r"^\d(\.\d+)?[eE]\+?\d+$")
_PHONE = re.compile(r"^(?:\+?86[- ]?)?(?:1[3-9]\d{9}|0\d{2,3}[- ]?\d{7,8}|\d{7,8})$")
_LOST_DIGITS = ("stored as a number in the file, so its last digits are lost "
                "(Excel keeps 15 significant digits); re-enter it as text")


def _clean(value: str) -> str:
    # full-width digits and Ｘ (typed with a Chinese input method) are the same characters
    s = value.strip()
    return (s if s.isascii() else unicodedata.normalize("NFKC", s)).upper()


def _checksums(bodies: Sequence[str]) -> list[str]:
    """The expected check character of each 17-digit ASCII body, in one numpy pass."""
    if not bodies:
        return []
    digits = np.frombuffer("".join(bodies).encode("ascii"), dtype=np.uint8).reshape(-1, 17) - 48
    return [_ID_CHECK[k] for k in (digits.astype(np.int64) @ _ID_WEIGHTS) % 11]


def check_id_number(value: str) -> str | None:
    """Check a resident ID number; return the problem in words, or None if it is valid.

    Parameters
    ----------
    value : str
        The ID as text. 18 characters: 17 digits and a check character (digit or X), verified
        with the GB 11643-1999 ISO 7064 MOD 11-2 checksum; 15 digits: a first-generation ID
        (no checksum, accepted with a note).

    Returns
    -------
    str or None
    """
    return id_problems([value])[0]


def id_problems(values: Sequence[str], numeric: Sequence[bool] | None = None) -> list[str | None]:
    """Check a column of ID numbers; the problem of each row in words, or None.

    Parameters
    ----------
    values : sequence of str
        The cells as text (blank cells are fine: None).
    numeric : sequence of bool, optional
        Which cells the file stored as numbers; one of 16 or more digits has lost digits.

    Returns
    -------
    list of str or None
        One entry per value.
    """
    out: list[str | None] = [None] * len(values)
    todo: list[tuple[int, str]] = []
    for i, v in enumerate(values):
        s = _clean(v)
        if not s:
            continue
        if numeric is not None and numeric[i] and len(s.lstrip("-")) >= 16:
            out[i] = _LOST_DIGITS
        elif _ID18.match(s):
            todo.append((i, s))
        else:
            out[i] = _malformed(s)
    for (i, s), expected in zip(todo, _checksums([s[:17] for _, s in todo]), strict=True):
        if expected != s[17]:
            out[i] = f"ID checksum fails (last character should be {expected})"
    return out


def _malformed(s: str) -> str | None:
    if _SCI.match(s):
        return "ID is in scientific notation: it was stored as a number and its digits are lost"
    if len(s) == 15 and s.isdigit():
        return "15-digit (first-generation) ID: no checksum to verify"
    return f"ID has {len(s)} characters; expected 18 (17 digits and a digit or X)"


def check_phone(value: str, stored_as_number: bool = False) -> str | None:
    """Check a Chinese phone number; return the problem in words, or None.

    Accepted: an 11-digit mobile (``13812345678``), a landline with its area code
    (``0510-85001234``), a local 7–8 digit number, each optionally after ``+86``.

    Parameters
    ----------
    value : str
        The phone as text.
    stored_as_number : bool
        The file stored the cell as a number: refused, since a leading 0 is lost.
    """
    return phone_problems([value], [stored_as_number])[0]


def phone_problems(values: Sequence[str],
                   numeric: Sequence[bool] | None = None) -> list[str | None]:
    """Check a column of phone numbers; the problem of each row in words, or None.

    A phone stored as a number is refused even when it looks right: the file cannot say
    whether a leading 0 was dropped.
    """
    out: list[str | None] = [None] * len(values)
    for i, v in enumerate(values):
        s = _clean(v)
        if not s:
            continue
        if numeric is not None and numeric[i]:
            out[i] = ("stored as a number in the file, so a leading 0 may be lost; "
                      "re-enter it as text")
        elif not _PHONE.match(s):
            out[i] = f"not a phone number: {len(s)} characters"
    return out
