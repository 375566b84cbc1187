"""Coordinate reference systems: names accepted from callers, and vectorised transforms.

Storage is lon/lat in CGCS2000 (EPSG:4490); distances and areas are computed in the CGCS2000
3-degree Gauss-Kruger zone of the street's own longitude (EPSG:4534 at 75°E to EPSG:4554 at
135°E, :func:`metric_epsg`; EPSG:4549, CM 120°E, for the reference district near Wuxi). Far
from its central meridian a zone stretches distances: EPSG:4549 measures 3% long in Chengdu
and 18% in Kashgar. WGS-84 and CGCS2000 agree within a metre
here and are treated as the same lon/lat. GCJ-02 (Amap, Tencent, WeChat) and BD-09 (Baidu) are
not in PROJ: their forward transforms are the published obfuscation formulas, vectorised over
numpy arrays; their inverses are iterated until the forward image is within 1e-9 degree (about
0.1 mm) of the input.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from pyproj import Transformer

from geo_grid.errors import InvalidCoordinate, UnknownCRS

STORE_EPSG = 4490
#: The metric CRS of the reference district (and the default where no longitude is known).
METRIC_EPSG = 4549
#: The CGCS2000 3-degree Gauss-Kruger zones (with zone number in the coordinates' false
#: easting omitted): EPSG:4534 is CM 75°E, EPSG:4554 CM 135°E.
GK3_FIRST, GK3_LAST = 4534, 4554

#: Names accepted for the ``crs`` parameter, mapped to their canonical form.
CRS_ALIASES = {
    "wgs84": "wgs84",
    "wgs-84": "wgs84",
    "epsg:4326": "wgs84",
    "4326": "wgs84",
    "cgcs2000": "cgcs2000",
    "epsg:4490": "cgcs2000",
    "4490": "cgcs2000",
    "gcj02": "gcj02",
    "gcj-02": "gcj02",
    "bd09": "bd09",
    "bd-09": "bd09",
    "epsg:4549": "epsg:4549",
    "4549": "epsg:4549",
}
CRS_NAMES = ("wgs84", "cgcs2000", "gcj02", "bd09", "epsg:4549")

_A = 6378245.0
_EE = 0.00669342162296594323
_X_PI = np.pi * 3000.0 / 180.0


def normalize_crs(name: str | None) -> str:
    """Return the canonical name of a caller-supplied CRS.

    Parameters
    ----------
    name : str or None
        ``wgs84`` (default when None), ``cgcs2000``, ``gcj02``, ``bd09`` or ``epsg:4549``,
        case-insensitive, with a few common aliases (``epsg:4326``, ``gcj-02``...).

    Returns
    -------
    str
        One of :data:`CRS_NAMES`.

    Raises
    ------
    UnknownCRS
        If the name is not accepted.
    """
    if name is None:
        return "wgs84"
    key = str(name).strip().lower()
    if key not in CRS_ALIASES:
        raise UnknownCRS(
            f"unknown crs {name!r}; accepted: {', '.join(CRS_NAMES)}", crs=str(name)
        )
    return CRS_ALIASES[key]


@lru_cache(maxsize=32)
def transformer(src: int, dst: int) -> Transformer:
    """Return a cached ``always_xy`` pyproj transformer between two EPSG codes."""
    return Transformer.from_crs(src, dst, always_xy=True)


def metric_epsg(lon) -> int:
    """The CGCS2000 3-degree Gauss-Kruger zone (EPSG code, metres) for a longitude.

    ``4534 + round(lon / 3) - 25``: the zone whose central meridian (a multiple of 3°) is
    nearest, so a street is never more than 1.5° from it. Clipped to EPSG:4534..4554 (75°E to
    135°E, the zones covering China).

    Parameters
    ----------
    lon : float or array_like
        Longitude in degrees; for an array, the middle of its range.

    Returns
    -------
    int
        e.g. 4549 for Wuxi (120.3°E), 4544 for Chengdu (104.1°E, CM 105°E), 4534 for Kashgar (76.0°E).
    """
    lon = np.asarray(lon, dtype=float)
    lon = lon[np.isfinite(lon)]
    if lon.size == 0:
        return METRIC_EPSG
    mid = (float(lon.min()) + float(lon.max())) / 2
    return int(min(max(GK3_FIRST + round(mid / 3) - 25, GK3_FIRST), GK3_LAST))


def metric_epsg_of(gdf) -> int:
    """The Gauss-Kruger zone (see :func:`metric_epsg`) for the middle of a lon/lat layer;
    EPSG:4549 for an empty layer."""
    if gdf is None or len(gdf) == 0:
        return METRIC_EPSG
    minx, _miny, maxx, _maxy = gdf.total_bounds
    return metric_epsg([minx, maxx])


def to_metric(lon, lat, epsg: int = METRIC_EPSG):
    """Project CGCS2000 lon/lat (degrees) to metres of ``epsg`` (a Gauss-Kruger zone,
    EPSG:4549 by default; see :func:`metric_epsg`), vectorised."""
    return transformer(STORE_EPSG, int(epsg)).transform(np.asarray(lon), np.asarray(lat))


def from_metric(x, y, epsg: int = METRIC_EPSG):
    """Unproject metres of ``epsg`` (EPSG:4549 by default) to CGCS2000 lon/lat (vectorised)."""
    return transformer(int(epsg), STORE_EPSG).transform(np.asarray(x), np.asarray(y))


def _out_of_china(lon, lat):
    return (lon < 72.004) | (lon > 137.8347) | (lat < 0.8293) | (lat > 55.8271)


def _delta(lon, lat):
    x = lon - 105.0
    y = lat - 35.0
    sq = np.sqrt(np.abs(x))
    dlat = (
        -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sq
        + (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
        + (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
        + (160.0 * np.sin(y / 12.0 * np.pi) + 320 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    )
    dlon = (
        300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sq
        + (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
        + (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
        + (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    )
    radlat = lat / 180.0 * np.pi
    magic = 1 - _EE * np.sin(radlat) ** 2
    sqrtmagic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1 - _EE)) / (magic * sqrtmagic) * np.pi)
    dlon = (dlon * 180.0) / (_A / sqrtmagic * np.cos(radlat) * np.pi)
    return dlon, dlat


def wgs84_to_gcj02(lon, lat):
    """Forward WGS-84 → GCJ-02 (vectorised; points outside China are returned unchanged)."""
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    dlon, dlat = _delta(lon, lat)
    out = _out_of_china(lon, lat)
    return np.where(out, lon, lon + dlon), np.where(out, lat, lat + dlat)


def gcj02_to_wgs84(lon, lat, tol: float = 1e-10, max_iter: int = 30):
    """Inverse GCJ-02 → WGS-84 by fixed-point iteration of the forward transform.

    Iterates ``w ← w + (g - forward(w))`` until the forward image of the result is within
    ``tol`` degrees of the input (1e-10 degree is about 0.01 mm).
    """
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    wlon, wlat = lon.copy(), lat.copy()
    for _ in range(max_iter):
        flon, flat = wgs84_to_gcj02(wlon, wlat)
        elon, elat = lon - flon, lat - flat
        wlon = wlon + elon
        wlat = wlat + elat
        if np.all(np.abs(elon) < tol) and np.all(np.abs(elat) < tol):
            break
    return wlon, wlat


def gcj02_to_bd09(lon, lat):
    """Forward GCJ-02 → BD-09 (vectorised)."""
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    z = np.sqrt(lon * lon + lat * lat) + 0.00002 * np.sin(lat * _X_PI)
    theta = np.arctan2(lat, lon) + 0.000003 * np.cos(lon * _X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def bd09_to_gcj02(lon, lat, tol: float = 1e-10, max_iter: int = 30):
    """Inverse BD-09 → GCJ-02, iterated on the forward transform to ``tol`` degrees."""
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    glon, glat = lon - 0.0065, lat - 0.006
    for _ in range(max_iter):
        flon, flat = gcj02_to_bd09(glon, glat)
        elon, elat = lon - flon, lat - flat
        glon = glon + elon
        glat = glat + elat
        if np.all(np.abs(elon) < tol) and np.all(np.abs(elat) < tol):
            break
    return glon, glat


def wgs84_to_bd09(lon, lat):
    """Forward WGS-84 → BD-09 (through GCJ-02)."""
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def bd09_to_wgs84(lon, lat):
    """Inverse BD-09 → WGS-84 (through GCJ-02), iterated."""
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


def check_lonlat(lon, lat) -> None:
    """Raise a precise :class:`InvalidCoordinate` if lon/lat are not plausible degrees.

    A pair that looks swapped (latitude in the longitude range of China and the reverse)
    is reported as such.
    """
    lon = np.atleast_1d(np.asarray(lon, dtype=float))
    lat = np.atleast_1d(np.asarray(lat, dtype=float))
    bad = ~(np.isfinite(lon) & np.isfinite(lat))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InvalidCoordinate("coordinates must be finite numbers", index=i)
    swapped = (np.abs(lat) > 90) & (np.abs(lon) <= 90) & (np.abs(lat) <= 180)
    if swapped.any():
        i = int(np.flatnonzero(swapped)[0])
        raise InvalidCoordinate(
            f"lat={lat[i]} is out of range [-90, 90] and lon={lon[i]} looks like a latitude: "
            "longitude and latitude appear to be swapped (expected lon≈120, lat≈31 here)",
            index=i, lon=float(lon[i]), lat=float(lat[i]),
        )
    out = (np.abs(lon) > 180) | (np.abs(lat) > 90)
    if out.any():
        i = int(np.flatnonzero(out)[0])
        raise InvalidCoordinate(
            f"lon={lon[i]}, lat={lat[i]} out of range (lon in [-180, 180], lat in [-90, 90])",
            index=i, lon=float(lon[i]), lat=float(lat[i]),
        )


def _metric_out(x, y):
    return (x < 300_000) | (x > 700_000) | (y < 0) | (y > 6_200_000)


def coordinate_problems(x, y, crs: str | None = "wgs84") -> list[str | None]:
    """Check every pair on its own: the :func:`to_cgcs2000` validation message per pair
    (not finite, out of range, looks swapped), or None where the pair is fine.

    Vectorised for the common case (all fine); only the bad pairs are re-checked one by one
    for their message.
    """
    name = normalize_crs(crs)
    x = np.atleast_1d(np.asarray(x, dtype=float))
    y = np.atleast_1d(np.asarray(y, dtype=float))
    with np.errstate(invalid="ignore"):
        bad = ~(np.isfinite(x) & np.isfinite(y))
        if name == "epsg:4549":
            bad |= _metric_out(x, y)
        else:
            bad |= (np.abs(x) > 180) | (np.abs(y) > 90)
    out: list[str | None] = [None] * len(x)
    for i in np.flatnonzero(bad):
        try:
            to_cgcs2000(x[i:i + 1], y[i:i + 1], name)
        except InvalidCoordinate as exc:
            out[int(i)] = exc.message
    return out


def to_cgcs2000(x, y, crs: str | None = "wgs84", validate: bool = True):
    """Convert coordinates given in any accepted CRS to CGCS2000 lon/lat (vectorised).

    Parameters
    ----------
    x, y : array_like
        Longitude/latitude in degrees, or easting/northing in metres for ``epsg:4549``.
    crs : str
        Any name accepted by :func:`normalize_crs`.
    validate : bool
        Check ranges and swapped pairs first (raises :class:`InvalidCoordinate`).

    Returns
    -------
    lon, lat : numpy.ndarray
        CGCS2000 degrees.
    """
    name = normalize_crs(crs)
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if name == "epsg:4549":
        if validate:
            if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
                raise InvalidCoordinate("coordinates must be finite numbers")
            # EPSG:4549 area of use: 118.5-121.5E; false easting 500 km, northing 0..~6,000 km
            bad = _metric_out(x, y)
            swapped = bad & ~_metric_out(y, x)
            if swapped.any():
                i = int(np.flatnonzero(np.atleast_1d(swapped))[0])
                xi, yi = np.atleast_1d(x)[i], np.atleast_1d(y)[i]
                raise InvalidCoordinate(
                    f"x={xi} is out of the EPSG:4549 easting range [300000, 700000] m and "
                    f"y={yi} looks like an easting: x (easting) and y (northing) appear to be "
                    "swapped (expected x≈500000, y≈3500000 here)",
                    index=i, x=float(xi), y=float(yi),
                )
            if bad.any():
                i = int(np.flatnonzero(np.atleast_1d(bad))[0])
                raise InvalidCoordinate(
                    "EPSG:4549 easting must lie in [300000, 700000] m and northing in "
                    f"[0, 6200000] m; got x={np.atleast_1d(x)[i]}, y={np.atleast_1d(y)[i]}",
                    index=i,
                )
        return from_metric(x, y)
    if validate:
        check_lonlat(x, y)
    if name in ("wgs84", "cgcs2000"):
        return x, y
    if name == "gcj02":
        return gcj02_to_wgs84(x, y)
    return bd09_to_wgs84(x, y)


def from_cgcs2000(lon, lat, crs: str | None = "wgs84"):
    """Convert CGCS2000 lon/lat to any accepted CRS (the forward of :func:`to_cgcs2000`)."""
    name = normalize_crs(crs)
    if name in ("wgs84", "cgcs2000"):
        return np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    if name == "epsg:4549":
        return to_metric(lon, lat)
    if name == "gcj02":
        return wgs84_to_gcj02(lon, lat)
    return wgs84_to_bd09(lon, lat)


def rfc7946(geoms, decimals: int = 6):
    """Geometries ready for GeoJSON output as RFC 7946 asks (vectorised).

    Exterior rings counter-clockwise and holes clockwise (the right-hand rule of RFC 7946,
    section 3.1.6), coordinates rounded to ``decimals`` places (6 decimals of a degree are about
    0.1 m, RFC 7946 section 11.2). Layers from other tools often come clockwise and with
    15 decimals.

    Parameters
    ----------
    geoms : array_like of shapely geometries
    decimals : int
        Decimal places kept.

    Returns
    -------
    numpy.ndarray of shapely geometries
    """
    import shapely

    geoms = np.asarray(geoms, dtype=object)
    rounded = shapely.transform(geoms, lambda xy: np.round(xy, decimals))
    if hasattr(shapely, "orient_polygons"):  # shapely >= 2.1
        return shapely.orient_polygons(rounded, exterior_cw=False)
    from shapely.geometry.polygon import orient

    def one(g):
        if g is None or g.geom_type not in ("Polygon", "MultiPolygon"):
            return g
        if g.geom_type == "Polygon":
            return orient(g, 1.0)
        return shapely.MultiPolygon([orient(p, 1.0) for p in g.geoms])

    return np.array([one(g) for g in rounded], dtype=object)
