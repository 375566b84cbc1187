"""A small synthetic street east of the reference district, sharing part of its edge.

The test of several streets in one store adds it to a copy of the reference store. It is cut
from a box overlapping the reference street's east end, minus the reference street, so the two
outlines share an edge exactly and do not overlap: two communities (north and south halves),
each of two grids (west and east halves), each with a few rows of small buildings. Codes start
with the street code ``320214099`` (a code no real street of 新吴区 has).
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

CODE = "320214099"
NAME = "东邻街道（测试）"
EPSG = 4549  # metres, the reference district's Gauss-Kruger zone


def neighbour_layers(reference_street: gpd.GeoDataFrame, side: str = "east",
                     code: str = CODE, name: str = NAME) -> dict[str, gpd.GeoDataFrame]:
    """The four layers of the neighbour street (EPSG:4490), built around ``reference_street``.

    Parameters
    ----------
    reference_street : GeoDataFrame
        The reference district's street layer.
    side : {"east", "west"}
        Which end of the reference street the neighbour sits at.
    code, name : str
        The street's code (every code below extends it) and name.

    Returns
    -------
    dict
        ``street``, ``communities``, ``grids``, ``buildings`` GeoDataFrames.
    """
    ref = reference_street.to_crs(EPSG).geometry.union_all()
    minx, miny, maxx, maxy = ref.bounds
    midy = (miny + maxy) / 2
    edge = maxx if side == "east" else minx
    box = shapely.box(edge - 1500, midy - 1200, edge + 1500, midy + 1200)
    street = shapely.difference(box, ref)
    if street.geom_type == "MultiPolygon":  # keep the largest part: one simple outline
        street = max(street.geoms, key=lambda g: g.area)
    sx0, sy0, sx1, sy1 = street.bounds
    cy, cx = (sy0 + sy1) / 2, (sx0 + sx1) / 2
    halves = {"001": shapely.box(sx0 - 1, cy, sx1 + 1, sy1 + 1),
              "002": shapely.box(sx0 - 1, sy0 - 1, sx1 + 1, cy)}
    comm_rows, grid_rows, bld_rows = [], [], []
    for ci, (cseq, half) in enumerate(halves.items()):
        ccode = code + cseq
        cgeom = shapely.intersection(street, half)
        comm_rows.append({"code": ccode, "name": f"{name[:2]}{ci + 1}社区居民委员会",
                          "short_name": f"{name[:2]}{ci + 1}社区", "synthetic": True, "geometry": cgeom})
        for gi, gbox in enumerate((shapely.box(sx0 - 1, sy0 - 1, cx, sy1 + 1),
                                   shapely.box(cx, sy0 - 1, sx1 + 1, sy1 + 1))):
            gcode = f"{ccode}{gi + 1:03d}"
            ggeom = shapely.intersection(cgeom, gbox)
            grid_rows.append({"code": gcode, "name": f"{name[:2]}{ci + 1}社区第{gi + 1}网格",
                              "community_code": ccode, "kind": "residential", "synthetic": True,
                              "geometry": ggeom})
            inner = ggeom.buffer(-40)
            gx0, gy0, gx1, gy1 = ggeom.bounds
            n = 0
            for y in np.arange(gy0 + 60, gy1 - 40, 150):
                for x in np.arange(gx0 + 60, gx1 - 40, 150):
                    foot = shapely.box(x, y, x + 40, y + 15)
                    if not inner.contains(foot) or n >= 12:
                        continue
                    n += 1
                    seq = len([b for b in bld_rows if b["community_code"] == ccode]) + 1
                    compound = f"{name[:2]}{ci + 1}{gi + 1}家园"
                    bld_rows.append({
                        "code": f"{ccode}{seq:05d}", "grid_code": gcode, "community_code": ccode,
                        "address": f"{compound}{n}栋", "compound": compound, "number": n,
                        "category": "slab", "floors": 6, "units": 2, "rooms_per_floor": 2,
                        "households": 20 + (seq * 7) % 5, "synthetic": True, "geometry": foot})
    crs = f"EPSG:{EPSG}"
    out = {
        "street": gpd.GeoDataFrame([{"code": code, "name": name, "synthetic": True,
                                     "geometry": street}], crs=crs),
        "communities": gpd.GeoDataFrame(comm_rows, crs=crs),
        "grids": gpd.GeoDataFrame(grid_rows, crs=crs),
        "buildings": gpd.GeoDataFrame(bld_rows, crs=crs),
    }
    return {k: v.to_crs(4490) for k, v in out.items()}


def write_neighbour(folder: Path, reference_street: gpd.GeoDataFrame,
                    driver: str = "GeoJSON", **kw) -> dict[str, Path]:
    """Write the neighbour street's layers into ``folder`` (``street.geojson``... as a layer
    folder of ``geo-grid init --boundaries``, or ``.gpkg``/``.shp`` files with ``driver``);
    ``kw`` go to :func:`neighbour_layers`."""
    folder.mkdir(parents=True, exist_ok=True)
    suffix = {"GeoJSON": ".geojson", "GPKG": ".gpkg", "ESRI Shapefile": ".shp"}[driver]
    paths = {}
    for name, gdf in neighbour_layers(reference_street, **kw).items():
        paths[name] = folder / f"{name}{suffix}"
        gdf.to_file(paths[name], driver=driver)
    return paths
