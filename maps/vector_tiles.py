"""Mapbox Vector Tiles of the district's layers, encoded in the process from the loaded layers.

A city holds tens of thousands of grids and hundreds of thousands of buildings: a page that
inlines every feature as GeoJSON does not scale to it. :class:`TileSource` keeps each layer
once in Web Mercator (EPSG:3857) with a spatial index and the properties a map shows; a tile
``z/x/y`` is the features whose box meets the tile (plus a buffer), clipped to the buffered
tile, simplified to the tile's resolution and encoded with ``mapbox-vector-tile``.

Layers (each tile holds one layer, named as the URL names it):

- ``grids``: code, name, community name, kind, households, buildings, members, available
  members, load per member, coverage, uncovered buildings and load, and a fill ``color`` by load;
- ``coverage``: the grids again with their coverage figures only (uncovered load, members,
  coverage share, uncovered buildings) and a ``color`` by coverage;
- ``buildings``: code, address, grid, category, households, covering status and its colour;
  only from :data:`BUILDINGS_MIN_ZOOM` on (an empty tile below: at city zoom a building is a
  pixel);
- ``communities``: code and name.

No personal data is in any layer: no member's name, phone or home. Features carry the code
their scope is checked on (a grid's code; a building's grid), so a caller scoped to a
community or a grid gets tiles of its own features only (:meth:`TileSource.tile`'s
``allow``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import mapbox_vector_tile
import numpy as np
import shapely
from pyproj import Transformer

from geo_grid.crs import wgs84_to_gcj02
from geo_grid.district import District
from geo_grid.figures import Figures
from maps import _data as D  # noqa: N812

#: Tile coordinate units along a tile's side (the MVT default).
EXTENT = 4096
#: Units drawn beyond each tile edge, so that strokes at tile edges do not show seams.
BUFFER = 64
#: Highest zoom answered (a tile of z 22 is under 10 m wide).
MAX_ZOOM = 22
#: Buildings are in tiles from this zoom on (street zoom); below it their tiles are empty.
BUILDINGS_MIN_ZOOM = 15
#: Half the side of the Web Mercator square, in metres.
ORIGIN = 20037508.342789244
LAYERS = ("grids", "coverage", "buildings", "communities")
MEDIA_TYPE = "application/vnd.mapbox-vector-tile"

_TO_MERCATOR = Transformer.from_crs(4326, 3857, always_xy=True)


def tile_bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """The Web Mercator bounds ``(minx, miny, maxx, maxy)`` of tile ``z/x/y`` (XYZ, y down)."""
    size = 2 * ORIGIN / (1 << z)
    minx = -ORIGIN + x * size
    maxy = ORIGIN - y * size
    return minx, maxy - size, minx + size, maxy


def valid_tile(z: int, x: int, y: int) -> bool:
    """Whether ``z/x/y`` names a tile: ``0 <= z <= MAX_ZOOM`` and x, y within ``2**z``."""
    return 0 <= z <= MAX_ZOOM and 0 <= x < (1 << z) and 0 <= y < (1 << z)


def tiles_covering(bounds_lonlat, z: int) -> list[tuple[int, int]]:
    """The ``(x, y)`` of the tiles of zoom ``z`` meeting a lon/lat box (for tests, prewarming)."""
    minx, miny, maxx, maxy = bounds_lonlat
    n = 1 << z

    def tx(lon):
        return min(n - 1, max(0, int((lon + 180.0) / 360.0 * n)))

    def ty(lat):
        r = math.radians(lat)
        return min(n - 1, max(0, int((1 - math.asinh(math.tan(r)) / math.pi) / 2 * n)))

    return [(x, y) for x in range(tx(minx), tx(maxx) + 1) for y in range(ty(maxy), ty(miny) + 1)]


def _mercator(geoms, shift: str | None) -> np.ndarray:
    """Lon/lat geometries (EPSG:4490, metre-level equal to WGS 84) in Web Mercator, shifted to
    GCJ-02 first when the base map is Gaode's."""
    arr = np.asarray(list(geoms), dtype=object)
    if len(arr) == 0:
        return arr

    def project(coords: np.ndarray) -> np.ndarray:
        lon, lat = coords[:, 0], coords[:, 1]
        if shift == "gcj02":
            lon, lat = wgs84_to_gcj02(lon, lat)
        x, y = _TO_MERCATOR.transform(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
        return np.column_stack([x, y])

    return shapely.transform(arr, project)


def _clean(props: dict) -> dict:
    """Properties an MVT can carry: None, NaN and infinities left out, numpy scalars made plain."""
    out = {}
    for k, v in props.items():
        if v is None:
            continue
        if isinstance(v, np.generic):
            v = v.item()
        if isinstance(v, float) and not math.isfinite(v):
            continue
        out[k] = v
    return out


@dataclass(frozen=True)
class TileLayer:
    """One layer in Web Mercator: geometries, their properties, the code each feature's scope
    is checked on, and a spatial index over the geometries."""

    name: str
    geoms: np.ndarray
    props: list[dict]
    scope_codes: np.ndarray
    tree: shapely.STRtree
    min_zoom: int = 0

    @classmethod
    def of(cls, name: str, geoms: np.ndarray, props: list[dict], scope_codes, min_zoom: int = 0):
        keep = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms)) if len(geoms) else np.zeros(0, bool)
        geoms = geoms[keep]
        props = [p for p, k in zip(props, keep, strict=True) if k]
        codes = np.asarray(scope_codes, dtype=object)[keep]
        return cls(name, geoms, props, codes, shapely.STRtree(geoms), min_zoom)


