"""Which street, community, grid and team cover a point: the answer of ``/api/v1/lookup``.

:class:`Gazetteer` is built once per district (boundary version): it holds the locator and the
per-grid answers, so a lookup is one raster probe plus a dictionary read.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
import shapely

from geo_grid.address import AddressMatcher
from geo_grid.batch import GridDirectory
from geo_grid.crs import normalize_crs, to_cgcs2000
from geo_grid.district import STREET_DIGITS, District
from geo_grid.errors import GeoGridError, InvalidCoordinate
from geo_grid.locator import GridLocator
from geo_grid.privacy import mask_name, mask_phone
from geo_grid.status import MatchStatus


def _plain_degrees(lon: float, lat: float) -> bool:
    """True for finite in-range degrees: then no conversion or check can fail."""
    return (isinstance(lon, float | int) and isinstance(lat, float | int)
            and -180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0)


def _person(row: dict, unmasked: bool) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"] if unmasked else mask_name(row["name"]),
        "phone": row["phone"] if unmasked else mask_phone(row["phone"]),
        "role": row["role"],
        "available": bool(row["available"]),
    }


def team_of(members: pd.DataFrame, unmasked: bool = False) -> dict[str, Any]:
    """The team JSON of one grid's members: secretary, social workers, volunteers."""
    return _team(members.sort_values("id").to_dict("records"), unmasked)


def _team(rows: list[dict], unmasked: bool) -> dict[str, Any]:
    """The team JSON of member records already sorted by id."""
    sec = [_person(r, unmasked) for r in rows if r["role"] == "secretary"]
    return {
        "secretary": sec[0] if sec else None,
        "social_workers": [_person(r, unmasked) for r in rows if r["role"] == "social_worker"],
        "volunteers": [_person(r, unmasked) for r in rows if r["role"] == "volunteer"],
    }


EMPTY_TEAM: dict[str, Any] = {"secretary": None, "social_workers": [], "volunteers": []}


def team_answers(members: pd.DataFrame) -> dict[str, tuple[dict, dict]]:
    """Per grid code, its team JSON masked and unmasked, built once for every grid.

    A lookup then only copies the ready answer instead of sorting and masking a frame.
    """
    if not len(members):
        return {}
    rows = members[["id", "name", "phone", "role", "available", "grid_code"]].sort_values("id")
    by_grid: dict[str, list[dict]] = {}
    for r in rows.to_dict("records"):
        if isinstance(r["grid_code"], str):  # members without a grid have no team
            by_grid.setdefault(r["grid_code"], []).append(r)
    return {code: (_team(rs, False), _team(rs, True)) for code, rs in by_grid.items()}


def _copy_team(team: dict[str, Any]) -> dict[str, Any]:
    """A fresh copy of a ready team answer (callers may change what they get)."""
    sec = team["secretary"]
    return {"secretary": dict(sec) if sec else None,
            "social_workers": [dict(p) for p in team["social_workers"]],
            "volunteers": [dict(p) for p in team["volunteers"]]}


