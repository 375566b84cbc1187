"""Chinese address text → building: normalise, parse, match (exact, then fuzzy).

Public API (for the CLI ``geo-grid lookup --address`` and ``GET /api/v1/lookup?address=``)
----------------------------------------------------------------------------------------
``AddressMatcher(buildings, communities=None, *, threshold=0.6, min_candidate=0.25, limit=5)``
    Built once per boundary version from the buildings table (``District.buildings``) and,
    optionally, the communities table; ``AddressMatcher.from_district(district)`` does both.
``AddressMatcher.match(text) -> MatchResult``
    One address. ``MatchResult.to_dict()`` is the API's ``"match"`` object:
    ``{"status", "confidence", "building": {"code", "address"} | None, "grid_code",
    "community_code", "unit", "room", "candidates": [{"code", "address", "confidence"}],
    "reasons": [...], "normalized"}``.
``AddressMatcher.match_many(texts, progress=None) -> list[MatchResult | None]``
    Many addresses, in order (blank/None → None), cached by text; for batch endpoints.
``normalize(text) -> Normalized`` / ``normalize_address(text) -> str``
    The canonical written form (what both sides are compared in).
``parse(text) -> ParsedAddress``
    Compound or road, number, marker (栋/号), unit, room, floor, extra text.

Status semantics (:class:`geo_grid.status.MatchStatus`, re-exported here): ``matched`` (confidence ≥ threshold, ``building_code`` set), ``ambiguous``
(ranked ``candidates``, no building chosen), ``unmatched`` (``reasons`` say why). The matcher
never returns ``matched`` for a building that does not exist.
"""

from geo_grid.address.match import STATUSES, AddressMatcher, Candidate, MatchResult
from geo_grid.address.normalize import (
    Normalized,
    chinese_to_int,
    normalize,
    normalize_address,
    replace_chinese_numerals,
    to_halfwidth,
)
from geo_grid.address.parse import ParsedAddress, parse, parse_normalized
from geo_grid.status import MatchStatus

__all__ = [
    "STATUSES",
    "AddressMatcher",
    "Candidate",
    "MatchResult",
    "MatchStatus",
    "Normalized",
    "ParsedAddress",
    "chinese_to_int",
    "normalize",
    "normalize_address",
    "parse",
    "parse_normalized",
    "replace_chinese_numerals",
    "to_halfwidth",
]
