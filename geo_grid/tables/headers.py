"""Recognising header rows and the kind of each column from how people label them.

A column kind (:class:`ColumnKind`) is a synonyms table: whole header names in order of
preference, words a header may contain, and words that make a header a poor choice. A
:class:`Vocabulary` is the ordered set of kinds a file is read with. The roster batch knows
addresses, ID numbers, phones and coordinates (:data:`ROSTER`); an importer of grids or members
adds its own kinds the same way::

    CODE = ColumnKind("code", exact=("编码", "代码", "编号", "code"), contains=("编码", "代码"))
    LAYERS = Vocabulary((CODE, NAME, FLOORS, HOUSEHOLDS))
    LAYERS.find(columns, "code")

Headers are compared after :func:`normalize_header`: NFKC (full-width brackets → ASCII), no
spaces or newlines, lower case — ``住址（详细）`` and ``住址(详细)`` are the same header,
``联系\\n电话`` is ``联系电话``.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from geo_grid.errors import InvalidInput
from geo_grid.tables.cells import cell_text

__all__ = [
    "ADDRESS",
    "HEADER_SCAN_ROWS",
    "ID_NUMBER",
    "LATITUDE",
    "LONGITUDE",
    "PHONE",
    "ROSTER",
    "ColumnKind",
    "Vocabulary",
    "find_header_row",
    "header_candidates",
    "looks_like_label",
    "normalize_header",
    "unique_labels",
]

#: How many rows from the top may hold the header (title rows above it are kept aside).
HEADER_SCAN_ROWS = 30


def normalize_header(label: Any) -> str:
    """Normalise a column header: NFKC (full-width brackets → ASCII), no spaces or newlines,
    lower case. ``住址（详细）`` → ``住址(详细)``, ``联系\\n电话`` → ``联系电话``."""
    if label is None or (isinstance(label, float) and math.isnan(label)):
        return ""
    s = unicodedata.normalize("NFKC", str(label))
    return re.sub(r"\s+", "", s).lower()


@dataclass(frozen=True)
class ColumnKind:
    """How headers of one kind of column are written.

    Attributes
    ----------
    name : str
        The kind (``address``, ``id``, ``phone``...).
    exact : tuple of str
        Whole normalised headers, best first (``地址``, ``详细地址``...).
    contains : tuple of str
        Words a header of this kind may contain (``身份证`` in ``户主身份证号``).
    prefixes : tuple of str
        Beginnings of a header of this kind (``经度`` in ``经度(wgs84)``).
    avoid : tuple of str
        Words that make a ``contains`` match a last resort (``户籍`` in ``户籍地址``: the
        registered address, not where a person lives).
    """

    name: str
    exact: tuple[str, ...] = ()
    contains: tuple[str, ...] = ()
    prefixes: tuple[str, ...] = ()
    avoid: tuple[str, ...] = ()

    def matches(self, header: str) -> bool:
        """True if the normalised ``header`` is of this kind."""
        return (header in self.exact or header.startswith(self.prefixes or ("\0",))
                or any(w in header for w in self.contains))

    def rank(self, header: str) -> int | None:
        """How good a match the normalised ``header`` is: 0 is best, None is no match."""
        if header in self.exact:
            return self.exact.index(header)
        base = len(self.exact)
        if self.prefixes and header.startswith(self.prefixes):
            return base
        if any(w in header for w in self.contains):
            return base + 1 + any(w in header for w in self.avoid)
        return None


@dataclass(frozen=True)
class Vocabulary:
    """The column kinds a table is read with, in order: a header is of the first kind that
    matches it (``身份证地址`` is an ID column when ID comes before address)."""

    kinds: tuple[ColumnKind, ...]

    def kind(self, name: str) -> ColumnKind:
        """The kind called ``name``."""
        for k in self.kinds:
            if k.name == name:
                return k
        raise KeyError(name)

    def classify(self, label: Any) -> str | None:
        """The kind of a header label, or None."""
        h = normalize_header(label)
        return next((k.name for k in self.kinds if k.matches(h)), None)

    def find(self, columns: Sequence[Any], kind: str, explicit: str | None = None) -> str | None:
        """The best column of ``kind`` among ``columns`` (original labels), or None.

        Parameters
        ----------
        columns : sequence
            Header labels as read.
        kind : str
            A kind of this vocabulary.
        explicit : str, optional
            A name given by the caller, compared after :func:`normalize_header`; it wins.

        Raises
        ------
        InvalidInput
            If ``explicit`` is given and no column has that name.
        """
        labels = [str(c) for c in columns]
        norm = [normalize_header(c) for c in labels]
        if explicit is not None:
            want = normalize_header(explicit)
            if want in norm:
                return labels[norm.index(want)]
            raise InvalidInput(f"no column named {explicit!r}; columns are: {', '.join(labels)}",
                               column=explicit, columns=labels)
        k = self.kind(kind)
        ranked = [(r, i) for i, h in enumerate(norm) if (r := k.rank(h)) is not None]
        return labels[min(ranked)[1]] if ranked else None

    def resolve(self, columns: Sequence[Any],
                explicit: dict[str, str] | None = None) -> dict[str, str | None]:
        """The column of every kind (None where absent), each column used once at most.

        Kinds are resolved in vocabulary order; ``explicit`` maps a kind to a column name
        given by the caller (``--field households=住户数``), checked like :meth:`find`'s.
        """
        explicit = explicit or {}
        free = [str(c) for c in columns]
        out: dict[str, str | None] = {}
        for k in self.kinds:
            pool = [str(c) for c in columns] if k.name in explicit else free
            found = self.find(pool, k.name, explicit.get(k.name))
            out[k.name] = found
            if found in free:
                free.remove(found)
        return out


#: Address headers, best first; any other header with 住址 or 地址 comes after them.
ADDRESS = ColumnKind(
    "address",
    exact=("地址", "详细地址", "家庭住址", "现住址", "现居住地址", "居住地址", "现居住地",
           "现居地址", "住址(详细)", "住址", "家庭地址", "门牌地址", "所在地址", "房屋地址",
           "楼栋地址", "address", "addr"),
    contains=("住址", "地址"),
    avoid=("户籍", "邮"),
)
ID_NUMBER = ColumnKind("id", contains=("身份证", "证件号", "公民身份号码", "身份号码",
                                       "idnumber", "id_number"))
PHONE = ColumnKind("phone", contains=("电话", "手机", "联系方式", "phone", "mobile", "tel"))
LONGITUDE = ColumnKind("lon", exact=("经度", "lon", "lng", "longitude"), prefixes=("经度",))
LATITUDE = ColumnKind("lat", exact=("纬度", "lat", "latitude"), prefixes=("纬度",))

#: The columns of a household roster. ID and phone columns are kept as text when written
#: back; coordinates place rows whose address does not match.
ROSTER = Vocabulary((ID_NUMBER, PHONE, LONGITUDE, LATITUDE, ADDRESS))


def looks_like_label(h: str) -> bool:
    """A normalised cell that may be a header label: short and without digit runs (an ID, a
    phone or a house number is data, not a label)."""
    return len(h) <= 16 and not re.search(r"\d{2,}", h) and "@" not in h


def unique_labels(labels: Sequence[str]) -> list[str]:
    """Header labels made unique (``姓名``, ``姓名.1``) and never blank (``列3``)."""
    seen: Counter = Counter()
    out = []
    for i, lab in enumerate(labels):
        lab = lab if lab.strip() else f"列{i + 1}"
        seen[lab] += 1
        out.append(lab if seen[lab] == 1 else f"{lab}.{seen[lab] - 1}")
    return out


def find_header_row(rows: Sequence[Sequence[Any]], accept: Callable[[list[str]], bool],
                    scan: int = HEADER_SCAN_ROWS) -> int | None:
    """The first of the top ``scan`` rows whose normalised non-blank cells ``accept`` likes.

    Rows above the header are title rows (a merged title cell reads as one value and blanks).
    """
    for i, row in enumerate(rows[:scan]):
        cells = [normalize_header(v) for v in row if cell_text(v).strip()]
        if cells and accept(cells):
            return i
    return None


def header_candidates(rows: Sequence[Sequence[Any]], scan: int = HEADER_SCAN_ROWS) -> list[str]:
    """Header-like labels of the first non-empty row, for an error message.

    Only cells that look like labels are named: cell values of data rows (names, phones, ID
    numbers) must never reach an error message or a log.
    """
    first = next((r for r in rows[:scan] if any(cell_text(v).strip() for v in r)), [])
    return [h for v in first if (h := normalize_header(cell_text(v))) and looks_like_label(h)]
