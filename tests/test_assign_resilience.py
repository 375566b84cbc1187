"""Resilience, demand weights and team matching on hand-checkable cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from geo_grid.assign import Params, Problem, building_demand, match_teams, resilience
from geo_grid.assign.model import AssignmentError


def hand_case(c_capacity: float) -> tuple[Problem, np.ndarray]:
    # grid G: buildings b1, b2 (10 each); A serves b1, B serves b2 (capacity 10 each);
    # C (no load, capacity c_capacity) lives next door; grid H far away, served by D alone.
    p = Problem(building_codes=np.array(["b1", "b2", "h1"], dtype=object),
                building_xy=[[0.0, 0.0], [100.0, 0.0], [50_000.0, 0.0]],
                demand=[10.0, 10.0, 10.0],
                building_grid=np.array(["G", "G", "H"], dtype=object),
                member_ids=np.array(["A", "B", "C", "D"], dtype=object),
                member_xy=[[0.0, 10.0], [100.0, 10.0], [50.0, 10.0], [50_000.0, 10.0]],
                capacity=[10.0, 10.0, c_capacity, 10.0])
    flow = np.array([[0, 0, 100], [1, 1, 100], [3, 2, 100]])
    return p, flow


def test_resilience_hand_checked():
    p, flow = hand_case(10.0)
    r = resilience(p, flow, Params()).set_index("grid_code")
    # G: lose A → C covers b1; lose A and B → 10 short
    assert r.loc["G", "losses_tolerated"] == 1
    assert r.loc["G", "first_losses"] == ["A", "B"]
    # H: losing D uncovers h1
    assert r.loc["H", "losses_tolerated"] == 0
    assert bool(r.loc["H", "fragile"]) and not bool(r.loc["G", "fragile"])
    p, flow = hand_case(20.0)
    assert resilience(p, flow).set_index("grid_code").loc["G", "losses_tolerated"] == 2
    p, flow = hand_case(0.0)
    assert resilience(p, flow).set_index("grid_code").loc["G", "losses_tolerated"] == 0
    # cannot be covered even with no losses: b2 needs 50, only 10 spare nearby
    p = p.with_(demand=np.array([10.0, 50.0, 10.0]))
    assert resilience(p, flow).set_index("grid_code").loc["G", "losses_tolerated"] == -1


def test_building_demand_weights():
    b = pd.DataFrame({"code": ["B1", "B2", "S1"], "grid_code": ["G1", "G1", "G2"],
                      "community_code": ["C", "C", "C"], "households": [3, 1, 0]})
    hh = pd.DataFrame({"building_code": ["B1", "B1", "B1", "B2"], "size": [1, 2, 3, 1],
                       "elderly_alone": [True, False, False, False],
                       "disabled": [False, False, True, False],
                       "chronic": [True, False, False, False], "infant": False})
    d = building_demand(b, hh)
    assert d.tolist() == [5.0, 1.0, 1.0]  # 3 + 2 vulnerable; 1; shop gets min_load
    d = building_demand(b, hh, sealed=["B2"], surge={"elderly_alone": 2.0, "G2": 3.0})
    assert d.tolist() == [7.0, 2.0, 3.0]
    with pytest.raises(AssignmentError):
        building_demand(b, hh, surge={"NOPE": 2.0})
    with pytest.raises(AssignmentError):
        building_demand(b, hh, sealed=["NOPE"])


def test_team_matching_roles_and_distance():
    gxy = np.array([[0.0, 0.0], [1000.0, 0.0]])
    ids = ["s1", "s2", "w1", "w2", "v1", "v2", "v3"]
    xy = np.array([[990, 0], [10, 0], [0, 5], [1000, 5], [5, 0], [995, 0], [1, 1]], float)
    roles = ["secretary", "secretary", "social_worker", "social_worker",
             "volunteer", "volunteer", "volunteer"]
    members, slots = match_teams(ids, xy, roles, ["G2", "G1"], gxy[::-1], [10.0, 20.0])
    got = dict(zip(members["member_id"], members["grid_code"], strict=True))
    assert got["s1"] == "G2" and got["s2"] == "G1"
    assert got["w1"] == "G1" and got["w2"] == "G2"
    # volunteers: 3 apportioned 2:1 by load (G1 has 20, G2 has 10)
    assert slots.set_index(["grid_code", "role"]).loc[("G1", "volunteer"), "slots"] == 2
    assert got["v2"] == "G2" and got["v1"] == "G1" and got["v3"] == "G1"
