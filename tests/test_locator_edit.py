"""The locator updated around an edit equals the locator built from scratch."""

from __future__ import annotations

import numpy as np
import pytest

from geo_grid.editing import merge_grids, split_into_parts
from geo_grid.errors import InvalidInput
from geo_grid.locator import GridLocator


def _counter():
    n = {}

    def codes(community: str, k: int) -> list[str]:
        start = n.get(community, 900)
        n[community] = start + k
        return [f"{community}{i:03d}" for i in range(start + 1, start + k + 1)]

    return codes


def _same(a: GridLocator, b: GridLocator) -> None:
    assert list(a.codes) == list(b.codes)
    assert (a.x0, a.y0, a.nx, a.ny) == (b.x0, b.y0, b.nx, b.ny)
    np.testing.assert_array_equal(a.raster, b.raster)
    np.testing.assert_array_equal(a.cand_ptr, b.cand_ptr)
    np.testing.assert_array_equal(a.cand_idx, b.cand_idx)
    np.testing.assert_array_equal(a.cand_closed, b.cand_closed)


def _merge_some(district):
    g = district.grids
    comm = list(g[g.community_code == g.community_code.iloc[0]].code)
    for a in comm:  # the first pair of adjacent grids of a community
        for b in comm:
            if a < b:
                try:
                    return merge_grids(district, [a, b], _counter())
                except InvalidInput:  # not adjacent: the next pair
                    continue
    raise AssertionError("no adjacent grids")


@pytest.mark.parametrize("kind", ["split", "merge"])
def test_with_edit_equals_a_full_build(district, kind):
    g = district.grids
    base = GridLocator.build(g["code"], g.geometry.array)
    hh = district.buildings.groupby("grid_code")["households"].sum()
    if kind == "split":
        edit = split_into_parts(district, str(hh.idxmax()), 3, _counter())
    else:
        edit = _merge_some(district)
    kept = g[~g.code.isin(edit.retired)]
    codes = list(kept.code) + list(edit.added.code)
    geoms = list(kept.geometry.array) + list(edit.added.geometry.array)
    full = GridLocator.build(codes, geoms, base.cell)
    updated = base.with_edit(edit.retired, edit.added.code, edit.added.geometry.array)
    _same(updated, full)
    # and the answers agree on random points of the street
    rng = np.random.default_rng(7)
    x0, y0, x1, y1 = g.total_bounds
    lon, lat = rng.uniform(x0, x1, 20000), rng.uniform(y0, y1, 20000)
    np.testing.assert_array_equal(updated.locate(lon, lat), full.locate(lon, lat))


def test_with_edit_of_nothing_is_the_same_locator(district):
    g = district.grids
    base = GridLocator.build(g["code"], g.geometry.array)
    assert base.with_edit([], [], []) is base
