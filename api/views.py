"""The JSON bodies of the read routes, built once per assignment version from the figures.

Routes that show figures (members, grids, coverage) answer with a dict lookup into a
:class:`Views`; only the unmasked variants (admin key) are assembled per request.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass, field
from typing import Any

from geo_grid.crs import rfc7946
from geo_grid.district import District, street_of
from geo_grid.figures import Figures, coverage_tables, records
from geo_grid.privacy import mask_name, mask_phone
from geo_grid.stats import STATS_COLUMNS

GEOJSON = "application/geo+json"
CRS_NOTE = "lon/lat, CGCS2000 (EPSG:4490)"

#: Figures added to a grid's ``stats`` next to the older names of :data:`STATS_COLUMNS`
#: (there ``load`` is households per available member; ``demand_load`` is the grid's load in
#: household-load units, the ``load`` of ``/api/v1/coverage``).
EXTRA_STATS = (
    "vulnerable", "available_members", "available_secretaries", "available_social_workers",
    "available_volunteers", "capacity", "covered_load", "uncovered_load", "load_per_member",
    "households_per_member", "covered_buildings", "uncovered_households", "overloaded_members",
    "longest_walk_m", "coverage_pct", "team", "losses_tolerated", "fragile",
)


@dataclass(frozen=True)
class Body:
    """A response body, and its gzip encoding when it is worth one (at least 1,000 bytes):
    compressed once with the snapshot, never per request."""

    plain: bytes
    gz: bytes | None = None

    @classmethod
    def of(cls, obj: Any) -> Body:
        plain = dumps(obj)
        return cls(plain, gzip.compress(plain, 6, mtime=0) if len(plain) >= 1000 else None)


def dumps(obj: Any) -> bytes:
    """Compact UTF-8 JSON."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


def grid_stats_json(fig: Figures, code: str) -> dict[str, Any]:
    """The ``stats`` of one grid: the older names, then the added figures."""
    row = fig.grid.loc[code]
    out = {old: row[new] for old, new in STATS_COLUMNS.items()}
    out["demand_load"] = row["load"]
    for k in EXTRA_STATS:
        out[k] = row[k]
    return {k: _plain(v) for k, v in out.items()}


def _plain(v: Any) -> Any:
    if hasattr(v, "item"):
        v = v.item()
    if isinstance(v, float) and v != v:  # NaN
        return None
    return v


def member_json(row: dict, fig_row: dict | None, show: bool) -> dict[str, Any]:
    """One member: identity (masked unless ``show``), role, grid, availability, buildings, load."""
    return {
        "id": row["id"],
        "name": row["name"] if show else mask_name(row["name"]),
        "phone": row["phone"] if show else mask_phone(row["phone"]),
        "role": row["role"],
        "grid_code": row["grid_code"],
        "available": bool(row["available"]),
        "buildings": list(fig_row["buildings"]) if fig_row else [],
        "n_buildings": int(fig_row["n_buildings"]) if fig_row else 0,
        "load": round(float(fig_row["load"]), 3) if fig_row else 0.0,
        "capacity": float(row["capacity"]),
        "overloaded": bool(fig_row["overloaded"]) if fig_row else False,
    }


