"""The coverage roster: per grid, who covers which building, and each grid's and community's
figures (an Excel workbook).

The figures are those of :mod:`geo_grid.figures` (the same as the map and the API show),
only given Chinese column names (:data:`FIGURE_COLUMNS`).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from geo_grid.district import District
from geo_grid.figures import Figures, district_figures
from geo_grid.privacy import mask_frame
from geo_grid.tables.cells import neutralize_frame

ROLE_ZH = {"secretary": "党员书记", "social_worker": "党员社工", "volunteer": "党员志愿者"}


def roster_frame(district: District, unmasked: bool = False) -> pd.DataFrame:
    """One row per (building, member) of the current assignment, ordered by grid and building.

    Names are masked and there is no phone column unless ``unmasked`` (then both in full:
    a masked phone still leaks digits and is of no use on a roster). Buildings with households and no member
    appear with empty member columns, so that nothing uncovered is hidden.
    """
    b = district.buildings.drop(columns="geometry")
    m = district.members if unmasked else mask_frame(district.members)
    a = district.assignment
    comm = dict(zip(district.communities["code"], district.communities["name"], strict=True))
    gname = dict(zip(district.grids["code"], district.grids["name"], strict=True))
    rows = b[["code", "grid_code", "community_code", "address", "households"]].merge(
        a[["building_code", "member_id", "load"] + (["units"] if "units" in a else [])],
        left_on="code", right_on="building_code", how="left")
    rows = rows.merge(m[["id", "name", "phone", "role"]], left_on="member_id", right_on="id", how="left")
    rows = rows[(rows["households"] > 0) | rows["member_id"].notna()]
    out = pd.DataFrame({
        "社区": rows["community_code"].map(comm),
        "网格编码": rows["grid_code"],
        "网格名称": rows["grid_code"].map(gname),
        "楼栋编码": rows["code"],
        "地址": rows["address"],
        "户数": rows["households"].astype(int),
        "成员编号": rows["member_id"],
        "角色": rows["role"].map(ROLE_ZH),
        "姓名": rows["name"],
        "电话": rows["phone"],
        "分担户数": rows["load"].round(1),
        "单元": rows.get("units"),
    })
    if not unmasked:
        out = out.drop(columns="电话")
    return out.sort_values(["网格编码", "楼栋编码", "成员编号"], na_position="last").reset_index(drop=True)


#: Sheet column → figure, for the sheets 网格汇总 (per grid) and 社区汇总 (per community).
FIGURE_COLUMNS = {
    "户数": "households",
    "人口": "residents",
    "重点关注户": "vulnerable",
    "楼栋": "buildings",
    "成员": "members",
    "在岗成员": "available_members",
    "书记": "secretaries",
    "党员社工": "social_workers",
    "党员志愿者": "volunteers",
    "在岗书记": "available_secretaries",
    "在岗党员社工": "available_social_workers",
    "在岗党员志愿者": "available_volunteers",
    "能力": "capacity",
    "负担": "load",
    "已覆盖负担": "covered_load",
    "未覆盖负担": "uncovered_load",
    "每人负担": "load_per_member",
    "每人户数": "households_per_member",
    "已覆盖楼栋": "covered_buildings",
    "未覆盖楼栋": "uncovered_buildings",
    "未覆盖户数": "uncovered_households",
    "超负荷人员": "overloaded_members",
    "最远步行米": "longest_walk_m",
    "覆盖率": "coverage_pct",
    "可承受减员": "losses_tolerated",
    "脆弱": "fragile",
}


def figures_frame(table: pd.DataFrame, names: dict[str, str], key: str) -> pd.DataFrame:
    """A figures table (grid or community) with the roster's column names, ``key`` first."""
    out = pd.DataFrame({key: table.index.astype(str), **{
        zh: table[col].to_numpy() for zh, col in FIGURE_COLUMNS.items()}})
    if names:
        out.insert(1, "名称", [names.get(c) for c in out[key]])
    out["脆弱"] = out["脆弱"].map({True: "是", False: "否"})
    return out


def write_roster(district: District, path: Path | str, unmasked: bool = False,
                 figures: Figures | None = None) -> int:
    """Write the roster workbook: sheet 分栋 per building, 网格团队 per grid team, 网格汇总 and
    社区汇总 the figures per grid and community.

    Names are masked and phones left out unless ``unmasked``. Phone and code columns are
    written as text. ``figures`` are the district's (:func:`geo_grid.figures.district_figures`)
    by default. Returns the number of building rows.
    """
    fig = figures if figures is not None else district_figures(district)
    frame = roster_frame(district, unmasked)
    m = district.members if unmasked else mask_frame(district.members)
    cols = ["grid_code", "id", "role", "name"] + (["phone"] if unmasked else []) + [
        "branch_name", "available"]
    teams = m.sort_values(["grid_code", "role", "id"])[cols].rename(columns={
            "grid_code": "网格编码", "id": "成员编号", "role": "角色", "name": "姓名", "phone": "电话",
            "branch_name": "党支部", "available": "在岗"})
    teams["角色"] = teams["角色"].map(ROLE_ZH)
    with pd.ExcelWriter(path, engine="openpyxl") as xw:
        # openpyxl writes a string starting with "=" as a formula: text cells are quoted first
        neutralize_frame(frame).to_excel(xw, sheet_name="分栋", index=False)
        neutralize_frame(teams).to_excel(xw, sheet_name="网格团队", index=False)
        gname = dict(zip(district.grids["code"], district.grids["name"], strict=True))
        cname = dict(zip(district.communities["code"], district.communities["name"], strict=True))
        neutralize_frame(figures_frame(fig.grid, gname, "网格编码")).to_excel(
            xw, sheet_name="网格汇总", index=False)
        neutralize_frame(figures_frame(fig.community, cname, "社区编码")).to_excel(
            xw, sheet_name="社区汇总", index=False)
        for ws in xw.book.worksheets:
            for col in ws.iter_cols(min_row=1, max_row=ws.max_row):
                if col[0].value in ("电话", "网格编码", "楼栋编码", "成员编号", "社区编码"):
                    for cell in col[1:]:
                        cell.number_format = "@"
            ws.freeze_panes = "A2"
    return len(frame)
