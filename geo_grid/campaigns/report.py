"""The daily report of a campaign: one workbook, a row per grid then per community."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from geo_grid.tables.cells import neutralize
from geo_grid.tables.xlsx import write_xlsx

HEADER = ["层级", "编码", "名称", "楼栋数", "户数", "已走访户数", "完成率(%)", "已完成楼栋",
          "逾期楼栋"]


def write_report(path: str | Path, prog: dict[str, Any], grid_names: dict[str, str],
                 community_names: dict[str, str]) -> Path:
    """Write :func:`geo_grid.campaigns.progress.progress` as a workbook.

    Parameters
    ----------
    path : str or Path
        The ``.xlsx`` to write.
    prog : dict
        The campaign's progress.
    grid_names, community_names : dict
        Code → name, for the name column (user data: neutralized against formulas).

    Returns
    -------
    pathlib.Path
    """
    rows = []
    for level, key, names in (("网格", "grid", grid_names),
                              ("社区", "community", community_names)):
        for r in prog["grids" if key == "grid" else "communities"]:
            rows.append([level, r[key], names.get(r[key], ""), r["buildings"], r["households"],
                         r["reached"], r["percent"], r["done_buildings"],
                         r["overdue_buildings"]])
    t = prog["totals"]
    rows.append(["合计", "", "", t["buildings"], t["households"], t["reached"], t["percent"],
                 t["done_buildings"], t["overdue_buildings"]])
    rows = [[neutralize(v) for v in r] for r in rows]
    columns = [list(c) for c in zip(*rows, strict=True)]
    title = [neutralize(f"{prog['name']}（截至 {prog['as_of']}，截止 {prog['deadline']}）")]
    return write_xlsx(path, columns, head_rows=[title, HEADER], text_columns=[1],
                      widths=[8, 18, 24, 8, 8, 10, 10, 10, 10], sheet_name="走访日报")
