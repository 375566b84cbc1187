"""The four layers as read turned into the columns the store expects.

Fields are taken from the columns recognised by :mod:`geo_grid.importing.fields`; missing codes
are made by :mod:`geo_grid.importing.numbering`; what the office did not give gets a default,
and every default used is listed in the import report (:data:`DEFAULTS` says which).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo_grid.address.parse import parse
from geo_grid.crs import metric_epsg_of
from geo_grid.district import GRID_KINDS, District
from geo_grid.importing.numbering import (
    largest_overlap,
    reading_order,
    sequence_codes,
    street_code_from,
)

#: What a field gets when the office's layer does not have it.
DEFAULTS = {
    "street.code": "from the communities' 12-digit codes (their first 9 digits)",
    "communities.code": "street code + 3-digit sequence, west to east, north to south",
    "communities.short_name": "the name without 居民委员会/村民委员会/居委会 (景渎社区居民委员会 → 景渎社区)",
    "grids.community_code": "the community holding most of the grid's area (or the one named)",
    "grids.code": "community code + 3-digit sequence, rows of 400 m from the north, west to east",
    "grids.name": "<community short name>第<sequence>网格",
    "grids.kind": "residential",
    "buildings.grid_code": "the grid holding most of the footprint's area",
    "buildings.community_code": "the community of the building's grid",
    "buildings.code": "community code + 5-digit sequence, rows of 50 m from the north, west to east",
    "buildings.address": "<community short name><sequence>栋",
    "buildings.compound/number": "parsed from the address (number = building sequence if none)",
    "buildings.category": "slab",
    "buildings.floors": 6,
    "buildings.units": "households / (floors × rooms_per_floor), at least 1; 2 when no households",
    "buildings.rooms_per_floor": 2,
    "buildings.households": "0 (unknown until households are imported)",
}

GRID_KIND_WORDS = {"住宅": "residential", "居住": "residential", "居民": "residential",
                   "商业": "commercial", "商务": "commercial", "工业": "industrial",
                   "产业": "industrial", "园区": "industrial", "混合": "mixed", "综合": "mixed"}
CATEGORY_WORDS = {"板": "slab", "住宅": "slab", "点": "point", "塔": "point", "高层": "point",
                  "商": "shop", "店": "shop", "厂": "factory", "工业": "factory",
                  "宿舍": "dormitory", "办公": "office", "写字": "office"}
CATEGORIES = ("slab", "point", "shop", "factory", "dormitory", "office")
_SUFFIXES = re.compile(r"(居民委员会|村民委员会|居委会|村委会)$")


@dataclass
class Notes:
    """What the assembly did that the office should know: defaults used, codes made."""

    defaults: dict[str, int] = field(default_factory=dict)
    generated: dict[str, int] = field(default_factory=dict)
    messages: list[str] = field(default_factory=list)

    def used(self, key: str, n: int) -> None:
        """Count ``n`` features that got the default ``key``."""
        if n:
            self.defaults[key] = self.defaults.get(key, 0) + int(n)


_WHOLE_FLOAT_TEXT = re.compile(r"\d+\.0")


def text_values(s: pd.Series | None, n: int) -> list[str | None]:
    """Cells as trimmed text, None when blank; whole floats (from a DBF) without ``.0``."""
    if s is None:
        return [None] * n
    out: list[str | None] = []
    append, whole = out.append, _WHOLE_FLOAT_TEXT.fullmatch
    for v in s.tolist():
        if type(v) is str:  # the common case first: a city's layers have 100,000s of cells
            t = v.strip()
            append((t[:-2] if t.endswith(".0") and whole(t) else t) or None)
        elif v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
            append(None)
        elif isinstance(v, float) and v.is_integer():
            append(str(int(v)))
        else:
            t = str(v).strip()
            t = t[:-2] if whole(t) else t
            append(t or None)
    return out


def number_values(s: pd.Series | None, n: int) -> np.ndarray:
    """Cells as floats, NaN when blank or not a number."""
    if s is None:
        return np.full(n, np.nan)
    return pd.to_numeric(s, errors="coerce").to_numpy(dtype=float)


def _col(gdf: gpd.GeoDataFrame, fields: dict[str, str], name: str) -> pd.Series | None:
    return gdf[fields[name]] if name in fields else None


def _metric(gdf: gpd.GeoDataFrame, epsg: int) -> np.ndarray:
    return np.asarray(gdf.geometry.to_crs(epsg).array, dtype=object)


def _top(geom_m) -> float:
    return float(geom_m.bounds[3]) if geom_m is not None and not geom_m.is_empty else 0.0


def _by_name(values: list[str | None], codes: list[str], *names: list[str]) -> list[str | None]:
    """Values that are a parent's name (or code) turned into its code; others None."""
    lookup = {c: c for c in codes}
    for col in names:
        lookup.update({n: c for n, c in zip(col, codes, strict=True) if n})
    return [lookup.get(v) if v is not None else None for v in values]