@dataclass(frozen=True)
class Views:
    """Pre-serialised bodies of one snapshot (masked personal data)."""

    coverage: Body
    grids: Body
    grids_of_community: dict[str, Body]
    grid_features: dict[str, dict]
    grid: dict[str, Body]
    member_rows: dict[str, dict]
    member_figures: dict[str, dict]
    member: dict[str, bytes]
    members: bytes
    members_of_grid: dict[str, bytes]
    #: the figures the bodies were formatted from (a street's coverage is cut from them)
    figures: Figures | None = field(default=None, repr=False)
    #: per street code: its coverage body, formatted when first asked for
    street_coverage: dict[str, Body] = field(default_factory=dict, repr=False)

    def coverage_of_street(self, code: str) -> Body:
        """The coverage body of one street (its grids, communities and own totals)."""
        body = self.street_coverage.get(code)
        if body is None:
            fig = self.figures
            if set(street_of(fig.grid.index)) == {code}:  # the store's only street
                body = self.coverage
            else:
                body = coverage_body(fig.for_street(code))
            self.street_coverage[code] = body
        return body

    @classmethod
    def build(cls, district: District, fig: Figures, gazetteer) -> Views:
        """Format every body from ``fig`` (``gazetteer`` gives names and the masked teams)."""
        coverage = coverage_body(fig)
        g = district.grids[["code", "geometry"]]
        # RFC 7946 output: counter-clockwise exteriors, 6 decimals (whatever the layers had)
        g = g.set_geometry(rfc7946(g.geometry.array), crs=g.crs)
        geo = json.loads(g.to_json(drop_id=True))["features"]
        features: dict[str, dict] = {}
        for f in geo:
            code = f["properties"]["code"]
            info = gazetteer.grid_info[code]
            comm = gazetteer.community_info[info["community_code"]]
            f["properties"] = {"code": code, "name": info["name"], "kind": info["kind"],
                               "community": {"code": comm["code"], "name": comm["name"]},
                               "stats": grid_stats_json(fig, code)}
            features[code] = f
        by_comm: dict[str, list[dict]] = {}
        for code, f in features.items():
            by_comm.setdefault(gazetteer.grid_info[code]["community_code"], []).append(f)
        grids = Body.of(feature_collection(list(features.values())))
        grids_of = {c: Body.of(feature_collection(fs)) for c, fs in by_comm.items()}
        grid = {code: Body.of(dict(f, properties=dict(f["properties"], team=team(gazetteer, code,
                                                                              False))))
                for code, f in features.items()}
        m = district.members
        rows = {r["id"]: r for r in m[["id", "name", "phone", "role", "grid_code", "available",
                                       "capacity"]].to_dict("records")}
        mf = fig.member.to_dict("index")
        masked = {mid: member_json(r, mf.get(mid), False) for mid, r in rows.items()}
        of_grid: dict[str, list[dict]] = {}
        for mid, r in rows.items():
            of_grid.setdefault(r["grid_code"], []).append(masked[mid])
        return cls(coverage=coverage, grids=grids, grids_of_community=grids_of,
                   grid_features=features, grid=grid, member_rows=rows, member_figures=mf,
                   member={k: dumps(v) for k, v in masked.items()},
                   members=dumps(list(masked.values())),
                   members_of_grid={k: dumps(v) for k, v in of_grid.items()}, figures=fig)

    def member_unmasked(self, member_id: str) -> bytes:
        """One member with name and phone in full."""
        return dumps(member_json(self.member_rows[member_id],
                                 self.member_figures.get(member_id), True))

    def members_unmasked(self, grid: str | None) -> bytes:
        """Every member (of one grid) with names and phones in full."""
        return dumps([member_json(r, self.member_figures.get(mid), True)
                      for mid, r in self.member_rows.items()
                      if grid is None or r["grid_code"] == grid])

    def members_unmasked_of(self, ids: list[str]) -> bytes:
        """The members named, with names and phones in full."""
        return dumps([member_json(self.member_rows[mid], self.member_figures.get(mid), True)
                      for mid in ids])

    def grid_unmasked(self, gazetteer, code: str) -> bytes:
        """One grid with its team's names and phones in full."""
        f = self.grid_features[code]
        return dumps(dict(f, properties=dict(f["properties"], team=team(gazetteer, code, True))))


def coverage_body(fig: Figures) -> Body:
    """The body of ``/api/v1/coverage`` for ``fig`` (a district's, or a street's)."""
    cov = coverage_tables(fig)
    res = records(fig.grid[["community_code", "team", "losses_tolerated", "fragile"]]
                  .sort_values(["losses_tolerated"], kind="stable"), "grid_code")
    return Body.of({
        "totals": coverage_totals(fig),
        "district": fig.district,
        "grids": cov["grid"],
        "communities": cov["community"],
        "resilience": res,
        "fragile_grids": fig.fragile_grids(),
    })


def coverage_totals(fig: Figures) -> dict[str, Any]:
    """The street-wide ``totals`` of ``/api/v1/coverage`` (names kept from before)."""
    d = fig.district
    return {"uncovered_buildings": d["uncovered_buildings"],
            "uncovered_households": d["uncovered_households"],
            "uncovered_load": d["uncovered_load"],
            "overloaded_members": d["overloaded_members"],
            "max_walk_m": d["longest_walk_m"],
            "fragile_grids": d["fragile_grids"]}


def feature_collection(features: list[dict]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": features, "numberMatched": len(features),
            "crs_note": CRS_NOTE}


def team(gazetteer, code: str, show: bool) -> dict | None:
    """The grid's team JSON (masked unless ``show``), as the lookup answers it."""
    from geo_grid.lookup import team_of

    frame = gazetteer.teams.get(code)
    return team_of(frame, show) if frame is not None else None
