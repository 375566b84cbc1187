"""Assignment versions on their own: empty assignments, revert as a stack, consistent snapshots."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from geo_grid.errors import Conflict
from geo_grid.store import Store, history
from geo_grid.store.history import ASSIGNMENT_COLUMNS


@pytest.fixture
def store(store_path, tmp_path):
    path = tmp_path / "s.gpkg"
    shutil.copy(store_path, path)
    s = Store(path)
    yield s
    s.close()


def _state(store: Store) -> tuple[set, set]:
    d = store.load_district()
    pairs = set(zip(d.assignment["member_id"], d.assignment["building_code"], strict=True))
    out = set(d.members.loc[~d.members["available"], "id"])
    return pairs, out


def _records(df: pd.DataFrame) -> list[dict]:
    return df[list(ASSIGNMENT_COLUMNS)].astype(object).where(df[list(ASSIGNMENT_COLUMNS)].notna(), None) \
        .to_dict("records")


def _scenario(store: Store, name: str, drop: list[str]) -> str:
    """A computed scenario on the current version: members ``drop`` out, their rows gone."""
    d = store.load_district()
    keep = d.assignment[~d.assignment["member_id"].isin(drop)]
    result = {"assignment": _records(keep), "unavailable": list(drop), "summary": {}}
    return history.save_scenario(store, name, {"name": name}, result, history.current_version(store))


def test_empty_assignment_is_a_version_and_reverts(store):
    pairs0, out0 = _state(store)
    assert pairs0
    everybody = sorted(store.load_district().members["id"])
    sid = _scenario(store, "all out", everybody)
    out = history.apply_scenario(store, sid)
    assert history.current_version(store) == out["assignment_version"]
    pairs, off = _state(store)
    assert pairs == set() and off == set(everybody)
    back = history.revert(store)
    assert back["reverted_scenario"] == sid
    assert back["members_made_available"] == len(everybody) - len(out0)
    assert _state(store) == (pairs0, out0)
    with pytest.raises(Conflict, match="nothing to revert"):
        history.revert(store)


def test_revert_is_a_stack(store):
    d = store.load_district()
    pairs0, out0 = _state(store)
    m1, m2 = d.assignment["member_id"].unique()[:2]
    s1 = _scenario(store, "one", [m1])
    history.apply_scenario(store, s1)
    state1 = _state(store)
    assert state1[1] == out0 | {m1}
    s2 = _scenario(store, "two", [m2])
    history.apply_scenario(store, s2)
    assert _state(store)[1] == out0 | {m1, m2}

    r = history.revert(store)
    assert (r["reverted_scenario"], r["restored_scenario"]) == (s2, s1)
    assert _state(store) == state1
    assert history.get_scenario(store, s2)["status"] == "reverted"
    assert history.get_scenario(store, s1)["status"] == "applied"
    r = history.revert(store)
    assert r["reverted_scenario"] == s1 and r["restored_scenario"] is None
    assert _state(store) == (pairs0, out0)
    with pytest.raises(Conflict, match="nothing to revert"):
        history.revert(store)
    assert _state(store) == (pairs0, out0)


def test_a_reverted_state_can_be_built_on(store):
    d = store.load_district()
    m1, m2 = d.assignment["member_id"].unique()[:2]
    s1 = _scenario(store, "one", [m1])
    history.apply_scenario(store, s1)
    state1 = _state(store)
    history.apply_scenario(store, _scenario(store, "two", [m2]))
    history.revert(store)
    with pytest.raises(Conflict):  # computed on the version the revert replaced
        history.apply_scenario(store, s1)
    s3 = _scenario(store, "three", [m2])
    history.apply_scenario(store, s3)
    assert history.revert(store)["reverted_scenario"] == s3
    assert _state(store) == state1
    assert history.revert(store)["reverted_scenario"] == s1


def test_base_version_rows_stay_in_the_history(store):
    d = store.load_district()
    v0 = history.current_version(store)
    sid = _scenario(store, "one", [d.assignment["member_id"].iloc[0]])
    history.apply_scenario(store, sid)
    rows = history.assignment_at(store, v0)
    assert set(zip(rows["member_id"], rows["building_code"], strict=True)) == \
        set(zip(d.assignment["member_id"], d.assignment["building_code"], strict=True))
    assert history.unavailable_since(store, v0) == [d.assignment["member_id"].iloc[0]]


def test_district_and_version_are_read_together(store):
    district, version = store.load_district_versioned()
    assert version == history.current_version(store)
    d = store.load_district()
    sid = _scenario(store, "one", [d.assignment["member_id"].iloc[0]])
    out = history.apply_scenario(store, sid)
    district, version = store.load_district_versioned()
    assert version == out["assignment_version"]
    assert d.assignment["member_id"].iloc[0] not in set(district.assignment["member_id"])
