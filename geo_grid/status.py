"""The status of one placed address, point or roster row, shared by every kind of lookup.

The address matcher answers ``matched``, ``ambiguous`` or ``unmatched``; a point is ``located``
in a grid or ``not_covered``; a row or item that cannot be read at all is an ``error``. The
single lookup, the JSON batch and the file batch all use these same words.

:class:`MatchStatus` is a :class:`enum.StrEnum`: each member *is* its string, so
``MatchStatus.MATCHED == "matched"``, ``json.dumps`` writes ``"matched"`` and a CSV or xlsx cell
holds the plain word.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["ADDRESS_STATUSES", "PLACED", "MatchStatus"]


class MatchStatus(StrEnum):
    """Outcome of placing one address, point or row."""

    #: the address names one building, with confidence at least the matcher's threshold
    MATCHED = "matched"
    #: several buildings are close; ranked candidates, none chosen
    AMBIGUOUS = "ambiguous"
    #: no building fits; the reasons say why
    UNMATCHED = "unmatched"
    #: the point (lon/lat) lies in a grid
    LOCATED = "located"
    #: the point lies outside every grid
    NOT_COVERED = "not_covered"
    #: the input could not be read (blank, malformed, bad coordinates)
    ERROR = "error"


#: The statuses the address matcher can answer.
ADDRESS_STATUSES: tuple[MatchStatus, ...] = (
    MatchStatus.MATCHED, MatchStatus.AMBIGUOUS, MatchStatus.UNMATCHED,
)

#: The statuses that name a grid.
PLACED: frozenset[MatchStatus] = frozenset({MatchStatus.MATCHED, MatchStatus.LOCATED})
