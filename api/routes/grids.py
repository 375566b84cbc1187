"""Grids as GeoJSON with their figures."""

from __future__ import annotations

import json
import math

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from api.deps import service, unmasked
from api.state import ServiceState
from geo_grid.errors import NotFound
from geo_grid.lookup import team_of

router = APIRouter(tags=["grids"])
GEOJSON = "application/geo+json"


def _props(state: ServiceState, code: str) -> dict:
    info = state.gazetteer.grid_info[code]
    s = state.grid_stats.loc[code].to_dict()
    stats = {k: (None if isinstance(v, float) and math.isnan(v) else
                 (float(v) if k == "load" else int(v))) for k, v in s.items()}
    comm = state.gazetteer.community_info[info["community_code"]]
    return {"code": code, "name": info["name"], "kind": info["kind"],
            "community": {"code": comm["code"], "name": comm["name"]}, "stats": stats}


@router.get("/grids", response_class=Response,
            responses={200: {"content": {GEOJSON: {}}, "description": "GeoJSON FeatureCollection"}})
def list_grids(community: str | None = Query(None, pattern=r"^\d{12}$"),
               state: ServiceState = Depends(service)) -> Response:
    """Every grid (or a community's) as a GeoJSON FeatureCollection with per-grid figures."""
    g = state.district.grids
    if community is not None:
        g = g[g["community_code"] == community]
    geo = json.loads(g[["code", "geometry"]].to_json(drop_id=True))
    for f in geo["features"]:
        f["properties"] = _props(state, f["properties"]["code"])
    body = {"type": "FeatureCollection", "features": geo["features"],
            "numberMatched": len(geo["features"]), "crs_note": "lon/lat, CGCS2000 (EPSG:4490)"}
    return Response(json.dumps(body, ensure_ascii=False), media_type=GEOJSON)


@router.get("/grids/{code}", response_class=Response,
            responses={200: {"content": {GEOJSON: {}}, "description": "GeoJSON Feature"}})
def get_grid(code: str, state: ServiceState = Depends(service),
             show: bool = Depends(unmasked)) -> Response:
    """One grid as a GeoJSON Feature with its figures and its team (names and phones masked)."""
    if code not in state.gazetteer.grid_info:
        raise NotFound(f"grid {code} does not exist", grid=code)
    g = state.district.grids
    geo = json.loads(g[g["code"] == code][["code", "geometry"]].to_json(drop_id=True))["features"][0]
    geo["properties"] = _props(state, code)
    team = state.gazetteer.teams.get(code)
    geo["properties"]["team"] = team_of(team, show) if team is not None else None
    return Response(json.dumps(geo, ensure_ascii=False), media_type=GEOJSON)
