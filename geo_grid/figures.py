"""The figures of one assignment, computed in one place: per building, member, grid, community
and for the whole district.

Every page, route, roster and command that shows a figure formats what :class:`Figures` holds;
none computes its own. The definitions build on the min-cost-flow model of
:mod:`geo_grid.assign`:

- a building's *load* is its demand in household-load units; it is *uncovered* when part of
  that load has no available member (:func:`geo_grid.assign.coverage`), *covered* when it has
  load and none of it is uncovered;
- ``members`` counts every member of a grid, ``available_members`` the available ones; the
  ``secretaries``/``social_workers``/``volunteers`` counts are of every member, the
  ``available_*`` counts of the available ones;
- ``capacity`` is the available members' capacity; ``load_per_member`` is load per available
  member and ``households_per_member`` households per available member (NaN with none);
- ``longest_walk_m`` is the longest home → building walk among the pairs serving the grid;
- ``losses_tolerated`` and ``fragile`` are the resilience of :mod:`geo_grid.assign.resilience`
  (fragile: ``losses_tolerated <= fragile_at``, 0 by default).

Figures are computed for the current assignment (:func:`district_figures`) and, by the
rebalance, for a scenario before and after (``RebalanceResult.figures_before/after``); a stored
scenario keeps them as JSON (:meth:`Figures.to_dict` / :meth:`Figures.from_dict`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from geo_grid.errors import InvalidInput

#: Version of the stored form (:meth:`Figures.to_dict`); bumped when the columns change.
FIGURES_VERSION = 1

ROLES = (("secretary", "secretaries"), ("social_worker", "social_workers"),
         ("volunteer", "volunteers"))

#: Per-grid columns (the community table has the same, plus ``grids`` and ``fragile_grids``).
GRID_FIGURES = (
    "community_code", "buildings", "households", "residents", "vulnerable",
    "members", "available_members", "secretaries", "social_workers", "volunteers",
    "available_secretaries", "available_social_workers", "available_volunteers",
    "capacity", "load", "covered_load", "uncovered_load", "load_per_member",
    "households_per_member", "covered_buildings", "uncovered_buildings", "uncovered_households",
    "overloaded_members", "longest_walk_m", "coverage_pct", "team", "losses_tolerated", "fragile",
)
#: Columns summed from grids to communities and to the district.
SUMMED = (
    "buildings", "households", "residents", "vulnerable", "members", "available_members",
    "secretaries", "social_workers", "volunteers", "available_secretaries",
    "available_social_workers", "available_volunteers", "capacity", "load", "covered_load",
    "uncovered_load", "covered_buildings", "uncovered_buildings", "uncovered_households",
    "overloaded_members",
)
BUILDING_FIGURES = (
    "grid_code", "community_code", "households", "residents", "vulnerable", "load",
    "covered_load", "uncovered_load", "uncovered", "uncovered_households", "longest_walk_m",
    "n_members", "members", "status",
)
MEMBER_FIGURES = ("grid_code", "role", "available", "capacity", "load", "n_buildings",
                  "buildings", "overloaded")


@dataclass(frozen=True)
class Figures:
    """Every figure of one assignment.

    Attributes
    ----------
    building : pandas.DataFrame
        Indexed by building code; columns :data:`BUILDING_FIGURES`. ``members`` lists the
        available members carrying load there (largest load first), ``n_members`` counts them;
        ``status`` is ``uncovered`` (some load has no member), ``empty`` (no load and nobody),
        ``single`` (one member) or ``covered`` (two or more).
    member : pandas.DataFrame
        Indexed by member id; columns :data:`MEMBER_FIGURES` (``buildings``: sorted codes).
    grid : pandas.DataFrame
        Indexed by grid code; columns :data:`GRID_FIGURES`.
    community : pandas.DataFrame
        Indexed by community code; the grid columns summed (ratios recomputed, longest walk
        and ``losses_tolerated`` the worst of its grids), plus ``grids`` and ``fragile_grids``.
    district : dict
        The same for the whole district, plus ``uncovered_load`` etc. as plain numbers.
    fragile_at : int
        The resilience threshold used for ``fragile``.
    """

    building: pd.DataFrame
    member: pd.DataFrame
    grid: pd.DataFrame
    community: pd.DataFrame
    district: dict
    fragile_at: int = 0

    def uncovered_buildings(self) -> list[str]:
        """Codes of the uncovered buildings, sorted."""
        b = self.building
        return sorted(b.index[b["uncovered"].to_numpy(bool)].astype(str))

    def fragile_grids(self) -> list[str]:
        """Codes of the fragile grids, sorted."""
        g = self.grid
        return sorted(g.index[g["fragile"].to_numpy(bool)].astype(str))

    def for_street(self, code: str) -> Figures:
        """The figures of one street of a store holding several: its buildings, members,
        grids and communities, and its own totals in place of the district's (summed from its
        grids as the district's are).

        Parameters
        ----------
        code : str
            A street code (rows belong to the street their code, or their grid's, starts with).

        Returns
        -------
        Figures
        """
        code = str(code)

        def of(frame: pd.DataFrame, key=None) -> pd.DataFrame:
            col = frame.index.astype(str) if key is None else frame[key].astype(str)
            return frame[np.asarray(col.str.startswith(code), dtype=bool)]

        grid = of(self.grid)
        total = _sum_up(grid, None).iloc[0] if len(grid) else pd.Series(dtype=object)
        return replace(self, building=of(self.building), member=of(self.member, "grid_code"),
                       grid=grid, community=of(self.community), district=_plain(total))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, column by column (see :meth:`from_dict`)."""
        return {
            "version": FIGURES_VERSION,
            "fragile_at": self.fragile_at,
            "district": self.district,
            "grid": _columns(self.grid, "grid_code"),
            "community": _columns(self.community, "community_code"),
            "building": _columns(self.building, "building_code"),
            "member": _columns(self.member, "member_id"),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Figures:
        """Figures kept by :meth:`to_dict`.

        Raises
        ------
        InvalidInput
            When ``data`` was written by another version of the figures.
        """
        if not isinstance(data, dict) or data.get("version") != FIGURES_VERSION:
            raise InvalidInput("stored figures are missing or of another version "
                               f"(want version {FIGURES_VERSION})")
        return cls(
            building=_frame(data["building"], "building_code"),
            member=_frame(data["member"], "member_id"),
            grid=_frame(data["grid"], "grid_code"),
            community=_frame(data["community"], "community_code"),
            district=dict(data["district"]),
            fragile_at=int(data["fragile_at"]),
        )


def _plain_list(s: pd.Series) -> list:
    if s.dtype.kind in "biu":
        return s.to_numpy().tolist()
    if s.dtype.kind == "f":
        a = s.to_numpy()
        out = a.tolist()
        for i in np.flatnonzero(~np.isfinite(a)):
            out[i] = None
        return out
    return [v.item() if isinstance(v, np.generic) else
            ([x.item() if isinstance(x, np.generic) else x for x in v]
             if isinstance(v, list | tuple | np.ndarray) else v) for v in s.tolist()]


def _columns(df: pd.DataFrame, key: str) -> dict[str, list]:
    out = {key: [str(x) for x in df.index]}
    for c in df.columns:
        out[str(c)] = _plain_list(df[c])
    return out


def _frame(cols: dict[str, list], key: str) -> pd.DataFrame:
    df = pd.DataFrame({k: v for k, v in cols.items() if k != key},
                      index=pd.Index(cols[key], name=key))
    for c in df.columns:  # null floats came back as None: make them NaN again
        if df[c].dtype == object and df[c].map(lambda v: v is None or isinstance(v, float)).all():
            df[c] = df[c].astype(float)
    return df


# ----------------------------------------------------------------------------- computing


def _building_table(problem, cov, flow: np.ndarray, scale: int) -> pd.DataFrame:
    b = cov.building.set_index("building_code")
    fm, fb, ff = flow[:, 0], flow[:, 1], flow[:, 2]
    keep = ff > 0
    order = np.lexsort((problem.member_ids[fm[keep]].astype(str), -ff[keep], fb[keep]))
    bi, mi = fb[keep][order], fm[keep][order]
    ids = problem.member_ids.astype(str).tolist()
    per_b: list[list[str]] = [[] for _ in range(problem.n_buildings)]
    for i, m in zip(bi.tolist(), mi.tolist(), strict=True):
        per_b[i].append(ids[m])
    n = np.array([len(x) for x in per_b], dtype=np.int64)
    unc = b["uncovered"].to_numpy(bool)
    load = b["load"].to_numpy(float)
    status = np.where(unc, "uncovered", np.where(
        (load <= 0) & (n == 0), "empty", np.where(n == 1, "single", "covered")))
    out = b[["grid_code", "community_code", "households", "residents", "vulnerable", "load",
             "covered_load", "uncovered_load", "uncovered", "uncovered_households",
             "longest_walk_m"]].copy()
    out["n_members"] = n
    out["members"] = per_b
    out["status"] = status
    return out


def _member_table(problem, cov, flow: np.ndarray, scale: int) -> pd.DataFrame:
    fm, fb, ff = flow[:, 0], flow[:, 1], flow[:, 2]
    keep = ff > 0
    codes = problem.building_codes.astype(str).tolist()
    per_m: list[list[str]] = [[] for _ in range(problem.n_members)]
    for m, b in zip(fm[keep].tolist(), fb[keep].tolist(), strict=True):
        per_m[m].append(codes[b])
    per_m = [sorted(set(x)) for x in per_m]
    return pd.DataFrame({
        "grid_code": problem.member_grid.astype(str),
        "role": problem.role.astype(str),
        "available": problem.available,
        "capacity": problem.capacity.astype(float),
        "load": np.round(np.asarray(cov.member_load, float), 3),
        "n_buildings": np.array([len(x) for x in per_m], dtype=np.int64),
        "buildings": per_m,
        "overloaded": np.asarray(cov.overloaded, bool),
    }, index=pd.Index(problem.member_ids.astype(str), name="member_id"))


def _ratio(num: pd.Series, den: pd.Series) -> np.ndarray:
    d = den.to_numpy(float)
    return np.round(np.where(d > 0, num.to_numpy(float) / np.where(d > 0, d, 1), np.nan), 2)


def _grid_table(problem, cov, res: pd.DataFrame, building: pd.DataFrame,
                grid_codes, grid_community) -> pd.DataFrame:
    g = cov.grid.set_index("grid_code")
    mem = pd.DataFrame({"grid": problem.member_grid.astype(str), "role": problem.role.astype(str),
                        "available": problem.available})
    out = pd.DataFrame(index=pd.Index(grid_codes, name="grid_code"))
    out["community_code"] = grid_community
    for col in ("buildings", "households", "residents", "vulnerable"):
        out[col] = g[col].reindex(out.index).fillna(0).astype(np.int64)
    out["members"] = mem.groupby("grid").size().reindex(out.index).fillna(0).astype(np.int64)
    out["available_members"] = (mem[mem["available"]].groupby("grid").size()
                                .reindex(out.index).fillna(0).astype(np.int64))
    for role, plural in ROLES:
        mine = mem[mem["role"] == role]
        out[plural] = mine.groupby("grid").size().reindex(out.index).fillna(0).astype(np.int64)
        out["available_" + plural] = (mine[mine["available"]].groupby("grid").size()
                                      .reindex(out.index).fillna(0).astype(np.int64))
    for col in ("capacity", "load", "covered_load", "uncovered_load"):
        out[col] = g[col].reindex(out.index).fillna(0.0).astype(float).round(2)
    out["load_per_member"] = _ratio(out["load"], out["available_members"])
    out["households_per_member"] = _ratio(out["households"], out["available_members"])
    covered = (building["load"] > 0) & ~building["uncovered"].astype(bool)
    out["covered_buildings"] = (covered.groupby(building["grid_code"]).sum()
                                .reindex(out.index).fillna(0).astype(np.int64))
    for col in ("uncovered_buildings", "uncovered_households", "overloaded_members"):
        out[col] = g[col].reindex(out.index).fillna(0).astype(np.int64)
    out["longest_walk_m"] = g["longest_walk_m"].reindex(out.index).fillna(0.0).astype(float)
    hh_cov = building["households"].where(~building["uncovered"].astype(bool), 0)
    hh_cov = hh_cov.groupby(building["grid_code"]).sum().reindex(out.index).fillna(0)
    out["coverage_pct"] = np.round(np.where(out["households"] > 0, 100.0 * hh_cov
                                            / out["households"].clip(lower=1), 100.0), 1)
    r = res.set_index("grid_code")
    out["team"] = r["team"].reindex(out.index).fillna(0).astype(np.int64)
    # a grid without buildings has nothing to lose: it tolerates the loss of its whole team
    out["losses_tolerated"] = (r["losses_tolerated"].reindex(out.index)
                               .fillna(out["members"]).astype(np.int64))
    out["fragile"] = r["fragile"].reindex(out.index).fillna(False).astype(bool)
    return out[list(GRID_FIGURES)]


def _sum_up(grid: pd.DataFrame, by: pd.Series | None) -> pd.DataFrame:
    """Grid figures summed per ``by`` (or over everything when ``by`` is None)."""
    keys = by if by is not None else pd.Series("all", index=grid.index)
    grp = grid.groupby(keys, sort=True)
    out = grp[list(SUMMED)].sum()
    out["grids"] = grp.size()
    out["fragile_grids"] = grp["fragile"].sum().astype(np.int64)
    out["longest_walk_m"] = grp["longest_walk_m"].max()
    out["losses_tolerated"] = grp["losses_tolerated"].min()
    out["fragile"] = out["fragile_grids"] > 0
    for col in ("capacity", "load", "covered_load", "uncovered_load"):
        out[col] = out[col].round(2)
    out["load_per_member"] = _ratio(out["load"], out["available_members"])
    out["households_per_member"] = _ratio(out["households"], out["available_members"])
    hh_cov = (grid["coverage_pct"] * grid["households"]).groupby(keys).sum()
    out["coverage_pct"] = np.round(np.where(out["households"] > 0, hh_cov
                                            / out["households"].clip(lower=1), 100.0), 1)
    return out


def figures(problem, flow: np.ndarray, params=None, *, fragile_at: int = 0,
            grid_codes=None, grid_community=None, cov=None, res=None) -> Figures:
    """All figures of an assignment given as integer flows.

    Parameters
    ----------
    problem : geo_grid.assign.Problem
        The instance (availability, sealing and demand as in force: a scenario's problem for a
        scenario's figures).
    flow : numpy.ndarray
        (n, 3) integer rows ``(member index, building index, load in 1/scale units)``.
    params : geo_grid.assign.Params, optional
        Model parameters (``scale``, walking limit for the resilience).
    fragile_at : int
        Grids with ``losses_tolerated <= fragile_at`` are fragile.
    grid_codes, grid_community : sequence of str, optional
        Every grid of the district (and its community), so that grids without buildings are
        listed too; by default the grids of the buildings.
    cov : geo_grid.assign.Coverage, optional
        The coverage of the same ``problem`` and ``flow`` when already computed.
    res : pandas.DataFrame, optional
        The resilience (:func:`geo_grid.assign.resilience.resilience`) of the same
        ``problem``, ``flow`` and ``fragile_at`` when already computed.

    Returns
    -------
    Figures
    """
    from geo_grid.assign.coverage import coverage
    from geo_grid.assign.model import Params
    from geo_grid.assign.resilience import resilience

    params = params or Params()
    flow = np.asarray(flow, dtype=np.int64).reshape(-1, 3)
    cov = cov if cov is not None else coverage(problem, flow, params)
    res = res if res is not None else resilience(problem, flow, params, fragile_at=fragile_at)
    building = _building_table(problem, cov, flow, params.scale)
    member = _member_table(problem, cov, flow, params.scale)
    if grid_codes is None:
        first = cov.grid.set_index("grid_code")["community_code"]
        grid_codes, grid_community = first.index.to_numpy(), first.to_numpy()
    grid = _grid_table(problem, cov, res, building, np.asarray(grid_codes, dtype=object),
                       np.asarray(grid_community, dtype=object))
    community = _sum_up(grid, grid["community_code"])
    community.index.name = "community_code"
    total = _sum_up(grid, None).iloc[0]
    return Figures(building=building, member=member, grid=grid, community=community,
                   district=_plain(total), fragile_at=fragile_at)


def _plain(total: pd.Series) -> dict[str, Any]:
    """A row of totals as plain Python numbers (NaN and infinity as None)."""
    out = {k: (v.item() if isinstance(v, np.generic) else v) for k, v in total.items()}
    return {k: (None if isinstance(v, float) and not np.isfinite(v) else v)
            for k, v in out.items()}


def district_figures(district, params=None, assignment: pd.DataFrame | None = None,
                     fragile_at: int = 0) -> Figures:
    """Figures of a district's current assignment (or of ``assignment``).

    With neither (an empty ``district.assignment`` and no ``assignment``) the ordinary-day
    optimum is computed first, as :func:`geo_grid.assign.district_coverage` does.

    Parameters
    ----------
    district : geo_grid.district.District
    params : geo_grid.assign.Params, optional
    assignment : pandas.DataFrame, optional
        ``member_id, building_code, load`` rows; the district's by default (an empty frame
        given here means nobody covers anything).
    fragile_at : int
        Resilience threshold of ``fragile``.

    Returns
    -------
    Figures
    """
    from geo_grid.assign import Params, flow_of
    from geo_grid.assign.inputs import problem_from_district

    params = params or Params()
    problem, _ = problem_from_district(district, params, use_assignment=False)
    if assignment is not None and not len(assignment):
        flow = np.zeros((0, 3), dtype=np.int64)  # an empty assignment given: nobody covers
    else:
        flow = flow_of(problem, params, assignment if assignment is not None
                       else district.assignment)
    g = district.grids
    return figures(problem, flow, params, fragile_at=fragile_at,
                   grid_codes=g["code"].astype(str).to_numpy(),
                   grid_community=g["community_code"].astype(str).to_numpy())


# ----------------------------------------------------------------------------- records

#: Names the coverage tables used before the figures had one home, kept for their clients:
#: ``secretary``/``social_worker``/``volunteer`` are the available members by role.
COVERAGE_ALIASES = {"secretary": "available_secretaries",
                    "social_worker": "available_social_workers",
                    "volunteer": "available_volunteers"}


def records(df: pd.DataFrame, key: str) -> list[dict[str, Any]]:
    """JSON-ready rows of a figures table, its index as ``key`` (NaN → None)."""
    cols = _columns(df, key)
    names = list(cols)
    return [dict(zip(names, row, strict=True)) for row in zip(*cols.values(), strict=True)]


def coverage_tables(fig: Figures) -> dict[str, list[dict[str, Any]]]:
    """``{"grid": [...], "community": [...]}``: the grid and community figures as rows, with
    the older coverage names (:data:`COVERAGE_ALIASES`) added."""
    out = {}
    for name, table, key in (("grid", fig.grid, "grid_code"),
                             ("community", fig.community, "community_code")):
        t = table.assign(**{old: table[new] for old, new in COVERAGE_ALIASES.items()})
        out[name] = records(t, key)
    return out
