"""Which grid (and team) covers a coordinate or an address."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query

from api.deps import service, unmasked
from api.state import ServiceState
from geo_grid.crs import CRS_NAMES
from geo_grid.errors import BadRequest

router = APIRouter(tags=["lookup"])


@router.get("/lookup")
def lookup(
    lon: float | None = Query(None, description="longitude (or easting in metres for epsg:4549)"),
    lat: float | None = Query(None, description="latitude (or northing in metres for epsg:4549)"),
    crs: str = Query("wgs84", description=f"one of {', '.join(CRS_NAMES)}"),
    address: str | None = Query(None, max_length=200, description="free-text Chinese address"),
    state: ServiceState = Depends(service),
    show: bool = Depends(unmasked),
) -> dict:
    """Street, community, grid and team covering a point or an address.

    A point outside the street answers ``{"covered": false}``; names and phones are masked.
    """
    if address is not None:
        return state.lookup_address(address, show)
    if lon is None or lat is None:
        raise BadRequest("give both lon and lat, or an address")
    return state.gazetteer.lookup(lon, lat, crs, unmasked=show)
