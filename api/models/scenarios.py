"""Response models of ``/api/v1/scenarios`` and ``/api/v1/assignments/revert``."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from api.models.coverage import CommunityFigures, DistrictFigures, GridFigures, UncoveredTotals


class Spec(BaseModel):
    """The scenario as it was computed."""

    name: str
    unavailable_members: list[str]
    unavailable_fraction: float
    seed: int
    sealed_buildings: list[str]
    sealed_area: dict[str, Any] | None
    sealed_area_crs: str
    surge: dict[str, float]
    walk_limit_m: float | None
    reinforcements: list[dict[str, Any]] = Field(default_factory=list)
    max_moves: int | None = None
    move_weight: float | None = None
    at: str | None = Field(None, description="the time the scenario is for (with a pool)")
    reinforcements_from: str | None = Field(
        None, description="\"pool\": the reinforcements are the pool entries available `at`")
    street: str | None = Field(None, description="the street the unavailable fraction was "
                                                 "drawn from (every street when absent)")


class Placement(BaseModel):
    """Load placed on a reinforcement."""

    reinforcement: str
    building: str
    load: float
    reason: str


class Summary(UncoveredTotals):
    """Figures after the rebalance, and ``before`` (the current assignment under the
    scenario)."""

    moves: int
    moved_load: float
    solve_seconds: float
    n_arcs: int
    before: UncoveredTotals
    reinforcements_used: int = 0
    placements: list[Placement] = Field(default_factory=list)
    max_moves: int | None = None
    max_moves_met: bool | None = None


class ShortageCandidate(BaseModel):
    member_id: str
    grid_code: str
    distance_m: float
    spare_load: float
    allocated_load: float
    shared_with: list[str]


class Shortage(BaseModel):
    """A grid still short after the rebalance, with the members who could close the gap."""

    grid_code: str
    community_code: str
    uncovered_buildings: int
    uncovered_load: float
    uncovered_households: int
    candidates: list[ShortageCandidate]
    closable: bool
    reason: str | None


class Candidate(BaseModel):
    member_id: str
    grid_code: str
    spare_load: float
    serves: list[str]


class Links(BaseModel):
    self: str
    moves: str
    apply: str
    map: str
    compare: str


class CoverageTables(BaseModel):
    grid: list[GridFigures]
    community: list[CommunityFigures]


SUMMARY_EXAMPLE = {
    "moves": 3541, "moved_load": 41514.0, "uncovered_buildings": 0, "uncovered_households": 0,
    "uncovered_load": 0.0, "overloaded_members": 0, "max_walk_m": 1499.8, "solve_seconds": 0.52,
    "n_arcs": 219698, "before": {"uncovered_buildings": 1249, "uncovered_households": 23637,
                                 "uncovered_load": 28360.0, "overloaded_members": 0,
                                 "max_walk_m": 298.8}}
SCENARIO_EXAMPLE = {
    "id": "3f2a9c1b7d4e", "name": "20% out", "status": "computed",
    "created_at": "2026-12-01T14:30:00.000000+00:00", "applied_at": None,
    "scenario": {"name": "20% out", "unavailable_members": [], "unavailable_fraction": 0.2,
                 "seed": 1, "sealed_buildings": [], "sealed_area": None,
                 "sealed_area_crs": "cgcs2000", "surge": {}, "walk_limit_m": 1500.0},
    "summary": SUMMARY_EXAMPLE, "unavailable_members": ["M00007"], "sealed_buildings": [],
    "shortages": [], "candidates": [],
    "links": {"self": "/api/v1/scenarios/3f2a9c1b7d4e",
              "moves": "/api/v1/scenarios/3f2a9c1b7d4e/moves",
              "apply": "/api/v1/scenarios/3f2a9c1b7d4e/apply",
              "map": "/map/scenarios/3f2a9c1b7d4e",
              "compare": "/map/scenarios/3f2a9c1b7d4e/compare"},
}


class ScenarioOut(BaseModel):
    """A kept scenario: its spec, summary, shortages and links."""

    model_config = {"json_schema_extra": {"examples": [SCENARIO_EXAMPLE]}}

    id: str
    name: str
    status: str = Field(description="computed, applied or reverted")
    created_at: str
    applied_at: str | None
    scenario: Spec
    summary: Summary
    unavailable_members: list[str]
    sealed_buildings: list[str]
    shortages: list[Shortage]
    candidates: list[Candidate]
    links: Links


class ScenarioFull(ScenarioOut):
    """A kept scenario with its figures before and after, per grid, community and district,
    and the uncovered buildings before and after."""

    model_config = {"json_schema_extra": {"examples": [SCENARIO_EXAMPLE | {
        "coverage_before": {"grid": [], "community": []},
        "coverage_after": {"grid": [], "community": []},
        "district_before": None, "district_after": None,
        "uncovered_before": ["32021405200500001"], "uncovered_after": [],
        "fragile_before": [], "fragile_after": ["320214052005001"]}]}}

    coverage_before: CoverageTables
    coverage_after: CoverageTables
    district_before: DistrictFigures
    district_after: DistrictFigures
    uncovered_before: list[str]
    uncovered_after: list[str]
    fragile_before: list[str]
    fragile_after: list[str]


class ScenarioItem(BaseModel):
    """A kept scenario in the list."""

    model_config = {"json_schema_extra": {"examples": [{
        "id": "3f2a9c1b7d4e", "name": "20% out", "status": "computed",
        "created_at": "2026-12-01T14:30:00.000000+00:00", "applied_at": None}]}}

    id: str
    name: str
    status: str
    created_at: str
    applied_at: str | None


class Move(BaseModel):
    building_code: str
    grid_code: str
    from_member: str | None
    to_member: str | None
    load: float
    reason: str


class Moves(BaseModel):
    """The moves of a scenario."""

    model_config = {"json_schema_extra": {"examples": [{"id": "3f2a9c1b7d4e", "moves": [{
        "building_code": "32021405200500001", "grid_code": "320214052005001",
        "from_member": "M00007", "to_member": "M00011", "load": 5.0,
        "reason": "member unavailable"}]}]}}

    id: str
    moves: list[Move]


class Applied(BaseModel):
    """A scenario made current."""

    model_config = {"json_schema_extra": {"examples": [{
        "id": "3f2a9c1b7d4e", "status": "applied", "applied_at": "2026-12-01T14:31:00+00:00",
        "assignment_version": "2026-12-01T14:31:00+00:00", "members_made_unavailable": 586}]}}

    id: str
    status: str
    applied_at: str
    assignment_version: str
    members_made_unavailable: int


class Reverted(BaseModel):
    """The newest applied step taken back."""

    model_config = {"json_schema_extra": {"examples": [{
        "status": "reverted", "reverted_scenario": "3f2a9c1b7d4e", "restored_scenario": None,
        "assignment_version": "2026-12-01T14:32:00+00:00",
        "restored_version": "2026-12-01T14:00:00+00:00", "members_made_available": 586}]}}

    status: str
    reverted_scenario: str | None
    restored_scenario: str | None
    assignment_version: str
    restored_version: str | None
    members_made_available: int


class TradeoffPoint(BaseModel):
    """One re-solve of a scenario: what it measured, and whether it is Pareto-efficient in
    its series."""

    max_moves: int | None = Field(description="the move budget (null: no cap)")
    moves: int
    moved_load: float
    uncovered_load: float
    uncovered_buildings: int
    uncovered_households: int
    reinforcements_used: int
    max_moves_met: bool = Field(description="the moves kept within the budget (moves that only "
                                            "drop load cannot be avoided)")
    efficient: bool = Field(description="no other point of the series is as good in every "
                                        "figure of the series and better in one")


class ReinforcementPoint(TradeoffPoint):
    """A re-solve with only the first ``reinforcements`` reinforcements (busiest first)."""

    reinforcements: int


TRADEOFF_POINT = {"max_moves": 709, "moves": 660, "moved_load": 9433.0, "uncovered_load": 2024.0,
                  "uncovered_buildings": 97, "uncovered_households": 1631,
                  "reinforcements_used": 100, "max_moves_met": True, "efficient": True}


class TradeoffOut(BaseModel):
    """The trade-off curves of a kept scenario: uncovered load against moves (the scenario
    re-solved at move budgets, the unconstrained end last) and against reinforcements (with only
    the first k of them, busiest first)."""

    model_config = {"json_schema_extra": {"examples": [{
        "scenario": "3f2a9c1b7d4e", "base_version": "2026-12-01T14:00:00.000000+00:00",
        "computed_at": "2026-12-01T14:35:00.000000+00:00", "version": 1,
        "budgets": [0, 709],
        "by_moves": [TRADEOFF_POINT | {"max_moves": 0, "moves": 391, "uncovered_load": 8029.0,
                                       "uncovered_buildings": 363, "max_moves_met": False},
                     TRADEOFF_POINT,
                     TRADEOFF_POINT | {"max_moves": None, "moves": 1524, "uncovered_load": 0.0,
                                       "uncovered_buildings": 0, "uncovered_households": 0}],
        "by_reinforcements": [TRADEOFF_POINT | {"reinforcements": 0, "max_moves": None,
                                                "moves": 3492, "uncovered_load": 0.0,
                                                "reinforcements_used": 0}],
        "reinforcement_order": ["R045", "R046"], "solves": 9, "seconds": 14.2,
        "links": {"scenario": "/api/v1/scenarios/3f2a9c1b7d4e"}}]}}

    scenario: str
    base_version: str | None
    computed_at: str
    version: int
    budgets: list[int] = Field(description="the move budgets solved (the unconstrained end apart)")
    by_moves: list[TradeoffPoint]
    by_reinforcements: list[ReinforcementPoint]
    reinforcement_order: list[str] = Field(description="reinforcement ids, busiest first")
    solves: int
    seconds: float = Field(description="time the curve took to compute")
    links: dict[str, str]
