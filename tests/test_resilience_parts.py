"""Resilience computed in parts (every n-th grid) is the whole table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from geo_grid.assign import Params, resilience, solve, synthetic_problem


@pytest.mark.parametrize(("seed", "out"), [(0, 0.0), (1, 0.3)])
def test_parts_concatenated_are_the_whole(seed, out):
    params = Params()
    p = synthetic_problem(40, 900, 500, seed=seed)
    flow = solve(p, params).flow
    gone = np.random.default_rng(seed).random(p.n_members) < out
    p = p.with_(available=p.available & ~gone)
    flow = flow[p.available[flow[:, 0]]]
    whole = resilience(p, flow, params)
    for n in (2, 3):
        parts = pd.concat([resilience(p, flow, params, part=(k, n)) for k in range(n)],
                          ignore_index=True)
        parts = parts.sort_values(["losses_tolerated", "grid_code"], kind="stable") \
            .reset_index(drop=True)
        pd.testing.assert_frame_equal(parts, whole)
    assert (whole["losses_tolerated"] >= 0).any()
