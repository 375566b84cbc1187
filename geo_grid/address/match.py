"""Matching free-text addresses to buildings: exact on the standard address, then fuzzy.

How a query is answered
-----------------------
1. Normalise and parse it (:mod:`geo_grid.address.normalize`, :mod:`geo_grid.address.parse`).
2. If the compound (or road) is a known one, the building is looked up by its number: found →
   confidence 1 before penalties; not found → ``unmatched`` ("叙丰家园 has no building 999"),
   because a correctly written compound with a wrong number is not a typo of another compound.
   A compound written with a ``小区`` suffix (``叙丰家园小区``) or only a community name
   (``叙丰家园第一社区12栋``) is tried the same way, with a small penalty.
3. Otherwise the candidates are the compounds that *have a building with that number*; each is
   scored by rapidfuzz's normalised Indel similarity (``fuzz.ratio``) on the compound name, or by
   ``fuzz.partial_ratio`` × 0.9 when the query carries extra text around the name, multiplied by
   the feasibility of the written unit and room in that building. A candidate's confidence is
   its score times a margin factor ``clip(0.5 + (score - best other score) / 0.4, 0, 1)``: two
   equally good candidates both get at most half their score, so a tie is never ``matched``.
   Ties in score are ranked by the households of the building (a roster row is more likely to
   live in a bigger building); that order never turns a tie into a match.
4. Penalties on the chosen building, each with its reason: a unit the building does not have
   (× 0.8), a room on a floor or door it does not have (× 0.85), ``号`` written for a ``栋``
   building or the reverse (× 0.95), unparsed text after the address (× 0.95); among fuzzy
   candidates, one outside the community written before the address (× 0.85).
5. ``matched`` if the confidence is at least ``threshold`` (0.6); otherwise ``ambiguous`` with the
   ranked candidates if the best is at least ``min_candidate`` (0.25); otherwise ``unmatched``.
   A single-character typo in a 3-character name scores 0.67, in a 4-character name 0.75.

Results are cached by raw text and by normalised text; fuzzy searches are cached by
(compound, number), so a 100,000-row roster costs one normalisation per distinct string.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from rapidfuzz import fuzz

from geo_grid.address.normalize import Normalizer, _basic
from geo_grid.address.parse import ParsedAddress, number_key, parse_normalized
from geo_grid.errors import InvalidInput
from geo_grid.status import ADDRESS_STATUSES, MatchStatus

__all__ = ["STATUSES", "AddressMatcher", "Candidate", "MatchResult", "building_keys"]


def building_keys(compounds: Iterable[Any], numbers: Iterable[Any]) -> list[str | None]:
    """The key the matcher finds a building by: its compound or road, normalised, and its
    number with its suffix (``景渎家园12``: 景渎家园12栋 and 景渎家园12号 are one key). Two
    buildings of one matcher may not share a key (None for a number the parser cannot read).

    Parameters
    ----------
    compounds, numbers : iterable
        The buildings' ``compound`` and ``number`` columns.

    Returns
    -------
    list of str or None
    """
    out: list[str | None] = []
    for comp, raw in zip(compounds, numbers, strict=True):
        nk = number_key(raw)
        out.append(None if nk is None else f"{_basic(str(comp))}{nk[0]}{nk[1]}")
    return out

STATUSES = ADDRESS_STATUSES  # matched, ambiguous, unmatched
_RESIDENTIAL = frozenset({"slab", "point", "dormitory"})
_ORDINAL = re.compile(r"第?\d+$")
_REQUIRED = ("code", "address", "compound", "number")
_CACHE_MAX = 300_000  # entries per cache; cleared when full (bounded memory in a server)


class Candidate(NamedTuple):
    """One ranked candidate building: ``(code, address, confidence)``."""

    code: str
    address: str
    confidence: float


@dataclass(frozen=True)
class MatchResult:
    """The answer for one address.

    Attributes
    ----------
    query : str
        The text as given.
    normalized : str
        Its normalised form.
    status : MatchStatus
        ``matched``, ``ambiguous`` or ``unmatched`` (a :class:`~geo_grid.status.MatchStatus`,
        equal to its plain string).
    confidence : float
        In [0, 1]; for ``matched`` at least the matcher's threshold.
    building_code, building_address : str or None
        The building when ``matched``; None otherwise (see ``candidates``).
    grid_code, community_code : str or None
        Of the matched building, when the buildings table has them.
    unit, room : int or None
        As written (parsed and echoed even when the building lacks them; see ``reasons``).
    candidates : tuple of Candidate
        Ranked, best first; for ``matched`` the first is the building itself.
    reasons : tuple of str
        Why the confidence is below 1 or why nothing matched, in plain words.
    """

    query: str
    normalized: str
    status: MatchStatus
    confidence: float
    building_code: str | None = None
    building_address: str | None = None
    grid_code: str | None = None
    community_code: str | None = None
    unit: int | None = None
    room: int | None = None
    candidates: tuple[Candidate, ...] = ()
    reasons: tuple[str, ...] = ()

    @property
    def best(self) -> Candidate | None:
        """The best candidate (the building itself when matched), or None."""
        return self.candidates[0] if self.candidates else None

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON shape used by the API's ``"match"`` object."""
        return {
            "status": MatchStatus(self.status).value,
            "confidence": round(float(self.confidence), 4),
            "building": (
                {"code": self.building_code, "address": self.building_address}
                if self.building_code is not None
                else None
            ),
            "grid_code": self.grid_code,
            "community_code": self.community_code,
            "unit": self.unit,
            "room": self.room,
            "candidates": [
                {"code": c.code, "address": c.address, "confidence": round(float(c.confidence), 4)}
                for c in self.candidates
            ],
            "reasons": list(self.reasons),
            "normalized": self.normalized,
        }


