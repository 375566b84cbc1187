"""Reading the polygon layers of a district from a folder of GeoJSON files."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pyogrio

from geo_grid.crs import STORE_EPSG
from geo_grid.district import LAYERS, District
from geo_grid.errors import InvalidGeometry, StoreError


def _reference_folder() -> Path:
    """Where the ``boundaries`` package keeps its layer files (no file is read here)."""
    import boundaries

    return boundaries.FOLDER


#: Default folder of the reference district's layers: the ``boundaries`` package's data files
#: (the repository's ``boundaries/`` in a checkout, the installed copy from a wheel).
DEFAULT_BOUNDARIES = _reference_folder()

REQUIRED_COLUMNS = {
    "street": ("code", "name"),
    "communities": ("code", "name", "short_name"),
    "grids": ("code", "name", "community_code", "kind"),
    "buildings": (
        "code", "grid_code", "community_code", "address", "compound", "number", "category",
        "floors", "units", "rooms_per_floor", "households",
    ),
}


def read_layer(path: Path, layer: str) -> gpd.GeoDataFrame:
    """Read one layer file and check its CRS and columns.

    Parameters
    ----------
    path : Path
        A GeoJSON (or any GDAL vector) file.
    layer : str
        One of ``street``, ``communities``, ``grids``, ``buildings``.

    Returns
    -------
    geopandas.GeoDataFrame
        In EPSG:4490, with the code columns as strings.

    Raises
    ------
    StoreError
        If the file is missing or unreadable, or a required column is missing.
    InvalidGeometry
        If the layer's CRS is not EPSG:4490 (or WGS-84, taken as equal here).
    """
    if not path.exists():
        raise StoreError(f"layer file {path} does not exist", layer=layer)
    try:
        gdf = pyogrio.read_dataframe(path)
    except Exception as exc:  # pyogrio raises several DataSourceError flavours
        raise StoreError(f"cannot read {path}: {exc}", layer=layer) from exc
    epsg = gdf.crs.to_epsg() if gdf.crs is not None else None
    if epsg not in (STORE_EPSG, 4326):
        raise InvalidGeometry(
            f"{path.name}: CRS is {gdf.crs!s} but layers must be EPSG:4490 lon/lat", layer=layer
        )
    gdf = gdf.set_crs(STORE_EPSG, allow_override=True)
    missing = [c for c in REQUIRED_COLUMNS[layer] if c not in gdf.columns]
    if missing:
        raise StoreError(f"{path.name}: missing columns {missing}", layer=layer)
    for col in gdf.columns:
        if col == "code" or col.endswith("_code"):
            gdf[col] = gdf[col].astype("string").astype(object)
    return gdf


def load_layers(boundaries: Path | str | None = None) -> District:
    """Load the four layers of a district from a folder (``street.geojson`` etc.).

    Parameters
    ----------
    boundaries : Path or str, optional
        The folder; the reference district's ``boundaries/`` by default.

    Returns
    -------
    District
        With the layers set and empty tables.
    """
    folder = Path(boundaries) if boundaries is not None else DEFAULT_BOUNDARIES
    layers = {name: read_layer(folder / f"{name}.geojson", name) for name in LAYERS}
    return District(**layers)
