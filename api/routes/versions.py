"""Boundary versions: the list, one version with its counts, and what changed between two.

Every edit of the grids writes a new boundary version (:mod:`geo_grid.store.versions`); a
version never changes once written, so the diffs and counts computed here are kept in a small
LRU cache. Its keys carry the store's path and each version's creation time: a store replaced
by an import (whose version 2 is another edit) never answers from an older file's entries.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Request

from api.deps import service
from api.models.problem import problem_responses
from api.models.versions import VersionDiff, VersionItem, VersionOut
from api.state import ServiceState
from geo_grid.store import Store
from geo_grid.store import versions as V  # noqa: N812

router = APIRouter(tags=["versions"])

_CACHE_SIZE = 32
_cache: OrderedDict[tuple, Any] = OrderedDict()
_lock = threading.Lock()


def _remembered(key: tuple, compute: Callable[[], Any]) -> Any:
    """``compute()``, or its result kept under ``key`` (the newest 32 results are kept).

    Two requests for the same missing key may both compute it: the results are equal, and
    computing outside the lock keeps one slow diff from holding up every other request."""
    with _lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    value = compute()
    with _lock:
        _cache[key] = value
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return value


def _version_key(store: Store, version: V.BoundaryVersion) -> tuple:
    """What names a version across stores: the file, the id and when it was written."""
    return str(store.path), version.id, version.created_at


def _item(version: V.BoundaryVersion, newest: int) -> dict[str, Any]:
    return {**version.to_dict(), "current": version.id == newest}


@router.get("/versions", response_model=list[VersionItem], response_model_exclude_unset=True)
def list_versions(state: ServiceState = Depends(service)) -> list[dict]:
    """Every boundary version, oldest first (version 1 is the store as built; the newest has
    ``current: true``)."""
    versions = V.list_versions(state.store)
    newest = versions[-1].id if versions else 0
    return [_item(v, newest) for v in versions]


@router.get("/versions/{version}", response_model=VersionOut, response_model_exclude_unset=True,
            responses=problem_responses(404, 422))
def get_version(version: int, request: Request,
                state: ServiceState = Depends(service)) -> dict:
    """One boundary version with the number of grids and buildings in force in it, and links
    to what changed since the version before it (404 for an unknown version)."""
    store = state.store
    record = V.get_version(store, version)

    def counts() -> tuple[int, int]:
        grids, buildings = V.layers_at(store, record.id)
        return len(grids), len(buildings)

    n_grids, n_buildings = _remembered(("counts", *_version_key(store, record)), counts)
    previous = record.id - 1 if record.id > 1 else None
    links = {"self": request.url_for("get_version", version=record.id).path,
             "diff": None, "diff_map": None}
    if previous is not None:
        links["diff"] = request.url_for("version_diff", a=previous, b=record.id).path
        links["diff_map"] = request.url_for("version_diff_map", a=previous, b=record.id).path
    return {**_item(record, store.boundary_version()), "grids": n_grids,
            "buildings": n_buildings, "links": links}


@router.get("/versions/{a}/diff/{b}", response_model=VersionDiff,
            responses=problem_responses(404, 422))
def version_diff(a: int, b: int, state: ServiceState = Depends(service)) -> dict:
    """What changed from version ``a`` to version ``b``: grids added, removed and reshaped,
    buildings given to another grid, and the grids whose household count changed (404 if
    either version is unknown)."""
    store = state.store
    va, vb = V.get_version(store, a), V.get_version(store, b)
    key = ("diff", *_version_key(store, va), *_version_key(store, vb))
    return _remembered(key, lambda: V.diff(store, va.id, vb.id))
