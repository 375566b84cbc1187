"""The four layers of a district written in a common GIS or table format.

=========  ==================================================================================
format     what is written
=========  ==================================================================================
gpkg       one GeoPackage, layers ``street``, ``communities``, ``grids``, ``buildings``
geojson    one RFC 7946 FeatureCollection per layer (``street.geojson``...): WGS-84 lon/lat,
           exteriors counter-clockwise, 7 decimals, no ``crs`` member
shp        one Shapefile per layer (``.shp .shx .dbf .prj .cpg``), attributes in UTF-8,
           field names of at most 10 bytes
kml        one KML document, a folder per layer, the name (a building's address) as the
           Placemark name and the fields as ExtendedData
xlsx       one workbook, a sheet per layer, the geometry as a ``WKT`` column
csv        one CSV per layer (UTF-8 with BOM, so Excel shows the Chinese), a ``WKT`` column
=========  ==================================================================================

The multi-file formats (geojson, shp, csv) go into a directory, or into a zip when the output
ends with ``.zip``. Everything is written into a temporary directory beside the output first
and moved into place at the end, so a failed export leaves no half-written file. Fields are
named by :mod:`geo_grid.exporting.columns`, so that ``geo-grid import`` reads every exported
file back without options. Only the layers are written: households and members (personal
data) never are.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import warnings
import zipfile
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from xml.sax.saxutils import quoteattr

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from geo_grid.crs import rfc7946
from geo_grid.district import LAYERS, District
from geo_grid.errors import InvalidInput
from geo_grid.exporting.columns import PLACEMARK_NAME, attributes
from geo_grid.exporting.target import Target, target_crs, to_target
from geo_grid.tables import neutralize_values, write_frame, write_xlsx

FORMATS = ("gpkg", "geojson", "shp", "kml", "xlsx", "csv")
#: The file a one-file format writes (inside a directory given as the output).
SINGLE_FILE = {"gpkg": "layers.gpkg", "kml": "layers.kml", "xlsx": "layers.xlsx"}
#: The header of the geometry column of a table (the importer reads ``WKT`` as geometry).
WKT_COLUMN = "WKT"
#: The most characters an Excel cell holds.
EXCEL_CELL_CHARS = 32_767
#: Decimals kept in GeoJSON (about 1 cm) and in WKT of lon/lat (about 1 mm) or metres.
GEOJSON_DECIMALS = 7
WKT_DEGREE_DECIMALS = 8
WKT_METRE_DECIMALS = 3

#: Chinese titles of the layers (GeoPackage descriptions).
LAYER_TITLES = {"street": "街道", "communities": "社区", "grids": "网格", "buildings": "楼栋"}

Writer = Callable[[dict[str, gpd.GeoDataFrame], Path, Target], list[Path]]
WRITERS: dict[str, Writer] = {}


def _writer(fmt: str) -> Callable[[Writer], Writer]:
    def deco(fn: Writer) -> Writer:
        WRITERS[fmt] = fn
        return fn

    return deco


def _records(frame: pd.DataFrame) -> list[dict]:
    """Rows as dicts of plain Python values (None for NaN) for JSON."""
    def plain(v):
        if isinstance(v, np.integer):
            return int(v)
        if isinstance(v, np.floating):
            return None if np.isnan(v) else float(v)
        return v

    return [{k: plain(v) for k, v in row.items()} for row in frame.to_dict("records")]


def _wkt(frame: gpd.GeoDataFrame, target: Target) -> np.ndarray:
    decimals = WKT_DEGREE_DECIMALS if target.geographic else WKT_METRE_DECIMALS
    return shapely.to_wkt(np.asarray(frame.geometry.array, dtype=object),
                          rounding_precision=decimals, trim=True)


def _fields(layer: str, frame: gpd.GeoDataFrame) -> pd.DataFrame:
    """The exported fields of a layer without its geometry."""
    named = attributes(layer, frame)
    return pd.DataFrame(named.drop(columns=named.geometry.name))


def _table(layer: str, frame: gpd.GeoDataFrame, target: Target) -> pd.DataFrame:
    """The exported fields and the geometry as WKT (a row per feature of a table)."""
    out = _fields(layer, frame)
    out[WKT_COLUMN] = _wkt(frame, target)
    return out


@contextmanager
def _no_crs_warning():
    """Silence pyogrio's warning about a layer without CRS: GCJ-02 and BD-09 have none on
    purpose (see :mod:`geo_grid.exporting.target`)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="'crs' was not provided", category=UserWarning)
        yield