@dataclass(frozen=True)
class Gazetteer:
    """Locator plus the per-grid answer parts of a district."""

    district: District
    locator: GridLocator
    street: dict[str, str]
    grid_info: dict[str, dict[str, str]]
    community_info: dict[str, dict[str, str]]
    teams: dict[str, pd.DataFrame] = field(repr=False)
    matcher: AddressMatcher = field(repr=False)
    directory: GridDirectory = field(repr=False)
    #: per grid code: (masked, unmasked) team JSON, see :func:`team_answers`
    team_json: dict[str, tuple[dict, dict]] = field(repr=False, default_factory=dict)
    #: per street code: its code and name (a store may hold several streets; ``street`` is
    #: the first, the answer names the street of the grid found)
    street_info: dict[str, dict[str, str]] = field(repr=False, default_factory=dict)

    @classmethod
    def build(cls, district: District, cell_deg: float = 1e-4,
              locator: GridLocator | None = None) -> Gazetteer:
        """Build the locator (unless given) and answer tables of a district."""
        g = district.grids
        if locator is None:
            locator = GridLocator.build(g["code"], g.geometry.array, cell_deg=cell_deg)
        streets = {str(r["code"]): {"code": str(r["code"]), "name": str(r["name"])}
                   for r in district.street.drop(columns="geometry").to_dict("records")}
        grid_info = {
            r["code"]: {"code": r["code"], "name": r["name"], "kind": r["kind"],
                        "community_code": r["community_code"]}
            for r in g.drop(columns="geometry").to_dict("records")
        }
        community_info = {
            r["code"]: {"code": r["code"], "name": r["name"]}
            for r in district.communities.drop(columns="geometry").to_dict("records")
        }
        m = district.members
        teams = {code: frame for code, frame in m.groupby("grid_code")} if len(m) else {}
        return cls(district, locator, next(iter(streets.values())), grid_info,
                   community_info, teams, AddressMatcher.from_district(district),
                   GridDirectory.from_district(district), team_answers(m), streets)

    def with_district(self, district: District) -> Gazetteer:
        """The same indexes for a district of the same boundary version with new members or
        assignment (after apply/revert): only the teams are rebuilt."""
        if district.version != self.district.version or not district.version:
            return Gazetteer.build(district, cell_deg=self.locator.cell,
                                   locator=self._locator_for(district))
        m = district.members
        teams = {code: frame for code, frame in m.groupby("grid_code")} if len(m) else {}
        return replace(self, district=district, teams=teams, team_json=team_answers(m))

    def _locator_for(self, district: District) -> GridLocator | None:
        """After a boundary edit of this district's grids, this locator updated around the
        grids that changed (None when the street's layers are not the same street's)."""
        if district.boundary_version == self.district.boundary_version:
            return None
        loc = self.locator
        x0, y0, x1, y1 = district.grids.total_bounds
        if (x0 < loc.x0 or y0 < loc.y0 or x1 > loc.x0 + (loc.nx - 1) * loc.cell
                or y1 > loc.y0 + (loc.ny - 1) * loc.cell):
            return None  # grids beyond the raster (a street added): build it again
        old = self.district.grids.set_index("code").geometry
        new = district.grids.set_index("code").geometry
        both = old.index.intersection(new.index)
        same = shapely.equals_exact(np.asarray(old[both].array), np.asarray(new[both].array),
                                    tolerance=0.0)
        changed = set(both[~same])
        retired = set(old.index.difference(new.index)) | changed
        added = [c for c in new.index if c in changed or c not in old.index]
        if len(retired) + len(added) > len(new) // 2:  # most of the layer changed: rebuild
            return None
        return self.locator.with_edit(retired, added, new[added].array)

    def grid_codes(self, lon, lat, crs: str | None = "wgs84") -> np.ndarray:
        """Grid code per point (None where not covered), any accepted CRS, vectorised."""
        x, y = to_cgcs2000(lon, lat, crs)
        return self.locator.codes_of(self.locator.locate(x, y))

    def answer_for_grid(self, code: str | None, unmasked: bool = False) -> dict[str, Any]:
        """The lookup JSON for a grid code (``covered: false`` for None)."""
        if code is None:
            return {"covered": False, "street": None, "community": None, "grid": None, "team": None}
        info = self.grid_info[code]
        team = self.team_json.get(code)
        return {
            "covered": True,
            "street": dict(self.street_info.get(code[:STREET_DIGITS], self.street)),
            "community": dict(self.community_info[info["community_code"]]),
            "grid": {"code": info["code"], "name": info["name"], "kind": info["kind"]},
            "team": _copy_team(team[unmasked] if team else EMPTY_TEAM),
        }

    def lookup(self, lon: float, lat: float, crs: str | None = "wgs84",
               unmasked: bool = False) -> dict[str, Any]:
        """Answer for one point: street, community, grid and team (names and phones masked).

        A point outside the street is ``{"covered": false, ...}``, not an error.

        Parameters
        ----------
        lon, lat : float
            Coordinates in ``crs`` (metres for ``epsg:4549``).
        crs : str
            ``wgs84`` (default), ``cgcs2000``, ``gcj02``, ``bd09`` or ``epsg:4549``.
        unmasked : bool
            Show names and phones in full (only for callers allowed to see them).
        """
        code, x, y = self.locate_point(lon, lat, crs)
        out = self.answer_for_grid(code, unmasked)
        out["point"] = {"lon": x, "lat": y, "crs": "cgcs2000"}
        return out

    def locate_point(self, lon: float, lat: float,
                     crs: str | None = "wgs84") -> tuple[str | None, float, float]:
        """Grid code of one point (None outside the street) and the point in CGCS2000.

        Raises :class:`InvalidCoordinate` or :class:`UnknownCRS` as :meth:`lookup` does.
        """
        if normalize_crs(crs) in ("wgs84", "cgcs2000") and _plain_degrees(lon, lat):
            x, y = float(lon), float(lat)  # the common case, without numpy's per-call cost
        else:
            try:
                cx, cy = to_cgcs2000(np.float64(lon), np.float64(lat), crs)
            except InvalidCoordinate as exc:
                exc.details.pop("index", None)  # one point: an array index means nothing here
                raise
            x, y = float(cx), float(cy)
        idx = self.locator.locate_one(x, y)
        return (None if idx < 0 else str(self.locator.codes[idx])), x, y

    def lookup_address(self, text: str, unmasked: bool = False) -> dict[str, Any]:
        """Answer for a free-text Chinese address: the lookup JSON plus a ``match`` object.

        Only a ``matched`` address names a grid; ``ambiguous`` and ``unmatched`` answers are
        ``covered: false`` with the ranked candidates and the reasons in ``match``.
        """
        res = self.matcher.match(text)
        m = res.to_dict()
        code = m.get("grid_code") if m["status"] == MatchStatus.MATCHED else None
        out = self.answer_for_grid(code, unmasked)
        out["match"] = m
        return out

    def lookup_many(self, items: list[Any]) -> tuple[list[dict[str, Any]], dict[str, int]]:
        """Answer a batch of items in order: address strings, ``{"address": ...}`` or
        ``{"lon", "lat", "crs"}`` objects. A malformed item (a boolean coordinate, both an
        address and lon/lat, an unknown shape) gets an ``error`` and the rest go on.

        Statuses are those of the file batch (:func:`geo_grid.batch.lookup_roster`), the words
        of :class:`geo_grid.status.MatchStatus`: ``matched``/``ambiguous``/``unmatched`` for
        addresses, ``located``/``not_covered`` for points, ``error`` for an item that could
        not be read.

        Returns
        -------
        results : list of dict
            ``{"index", "input", "status", "grid": {"code","name","kind"} | None,
            "community": {"code","name"} | None, "match": ... | None, "error": ... | None}``
        summary : dict
            Counts per status.
        """
        out: list[dict[str, Any]] = [None] * len(items)  # type: ignore[list-item]
        addr_idx, addrs, pt_idx, pts = [], [], [], []
        for i, it in enumerate(items):
            if isinstance(it, str):
                addr_idx.append(i)
                addrs.append(it)
            elif isinstance(it, dict) and "address" in it and ({"lon", "lat"} & set(it)):
                out[i] = self._item(i, it, None, error="give either an address or lon/lat, "
                                    "not both, in one item")
            elif isinstance(it, dict) and isinstance(it.get("address"), str):
                addr_idx.append(i)
                addrs.append(it["address"])
            elif isinstance(it, dict) and {"lon", "lat"} <= set(it):
                pt_idx.append(i)
                pts.append(it)
            else:
                out[i] = self._item(i, it, None, error="item must be an address string, "
                                    '{"address": ...} or {"lon": ..., "lat": ..., "crs": ...}')
        if addrs:
            results = self.matcher.match_many(addrs)
            for i, text, r in zip(addr_idx, addrs, results, strict=True):
                if r is None:
                    out[i] = self._item(i, text, None, error="empty address")
                    continue
                m = r.to_dict()
                code = m.get("grid_code") if r.status == MatchStatus.MATCHED else None
                out[i] = self._item(i, text, code, status=m["status"], match=m)
        for i, it in zip(pt_idx, pts, strict=True):
            if isinstance(it["lon"], bool) or isinstance(it["lat"], bool):
                out[i] = self._item(i, it, None, error="lon and lat must be numbers, not true/false")
                continue
            try:
                x, y = to_cgcs2000(np.float64(it["lon"]), np.float64(it["lat"]), it.get("crs", "wgs84"))
            except GeoGridError as exc:
                out[i] = self._item(i, it, None, error=exc.message)
                continue
            except (TypeError, ValueError):
                out[i] = self._item(i, it, None, error="lon and lat must be numbers")
                continue
            idx = self.locator.locate_one(float(x), float(y))
            code = None if idx < 0 else str(self.locator.codes[idx])
            status = MatchStatus.LOCATED if code else MatchStatus.NOT_COVERED
            out[i] = self._item(i, it, code, status=status.value)
        summary: dict[str, int] = {"items": len(items)}
        for r in out:
            summary[r["status"]] = summary.get(r["status"], 0) + 1
        return out, summary

    def _item(self, i: int, given: Any, code: str | None, status: str = MatchStatus.ERROR.value,
              match: dict | None = None, error: str | None = None) -> dict[str, Any]:
        grid = comm = None
        if code is not None:
            info = self.grid_info[code]
            grid = {"code": code, "name": info["name"], "kind": info["kind"]}
            comm = dict(self.community_info[info["community_code"]])
        return {"index": i, "input": given, "status": status, "grid": grid, "community": comm,
                "match": match, "error": error}
