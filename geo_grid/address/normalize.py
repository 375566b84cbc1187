"""Normalisation of free-text Chinese addresses into one canonical written form.

The same function is applied to the standard addresses of the buildings table and to every
query, so that both sides meet in one form:

- full-width → half-width (Unicode NFKC), lower case, whitespace and punctuation removed,
  dashes of every kind (``－ — – ~ ―``) as ``-``;
- Chinese numerals → Arabic digits: ``十二`` → 12, ``二十三`` → 23, ``一百零八`` → 108,
  ``五〇二`` / ``五零二`` → 502, ``两`` → 2 (``千`` and ``万`` are left alone: ``万裕苑`` is a name);
- building markers ``幢 栋 号楼 座 号楼栋 楼栋 #`` after a number → ``栋``; room markers
  ``室 户 房`` (and ``号`` after a unit) → ``室``; ``单元`` kept;
- optional administrative prefixes dropped at the start (江苏省/江苏, 无锡市/无锡, 新吴区/新区,
  江溪街道/江溪, 中国) together with a community name (``…社区``, ``…社区居委会``,
  ``…社区居民委员会``), which is returned separately as a hint;
- trailing noise such as ``附近 门口 旁边 对面`` dropped (returned separately). A ``小区``
  suffix is kept (``春暖小区`` is a real compound name); the matcher tries without it.

Everything is pure Python with precompiled regular expressions (tens of microseconds a string).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

__all__ = [
    "ADMIN_PREFIXES",
    "TRAILING_NOISE",
    "Normalized",
    "Normalizer",
    "chinese_to_int",
    "normalize",
    "normalize_address",
    "replace_chinese_numerals",
    "to_halfwidth",
]

#: Administrative prefixes that may precede an address in this street, longest first.
ADMIN_PREFIXES: tuple[str, ...] = (
    "中华人民共和国",
    "中国",
    "江苏省",
    "江苏",
    "无锡市",
    "无锡",
    "新吴区",
    "新吴",
    "新区",
    "江溪街道办事处",
    "江溪街道",
    "江溪街",
    "江溪",
)

#: Words after the address that say "near" rather than "in" (dropped, then reported).
TRAILING_NOISE: tuple[str, ...] = (
    "附近",
    "门口",
    "旁边",
    "对面",
    "周边",
    "周围",
    "楼下",
    "楼上",
    "边上",
    "一带",
    "里面",
    "那边",
    "这边",
    "那里",
    "这里",
    "东侧",
    "西侧",
    "南侧",
    "北侧",
    "东门",
    "西门",
    "南门",
    "北门",
    "大门",
    "路口",
    "后面",
    "前面",
    "隔壁",
    "处",
)

_DIGIT = {
    "零": 0, "〇": 0, "○": 0, "O": 0,
    "一": 1, "壹": 1, "二": 2, "贰": 2, "两": 2, "三": 3, "叁": 3, "四": 4, "肆": 4,
    "五": 5, "伍": 5, "六": 6, "陆": 6, "七": 7, "柒": 7, "八": 8, "捌": 8, "九": 9, "玖": 9,
}
_UNIT = {"十": 10, "拾": 10, "百": 100, "佰": 100, "千": 1000, "仟": 1000}
_NUMERAL_CHARS = "零〇○一壹二贰两三叁四肆五伍六陆七柒八捌九玖十拾百佰千仟"
#: ``第`` before a number with a marker after it is an ordinal word: ``第9号`` is ``9号``.
_ORDINAL_DI = re.compile(r"第(?=\d+(?:号|栋|幢|座|单元|室|层|楼))")
_NUMERAL_RUN = re.compile(f"[{_NUMERAL_CHARS}]+")

_DASHES = re.compile(r"[－—–~〜～―‐‑‒_]+")
# everything that is not a CJK ideograph, an ASCII letter/digit, '-' or '#'
_JUNK = re.compile(r"[^0-9a-z\-#\u3400-\u4dbf\u4e00-\u9fff]+")
_BUILDING = re.compile(r"(\d+)(?:号楼栋|号楼|楼栋|号栋|幢|栋|座|#楼|#)")
_ROOM = re.compile(r"(\d+)(?:室|户|号房|房间|房)")
_UNIT_ROOM_HAO = re.compile(r"单元(\d+)号")
_COMMUNITY = re.compile(r"^(.{1,14}?社区)(?:居民委员会|居委会|居委)?")
_MULTI_DASH = re.compile(r"-{2,}")
_SPACE = re.compile(r"\s+")
_ROAD_START = frozenset("路街道巷弄")


def to_halfwidth(text: str) -> str:
    """Return ``text`` in NFKC form (full-width letters, digits and punctuation → ASCII)."""
    return unicodedata.normalize("NFKC", text)


def chinese_to_int(numeral: str) -> int:
    """Convert a run of Chinese numerals to an integer.

    Parameters
    ----------
    numeral : str
        Characters among ``零〇一二两三四五六七八九十百`` (and their financial forms).
        Positional forms (``十二``, ``二十三``, ``一百零八``, ``三百``) are read positionally;
        runs without ``十``/``百`` are read digit by digit (``五〇二`` → 502, ``一二`` → 12).

    Returns
    -------
    int

    Raises
    ------
    ValueError
        If a character is not a numeral.

    Examples
    --------
    >>> chinese_to_int("一百零八"), chinese_to_int("十二"), chinese_to_int("五〇二")
    (108, 12, 502)
    >>> chinese_to_int("一百二"), chinese_to_int("两百五"), chinese_to_int("一千二")
    (120, 250, 1200)
    """
    if not numeral:
        raise ValueError("empty numeral")
    if not any(ch in _UNIT for ch in numeral):
        value = 0
        for ch in numeral:
            if ch not in _DIGIT:
                raise ValueError(f"not a Chinese numeral: {ch!r}")
            value = value * 10 + _DIGIT[ch]
        return value
    total = 0
    digit = None
    last_unit = None  # the unit just before the pending digit, with no 零 in between
    for ch in numeral:
        if ch in _DIGIT:
            if _DIGIT[ch] == 0:
                last_unit = None
            digit = _DIGIT[ch]
        elif ch in _UNIT:
            total += (1 if digit is None else digit) * _UNIT[ch]
            digit = None
            last_unit = _UNIT[ch]
        else:
            raise ValueError(f"not a Chinese numeral: {ch!r}")
    if digit is not None:
        # colloquial 一百二 = 120, 一千二 = 1200: a last digit right after 百/千 is the next
        # place down; 一百零二 = 102 keeps its 零
        total += digit * (last_unit // 10 if last_unit and last_unit >= 100 else 1)
    return total


def _numeral_repl(match: re.Match) -> str:
    return str(chinese_to_int(match.group(0)))


def replace_chinese_numerals(text: str) -> str:
    """Replace every run of Chinese numerals in ``text`` by its Arabic digits."""
    if not _NUMERAL_RUN.search(text):
        return text
    return _NUMERAL_RUN.sub(_numeral_repl, text)


@dataclass(frozen=True)
class Normalized:
    """The canonical form of one address, and what was dropped on the way.

    Attributes
    ----------
    text : str
        The canonical address (``叙丰家园12栋3单元502室``).
    prefixes : tuple of str
        Administrative prefixes dropped from the start.
    community : str or None
        A community name dropped from the start (``叙丰家园1社区``), usable as a hint.
    noise : tuple of str
        Trailing words dropped (``附近``, ``门口``...).
    """

    text: str
    prefixes: tuple[str, ...] = ()
    community: str | None = None
    noise: tuple[str, ...] = ()


# replacement functions rather than r"\1栋" templates: Python 3.11 expands a template in
# pure Python on every match, a function call is cheaper
def _as_building(m: re.Match) -> str:
    return m.group(1) + "栋"


def _as_unit_room(m: re.Match) -> str:
    return "单元" + m.group(1) + "室"


def _as_room(m: re.Match) -> str:
    return m.group(1) + "室"


def _basic(text: str) -> str:
    # each substitution is skipped when the character it needs is absent (a plain `in` test
    # costs far less than a regex pass; a roster runs this once per distinct address)
    s = to_halfwidth(text).lower()
    s = _SPACE.sub("", s)
    s = _DASHES.sub("-", s)
    s = replace_chinese_numerals(s)
    s = _JUNK.sub("", s)
    if "第" in s:
        s = _ORDINAL_DI.sub("", s)
    s = _BUILDING.sub(_as_building, s)
    if "单元" in s:
        s = _UNIT_ROOM_HAO.sub(_as_unit_room, s)
    s = _ROOM.sub(_as_room, s)
    if "--" in s:
        s = _MULTI_DASH.sub("-", s)
    return s.strip("-")


# prefixes by first character, each group in ADMIN_PREFIXES order (longest first)
_ADMIN_BY_FIRST = {c: tuple(p for p in ADMIN_PREFIXES if p[0] == c)
                   for c in dict.fromkeys(p[0] for p in ADMIN_PREFIXES)}
_NOISE_LAST = frozenset(w[-1] for w in TRAILING_NOISE)
_COMMITTEE = ("居民委员会", "居委会", "居委")


class Normalizer:
    """:func:`normalize` with its protected names and community names indexed once.

    The matcher builds one and calls it for every query; the indexes (lengths of the protected
    names, community names by first character) would otherwise be rebuilt per address.

    Parameters
    ----------
    protected : iterable of str
        Already-normalised compound/road names that must never lose a prefix (a compound called
        ``江溪花园`` keeps its ``江溪``).
    communities : iterable of str
        Already-normalised community names (``叙丰家园1社区``) to drop at the start, besides the
        generic ``…社区`` pattern; tried longest first.
    """

    def __init__(self, protected: Iterable[str] = (), communities: Iterable[str] = ()) -> None:
        self.protected = frozenset(protected)
        self._lengths = tuple(sorted({len(p) for p in self.protected}))
        by_first: dict[str, list[str]] = {}
        for c in communities:
            if c:
                by_first.setdefault(c[0], []).append(c)
        self._communities = {k: tuple(v) for k, v in by_first.items()}

    def __call__(self, text: str) -> Normalized:
        """Normalise one address and report what was dropped (see :func:`normalize`)."""
        s = _basic(text if isinstance(text, str) else str(text))
        dropped: list[str] = []
        community = None
        changed = True
        while changed and s:
            rest = self._drop_prefix(s)
            changed = rest is not None
            if changed:
                dropped.append(s[: len(s) - len(rest)])
                s = rest
            elif community is None:
                community, s = self._drop_community(s)
                changed = community is not None
        s, noise = _drop_noise(s)
        return Normalized(text=s.strip("-"), prefixes=tuple(dropped), community=community,
                          noise=noise)

    def _is_protected(self, s: str) -> bool:
        protected = self.protected
        # a plain loop: any() over a generator costs twice as much, once per address
        for k in self._lengths:  # noqa: SIM110
            if s[:k] in protected:
                return True
        return False

    def _drop_prefix(self, s: str) -> str | None:
        """``s`` without its administrative prefix, or None if it has none to drop."""
        candidates = _ADMIN_BY_FIRST.get(s[0])
        if candidates is None or self._is_protected(s):
            return None
        for p in candidates:
            if s.startswith(p) and len(s) > len(p):
                rest = s[len(p):]
                if rest[0] not in _ROAD_START:  # 江溪路 is a road, not 江溪 + 路
                    return rest
        return None

    def _drop_community(self, s: str) -> tuple[str | None, str]:
        """(the community name at the start of ``s`` or None, the rest)."""
        for c in self._communities.get(s[0], ()):
            if s.startswith(c) and len(s) > len(c):
                s = s[len(c):]
                for suffix in _COMMITTEE:
                    if s.startswith(suffix) and len(s) > len(suffix):
                        return c, s[len(suffix):]
                return c, s
        m = _COMMUNITY.match(s)
        if m and len(s) > m.end():
            return m.group(1), s[m.end():]
        return None, s


def _drop_noise(s: str) -> tuple[str, tuple[str, ...]]:
    """``s`` without its trailing noise words (附近, 门口...), and the words dropped."""
    if not s or s[-1] not in _NOISE_LAST:
        return s, ()
    noise: list[str] = []
    changed = True
    while changed and s and s[-1] in _NOISE_LAST:
        changed = False
        for w in TRAILING_NOISE:
            if s.endswith(w) and len(s) > len(w):
                noise.insert(0, w)
                s = s[: -len(w)]
                changed = True
                break
    return s, tuple(noise)


def normalize(
    text: str,
    protected: Iterable[str] | frozenset[str] = frozenset(),
    communities: Iterable[str] = (),
) -> Normalized:
    """Normalise one address and report what was dropped.

    Parameters
    ----------
    text : str
        Free text as typed or read from a roster.
    protected : iterable of str
        Already-normalised compound/road names that must never lose a prefix (a compound called
        ``江溪花园`` keeps its ``江溪``). The matcher passes its compounds here.
    communities : iterable of str
        Already-normalised community names (``叙丰家园1社区``) to drop at the start, besides the
        generic ``…社区`` pattern.

    Returns
    -------
    Normalized
    """
    protected = protected if isinstance(protected, frozenset) else frozenset(protected)
    return _normalizer(protected, tuple(communities))(text)


@lru_cache(maxsize=8)
def _normalizer(protected: frozenset[str], communities: tuple[str, ...]) -> Normalizer:
    return Normalizer(protected, communities)


def normalize_address(text: str) -> str:
    """Return only the canonical text of :func:`normalize` (no protected names, no hints)."""
    return normalize(text).text