@_writer("gpkg")
def write_gpkg(layers: dict[str, gpd.GeoDataFrame], tmp: Path, target: Target) -> list[Path]:
    """One GeoPackage with a layer per district layer, its srs the target's EPSG code."""
    path = tmp / SINGLE_FILE["gpkg"]
    for name, frame in layers.items():
        with _no_crs_warning():
            pyogrio.write_dataframe(attributes(name, frame), path, layer=name, driver="GPKG",
                                    layer_options={"DESCRIPTION": LAYER_TITLES[name]})
    return [path]


@_writer("geojson")
def write_geojson(layers: dict[str, gpd.GeoDataFrame], tmp: Path, target: Target) -> list[Path]:
    """A FeatureCollection per layer as RFC 7946 asks (written here, not by GDAL, so that no
    ``crs`` member is written and rings are oriented whatever the GDAL version)."""
    paths = []
    for name, frame in layers.items():
        props = _records(_fields(name, frame))
        geoms = rfc7946(frame.geometry.array, decimals=GEOJSON_DECIMALS)
        features = [{"type": "Feature", "properties": p,
                     "geometry": None if g is None else g.__geo_interface__}
                    for p, g in zip(props, geoms, strict=True)]
        path = tmp / f"{name}.geojson"
        with path.open("w", encoding="utf-8") as fh:
            json.dump({"type": "FeatureCollection", "name": name, "features": features}, fh,
                      ensure_ascii=False, separators=(",", ":"))
        paths.append(path)
    return paths


@_writer("shp")
def write_shp(layers: dict[str, gpd.GeoDataFrame], tmp: Path, target: Target) -> list[Path]:
    """A Shapefile per layer: ``.shp .shx .dbf .cpg`` and a ``.prj`` when the CRS has an EPSG
    code; text in UTF-8 (named by the ``.cpg``), field names of at most 10 bytes."""
    paths = []
    for name, frame in layers.items():
        shp = tmp / f"{name}.shp"
        with _no_crs_warning():
            pyogrio.write_dataframe(attributes(name, frame, short=True), shp,
                                    driver="ESRI Shapefile", encoding="UTF-8")
        paths += sorted(tmp.glob(f"{name}.*"))
    return paths


@_writer("kml")
def write_kml(layers: dict[str, gpd.GeoDataFrame], tmp: Path, target: Target) -> list[Path]:
    """One KML document (GDAL's KML driver): a folder per layer, ``Name`` as the Placemark
    name, the fields as ExtendedData."""
    path = tmp / SINGLE_FILE["kml"]
    for i, (name, frame) in enumerate(layers.items()):
        # WGS-84 as KML is (the same lon/lat: see geo_grid.exporting.target), so that GDAL
        # writes the coordinates as they are instead of transforming them
        out = attributes(name, frame).set_crs(4326, allow_override=True)
        out.insert(0, "Name", frame[PLACEMARK_NAME[name]].astype(str).to_numpy(dtype=object))
        pyogrio.write_dataframe(out, path, layer=name, driver="KML", append=i > 0)
    return [path]


