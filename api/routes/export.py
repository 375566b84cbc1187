"""The street's layers as a file: GeoPackage, KML or xlsx as they are, the multi-file formats
(GeoJSON, Shapefile, CSV) as a zip. Households and members are never exported."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from api.models.problem import problem_responses
from geo_grid.exporting import district_of, export_layers
from geo_grid.exporting.target import target_crs
from geo_grid.exporting.write import SINGLE_FILE, check_format

router = APIRouter(tags=["export"])

ZIP = "application/zip"
#: The media type of each one-file format (the others are zips).
MEDIA_TYPES = {"gpkg": "application/geopackage+sqlite3",
               "kml": "application/vnd.google-earth.kml+xml",
               "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
_BINARY = {"schema": {"type": "string", "format": "binary"}}
OK = {"description": "the layers: a GeoPackage, KML or xlsx file, or a zip of GeoJSON, "
                     "Shapefile or CSV files (one per layer)",
      "content": {t: _BINARY for t in (*MEDIA_TYPES.values(), ZIP)}}


def file_name(street_code: str, fmt: str, version: int | None) -> str:
    """``320214052-layers.gpkg``, ``320214052-layers-v3-shp.zip``: ASCII, for Content-Disposition."""
    stem = f"{street_code or 'street'}-layers" + (f"-v{version}" if version is not None else "")
    return f"{stem}.{fmt}" if fmt in SINGLE_FILE else f"{stem}-{fmt}.zip"


@router.get("/export", response_class=Response,
            responses={200: OK, **problem_responses(404, 422, 503)})
def export(request: Request,
           fmt: Literal["gpkg", "geojson", "shp", "kml", "xlsx", "csv"] = Query(
               ..., alias="format", description="file format"),
           version: int | None = Query(None, ge=1, description="boundary version (default: the "
                                                                "current one)"),
           crs: str | None = Query(None, description="EPSG code, wgs84, cgcs2000, gcj02 or bd09 "
                                                     "(default: CGCS2000, EPSG:4490); GeoJSON "
                                                     "and KML are always WGS-84")) -> Response:
    """The street, communities, grids and buildings (current or of a boundary version) in a
    format ``geo-grid import`` reads back, Chinese field names included.

    A plain function: FastAPI runs it in its thread pool, so writing the file (about a second)
    never holds up the event loop.
    """
    check_format(fmt, target_crs(crs))  # a wrong crs is a 422 whatever the version
    state = request.app.state.service
    district = district_of(state.store, version, state.view.district)
    street = district.street
    name = file_name(str(street["code"].iloc[0]) if len(street) else "", fmt, version)
    with tempfile.TemporaryDirectory(prefix="geo-grid-export-") as tmp:
        out = Path(tmp) / name
        export_layers(district, fmt, out, crs)
        body = out.read_bytes()
    return Response(body, media_type=MEDIA_TYPES.get(fmt, ZIP),
                    headers={"content-disposition": f'attachment; filename="{name}"'})
