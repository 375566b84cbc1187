"""Parsing of a normalised address into compound or road + number, building, unit and room.

Accepted shapes (after :func:`geo_grid.address.normalize.normalize`)::

    叙丰家园12栋3单元502室     compound, building 12, unit 3, room 502
    叙丰家园12栋3-502          the same, unit-room with a dash
    叙丰家园12-3-502           building-unit-room with dashes
    叙丰家园12栋502            building and room, no unit
    锡兴路88号                 road and door number
    锡兴路88号3栋              a compound at a road number: compound 锡兴路88号, building 3
    工博园宿舍3栋5层           floor kept apart
    某某小区12a栋              building number with a letter suffix: number 12, suffix a
    锡兴路88-1号               door number with a dash suffix: number 88, suffix -1


Digits inside a name stay in the name (``51路88号``: road ``51路``, number 88): a number is the
building number only when a marker (栋 号 单元 室 层 楼 -) or the end of the text follows it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from geo_grid.address.normalize import normalize

__all__ = ["ParsedAddress", "number_key", "parse", "parse_normalized"]

# a digit run with an optional single letter after it (12a), then everything else
_PARTS = re.compile(r"\d+(?:[a-z](?![a-z]))?|\D+")
_MARKERS = ("单元", "栋", "号", "室", "层", "楼", "-")
_NUMBER_KEY = re.compile(r"(\d+)(?:\.0+)?([a-z]|-\d+)?")


@dataclass(frozen=True)
class ParsedAddress:
    """One address split into its parts.

    Attributes
    ----------
    raw : str
        The text as given.
    text : str
        Its normalised form.
    compound : str
        Compound (小区) or road name, normalised; empty if none was written.
    number : int or None
        Building number (``12`` of ``12栋``) or door number (``88`` of ``锡兴路88号``).
    suffix : str
        What follows that number in a number like ``12a`` (``a``) or ``88-1`` (``-1``); empty
        for a plain number. ``key`` is the whole number as written (``12a``).
    marker : str or None
        ``栋`` (building), ``号`` (door number) or None when no marker was written.
    unit, room, floor : int or None
        Unit (单元), room (``floor*100+door``) and floor (层/楼) when written.
    extra : str
        Text left over after the last recognised part (not noise words, those are in ``noise``).
    prefixes : tuple of str
        Administrative prefixes dropped.
    community : str or None
        Community name dropped from the start (a hint).
    noise : tuple of str
        Trailing noise words dropped (附近, 门口...).
    """

    raw: str
    text: str
    compound: str
    number: int | None
    marker: str | None = None
    unit: int | None = None
    room: int | None = None
    floor: int | None = None
    extra: str = ""
    prefixes: tuple[str, ...] = ()
    community: str | None = None
    noise: tuple[str, ...] = ()
    suffix: str = ""

    @property
    def key(self) -> str | None:
        """The building or door number with its suffix (``12``, ``12a``, ``88-1``), or None."""
        return None if self.number is None else f"{self.number}{self.suffix}"


# the markers start with different characters: one dictionary read finds the candidate
_MARKER_BY_FIRST = {m[0]: m for m in _MARKERS}


def _marker(run: str) -> tuple[str | None, str]:
    m = _MARKER_BY_FIRST.get(run[:1])
    if m is not None and run.startswith(m):
        return m, run[len(m):]
    return None, run


def parse_normalized(
    text: str,
    raw: str | None = None,
    prefixes: tuple[str, ...] = (),
    community: str | None = None,
    noise: tuple[str, ...] = (),
) -> ParsedAddress:
    """Parse an already-normalised address (see :func:`parse` for free text).

    Parameters
    ----------
    text : str
        Output of :func:`geo_grid.address.normalize.normalize` (``.text``).
    raw : str, optional
        The original text, echoed in the result.
    prefixes, community, noise
        What normalisation dropped, echoed in the result.

    Returns
    -------
    ParsedAddress
    """
    raw = text if raw is None else raw
    parts = _PARTS.findall(text)
    start = _number_start(parts)
    if start is None:
        return ParsedAddress(raw, text, text, None, prefixes=prefixes, community=community,
                             noise=noise)
    r = _Reading("".join(parts[:start]))
    for i in range(start, len(parts), 2):
        m, rest = _marker(parts[i + 1] if i + 1 < len(parts) else "")
        digits, letter = _split(parts[i])
        r.take(digits, m, letter)
        if rest:
            r.extra.append(rest)
    r.settle()
    return ParsedAddress(
        raw=raw, text=text, compound=r.compound, number=r.number, marker=r.marker,
        unit=r.unit, room=r.room, floor=r.floor, extra="".join(r.extra),
        prefixes=prefixes, community=community, noise=noise, suffix=r.suffix,
    )


def _split(run: str) -> tuple[int, str]:
    """``12a`` → (12, ``a``); ``12`` → (12, ``""``)."""
    if run[-1].isdigit():
        return int(run), ""
    return int(run[:-1]), run[-1]


def _number_start(parts: list[str]) -> int | None:
    """Index of the first digit run followed by a marker or the end (the building number)."""
    for i, p in enumerate(parts):
        if p[0].isdigit():
            nxt = parts[i + 1] if i + 1 < len(parts) else ""
            if not nxt or _marker(nxt)[0] is not None:
                return i
    return None


class _Reading:
    """The parts read so far, number by number, left to right."""

    __slots__ = ("compound", "dash", "extra", "floor", "loose", "marker", "number", "room",
                 "suffix", "unit")

    def __init__(self, compound: str) -> None:
        self.compound = compound
        self.number: int | None = None
        self.suffix = ""
        self.dash = False  # the building number was followed by "-" (12-1栋, 12-3-502)
        self.marker: str | None = None
        self.unit: int | None = None
        self.room: int | None = None
        self.floor: int | None = None
        self.loose: list[int] = []
        self.extra: list[str] = []

    def take(self, value: int, m: str | None, letter: str = "") -> None:
        """One number, the letter right after it (``12a``) and the marker after both."""
        if self.number is None:
            self._first(value, m)
            if self.number is not None:
                self.suffix = letter
            return
        if letter:
            self.extra.append(letter)
        if (self.dash and m in ("栋", "号") and not self.suffix and self.marker is None
                and self.unit is None and self.room is None and self.floor is None
                and not self.loose):
            # a number with a dash suffix: 12-1栋, 88-1号
            self.suffix, self.marker, self.dash = f"-{value}", m, False
        elif (m == "栋" and self.marker == "号" and self.unit is None and self.room is None
              and not self.loose):
            # a compound at a road number: 锡兴路88号3栋
            self.compound = f"{self.compound}{self.number}号"
            self.number, self.marker = value, "栋"
        elif m == "单元" and self.unit is None:
            self.unit = value
        elif m == "室" and self.room is None:
            self.room = value
        elif m in ("层", "楼") and self.floor is None:
            self.floor = value
        elif m == "号" and self.room is None and self.floor is not None and value < 100:
            self.room = self.floor * 100 + value
        elif m == "号" and self.room is None and self.unit is not None:
            self.room = value
        else:
            self.loose.append(value)

    def _first(self, value: int, m: str | None) -> None:
        self.number = value
        self.marker = m if m in ("栋", "号") else None
        self.dash = m == "-"
        if m not in (None, "栋", "号", "-"):
            # "叙丰家园12单元" etc.: the first number carries another marker
            self.number, self.marker = None, None
            if m == "单元":
                self.unit = value
            elif m == "室":
                self.room = value
            else:
                self.floor = value

    def settle(self) -> None:
        """Give the numbers without a marker (``3-502``) to unit and room, the rest to extra."""
        loose = self.loose
        if self.floor is not None and self.room is None and loose and loose[0] < 100:
            self.room = self.floor * 100 + loose.pop(0)
        if self.unit is None and self.room is None and len(loose) >= 2:
            self.unit, self.room = loose[0], loose[1]
            del loose[:2]
        elif self.room is None and loose and (self.unit is not None or loose[0] >= 100):
            self.room = loose.pop(0)
        elif self.unit is None and loose and loose[0] < 100:
            self.unit = loose.pop(0)
        if loose:
            self.extra.append("-".join(str(v) for v in loose))


def parse(
    text: str,
    protected: Iterable[str] | frozenset[str] = frozenset(),
    communities: Iterable[str] = (),
) -> ParsedAddress:
    """Normalise and parse a free-text address.

    Parameters
    ----------
    text : str
        Free text, e.g. ``江溪街道叙丰家园十二幢3单元502``.
    protected, communities
        Passed to :func:`geo_grid.address.normalize.normalize`.

    Returns
    -------
    ParsedAddress

    Examples
    --------
    >>> p = parse("江溪街道叙丰家园十二幢3单元502")
    >>> (p.compound, p.number, p.marker, p.unit, p.room)
    ('叙丰家园', 12, '栋', 3, 502)
    """
    n = normalize(text, protected=protected, communities=communities)
    return parse_normalized(n.text, raw=text, prefixes=n.prefixes, community=n.community,
                            noise=n.noise)


def number_key(value) -> tuple[int, str] | None:
    """The building or door number of a buildings table cell, as the parser reads it.

    Parameters
    ----------
    value : int, float, str
        ``12``, ``12.0``, ``"12"``, ``"12A"``, ``"１２Ａ"``, ``"12-1"``.

    Returns
    -------
    (int, str) or None
        The number and its normalised suffix (``(12, "a")``, ``(12, "-1")``, ``(12, "")``);
        None when the cell is not such a number (blank, ``0``, ``"A12"``, ``"12栋"``...).
    """
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, float):
        if value != value or not value.is_integer():
            return None
        value = int(value)
    text = normalize(str(value)).text if not isinstance(value, int) else str(value)
    m = _NUMBER_KEY.fullmatch(text)
    if m is None or int(m.group(1)) < 1:
        return None
    return int(m.group(1)), m.group(2) or ""
