"""The query parameters of OGC API – Features: CRSs, ``bbox``, ``limit``, ``offset``, ``datetime``.

Every bad value is a :class:`geo_grid.errors.BadRequest` (400, as Part 1 asks for invalid
parameter values), never the 422 of the rest of the API.

Axis order (Part 2, "CRS by reference"): coordinates are given in the axis order of the CRS's
definition. CRS84 is longitude, latitude; EPSG:4490 (CGCS2000) is defined latitude, longitude,
so features asked for in EPSG:4490 have their coordinates swapped, and a ``bbox`` given with
``bbox-crs`` EPSG:4490 is read as ``minlat,minlon,maxlat,maxlon``. The store treats the two as the
same datum (they agree within a metre here), so no other transform is done.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from geo_grid.errors import BadRequest

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG4490 = "http://www.opengis.net/def/crs/EPSG/0/4490"
#: The CRSs offered, the default (and GeoJSON's) first.
CRS_LIST = (CRS84, EPSG4490)
STORAGE_CRS = EPSG4490

#: Other spellings accepted for the two CRSs (safe CURIEs and the short forms).
_ALIASES = {
    CRS84: CRS84,
    "http://www.opengis.net/def/crs/ogc/1.3/crs84": CRS84,
    "https://www.opengis.net/def/crs/OGC/1.3/CRS84": CRS84,
    "[ogc:crs84]": CRS84,
    "ogc:crs84": CRS84,
    "crs84": CRS84,
    EPSG4490: EPSG4490,
    "https://www.opengis.net/def/crs/EPSG/0/4490": EPSG4490,
    "[epsg:4490]": EPSG4490,
    "epsg:4490": EPSG4490,
}

DEFAULT_LIMIT = 100
MAX_LIMIT = 10_000


def parse_crs(value: str | None, name: str = "crs") -> str:
    """The URI of an offered CRS (CRS84 when not given).

    Raises
    ------
    BadRequest
        For any other CRS.
    """
    if value is None or value == "":
        return CRS84
    uri = _ALIASES.get(value) or _ALIASES.get(value.strip().lower())
    if uri is None:
        raise BadRequest(f"{name} {value!r} is not offered: use {CRS84} (the default, lon/lat) "
                         f"or {EPSG4490} (lat/lon)", parameter=name)
    return uri


def swaps_axes(crs: str) -> bool:
    """Whether coordinates in ``crs`` are latitude first (EPSG:4490)."""
    return crs == EPSG4490


@dataclass(frozen=True)
class BBox:
    """A bounding box in lon/lat (CRS84 axis order), whatever order it was given in."""

    minx: float
    miny: float
    maxx: float
    maxy: float


def parse_bbox(value: str | None, crs: str) -> BBox | None:
    """``bbox`` as lon/lat bounds.

    Parameters
    ----------
    value : str or None
        Four numbers (or six: a 3D box, whose heights are ignored), comma-separated, in the
        axis order of ``crs``.
    crs : str
        The ``bbox-crs`` (a URI of :data:`CRS_LIST`).

    Raises
    ------
    BadRequest
        Not four or six finite numbers, or a lower corner above the upper one.
    """
    if value is None:
        return None
    parts = value.split(",")
    try:
        nums = [float(p) for p in parts]
    except ValueError:
        nums = []
    if len(nums) not in (4, 6) or not all(math.isfinite(n) for n in nums):
        raise BadRequest(f"bbox {value!r} is not 4 (or 6) comma-separated numbers "
                         "(minx,miny,maxx,maxy)", parameter="bbox")
    if len(nums) == 6:
        nums = [nums[0], nums[1], nums[3], nums[4]]
    a0, a1, b0, b1 = nums
    if swaps_axes(crs):  # EPSG:4490 is lat, lon
        a0, a1, b0, b1 = a1, a0, b1, b0
    if a0 > b0 or a1 > b1:
        raise BadRequest(f"bbox {value!r}: the lower corner is above or right of the upper one "
                         "(boxes across the antimeridian are not supported)", parameter="bbox")
    if not (-180 <= a0 <= 180 and -180 <= b0 <= 180 and -90 <= a1 <= 90 and -90 <= b1 <= 90):
        raise BadRequest(f"bbox {value!r} is outside longitude -180..180, latitude -90..90 "
                         f"in the axis order of {crs}", parameter="bbox")
    return BBox(a0, a1, b0, b1)


def parse_int(value: str | None, name: str, default: int, minimum: int) -> int:
    """A non-negative integer parameter.

    Raises
    ------
    BadRequest
        Not an integer, or below ``minimum``.
    """
    if value is None:
        return default
    try:
        n = int(value.strip())
    except ValueError:
        raise BadRequest(f"{name} {value!r} is not an integer", parameter=name) from None
    if n < minimum:
        raise BadRequest(f"{name} must be at least {minimum}, got {n}", parameter=name)
    return n


def parse_limit(value: str | None) -> int:
    """``limit``: 100 when not given; a larger value than 10,000 is served as 10,000 (Part 1
    asks servers not to refuse it)."""
    return min(parse_int(value, "limit", DEFAULT_LIMIT, 1), MAX_LIMIT)


def parse_datetime(value: str | None) -> str | None:
    """``datetime`` as an instant (the boundary version in force then is served).

    Raises
    ------
    BadRequest
        For an interval (``a/b``, ``../b``): the layers are versions in time, not features with
        times, so only an instant names what to serve.
    """
    if value is None or value == "":
        return None
    if "/" in value:
        raise BadRequest(f"datetime {value!r} is an interval: give an instant (e.g. "
                         "2026-11-01T09:30:00Z); the layers as they were then are served",
                         parameter="datetime")
    return value.strip()