class TileSource:
    """The district's layers ready to be cut into vector tiles.

    Parameters
    ----------
    district : District
        Layers in EPSG:4490.
    figures : geo_grid.figures.Figures
        The figures of the current assignment (what the grids and buildings show).
    shift : str, optional
        ``"gcj02"`` to draw over Gaode's base map (as :class:`maps._data.Projector`).
    """

    def __init__(self, district: District, figures: Figures, shift: str | None = None):
        self.shift = shift
        self.layers: dict[str, TileLayer] = {}
        g = district.grids
        codes = g["code"].astype(str).to_numpy()
        figs = D.grid_figures(district, figures)
        comm = dict(zip(district.communities["code"].astype(str), district.communities["name"],
                        strict=False))
        kinds = g["kind"] if "kind" in g.columns else [None] * len(g)
        grid_props, cov_props = [], []
        for code, name, cc, kind in zip(codes, g["name"], g["community_code"].astype(str), kinds,
                                        strict=True):
            f = figs.loc[code]
            load = float(f["load"])
            common = {"code": code, "name": _text(name), "community": _text(comm.get(cc, cc))}
            grid_props.append(_clean({
                **common,
                "kind": D.KIND_LABELS.get(kind, _text(kind)),
                "households": D.num(f["households"]),
                "buildings": D.num(f["buildings"]),
                "members": D.num(f["members"]),
                "active": D.num(f["active"]),
                "load": D.num(load) if math.isfinite(load) else "∞",
                "coverage_pct": D.num(f["coverage_pct"]),
                "uncovered": D.num(f["uncovered"]),
                "uncovered_load": D.num(f["uncovered_load"]),
                "color": D.load_color(load, D.load_bins()),
            }))
            cov_props.append(_clean({
                **common,
                "members": D.num(f["members"]),
                "active": D.num(f["active"]),
                "coverage_pct": D.num(f["coverage_pct"]),
                "uncovered": D.num(f["uncovered"]),
                "uncovered_load": D.num(f["uncovered_load"]),
                "color": D.coverage_color(float(f["coverage_pct"])),
            }))
        grid_geoms = _mercator(g.geometry.to_numpy(), shift)
        self.layers["grids"] = TileLayer.of("grids", grid_geoms, grid_props, codes)
        self.layers["coverage"] = TileLayer.of("coverage", grid_geoms, cov_props, codes)

        b = district.buildings
        bstat = figures.building.reindex(b["code"].astype(str).to_numpy())
        cats = b["category"] if "category" in b.columns else [None] * len(b)
        hh = bstat["households"].fillna(0).astype(int).to_numpy()
        status = bstat["status"].fillna("empty").to_numpy()
        bprops = [
            _clean({"code": str(code), "address": _text(addr), "grid": _text(grid),
                    "category": D.CATEGORY_LABELS.get(cat, _text(cat)), "households": int(h),
                    "status": str(s), "status_label": D.STATUS_LABELS.get(s, str(s)),
                    "color": D.STATUS_COLORS.get(s, "#999999")})
            for code, addr, grid, cat, h, s in zip(b["code"], b["address"], b["grid_code"], cats,
                                                    hh, status, strict=True)
        ]
        self.layers["buildings"] = TileLayer.of(
            "buildings", _mercator(b.geometry.to_numpy(), shift), bprops,
            b["grid_code"].astype(str).to_numpy(), min_zoom=BUILDINGS_MIN_ZOOM)

        c = district.communities
        ccodes = c["code"].astype(str).to_numpy()
        self.layers["communities"] = TileLayer.of(
            "communities", _mercator(c.geometry.to_numpy(), shift),
            [_clean({"code": code, "name": _text(name)}) for code, name in zip(ccodes, c["name"], strict=True)],
            ccodes)

    def tile(self, layer: str, z: int, x: int, y: int,
             allow: Callable[[str], bool] | None = None) -> bytes:
        """The MVT bytes of ``layer`` at ``z/x/y`` (an empty bytes string for an empty tile).

        Parameters
        ----------
        layer : str
            One of :data:`LAYERS`.
        z, x, y : int
            The tile (XYZ scheme, y counted from the north); check it with :func:`valid_tile`.
        allow : callable, optional
            ``allow(code)`` says whether a feature whose scope code is ``code`` may be shown;
            every feature when not given.

        Raises
        ------
        KeyError
            For an unknown layer.
        """
        lay = self.layers[layer]
        if z < lay.min_zoom or len(lay.geoms) == 0:
            return b""
        minx, miny, maxx, maxy = tile_bounds(z, x, y)
        unit = (maxx - minx) / EXTENT
        pad = BUFFER * unit
        box = (minx - pad, miny - pad, maxx + pad, maxy + pad)
        idx = lay.tree.query(shapely.box(*box))
        if allow is not None and len(idx):
            idx = np.asarray([i for i in idx if allow(lay.scope_codes[i])], dtype=np.intp)
        if len(idx) == 0:
            return b""
        idx = np.sort(idx)
        # half a tile unit: what quantising would merge anyway, and shared edges stay shared
        # enough that neighbouring grids show no slivers at the tile's resolution
        geoms = shapely.simplify(shapely.clip_by_rect(lay.geoms[idx], *box), unit / 2)

        def to_tile(c: np.ndarray) -> np.ndarray:
            # metres → tile units (y up: the encoder turns it down), rounded as MVT stores them
            return np.round((c - (minx, miny)) / unit)

        # quantised here, for the whole tile at once (the encoder's own quantising calls a
        # Python function per vertex)
        geoms = shapely.transform(geoms, to_tile)
        features = [{"geometry": geom, "properties": lay.props[i], "id": int(i) + 1}
                    for i, geom in zip(idx, geoms, strict=True) if not geom.is_empty]
        if not features:
            return b""
        return mapbox_vector_tile.encode(
            [{"name": layer, "features": features}],
            default_options={"extents": EXTENT,
                             "on_invalid_geometry": mapbox_vector_tile.encoder.on_invalid_geometry_make_valid},
        )


def _text(v):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    return str(v)