@_writer("xlsx")
def write_xlsx_book(layers: dict[str, gpd.GeoDataFrame], tmp: Path, target: Target) -> list[Path]:
    """One workbook, a sheet per layer named as the layer, the geometry as WKT; codes and
    other text as text cells (Excel's ``@`` format), so a 17-digit code keeps its digits.

    Each sheet is written by the project's fast one-sheet writer
    (:func:`geo_grid.tables.write_xlsx`) and the sheets are put into one workbook by
    :func:`_one_workbook`.

    Raises
    ------
    InvalidInput
        If a geometry's WKT is longer than an Excel cell holds (32,767 characters).
    """
    sheets = []
    for name, frame in layers.items():
        table = _table(name, frame, target)
        lengths = table[WKT_COLUMN].str.len()
        if len(table) and lengths.max() > EXCEL_CELL_CHARS:
            i = int(lengths.to_numpy().argmax())
            code = table.iloc[i, 0]
            raise InvalidInput(f"{name} {code}: its WKT has {int(lengths.iloc[i])} characters, "
                               f"more than an Excel cell holds ({EXCEL_CELL_CHARS}); export "
                               "it as gpkg, shp or csv", layer=name, code=str(code))
        header = [str(c) for c in table.columns]
        # a text cell a spreadsheet would run as a formula is quoted (CSV: in write_frame)
        columns = [neutralize_values(table[c].tolist()) for c in table.columns]
        text = [j for j, c in enumerate(table.columns) if table[c].dtype == object]
        widths = [60 if c == WKT_COLUMN else 20 if j in text else 10
                  for j, c in enumerate(header)]
        sheets.append((name, write_xlsx(tmp / f"{name}.part.xlsx", columns, head_rows=[header],
                                        text_columns=text, widths=widths, sheet_name=name)))
    return [_one_workbook(sheets, tmp / SINGLE_FILE["xlsx"])]


_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
_DOC_RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_SHEET_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"


def _one_workbook(sheets: list[tuple[str, Path]], path: Path) -> Path:
    """One-sheet workbooks (of :func:`geo_grid.tables.write_xlsx`) joined into one workbook.

    The sheets' XML is copied as it is; the workbook part lists them in order, its
    relationships and the package's content types name each, and the styles (the same in
    every part) are the first part's.
    """
    n = len(sheets)
    with zipfile.ZipFile(sheets[0][1]) as first:
        types = first.read("[Content_Types].xml").decode()
        root_rels = first.read("_rels/.rels")
        styles = first.read("xl/styles.xml")
    one = f'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="{_SHEET_TYPE}"/>'
    types = types.replace(one, "".join(
        f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="{_SHEET_TYPE}"/>'
        for i in range(1, n + 1)))
    book = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<workbook xmlns="{_MAIN}" '
            f'xmlns:r="{_DOC_RELS}"><sheets>'
            + "".join(f'<sheet name={quoteattr(name)} sheetId="{i}" r:id="rId{i}"/>'
                      for i, (name, _) in enumerate(sheets, start=1))
            + "</sheets></workbook>")
    rels = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            f'<Relationships xmlns="{_RELS}">'
            + "".join(f'<Relationship Id="rId{i}" Type="{_DOC_RELS}/worksheet" '
                      f'Target="worksheets/sheet{i}.xml"/>' for i in range(1, n + 1))
            + f'<Relationship Id="rId{n + 1}" Type="{_DOC_RELS}/styles" Target="styles.xml"/>'
            "</Relationships>")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        z.writestr("[Content_Types].xml", types)
        z.writestr("_rels/.rels", root_rels)
        z.writestr("xl/workbook.xml", book)
        z.writestr("xl/_rels/workbook.xml.rels", rels)
        z.writestr("xl/styles.xml", styles)
        for i, (_, part) in enumerate(sheets, start=1):
            with zipfile.ZipFile(part) as src, src.open("xl/worksheets/sheet1.xml") as fin, \
                    z.open(f"xl/worksheets/sheet{i}.xml", "w", force_zip64=True) as fout:
                shutil.copyfileobj(fin, fout)
    return path


