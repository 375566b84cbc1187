"""The four OGC collections and, per snapshot, their features serialised once.

A collection is one layer of :class:`geo_grid.district.District` (``streets`` is the
``street`` layer); members and households are never exposed. :func:`features_of` builds a
:class:`Features` for a (district, collection) the first time it is asked for and keeps it
while that district is among the newest few used: every feature as ready GeoJSON text in both
offered CRSs, its bounds for the ``bbox`` prefilter and its scope key, so a page is a slice and
a join.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely

from geo_grid.crs import rfc7946
from geo_grid.district import District
from geo_grid.errors import NotFound

from .params import CRS84, EPSG4490, BBox


@dataclass(frozen=True)
class Collection:
    """What a collection shows: its layer, title, the column its scope is checked on and its
    properties (in this order; ``households`` may be a sum over the collection's buildings)."""

    id: str
    layer: str
    title: str
    description: str
    scope_column: str | None
    properties: tuple[str, ...]


COLLECTIONS: dict[str, Collection] = {c.id: c for c in (
    Collection("streets", "street", "Street", "The street office's outline (街道).",
               "code", ("code", "name", "households")),
    Collection("communities", "communities", "Communities",
               "Community committees (社区) with their households.",
               "code", ("code", "name", "short_name", "households")),
    Collection("grids", "grids", "Grids",
               "Management grids (网格): community, kind and households.",
               "code", ("code", "name", "community_code", "kind", "households")),
    # a building moves between grids but keeps its code: its scope is its grid's
    Collection("buildings", "buildings", "Buildings",
               "Building footprints (楼栋): standard address, category, floors and households.",
               "grid_code", ("code", "grid_code", "community_code", "address", "compound",
                             "number", "category", "floors", "units", "rooms_per_floor",
                             "households")),
)}


def collection(cid: str) -> Collection:
    """The collection ``cid``.

    Raises
    ------
    NotFound
        For any other name.
    """
    try:
        return COLLECTIONS[cid]
    except KeyError:
        raise NotFound(f"collection {cid!r} does not exist; the collections are "
                       f"{', '.join(COLLECTIONS)}", collection=cid) from None


@dataclass(frozen=True)
class Features:
    """One collection of one district, ready to page: parallel arrays in the layer's order."""

    codes: np.ndarray  # feature ids (str)
    scope_keys: np.ndarray  # the code each feature's scope is checked on
    bounds: np.ndarray  # (n, 4) lon/lat bounds
    geoms: np.ndarray  # lon/lat geometries, for the exact bbox test
    text: dict[str, np.ndarray]  # CRS URI -> each feature's GeoJSON text
    position: dict[str, int]  # code -> row
    extent: list[float]  # lon/lat bounds of the whole layer

    def select(self, bbox: BBox | None, keep: np.ndarray | None) -> np.ndarray:
        """Rows (in layer order) inside ``bbox`` (intersecting it) and flagged by ``keep``."""
        mask = np.ones(len(self.codes), dtype=bool) if keep is None else keep.copy()
        if bbox is not None:
            b = self.bounds
            mask &= ((b[:, 0] <= bbox.maxx) & (b[:, 2] >= bbox.minx)
                     & (b[:, 1] <= bbox.maxy) & (b[:, 3] >= bbox.miny))
            rows = np.flatnonzero(mask)
            box = shapely.box(bbox.minx, bbox.miny, bbox.maxx, bbox.maxy)
            return rows[shapely.intersects(self.geoms[rows], box)]
        return np.flatnonzero(mask)


def _plain(v):
    if v is None or (isinstance(v, float) and v != v):
        return None
    return v.item() if hasattr(v, "item") else v


def _households(district: District, coll: Collection) -> pd.Series:
    """Households per feature: a building's own, else the sum over the buildings inside."""
    b = district.buildings
    if coll.layer == "buildings":
        return b["households"]
    layer = getattr(district, coll.layer)
    if coll.layer == "street":
        return pd.Series([int(b["households"].sum())] * len(layer), index=layer.index)
    by = "community_code" if coll.layer == "communities" else "grid_code"
    sums = b.groupby(by)["households"].sum()
    return layer["code"].map(sums).fillna(0).astype(int)


def build(district: District, coll: Collection) -> Features:
    """Serialise every feature of a collection in both CRSs (see :class:`Features`)."""
    layer = getattr(district, coll.layer)
    props = layer.drop(columns="geometry").copy()
    props["households"] = _households(district, coll).to_numpy()
    records = props[list(coll.properties)].to_dict("records")
    # RFC 7946 output for CRS84 (counter-clockwise exteriors, 6 decimals); EPSG:4490 is the
    # same coordinates in its own axis order, latitude first
    lonlat = rfc7946(layer.geometry.to_numpy())
    latlon = shapely.transform(lonlat, lambda xy: xy[:, ::-1])
    codes = layer["code"].astype(str).to_numpy()
    text = {}
    for uri, geoms in ((CRS84, lonlat), (EPSG4490, latlon)):
        geometry = shapely.to_geojson(geoms)
        # pre-serialised parts joined into one Feature object per row
        text[uri] = np.array([
            '{{"type":"Feature","id":{},"geometry":{},"properties":{}}}'.format(
                json.dumps(code, ensure_ascii=False), g,
                json.dumps({k: _plain(v) for k, v in rec.items()}, ensure_ascii=False,
                           separators=(",", ":")))
            for code, g, rec in zip(codes, geometry, records, strict=True)], dtype=object)
    scope = layer[coll.scope_column].astype(str).to_numpy() if coll.scope_column else codes
    bounds = shapely.bounds(layer.geometry.to_numpy())
    extent = [float(v) for v in layer.total_bounds] if len(layer) else [-180.0, -90.0, 180.0, 90.0]
    return Features(codes, scope, bounds, layer.geometry.to_numpy(), text,
                    {c: i for i, c in enumerate(codes)}, extent)


_cache: OrderedDict[tuple[int, str], tuple[District, Features]] = OrderedDict()
_lock = threading.Lock()
_KEEP = 8


def features_of(district: District, coll: Collection) -> Features:
    """The :class:`Features` of ``coll`` in ``district``, built on first use.

    Entries hold their district, so the ``id`` in the key cannot be reused by another district
    while the entry is kept; the newest eight (district, collection) pairs are kept.
    """
    key = (id(district), coll.id)
    with _lock:  # one build at a time: a second request for the same one waits for it
        hit = _cache.get(key)
        if hit is not None and hit[0] is district:
            _cache.move_to_end(key)
            return hit[1]
        built = build(district, coll)
        _cache[key] = (district, built)
        while len(_cache) > _KEEP:
            _cache.popitem(last=False)
        return built
