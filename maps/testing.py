"""A synthetic district following the :class:`~geo_grid.district.District` contract.

Used by the map tests and, until a real store is present, by ``benchmarks/maps.py``:
``synthetic_district()`` is small (2 communities, 6 grids, a few dozen buildings);
``synthetic_district(communities=33, grids_per_community=7, buildings_per_grid=20)`` is
about the size of the reference district (231 grids, 4,620 buildings, ≈110k households,
≈3k members). Seeded and deterministic; a rectangle tiling in EPSG:4549 near Wuxi.
"""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import box

from geo_grid.crs import from_metric, to_metric
from geo_grid.district import District

STREET_CODE = "320214052"
ORIGIN_LONLAT = (120.30, 31.60)  # north-west corner of the synthetic street
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国志红"
COMPOUNDS = ["叙丰家园", "江溪花园", "新韵佳园", "旺庄新村", "春潮花园", "长江一村", "锡兴苑", "金城湾"]
ROADS = ["锡兴路", "春丰路", "长江路", "旺庄路"]


def _to_lonlat(geom):
    return shapely.transform(geom, lambda xy: np.column_stack(from_metric(xy[:, 0], xy[:, 1])))


def synthetic_district(
    communities: int = 2,
    grids_per_community: int = 3,
    buildings_per_grid: int = 6,
    members_per_grid: tuple[int, int] = (8, 18),
    seed: int = 7,
    unavailable_share: float = 0.03,
) -> District:
    """Build a deterministic synthetic district (see module docstring)."""
    rng = np.random.default_rng(seed)
    x0, y0 = (float(v) for v in to_metric(*ORIGIN_LONLAT))
    ccols = max(1, int(math.ceil(math.sqrt(communities * 1.3))))
    cw, ch = 900.0, 800.0  # community size in metres
    gcols = max(1, int(math.ceil(math.sqrt(grids_per_community))))
    grows = int(math.ceil(grids_per_community / gcols))

    comm_rows, grid_rows, bld_rows = [], [], []
    for ci in range(communities):
        cc, cr = ci % ccols, ci // ccols
        cx0, cy1 = x0 + cc * cw, y0 - cr * ch
        ccode = f"{STREET_CODE}{ci + 1:03d}"
        cgeom = box(cx0, cy1 - ch, cx0 + cw, cy1)
        comm_rows.append({"code": ccode, "name": f"第{ci + 1}社区居民委员会", "short_name": f"第{ci + 1}社区", "geometry": cgeom})
        gw, gh = cw / gcols, ch / grows
        bseq = 0
        for gi in range(grids_per_community):
            gc, gr = gi % gcols, gi // gcols
            # the last row's last grid stretches to fill the community
            gx0, gy1 = cx0 + gc * gw, cy1 - gr * gh
            gx1 = cx0 + cw if (gi == grids_per_community - 1) else gx0 + gw
            if gi == grids_per_community - 1 and gr == grows - 1:
                gx1 = cx0 + cw
            gy0 = cy1 - ch if gr == grows - 1 else gy1 - gh
            ggeom = box(gx0, gy0, gx1, gy1)
            if gi == grids_per_community - 1 and gc < gcols - 1 and gr == grows - 1:
                pass
            gcode = f"{ccode}{gi + 1:03d}"
            kind = "residential" if (ci + gi) % 9 else "commercial"
            grid_rows.append({"code": gcode, "name": f"第{ci + 1}社区第{gi + 1}网格", "community_code": ccode,
                              "kind": kind, "geometry": ggeom})
            # buildings on a lattice inside the grid
            bcols = max(1, int(math.ceil(math.sqrt(buildings_per_grid * (gx1 - gx0) / (gy1 - gy0)))))
            brows = int(math.ceil(buildings_per_grid / bcols))
            sx, sy = (gx1 - gx0) / bcols, (gy1 - gy0) / brows
            compound = COMPOUNDS[(ci * 7 + gi) % len(COMPOUNDS)]
            for bi in range(buildings_per_grid):
                bc, br = bi % bcols, bi // bcols
                cxm, cym = gx0 + (bc + 0.5) * sx, gy1 - (br + 0.5) * sy
                w, h = min(40.0, sx * 0.6), min(12.0, sy * 0.5)
                bseq += 1
                if kind == "commercial" and bi % 2:
                    road = ROADS[(ci + bi) % len(ROADS)]
                    number = 10 + 2 * bseq
                    addr, comp, cat, floors, units, rpf = f"{road}{number}号", road, "shop", 2, 1, 1
                else:
                    number = bi + 1
                    addr, comp, cat = f"{compound}{gi + 1}区{number}栋", f"{compound}{gi + 1}区", "slab"
                    floors, units, rpf = int(rng.integers(5, 12)), int(rng.integers(1, 3)), 2
                hh = floors * units * rpf if cat != "shop" else 0
                bld_rows.append({
                    "code": f"{ccode}{bseq:05d}", "grid_code": gcode, "community_code": ccode,
                    "address": addr, "compound": comp, "number": number, "category": cat,
                    "floors": floors, "units": units, "rooms_per_floor": rpf, "households": hh,
                    "geometry": box(cxm - w / 2, cym - h / 2, cxm + w / 2, cym + h / 2),
                })

    def gdf(rows):
        df = gpd.GeoDataFrame(rows, geometry="geometry", crs=4549)
        df["geometry"] = [_to_lonlat(g) for g in df.geometry]
        return df.set_crs(4490, allow_override=True)

    communities_gdf = gdf(comm_rows)
    grids_gdf = gdf(grid_rows)
    buildings_gdf = gdf(bld_rows)
    street_geom = communities_gdf.geometry.union_all()
    street = gpd.GeoDataFrame({"code": [STREET_CODE], "name": ["江溪街道"]}, geometry=[street_geom], crs=4490)

    # households
    bcode = np.repeat(buildings_gdf["code"].to_numpy(), buildings_gdf["households"].to_numpy())
    n = len(bcode)
    households = pd.DataFrame({
        "id": [f"H{i:07d}" for i in range(n)],
        "building_code": bcode,
        "unit": 1,
        "room": 101,
        "size": rng.integers(1, 5, n),
        "elderly_alone": rng.random(n) < 0.05,
        "disabled": rng.random(n) < 0.02,
        "chronic": rng.random(n) < 0.08,
        "infant": rng.random(n) < 0.04,
    })

    # members: 1 secretary, then social workers and volunteers, homes in their grid's buildings
    cen = buildings_gdf.to_crs(4549).geometry.centroid
    bx = pd.Series(cen.x.to_numpy(), index=buildings_gdf["code"])
    by = pd.Series(cen.y.to_numpy(), index=buildings_gdf["code"])
    mem_rows = []
    by_grid = buildings_gdf.groupby("grid_code")["code"].apply(list)
    mid = 0
    for gcode in grids_gdf["code"]:
        k = int(rng.integers(members_per_grid[0], members_per_grid[1] + 1))
        blds = by_grid.get(gcode, [])
        for j in range(k):
            role = "secretary" if j == 0 else ("social_worker" if j <= max(1, k // 3) else "volunteer")
            home = blds[int(rng.integers(0, len(blds)))] if blds else None
            mid += 1
            name = SURNAMES[int(rng.integers(0, len(SURNAMES)))] + "".join(
                GIVEN[int(rng.integers(0, len(GIVEN)))] for _ in range(int(rng.integers(1, 3)))
            )
            mem_rows.append({
                "id": f"M{mid:05d}", "name": name, "phone": f"13{int(rng.integers(0, 10))}{int(rng.integers(10**7, 10**8)):08d}",
                "role": role, "grid_code": gcode, "branch_code": "B001", "branch_name": "第一支部",
                "org_code": "O001", "org_name": "江溪街道党工委", "home_building": home,
                "x": (bx[home] + rng.normal(0, 3)) if home else np.nan,
                "y": (by[home] + rng.normal(0, 3)) if home else np.nan,
                "available": bool(rng.random() >= unavailable_share), "capacity": 50,
            })
    members = pd.DataFrame(mem_rows)

    # assignment: every building with households gets two members of its grid (round robin)
    asg = []
    mem_by_grid = members.groupby("grid_code")["id"].apply(list)
    hh_by_b = dict(zip(buildings_gdf["code"], buildings_gdf["households"], strict=True))
    for gcode, blds in by_grid.items():
        ms = mem_by_grid.get(gcode, [])
        if not ms:
            continue
        for i, b in enumerate(blds):
            if hh_by_b[b] == 0:
                continue
            chosen = {ms[i % len(ms)], ms[(i + 1) % len(ms)]} if i % 3 else {ms[i % len(ms)]}
            for m_ in sorted(chosen):
                asg.append({"member_id": m_, "building_code": b, "load": hh_by_b[b] / len(chosen), "distance_m": 100.0})
    assignment = pd.DataFrame(asg)
    return District(
        street=street, communities=communities_gdf, grids=grids_gdf, buildings=buildings_gdf,
        households=households, members=members, assignment=assignment, version=f"synthetic-{seed}",
    )
