"""Reading a GIS layer file with GDAL: GeoJSON, GeoPackage, Shapefile (or a zip of one), KML/KMZ."""

from __future__ import annotations

import json
import zipfile

import pyogrio
import shapely

from geo_grid.errors import InvalidInput
from geo_grid.importing.encoding import shapefile_encoding
from geo_grid.importing.raw import RawLayer
from geo_grid.importing.sources import LayerSource

_FORMATS = {".geojson": "geojson", ".json": "geojson", ".gpkg": "gpkg", ".shp": "shapefile",
            ".zip": "shapefile", ".kml": "kml", ".kmz": "kml"}


def _zip_member(src: LayerSource) -> str:
    """The ``.shp`` inside a zip (the one named by ``layer`` when there are several)."""
    with zipfile.ZipFile(src.path) as zf:
        shps = sorted(n for n in zf.namelist() if n.lower().endswith(".shp"))
    if src.layer is not None:
        shps = [n for n in shps if n.rsplit("/", 1)[-1][:-4] == src.layer] or shps[:0]
    if not shps:
        raise InvalidInput(f"{src.path.name}: the zip holds no Shapefile"
                           + (f" named {src.layer}" if src.layer else ""), file=str(src.path))
    return shps[0]


def _kml_member(src: LayerSource) -> str:
    """The KML document inside a KMZ (``doc.kml`` by convention, else the first ``.kml``)."""
    with zipfile.ZipFile(src.path) as zf:
        kmls = [n for n in zf.namelist() if n.lower().endswith(".kml")]
    if not kmls:
        raise InvalidInput(f"{src.path.name}: the KMZ holds no .kml", file=str(src.path))
    return "doc.kml" if "doc.kml" in kmls else kmls[0]


def _geojson_has_crs(src: LayerSource) -> bool:
    """True if a GeoJSON file has a (pre-RFC 7946) ``crs`` member; only its head is parsed."""
    with src.path.open("rb") as fh:
        head = fh.read(1 << 16)
    if b'"crs"' not in head:
        return False
    try:
        return "crs" in json.loads(src.path.read_bytes())
    except ValueError:
        return False


def read_vector(src: LayerSource, encoding: str | None = None) -> RawLayer:
    """Read one layer of a GDAL vector file.

    Parameters
    ----------
    src : LayerSource
        The file; ``layer`` picks a GeoPackage layer (the first by default).
    encoding : str, optional
        Attribute encoding given by the caller (Shapefile); found from ``.cpg`` or the DBF's
        bytes otherwise.

    Returns
    -------
    RawLayer

    Raises
    ------
    InvalidInput
        If GDAL cannot read the file or the layer does not exist.
    """
    fmt = _FORMATS[src.suffix]
    target, layer, note, enc = str(src.path), src.layer, "", None
    if fmt == "shapefile":
        member = _zip_member(src) if src.suffix == ".zip" else None
        if member is not None:
            target, layer = f"/vsizip/{src.path}/{member}", None
        if encoding:
            enc, note = encoding, "given"
        else:
            enc, note = shapefile_encoding(src.path, member)
    elif fmt == "gpkg" and layer is None:
        layers = pyogrio.list_layers(src.path)
        if not len(layers):
            raise InvalidInput(f"{src.path.name}: the GeoPackage holds no layer", file=str(src.path))
        layer = str(layers[0][0])
    elif src.suffix == ".kmz":
        # the KML inside, read as a file: GDAL's KMZ reader drops the ExtendedData fields
        target = f"/vsizip/{src.path}/{_kml_member(src)}"
    kwargs = {"encoding": enc} if enc else {}
    try:
        gdf = pyogrio.read_dataframe(target, layer=layer, **kwargs)
    except Exception as exc:  # pyogrio raises several DataSourceError flavours
        raise InvalidInput(f"cannot read {src.path.name}: {exc}", file=str(src.path)) from exc
    if gdf.geometry.has_z.any():  # KML and some vendors' files carry a Z of 0
        gdf = gdf.set_geometry(shapely.force_2d(gdf.geometry.array), crs=gdf.crs)
    if fmt == "kml":
        crs_source = "kml"
    elif fmt == "geojson":
        crs_source = "file" if _geojson_has_crs(src) else "rfc7946"
    else:
        crs_source = "file" if gdf.crs is not None else "none"
    return RawLayer(gdf, crs_source, enc, note or ("utf-8" if fmt != "shapefile" else ""), fmt, layer)