@_writer("csv")
def write_csv(layers: dict[str, gpd.GeoDataFrame], tmp: Path, target: Target) -> list[Path]:
    """A CSV per layer (UTF-8 with BOM), the geometry as WKT."""
    return [write_frame(_table(name, frame, target), tmp / f"{name}.csv")
            for name, frame in layers.items()]


def check_format(fmt: str, target: Target) -> str:
    """The format name, lower case, checked against :data:`FORMATS` and the target CRS.

    Raises
    ------
    InvalidInput
        An unknown format, or a CRS other than WGS-84/CGCS2000 lon/lat for GeoJSON or KML.
    """
    f = str(fmt).strip().lower()
    if f not in FORMATS:
        raise InvalidInput(f"unknown export format {fmt!r}: give one of {', '.join(FORMATS)}",
                           format=str(fmt))
    if f in ("geojson", "kml") and not target.wgs84:
        raise InvalidInput(f"{f} is always WGS-84 lon/lat ({'RFC 7946' if f == 'geojson' else 'KML'}"
                           f"), so crs {target.label} cannot be used: leave crs out, or export "
                           "as gpkg, shp, xlsx or csv", format=f, crs=target.label)
    return f


def _place(files: list[Path], out: Path, fmt: str, tmp: Path) -> list[Path]:
    """Move the written files from ``tmp`` to ``out`` (a file, a directory or a zip)."""
    if fmt in SINGLE_FILE:
        dest = out / SINGLE_FILE[fmt] if out.is_dir() else out
        os.replace(files[0], dest)
        return [dest]
    if out.suffix.lower() == ".zip":
        packed = tmp / "layers.zip"
        with zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as zf:
            for p in files:
                zf.write(p, arcname=p.name)
        os.replace(packed, out)
        return [out]
    out.mkdir(parents=True, exist_ok=True)
    placed = []
    for p in files:
        os.replace(p, out / p.name)
        placed.append(out / p.name)
    return placed


def export_layers(district: District, fmt: str, out: str | Path,
                  crs: str | None = None) -> list[Path]:
    """Write the street, communities, grids and buildings of ``district`` to ``out``.

    Parameters
    ----------
    district : District
        Its layers (in EPSG:4490) are written; households and members never are.
    fmt : str
        ``gpkg``, ``geojson``, ``shp``, ``kml``, ``xlsx`` or ``csv`` (see the module's table).
    out : str or Path
        The file of a one-file format (gpkg, kml, xlsx; ``layers.<fmt>`` inside it when it is
        a directory); for geojson, shp and csv a directory (made if missing), or a ``.zip``
        holding the files. Existing files of the same names are replaced.
    crs : str, optional
        The CRS to write in (any name ``geo-grid import`` accepts: an EPSG code, ``wgs84``,
        ``cgcs2000``, ``gcj02``, ``bd09``); the store's CGCS2000 lon/lat (EPSG:4490) when
        None. GeoJSON and KML are always WGS-84 lon/lat and refuse any other.

    Returns
    -------
    list of Path
        The files written (the zip alone for a zip).

    Raises
    ------
    InvalidInput
        An unknown format, a CRS the format cannot hold, a geometry too long for an Excel cell.
    UnknownCRS
        A CRS name that is none of the accepted ones.
    """
    target = target_crs(crs)
    fmt = check_format(fmt, target)
    layers = {name: to_target(getattr(district, name), target) for name in LAYERS}
    out = Path(out)
    here = out if (fmt not in SINGLE_FILE and out.suffix.lower() != ".zip") or out.is_dir() \
        else out.parent
    here.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".export-", dir=here) as tmp:
        files = WRITERS[fmt](layers, Path(tmp), target)
        return _place(files, out, fmt, Path(tmp))


__all__ = ["FORMATS", "SINGLE_FILE", "WKT_COLUMN", "WRITERS", "check_format", "export_layers"]