def _community_names(
    communities: pd.DataFrame | Iterable[str] | None,
) -> tuple[list[str], dict[str, str]]:
    """Community names to recognise, and normalised name (without 居委会) → community code."""
    names: list[str] = []
    codes: dict[str, str] = {}
    if communities is None:
        return names, codes
    if not isinstance(communities, pd.DataFrame):
        return [str(v) for v in communities], codes
    for c in ("name", "short_name"):
        if c not in communities.columns:
            continue
        names.extend(str(v) for v in communities[c].dropna())
        if "code" not in communities.columns:
            continue
        for name, code in zip(communities[c], communities["code"], strict=True):
            if isinstance(name, str):
                key = _basic(name)
                for suffix in ("居民委员会", "居委会"):
                    key = key.removesuffix(suffix)
                codes[key] = str(code)
    return names, codes


def _margin_factor(gap: float) -> float:
    return float(min(1.0, max(0.0, 0.5 + gap / 0.4)))


class AddressMatcher:
    """Match Chinese address text to the buildings of a district; build once, query often.

    Parameters
    ----------
    buildings : pandas.DataFrame
        The buildings table (``District.buildings`` or its properties): ``code``, ``address``,
        ``compound``, ``number`` are required; ``grid_code``, ``community_code``, ``category``,
        ``floors``, ``units``, ``rooms_per_floor``, ``households`` are used when present.
    communities : pandas.DataFrame or iterable of str, optional
        Community names to recognise and drop at the start of an address (a ``name`` and
        ``short_name`` column, or plain names). Any ``…社区`` prefix is dropped even without.
    threshold : float
        Minimum confidence of a ``matched`` answer.
    min_candidate : float
        Minimum confidence of the best candidate for ``ambiguous`` (below it: ``unmatched``).
    limit : int
        How many candidates to return.

    Raises
    ------
    InvalidInput
        If a required column is missing or the table is empty.
    """

    def __init__(
        self,
        buildings: pd.DataFrame,
        communities: pd.DataFrame | Iterable[str] | None = None,
        *,
        threshold: float = 0.6,
        min_candidate: float = 0.25,
        limit: int = 5,
    ) -> None:
        missing = [c for c in _REQUIRED if c not in buildings.columns]
        if missing:
            raise InvalidInput(f"buildings table lacks columns {missing}", missing=missing)
        if len(buildings) == 0:
            raise InvalidInput("buildings table is empty")
        if not 0 < threshold <= 1:
            raise InvalidInput(f"threshold must be in (0, 1], got {threshold}")
        self.threshold = float(threshold)
        self.min_candidate = float(min_candidate)
        self.limit = int(limit)
        b = buildings.reset_index(drop=True)
        self._load_columns(b)
        self._index_buildings(b["compound"].tolist())
        self._protected = frozenset(self._by_compound)
        names, self._community_codes = _community_names(communities)
        self._communities = tuple(
            sorted({_basic(v) for v in names if v}, key=len, reverse=True)
        )
        self._normalize = Normalizer(self._protected, self._communities)
        self._cache: dict[str, MatchResult] = {}
        self._norm_cache: dict[str, MatchResult] = {}
        self._fuzzy_cache: dict[tuple[str, str], list[tuple[int, float]]] = {}

    def _load_columns(self, b: pd.DataFrame) -> None:
        """Per-building lists and arrays, by row (missing optional columns → defaults)."""
        n = len(b)

        def col(name: str, default: Any) -> np.ndarray:
            if name in b.columns:
                return b[name].to_numpy()
            return np.full(n, default, dtype=object)

        def numeric(name: str, default: Any) -> pd.Series:
            return pd.to_numeric(pd.Series(col(name, default)), errors="coerce")

        self._code = [str(v) for v in b["code"]]
        self._address = [str(v) for v in b["address"]]
        self._grid = [None if v is None or v != v else str(v) for v in col("grid_code", None)]
        self._community = [
            None if v is None or v != v else str(v) for v in col("community_code", None)
        ]
        self._category = [str(v) for v in col("category", "")]
        # plain Python numbers (NaN where unknown): read one at a time per query, where a
        # numpy scalar costs several times more
        self._floors = numeric("floors", np.nan).tolist()
        self._units = numeric("units", np.nan).tolist()
        self._rpf = numeric("rooms_per_floor", np.nan).tolist()
        self._households = numeric("households", 0).fillna(0).tolist()
        # the number as a key with its suffix ("12", "12a", "88-1") and its plain value (12)
        self._number: list[str] = []
        self._base: list[int] = []
        for code, raw in zip(self._code, b["number"], strict=True):
            nk = number_key(raw)
            if nk is None:
                raise InvalidInput(f"building {code} has no valid number: {raw!r}", code=code)
            self._number.append(f"{nk[0]}{nk[1]}")
            self._base.append(nk[0])

    def _index_buildings(self, compounds: list[Any]) -> None:
        """compound → number → row; number → compounds; normalised address → row; markers."""
        self._by_compound: dict[str, dict[str, int]] = {}
        self._by_number: dict[str, list[str]] = {}
        self._exact: dict[str, int] = {}
        self._marker: list[str | None] = []
        for i, (raw, num) in enumerate(zip(compounds, self._number, strict=True)):
            comp = _basic(str(raw))
            numbers = self._by_compound.setdefault(comp, {})
            if num in numbers:
                other = numbers[num]
                raise InvalidInput(
                    f"buildings {self._code[other]} and {self._code[i]} share the address "
                    f"{comp}{num}",
                    codes=[self._code[other], self._code[i]],
                )
            numbers[num] = i
            self._by_number.setdefault(num, []).append(comp)
            norm = _basic(self._address[i])
            self._exact[norm] = i
            self._marker.append(parse_normalized(norm).marker)

    # ------------------------------------------------------------------ construction helpers

    @classmethod
    def from_district(cls, district: Any, **kwargs: Any) -> AddressMatcher:
        """Build from a :class:`geo_grid.district.District` (its buildings and communities)."""
        return cls(district.buildings, district.communities, **kwargs)

    @property
    def compounds(self) -> frozenset[str]:
        """The normalised compound and road names known to the matcher."""
        return self._protected

    # ------------------------------------------------------------------ public API

    def match(self, text: str) -> MatchResult:
        """Match one address.

        Parameters
        ----------
        text : str
            Free text, e.g. ``江溪街道叙丰家园十二幢3单元502`` or ``无锡新吴区锡兴路８８号``.

        Returns
        -------
        MatchResult

        Raises
        ------
        InvalidInput
            If ``text`` is not a string.
        """
        if not isinstance(text, str):
            raise InvalidInput(f"address must be a string, got {type(text).__name__}")
        hit = self._cache.get(text)
        if hit is not None:
            return hit
        norm = self._normalize(text)
        key = "\x1f".join((norm.text, norm.community or "", "|".join(norm.noise)))
        res = self._norm_cache.get(key)
        if res is None:
            parsed = parse_normalized(
                norm.text, raw=text, prefixes=norm.prefixes, community=norm.community,
                noise=norm.noise,
            )
            res = self._match_parsed(parsed)
            if len(self._norm_cache) >= _CACHE_MAX:
                self._norm_cache.clear()
            self._norm_cache[key] = res
        if res.query != text:
            res = _with_query(res, text)
        if len(self._cache) >= _CACHE_MAX:
            self._cache.clear()
        self._cache[text] = res
        return res

    def match_many(
        self,
        texts: Sequence[str | None],
        progress: Callable[[int, int], None] | None = None,
        chunk: int = 5000,
    ) -> list[MatchResult | None]:
        """Match many addresses (cached by text; about 10–20 µs a row on repeated buildings).

        Parameters
        ----------
        texts : sequence of str or None
            Addresses; None, NaN or blank entries give None in the output.
        progress : callable, optional
            Called as ``progress(done, total)`` every ``chunk`` rows and at the end.
        chunk : int
            Progress granularity.

        Returns
        -------
        list of MatchResult or None
            One entry per input, in order.
        """
        total = len(texts)
        out: list[MatchResult | None] = [None] * total
        for i, t in enumerate(texts):
            if isinstance(t, str) and t.strip():
                out[i] = self.match(t)
            if progress is not None and (i + 1) % chunk == 0:
                progress(i + 1, total)
        if progress is not None:
            progress(total, total)
        return out

    def clear_cache(self) -> None:
        """Drop the per-text caches (the index stays)."""
        self._cache.clear()
        self._norm_cache.clear()
        self._fuzzy_cache.clear()

    # ------------------------------------------------------------------ internals

    def _feasibility(self, i: int, p: ParsedAddress) -> tuple[float, list[str]]:
        """Factor in (0, 1] for the written unit/room in building ``i``, with reasons."""
        factor = 1.0
        reasons: list[str] = []
        units = self._units[i]
        if p.unit is not None and units == units and (p.unit < 1 or p.unit > units):
            factor *= 0.8
            reasons.append(
                f"unit {p.unit} does not exist: building has {int(units)} unit"
                f"{'s' if units != 1 else ''}"
            )
        floors, rpf = self._floors[i], self._rpf[i]
        residential = self._category[i] in _RESIDENTIAL
        room_floor = None
        if p.room is not None:
            room_floor, door = divmod(int(p.room), 100)
            if floors == floors and (room_floor < 1 or room_floor > floors):
                factor *= 0.85
                reasons.append(
                    f"room {p.room} does not exist: building has {int(floors)} floor"
                    f"{'s' if floors != 1 else ''}"
                )
            elif residential and rpf == rpf and rpf > 0 and (door < 1 or door > rpf):
                factor *= 0.85
                reasons.append(
                    f"room {p.room} does not exist: building has {int(rpf)} rooms per floor"
                )
        if (p.floor is not None and floors == floors and (p.floor < 1 or p.floor > floors)
                and not (room_floor is not None and room_floor == p.floor)):
            factor *= 0.85
            reasons.append(
                f"floor {p.floor} does not exist: building has {int(floors)} floor"
                f"{'s' if floors != 1 else ''}"
            )
        return factor, reasons

    def _result(
        self,
        p: ParsedAddress,
        status: MatchStatus,
        confidence: float,
        building: int | None,
        candidates: list[Candidate],
        reasons: list[str],
    ) -> MatchResult:
        return MatchResult(
            query=p.raw,
            normalized=p.text,
            status=status,
            confidence=float(round(min(1.0, max(0.0, confidence)), 6)),
            building_code=None if building is None else self._code[building],
            building_address=None if building is None else self._address[building],
            grid_code=None if building is None else self._grid[building],
            community_code=None if building is None else self._community[building],
            unit=p.unit,
            room=p.room,
            candidates=tuple(candidates[: self.limit]),
            reasons=tuple(reasons),
        )

    def _notes(self, i: int, p: ParsedAddress) -> tuple[float, list[str]]:
        factor, reasons = self._feasibility(i, p)
        std = self._marker[i]
        if p.marker is not None and std is not None and p.marker != std:
            factor *= 0.95
            reasons.append(
                f"written {p.key}{p.marker}; the standard address is {self._address[i]}"
            )
        if p.extra:
            factor *= 0.95
            reasons.append(f"ignored text {p.extra!r} after the address")
        if p.noise:
            reasons.append(f"ignored {''.join(p.noise)!r}: the place is near the building")
        return factor, reasons

    def _compound_from_hint(self, hint: str) -> str | None:
        base = hint.removesuffix("社区")
        base = _ORDINAL.sub("", base)
        if base in self._by_compound:
            return base
        return None

    def _hinted_community(self, hint: str | None) -> str | None:
        """The community code a written community name points to, if clear."""
        if not hint or not self._community_codes:
            return None
        if hint in self._community_codes:
            return self._community_codes[hint]
        best, score = None, 0.0
        for name, code in self._community_codes.items():
            s = fuzz.ratio(hint, name)
            if s > score:
                best, score = code, s
        return best if score >= 80 else None

    def _fuzzy(self, compound: str, number: str) -> list[tuple[int, float]]:
        key = (compound, number)
        hit = self._fuzzy_cache.get(key)
        if hit is not None:
            return hit
        scored: list[tuple[int, float]] = []
        for comp in self._by_number.get(number, ()):
            s = fuzz.ratio(compound, comp) / 100.0
            if len(compound) > len(comp) + 1:
                s = max(s, 0.9 * fuzz.partial_ratio(compound, comp) / 100.0)
            if s > 0:
                scored.append((self._by_compound[comp][number], s))
        self._fuzzy_cache[key] = scored
        return scored

    def _match_parsed(self, p: ParsedAddress) -> MatchResult:
        if not p.text:
            return self._result(p, MatchStatus.UNMATCHED, 0.0, None, [], ["empty address"])
        if p.number is None:
            return self._result(
                p, MatchStatus.UNMATCHED, 0.0, None, [],
                [f"no building or door number found in {p.text!r}"],
            )
        compound, base, reasons = self._resolve_compound(p)
        if compound in self._by_compound:
            return self._match_known(p, compound, base, reasons)
        # fuzzy on the compound name among compounds that have this number
        if not compound:
            reasons.append("no compound or road name in the address")
            return self._result(p, MatchStatus.UNMATCHED, 0.0, None, [], reasons)
        scored = self._fuzzy(compound, p.key)
        if not scored:
            reasons.append(f"no compound or road with number {p.key} resembles {compound}")
            return self._result(p, MatchStatus.UNMATCHED, 0.0, None, [], reasons)
        return self._match_fuzzy(p, compound, base, reasons, scored)

    def _resolve_compound(self, p: ParsedAddress) -> tuple[str, float, list[str]]:
        """The compound to look up (the written one, without 小区, or from the community name),
        the confidence factor that reading costs, and the reasons."""
        compound, base, reasons = p.compound, 1.0, []
        if compound in self._by_compound:
            return compound, base, reasons
        if compound.endswith("小区") and compound[:-2] in self._by_compound:
            reasons.append(f"read {p.compound} as {compound[:-2]}")
            return compound[:-2], 0.97, reasons
        if not compound and p.community:
            from_hint = self._compound_from_hint(p.community)
            if from_hint is not None:
                reasons.append(f"compound taken from the community name {p.community}")
                return from_hint, 0.9, reasons
        return compound, base, reasons

    def _match_known(self, p: ParsedAddress, compound: str, base: float,
                     reasons: list[str]) -> MatchResult:
        """A known compound: the building with the written number, or unmatched."""
        nums = self._by_compound[compound]
        i = nums.get(p.key)
        if i is None:
            bases = [self._base[j] for j in nums.values()]
            reasons.append(
                f"{compound} has no number {p.key} (it has {len(nums)}, numbered "
                f"{min(bases)} to {max(bases)})"
            )
            return self._result(p, MatchStatus.UNMATCHED, 0.0, None, [], reasons)
        factor, notes = self._notes(i, p)
        conf = base * factor
        status = MatchStatus.MATCHED if conf >= self.threshold else MatchStatus.AMBIGUOUS
        cand = [Candidate(self._code[i], self._address[i], round(conf, 4))]
        return self._result(p, status, conf, i if status == MatchStatus.MATCHED else None, cand,
                            reasons + notes)

    def _ranked(self, p: ParsedAddress, base: float,
                scored: list[tuple[int, float]]) -> list[tuple[float, float, int, list[str]]]:
        """Fuzzy candidates as (score, name similarity, row, notes), best first."""
        rows = []
        hinted = self._hinted_community(p.community)
        for i, sim in scored:
            factor, notes = self._notes(i, p)
            if hinted is not None and self._community[i] != hinted:
                factor *= 0.85
                notes = [*notes, f"not in the community written ({p.community})"]
            rows.append((sim * factor * base, sim, i, notes))
        rows.sort(key=lambda r: (-r[0], -self._households[r[2]], self._code[r[2]]))
        return rows[: max(self.limit, 2)]

    def _match_fuzzy(self, p: ParsedAddress, compound: str, base: float, reasons: list[str],
                     scored: list[tuple[int, float]]) -> MatchResult:
        """An unknown compound: the best similar one with this number, if clearly best."""
        top = self._ranked(p, base, scored)
        cands = []
        for k, (s, _sim, i, _notes) in enumerate(top):
            other = top[1][0] if k == 0 and len(top) > 1 else top[0][0] if k > 0 else 0.0
            cands.append(Candidate(self._code[i], self._address[i],
                                   round(s * _margin_factor(s - other), 4)))
        best_s, best_sim, best_i, best_notes = top[0]
        conf = cands[0].confidence
        reasons.append(
            f"{compound} is not a known compound or road; closest with number {p.key}: "
            f"{self._address[best_i]} (name similarity {best_sim:.2f})"
        )
        if len(top) > 1 and top[1][0] > best_s - 0.2:
            reasons.append(
                f"{self._address[top[1][2]]} is almost as close "
                f"({top[1][0]:.2f} against {best_s:.2f})"
            )
        reasons.extend(best_notes)
        if conf >= self.threshold:
            return self._result(p, MatchStatus.MATCHED, conf, best_i, cands, reasons)
        if conf >= self.min_candidate:
            reasons.append(f"confidence {conf:.2f} is below the threshold {self.threshold:.2f}")
            return self._result(p, MatchStatus.AMBIGUOUS, conf, None, cands, reasons)
        reasons.append(f"best confidence {conf:.2f} is too low for a candidate")
        return self._result(p, MatchStatus.UNMATCHED, conf, None, cands, reasons)


def _with_query(res: MatchResult, text: str) -> MatchResult:
    from dataclasses import replace

    return replace(res, query=text)
