"""The coverage roster: per grid, who covers which building (an Excel workbook)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from geo_grid.district import District
from geo_grid.privacy import mask_frame

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


def write_roster(district: District, path: Path | str, unmasked: bool = False) -> int:
    """Write the roster workbook (sheet 分栋 per building, sheet 网格团队 per grid team).

    Names are masked and phones left out unless ``unmasked``. Phone and code columns are
    written as text. Returns the number of building rows.
    """
    frame = roster_frame(district, unmasked)
    m = district.members if unmasked else mask_frame(district.members)
    cols = ["grid_code", "id", "role", "name"] + (["phone"] if unmasked else []) + [
        "branch_name", "available"]
    teams = m.sort_values(["grid_code", "role", "id"])[cols].rename(columns={
            "grid_code": "网格编码", "id": "成员编号", "role": "角色", "name": "姓名", "phone": "电话",
            "branch_name": "党支部", "available": "在岗"})
    teams["角色"] = teams["角色"].map(ROLE_ZH)
    with pd.ExcelWriter(path, engine="openpyxl") as xw:
        frame.to_excel(xw, sheet_name="分栋", index=False)
        teams.to_excel(xw, sheet_name="网格团队", index=False)
        for ws in xw.book.worksheets:
            for col in ws.iter_cols(min_row=1, max_row=ws.max_row):
                if col[0].value in ("电话", "网格编码", "楼栋编码", "成员编号"):
                    for cell in col[1:]:
                        cell.number_format = "@"
            ws.freeze_panes = "A2"
    return len(frame)
