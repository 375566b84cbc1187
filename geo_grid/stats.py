"""Per-grid and per-community figures of a district (households, residents, teams, load)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from geo_grid.district import District

VULNERABLE = ("elderly_alone", "disabled", "chronic", "infant")


def grid_stats(district: District) -> pd.DataFrame:
    """Figures per grid, indexed by grid code.

    Columns: ``buildings, households, residents, vulnerable_households, secretaries,
    social_workers, volunteers, members, active_members, load`` (households per active member;
    NaN with no active member) and ``uncovered_buildings`` (buildings with households that no
    member of the current assignment covers).

    Parameters
    ----------
    district : District

    Returns
    -------
    pandas.DataFrame
    """
    grids = pd.Index(district.grids["code"], name="code")
    b = district.buildings
    out = pd.DataFrame(index=grids)
    out["buildings"] = b.groupby("grid_code").size().reindex(grids, fill_value=0)
    hh = district.households
    if len(hh):
        bgrid = pd.Series(np.asarray(b["grid_code"]), index=np.asarray(b["code"]))
        g = bgrid.reindex(hh["building_code"]).to_numpy()
        vul = np.zeros(len(hh), dtype=bool)
        for col in VULNERABLE:
            vul |= hh[col].to_numpy(dtype=bool)
        frame = pd.DataFrame({"grid": g, "size": hh["size"].to_numpy(np.int64), "vul": vul})
        agg = frame.groupby("grid").agg(households=("size", "size"), residents=("size", "sum"),
                                        vulnerable_households=("vul", "sum"))
        out = out.join(agg.reindex(grids, fill_value=0))
    else:
        out["households"] = b.groupby("grid_code")["households"].sum().reindex(grids, fill_value=0)
        out["residents"] = 0
        out["vulnerable_households"] = 0
    m = district.members
    for role, col in (("secretary", "secretaries"), ("social_worker", "social_workers"),
                      ("volunteer", "volunteers")):
        out[col] = (m[m["role"] == role].groupby("grid_code").size().reindex(grids, fill_value=0)
                    if len(m) else 0)
    out["members"] = out[["secretaries", "social_workers", "volunteers"]].sum(axis=1)
    out["active_members"] = (m[m["available"]].groupby("grid_code").size().reindex(grids, fill_value=0)
                             if len(m) else 0)
    out["load"] = (out["households"] / out["active_members"].where(out["active_members"] > 0)).round(2)
    with_hh = b[b["households"] > 0]
    covered = set(district.assignment["building_code"]) if len(district.assignment) else set()
    unc = with_hh[~with_hh["code"].isin(covered)].groupby("grid_code").size()
    out["uncovered_buildings"] = unc.reindex(grids, fill_value=0)
    for c in out.columns:
        if c != "load":
            out[c] = out[c].astype(np.int64)
    return out


def community_stats(district: District) -> pd.DataFrame:
    """The grid figures summed per community (load recomputed), indexed by community code."""
    g = grid_stats(district)
    g["community_code"] = [c[:12] for c in g.index]
    out = g.drop(columns=["load"]).groupby("community_code").sum()
    out["grids"] = g.groupby("community_code").size()
    out["load"] = (out["households"] / out["active_members"].where(out["active_members"] > 0)).round(2)
    return out
