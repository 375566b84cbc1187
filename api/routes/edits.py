"""Grid edits: split, merge, redraw, move a building, densify. Each is a new boundary version.

The edit is computed on the running service's district and written by the core
(:func:`geo_grid.store.edits.run_edit`) only if the grids did not change meanwhile; the
service then reloads. Refusals are problem+json: 404 for an unknown grid or building, 422 for
a line that does not cut the grid, grids that are not adjacent or would no longer tile their
community (``violations`` lists each gap and overlap with lon/lat), 409 for a concurrent edit.
"""

from __future__ import annotations

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse

from api.access import audit_targets, check_code
from api.models.edits import (
    BUILDING,
    CODE,
    BuildingGridIn,
    DensifyIn,
    EditOut,
    GeometryIn,
    MergeIn,
    SplitIn,
)
from geo_grid.errors import BadRequest

router = APIRouter(tags=["edits"])

ERRORS = {404: {"description": "unknown grid or building"},
          409: {"description": "the grids changed while the edit was computed"},
          422: {"description": "the edit is refused (violations listed)"}}


def _answer(request: Request, done: dict, status: int = 200) -> JSONResponse:
    vid = done["version"]["id"]
    done["links"] = {
        "version": str(request.url_for("get_version", version=vid)),
        "diff": str(request.url_for("version_diff", a=vid - 1, b=vid)),
        "diff_map": str(request.url_for("version_diff_map", a=vid - 1, b=vid)),
    }
    return JSONResponse(done, status_code=status)


def _about(request: Request, *codes: str | None) -> None:
    """Check the caller's scope on the codes an edit changes and name them for the audit."""
    for code in codes:
        # a building is in its grid's scope: check it by its grid
        grid = code
        if code is not None and len(code) == 17:
            b = request.app.state.service.district.buildings
            hit = b.loc[b["code"] == code, "grid_code"]
            grid = str(hit.iloc[0]) if len(hit) else code[:12]
        check_code(request, "edit", grid)
    audit_targets(request, *[c for c in codes if c])


def _service(request: Request):
    return request.app.state.service


@router.post("/grids/{code}/split", status_code=201, response_model=EditOut, responses=ERRORS)
def split_grid(body: SplitIn, request: Request,
               code: str = Path(..., pattern=CODE)) -> JSONResponse:
    """Split a grid along a GeoJSON line, or into ``parts`` contiguous parts balanced by
    households with the cuts in gaps between buildings. The grid's code is retired; the parts
    get fresh codes; members keep their buildings."""
    from geo_grid.editing import split_by_line, split_into_parts
    from geo_grid.editing.geojson import read_line

    _about(request, code)
    if (body.line is None) == (body.parts is None):
        raise BadRequest("give exactly one of `line` and `parts`")
    if body.parts is not None:
        def make(d, c):
            return split_into_parts(d, code, body.parts, c)
    else:
        line = read_line(body.line, body.crs, "line")

        def make(d, c):
            return split_by_line(d, code, line, c)
    done = _service(request).edit(make, author=body.author, note=body.note)
    return _answer(request, done, 201)


@router.post("/grids/merge", status_code=201, response_model=EditOut, responses=ERRORS)
def merge(body: MergeIn, request: Request) -> JSONResponse:
    """Merge adjacent grids of one community into a new grid (their codes are retired)."""
    from geo_grid.editing import merge_grids

    _about(request, *body.codes)
    done = _service(request).edit(lambda d, c: merge_grids(d, body.codes, c, name=body.name),
                                  author=body.author, note=body.note)
    return _answer(request, done, 201)


@router.post("/grids/densify", status_code=201, response_model=EditOut, responses=ERRORS)
def densify(body: DensifyIn, request: Request) -> JSONResponse:
    """Split every grid with more households than ``max_households``, in one version."""
    from geo_grid.editing import densify as run

    _about(request, None)
    done = _service(request).edit(lambda d, c: run(d, body.max_households, c),
                                  author=body.author, note=body.note)
    return _answer(request, done, 201)


@router.put("/grids/{code}/geometry", response_model=EditOut, responses=ERRORS)
def redraw(body: GeometryIn, request: Request, code: str = Path(..., pattern=CODE)) -> JSONResponse:
    """Give a grid a new outline (and the neighbours named in ``neighbours`` theirs); the grids
    must still tile the community, or the answer is a 422 naming every gap and overlap."""
    from geo_grid.editing import reshape_grid
    from geo_grid.editing.geojson import read_outline

    _about(request, code, *body.neighbours)
    outline = read_outline(body.geometry, body.crs, "geometry")
    neighbours = {k: read_outline(v, body.crs, f"neighbours.{k}")
                  for k, v in body.neighbours.items()}
    done = _service(request).edit(
        lambda d, c: reshape_grid(d, code, outline, neighbours or None),
        author=body.author, note=body.note)
    return _answer(request, done)


@router.put("/buildings/{code}/grid", response_model=EditOut, responses=ERRORS)
def building_grid(body: BuildingGridIn, request: Request,
                  code: str = Path(..., pattern=BUILDING)) -> JSONResponse:
    """Put a building in another grid of its community."""
    from geo_grid.editing import move_building

    _about(request, code, body.grid)
    done = _service(request).edit(lambda d, c: move_building(d, code, body.grid),
                                  author=body.author, note=body.note)
    return _answer(request, done)
