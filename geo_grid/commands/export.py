"""``geo-grid export``: a store's layers as GeoPackage, GeoJSON, Shapefile, KML, xlsx or CSV."""

from __future__ import annotations

import json
import os
from pathlib import Path

import typer

from geo_grid.store import DEFAULT_STORE
from geo_grid.store.backend import locate


def export(db: Path = typer.Option(Path(DEFAULT_STORE), "--db", parser=locate, help="store: a GeoPackage file or a postgresql+psycopg:// URL",
                                   envvar="GEO_GRID_DB"),
           fmt: str = typer.Option(..., "--format", metavar="gpkg|geojson|shp|kml|xlsx|csv",
                                   help="file format"),
           output: Path = typer.Option(..., "-o", "--output",
                                       help="file (gpkg, kml, xlsx); directory or .zip "
                                            "(geojson, shp, csv)"),
           version: int = typer.Option(None, "--version",
                                       help="boundary version (default: the current one)"),
           crs: str = typer.Option(None, "--crs",
                                   help="write in this CRS: EPSG code, wgs84, cgcs2000, gcj02, "
                                        "bd09 (default: the store's CGCS2000, EPSG:4490)")) -> None:
    """Export the street, communities, grids and buildings in a format `geo-grid import` reads
    back (Chinese field names; households and members are never exported); prints a JSON
    summary of the files and the features per layer."""
    from geo_grid.cli import fail
    from geo_grid.district import LAYERS
    from geo_grid.errors import GeoGridError, InvalidInput
    from geo_grid.exporting import district_of, export_layers
    from geo_grid.exporting.target import target_crs
    from geo_grid.exporting.write import check_format
    from geo_grid.store import Store

    try:
        target = target_crs(crs)
        check_format(fmt, target)  # before reading the store: a wrong option fails at once
        store = Store(db)
        try:
            district = district_of(store, version)
            shown = version if version is not None else store.boundary_version()
        finally:
            store.close()
        files = export_layers(district, fmt, output, crs)
    except GeoGridError as exc:
        fail(exc)
    except OSError as exc:
        fail(InvalidInput(f"cannot write {output}: {exc}"))
    summary = {
        "format": fmt.strip().lower(),
        "version": shown,
        "crs": target.label,
        "files": [str(p) for p in files],
        "bytes": sum(os.path.getsize(p) for p in files),
        "counts": {k: len(getattr(district, k)) for k in LAYERS},
    }
    typer.echo(json.dumps(summary, ensure_ascii=False))
