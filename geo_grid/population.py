"""Synthetic population of a district: households in buildings and grid-team members.

Everything here is SYNTHETIC and seeded: household sizes and vulnerable flags, member names
(drawn from common surnames and given-name characters), fake phone numbers (prefix 199, reserved
for nothing real here), party branches and organisations. Nothing describes real people.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely

from geo_grid.district import District

SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤")
GIVEN = list("伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国文辉玲红丹萍鹏斌宇浩凯鑫帆晨欣怡婷雪琳颖佳俊峰亮成荣新春梅兵华忠海波宁健")
HOUSEHOLD_SIZE_P = {1: 0.20, 2: 0.30, 3: 0.25, 4: 0.15, 5: 0.07, 6: 0.03}


@dataclass(frozen=True)
class PopulationParams:
    """How many members each grid team has, and the seed.

    Parameters
    ----------
    social_workers : int
        N party social workers per grid.
    volunteers : int
        X party volunteers per grid.
    seed : int
        Seed of every random draw.
    branches : int
        Party branches (205 in the seed article).
    organisations : int
        First-level party organisations (105 in the seed article).
    """

    social_workers: int = 3
    volunteers: int = 9
    seed: int = 2020
    branches: int = 205
    organisations: int = 105
    available_share: float = 0.97


def generate_households(buildings: pd.DataFrame, seed: int = 2020) -> pd.DataFrame:
    """Draw one row per household of every building, in occupied rooms.

    Parameters
    ----------
    buildings : DataFrame
        With ``code, category, floors, units, rooms_per_floor, households``.
    seed : int
        Random seed.

    Returns
    -------
    DataFrame
        ``id, building_code, unit, room, size, elderly_alone, disabled, chronic, infant``.
    """
    rng = np.random.default_rng(seed)
    b_codes, units_out, rooms_out = [], [], []
    for code, floors, units, rpf, hh in zip(
        buildings["code"], buildings["floors"], buildings["units"], buildings["rooms_per_floor"],
        buildings["households"], strict=True,
    ):
        hh = int(hh)
        if hh <= 0:
            continue
        floors, units, rpf = int(floors), int(units), max(int(rpf), 1)
        total = floors * units * rpf
        pick = np.sort(rng.choice(total, size=min(hh, total), replace=False))
        unit = pick // (floors * rpf) + 1
        rest = pick % (floors * rpf)
        floor = rest // rpf + 1
        door = rest % rpf + 1
        b_codes.append(np.full(len(pick), code, dtype=object))
        units_out.append(unit)
        rooms_out.append(floor * 100 + door)
    n = int(sum(len(u) for u in units_out))
    sizes = rng.choice(list(HOUSEHOLD_SIZE_P), size=n, p=list(HOUSEHOLD_SIZE_P.values()))
    df = pd.DataFrame({
        "id": np.arange(1, n + 1, dtype=np.int64),
        "building_code": np.concatenate(b_codes) if b_codes else np.array([], dtype=object),
        "unit": np.concatenate(units_out).astype(np.int16) if units_out else np.array([], dtype=np.int16),
        "room": np.concatenate(rooms_out).astype(np.int16) if rooms_out else np.array([], dtype=np.int16),
        "size": sizes.astype(np.int8),
    })
    df["elderly_alone"] = (sizes == 1) & (rng.random(n) < 0.35)
    df["disabled"] = rng.random(n) < 0.03
    df["chronic"] = rng.random(n) < 0.08
    df["infant"] = (sizes >= 3) & (rng.random(n) < 0.10)
    return df


def _names(rng: np.random.Generator, n: int) -> np.ndarray:
    s = rng.choice(SURNAMES, n)
    g1 = rng.choice(GIVEN, n)
    g2 = rng.choice(GIVEN, n)
    two = rng.random(n) < 0.7
    return np.array([a + b + (c if t else "") for a, b, c, t in zip(s, g1, g2, two, strict=True)], dtype=object)


def _phones(rng: np.random.Generator, n: int) -> np.ndarray:
    digits = rng.integers(0, 100_000_000, n)
    return np.array([f"199{d:08d}" for d in digits], dtype=object)


def generate_members(district: District, params: PopulationParams = PopulationParams()) -> pd.DataFrame:
    """Draw the grid teams: per grid 1 secretary, N social workers and X volunteers.

    Members live in a residential building (slab, point, dormitory) of their grid when it has one,
    else in the nearest one; their branch belongs to their community's organisation mostly, to an
    enterprise or commercial-area organisation otherwise.

    Returns
    -------
    DataFrame
        ``id, name, phone, role, grid_code, branch_code, branch_name, org_code, org_name,
        home_building, x, y, available, capacity``.
    """
    from geo_grid.assign.model import DEFAULT_CAPACITY

    rng = np.random.default_rng(params.seed + 1)
    b = district.buildings
    homes = b[b["category"].isin(["slab", "point", "dormitory"])]
    epsg = district.metric_epsg  # the street's own Gauss-Kruger zone
    hxy = shapely.get_coordinates(homes.geometry.to_crs(epsg).centroid.array)
    home_codes = np.asarray(homes["code"], dtype=object)
    home_grid = np.asarray(homes["grid_code"], dtype=object)
    grids = district.grids.sort_values("code")
    gxy = shapely.get_coordinates(grids.geometry.to_crs(epsg).representative_point().array)

    # organisations: one per community, the rest enterprises and commercial-area alliances
    comm_codes = list(district.communities.sort_values("code")["code"])
    short = dict(zip(district.communities["code"], district.communities["short_name"], strict=True))
    n_org = max(params.organisations, len(comm_codes))
    org_codes = [f"O{i:03d}" for i in range(1, n_org + 1)]
    org_names = [f"{short[c]}党委" for c in comm_codes] + [
        f"非公企业党组织{i:02d}" for i in range(1, n_org - len(comm_codes) + 1)]
    # branches: at least one per organisation, the rest spread over community organisations
    br_org = list(range(n_org)) + list(rng.integers(0, len(comm_codes), params.branches - n_org))
    br_org = np.sort(np.asarray(br_org))
    br_codes = [f"B{i:03d}" for i in range(1, len(br_org) + 1)]
    per_org_seq: dict[int, int] = {}
    br_names = []
    for o in br_org:
        per_org_seq[int(o)] = per_org_seq.get(int(o), 0) + 1
        br_names.append(f"{org_names[o]}第{per_org_seq[int(o)]}支部")
    comm_index = {c: i for i, c in enumerate(comm_codes)}

    rows = []
    team = ["secretary"] + ["social_worker"] * params.social_workers + ["volunteer"] * params.volunteers
    for gcode, (gx, gy) in zip(grids["code"], gxy, strict=True):
        in_grid = np.flatnonzero(home_grid == gcode)
        if len(in_grid) == 0:
            d = np.hypot(hxy[:, 0] - gx, hxy[:, 1] - gy)
            in_grid = np.argsort(d)[:5]
        org = comm_index[gcode[:12]]
        own = np.flatnonzero(br_org == org)
        for role in team:
            h = int(rng.choice(in_grid))
            if role == "secretary" or rng.random() < 0.7:
                br = int(rng.choice(own))
            else:
                br = int(rng.integers(0, len(br_codes)))
            rows.append((role, gcode, br, home_codes[h], hxy[h, 0], hxy[h, 1]))
    n = len(rows)
    role, gcode, br, home, x, y = (np.asarray(c, dtype=object) for c in zip(*rows, strict=True))
    br = br.astype(int)
    # every branch has at least one member: give each empty branch a volunteer
    unused = np.setdiff1d(np.arange(len(br_codes)), br)
    if len(unused):
        vols = np.flatnonzero(role == "volunteer")
        take = rng.choice(vols, size=len(unused), replace=False)
        br[take] = unused
    df = pd.DataFrame({
        "id": [f"M{i:05d}" for i in range(1, n + 1)],
        "name": _names(rng, n),
        "phone": _phones(rng, n),
        "role": role,
        "grid_code": gcode,
        "branch_code": [br_codes[i] for i in br],
        "branch_name": [br_names[i] for i in br],
        "org_code": [org_codes[br_org[i]] for i in br],
        "org_name": [org_names[br_org[i]] for i in br],
        "home_building": home,
        "x": x.astype(float),
        "y": y.astype(float),
        "available": rng.random(n) < params.available_share,
        "capacity": [float(DEFAULT_CAPACITY[r]) for r in role],
    })
    return df
