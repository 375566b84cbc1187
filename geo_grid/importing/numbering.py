"""Codes an office did not give, made by the statistical coding rules.

- street: 9 digits; taken from the communities' 12-digit codes when the street layer has none;
- community: the 12-digit statistical code (street code + 3 digits);
- grid: community code + 3-digit sequence, numbered west to east, north to south: rows are 400 m
  bands from the community's northern edge (by grid centroid), numbered from the north, and
  within a row the grids go from west to east;
- building: community code + 5-digit sequence, in the same reading order (50 m rows).

New sequence numbers start after the largest one already used under the same parent, so a
partly coded layer keeps its codes and gets no duplicates. Sequences written alone (``7`` or
``007`` in a grid layer's 编号 column) are put under their parent's code.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import pandas as pd
import shapely

_DIGITS = re.compile(r"^\d+$")


def reading_order(geoms_m: np.ndarray, top: float, band_m: float) -> np.ndarray:
    """Indices of ``geoms_m`` (metric) in reading order: rows of ``band_m`` metres from ``top``
    (the parent's northern edge) downwards, west to east within a row."""
    if len(geoms_m) == 0:
        return np.zeros(0, dtype=int)
    c = shapely.centroid(geoms_m)
    x, y = shapely.get_x(c), shapely.get_y(c)
    row = np.floor((top - y) / band_m)
    return np.lexsort((x, row))


def sequence_codes(existing: Sequence[str | None], parent: str, width: int,
                   order: np.ndarray) -> list[str]:
    """Codes for the members of one parent: the given ones kept (a bare sequence number put
    under ``parent``), the missing ones numbered in ``order`` after the largest used."""
    full = len(parent) + width
    out: list[str | None] = []
    for v in existing:
        if v is not None and _DIGITS.match(v) and len(v) <= width:
            v = parent + v.zfill(width)
        out.append(v)
    used = [int(v[len(parent):]) for v in out
            if v is not None and len(v) == full and v.startswith(parent) and _DIGITS.match(v)]
    nxt = max(used, default=0) + 1
    for i in order:
        if out[i] is None:
            out[i] = parent + str(nxt).zfill(width)
            nxt += 1
    return [str(v) for v in out]


def largest_overlap(children_m: np.ndarray, parents_m: np.ndarray) -> np.ndarray:
    """For each child geometry, the index of the parent holding most of its area (-1: none)."""
    out = np.full(len(children_m), -1, dtype=int)
    if len(children_m) == 0 or len(parents_m) == 0:
        return out
    tree = shapely.STRtree(parents_m)
    ci, pi = tree.query(children_m, predicate="intersects")
    if len(ci) == 0:
        return out
    area = shapely.area(shapely.intersection(children_m[ci], parents_m[pi]))
    hits = pd.DataFrame({"c": ci, "p": pi, "a": area})
    hits = hits[hits["a"] > 0]
    best = hits.loc[hits.groupby("c")["a"].idxmax()]
    out[best["c"].to_numpy()] = best["p"].to_numpy()
    return out


def street_code_from(given: str | None, community_codes: Sequence[str | None]) -> str | None:
    """The street's 9-digit code: the given one, else the one most communities' codes extend."""
    if given is not None and re.fullmatch(r"\d{9}", given):
        return given
    prefixes = pd.Series([c[:9] for c in community_codes
                          if c is not None and re.fullmatch(r"\d{12}", c)], dtype=object)
    return str(prefixes.mode().iloc[0]) if len(prefixes) else given