def _as_written(key: str, address: str) -> str:
    """The parser's number key (``12a``) as the address writes it (``12A``) when it does."""
    if key.lower() == key.upper():  # no letter (12, 12-1): written as it is, or not found
        return key
    m = re.search(re.escape(key), address, flags=re.IGNORECASE)
    return m.group(0) if m else key


def _kind(values: list[str | None], words: dict[str, str], allowed, default: str) -> list[str]:
    out = []
    seen: dict[str, str] = {}  # a layer has a handful of distinct kinds: each is read once
    for v in values:
        if v is None:
            out.append(default)
            continue
        kind = seen.get(v)
        if kind is None:
            low = v.strip().lower()
            kind = seen[v] = (low if low in allowed
                              else next((k for w, k in words.items() if w in v), default))
        out.append(kind)
    return out


def assemble(layers: dict[str, gpd.GeoDataFrame], fields: dict[str, dict[str, str]]
             ) -> tuple[District, Notes, dict[str, np.ndarray]]:
    """Build the district's layers from the layers as read (in EPSG:4490).

    Parameters
    ----------
    layers : dict
        ``street``, ``communities``, ``grids``, ``buildings`` GeoDataFrames with the file's columns.
    fields : dict
        Per layer, field → file column (see :func:`geo_grid.importing.fields.recognise`).

    Returns
    -------
    district : District
        Layers only (no households, members or assignment).
    notes : Notes
    extra : dict
        ``residents`` per building (NaN where not given).
    """
    notes = Notes()
    st, cm, gr, bd = (layers[k] for k in ("street", "communities", "grids", "buildings"))
    f_st, f_cm, f_gr, f_bd = (fields.get(k, {}) for k in ("street", "communities", "grids",
                                                          "buildings"))
    # metres in the street's own Gauss-Kruger zone (rows of 400 m, areas of overlap)
    epsg = metric_epsg_of(st if len(st) else cm)
    st_m, cm_m, gr_m, bd_m = (_metric(g, epsg) for g in (st, cm, gr, bd))

    # --- communities and the street's code
    c_codes = text_values(_col(cm, f_cm, "code"), len(cm))
    s_code_given = text_values(_col(st, f_st, "code"), len(st))
    street_code = street_code_from(s_code_given[0] if len(st) else None, c_codes)
    if street_code is None:
        street_code = "000000000"
        notes.messages.append("no street or community code given: the street code is 000000000; "
                              "give the real codes (--field street.code=…) before sharing data")
    if len(st) and s_code_given[0] != street_code:
        notes.generated["street"] = 1
    c_missing = sum(v is None for v in c_codes)
    street_top = max((_top(g) for g in st_m), default=0.0)
    c_codes = sequence_codes(c_codes, street_code, 3, reading_order(cm_m, street_top, 400.0))
    notes.generated["communities"] = c_missing
    c_names = text_values(_col(cm, f_cm, "name"), len(cm))
    c_short = text_values(_col(cm, f_cm, "short_name"), len(cm))
    notes.used("communities.short_name", sum(v is None for v in c_short))
    c_short = [s or (_SUFFIXES.sub("", n) if n else None) or f"第{c[-3:]}社区"
               for s, n, c in zip(c_short, c_names, c_codes, strict=True)]
    c_names = [n or s for n, s in zip(c_names, c_short, strict=True)]
    communities = gpd.GeoDataFrame(
        {"code": c_codes, "name": c_names, "short_name": c_short}, geometry=cm.geometry.values,
        crs=cm.crs)

    s_name = text_values(_col(st, f_st, "name"), len(st))
    street = gpd.GeoDataFrame({"code": [street_code] * len(st),
                               "name": [n or "街道" for n in s_name]},
                              geometry=st.geometry.values, crs=st.crs)

    # --- grids
    g_comm_given = text_values(_col(gr, f_gr, "community_code"), len(gr))
    g_comm = _by_name(g_comm_given, c_codes, c_names, c_short)
    g_comm = [m if m is not None else (v if v is not None and re.fullmatch(r"\d{12}", v) else None)
              for m, v in zip(g_comm, g_comm_given, strict=True)]
    need = [i for i, v in enumerate(g_comm) if v is None]
    if need:
        hit = largest_overlap(gr_m[need], cm_m)
        for i, h in zip(need, hit, strict=True):
            g_comm[i] = c_codes[h] if h >= 0 else street_code + "000"
        notes.used("grids.community_code", len(need))
    g_codes = text_values(_col(gr, f_gr, "code"), len(gr))
    notes.generated["grids"] = sum(v is None for v in g_codes)
    top_of = {c: _top(g) for c, g in zip(c_codes, cm_m, strict=True)}
    g_comm_arr = np.asarray(g_comm, dtype=object)
    for ccode in pd.unique(g_comm_arr):
        idx = np.flatnonzero(g_comm_arr == ccode)
        # the community's northern edge; the grids' own union only for an unknown community
        top = top_of[ccode] if ccode in top_of else _top(shapely.union_all(gr_m[idx]))
        order = reading_order(gr_m[idx], top, 400.0)
        got = sequence_codes([g_codes[i] for i in idx], str(ccode), 3, order)
        for i, c in zip(idx, got, strict=True):
            g_codes[i] = c
    short_of = dict(zip(c_codes, c_short, strict=True))
    g_names = text_values(_col(gr, f_gr, "name"), len(gr))
    notes.used("grids.name", sum(v is None for v in g_names))
    g_names = [n or f"{short_of.get(cc, '')}第{int(c[-3:])}网格"
               for n, cc, c in zip(g_names, g_comm, g_codes, strict=True)]
    g_kind_given = text_values(_col(gr, f_gr, "kind"), len(gr))
    notes.used("grids.kind", sum(v is None for v in g_kind_given))
    grids = gpd.GeoDataFrame(
        {"code": g_codes, "name": g_names, "community_code": g_comm,
         "kind": _kind(g_kind_given, GRID_KIND_WORDS, GRID_KINDS, "residential")},
        geometry=gr.geometry.values, crs=gr.crs)

    # --- buildings
    n = len(bd)
    b_grid_given = text_values(_col(bd, f_bd, "grid_code"), n)
    b_grid = _by_name(b_grid_given, g_codes, g_names)
    need = [i for i, v in enumerate(b_grid) if v is None]
    if need:
        hit = largest_overlap(bd_m[need], gr_m)
        for i, h in zip(need, hit, strict=True):
            if h >= 0:
                b_grid[i] = g_codes[h]
            elif b_grid_given[i] is not None:
                b_grid[i] = b_grid_given[i]
            else:
                b_grid[i] = ""
        notes.used("buildings.grid_code", len(need))
    grid_comm = dict(zip(g_codes, g_comm, strict=True))
    b_comm_given = text_values(_col(bd, f_bd, "community_code"), n)
    b_comm_named = _by_name(b_comm_given, c_codes, c_names, c_short)
    b_comm = [m or grid_comm.get(g) or (g[:12] if g else street_code + "000")
              for m, g in zip(b_comm_named, b_grid, strict=True)]
    notes.used("buildings.community_code", sum(m is None for m in b_comm_named))
    b_codes = text_values(_col(bd, f_bd, "code"), n)
    notes.generated["buildings"] = sum(v is None for v in b_codes)
    b_comm_arr = np.asarray(b_comm, dtype=object)
    for ccode in pd.unique(b_comm_arr):
        idx = np.flatnonzero(b_comm_arr == ccode)
        order = reading_order(bd_m[idx], top_of.get(ccode, 0.0), 50.0)
        got = sequence_codes([b_codes[i] for i in idx], str(ccode), 5, order)
        for i, c in zip(idx, got, strict=True):
            b_codes[i] = c

    address = text_values(_col(bd, f_bd, "address"), n)
    compound = text_values(_col(bd, f_bd, "compound"), n)
    # the building or door number as written (12, 12A, 12-1): the store keeps it as text
    number = text_values(_col(bd, f_bd, "number"), n)
    notes.used("buildings.address", sum(a is None and c is None for a, c in
                                        zip(address, compound, strict=True)))
    for i in range(n):
        seq = int(b_codes[i][-5:]) if b_codes[i][-5:].isdigit() else i + 1
        if address[i] is None:
            comp = compound[i] or short_of.get(b_comm[i], "")
            address[i] = f"{comp}{number[i] or seq}栋"
        if compound[i] is None or number[i] is None:
            p = parse(address[i])
            compound[i] = compound[i] or p.compound or address[i]
            if number[i] is None:
                number[i] = _as_written(p.key, address[i]) if p.key is not None else str(seq)
                if p.key is None:
                    notes.used("buildings.compound/number", 1)

    floors = number_values(_col(bd, f_bd, "floors"), n)
    rpf = number_values(_col(bd, f_bd, "rooms_per_floor"), n)
    units = number_values(_col(bd, f_bd, "units"), n)
    households = number_values(_col(bd, f_bd, "households"), n)
    for key, arr, default in (("buildings.floors", floors, 6),
                              ("buildings.rooms_per_floor", rpf, 2)):
        bad = ~np.isfinite(arr)
        notes.used(key, int(bad.sum()))
        arr[bad] = default
    bad = ~np.isfinite(units)
    notes.used("buildings.units", int(bad.sum()))
    est = np.where(np.isfinite(households),
                   np.ceil(households / np.maximum(floors * rpf, 1)), 2)
    units[bad] = np.maximum(est[bad], 1)
    bad = ~np.isfinite(households)
    notes.used("buildings.households", int(bad.sum()))
    households[bad] = 0
    cat_given = text_values(_col(bd, f_bd, "category"), n)
    notes.used("buildings.category", sum(v is None for v in cat_given))
    buildings = gpd.GeoDataFrame(
        {"code": b_codes, "grid_code": b_grid, "community_code": b_comm, "address": address,
         "compound": compound, "number": number,
         "category": _kind(cat_given, CATEGORY_WORDS, CATEGORIES, "slab"),
         "floors": floors.astype(np.int64), "units": units.astype(np.int64),
         "rooms_per_floor": rpf.astype(np.int64), "households": households.astype(np.int64)},
        geometry=bd.geometry.values, crs=bd.crs)
    extra = {"residents": number_values(_col(bd, f_bd, "residents"), n)}
    for gdf in (street, communities, grids, buildings):
        gdf["synthetic"] = False
    return District(street, communities, grids, buildings), notes, extra
