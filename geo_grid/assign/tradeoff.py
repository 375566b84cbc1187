"""Trade-off curves of a scenario: uncovered load against moves, and against reinforcements.

An office choosing how far to go in an emergency wants to see what each extra move (a member
handed another building) or each extra reinforcement buys. :func:`tradeoff` re-solves one
scenario several times, from one preparation (:func:`~geo_grid.assign.rebalance.prepare_rebalance`:
the district's problem, the masks and the demand are computed once):

*by moves*
    the scenario with ``max_moves`` set to each budget of a ladder, and once without a cap
    (the *unconstrained* end, exactly what :func:`~geo_grid.assign.rebalance.rebalance` returns
    for the scenario without ``max_moves``). The default ladder is ``0``, then
    :data:`DEFAULT_STEPS` budgets between the moves the cap cannot avoid (those of budget 0:
    load of members out that no one may take over is still a move; a smaller budget does the
    same) and :data:`CEILING` times the larger of those and the unconstrained moves (the cap is
    checked on the flow's moves, before hand-overs shared by several takers are merged, so a
    budget somewhat above the unconstrained moves may still bind), denser near the bottom;
*by reinforcements*
    (when the scenario brings reinforcements in) the scenario with only its first ``k``
    reinforcements, ordered by the load each carries in the unconstrained solution (the busiest
    first), for ``k`` from 0 up to all of them; each with the scenario's own ``max_moves``.

Every point reports what the solve measured: ``moves``, ``moved_load``, ``uncovered_load``,
``uncovered_buildings``, ``uncovered_households``, ``reinforcements_used`` and
``max_moves_met`` (a cap is applied by re-solving and may not hold: moves that only drop load
cannot be avoided). The move cap is a heuristic, so a larger budget does not always do better;
nothing is smoothed, but each point says whether it is *efficient* (Pareto) within its series:
in the moves series no other point has at most as many moves and at most as much uncovered
load, one of them strictly less; in the reinforcement series the same over reinforcements used,
moves and uncovered load (reinforcements mostly save moves). Of points equal in every
objective, only the first is efficient (in the moves series the one using the fewest
reinforcements, then the smallest budget; in the other, the smallest ``k``). The efficient points of the moves series, by moves, have strictly
decreasing uncovered load.

Every budget is solved (even one above the unconstrained moves: the cap is checked on the
flow's moves, before hand-overs are merged, so it may still bind); only the reinforcement point
with all of them and no cap is the unconstrained solve itself.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from geo_grid.assign.model import Params
from geo_grid.assign.rebalance import (
    PreparedRebalance,
    RebalanceResult,
    Scenario,
    prepare_rebalance,
    solve_prepared,
)
from geo_grid.district import District
from geo_grid.errors import InvalidInput

#: Bump when the points change meaning, so that curves kept in a store are computed again.
TRADEOFF_VERSION = 1
#: At most this many move budgets may be asked for.
MAX_BUDGETS = 20
#: The largest move budget accepted (far above any district's moves).
MAX_BUDGET = 10_000_000
#: Budgets of the default ladder between the floor (budget 0) and the ceiling.
DEFAULT_STEPS = 6
#: The ceiling of the default ladder: this times the unconstrained moves (or the floor).
CEILING = 1.25
#: Reinforcement counts of the default ladder below all the used ones (fractions of them).
REINFORCEMENT_FRACTIONS = (0.25, 0.5)

POINT_FIELDS = ("moves", "moved_load", "uncovered_load", "uncovered_buildings",
                "uncovered_households", "reinforcements_used", "max_moves_met")


@dataclass(frozen=True)
class Tradeoff:
    """The curves of one scenario.

    Attributes
    ----------
    by_moves : tuple of dict
        ``max_moves`` (None for the unconstrained end, listed last), then
        :data:`POINT_FIELDS` and ``efficient``; by budget.
    by_reinforcements : tuple of dict
        ``reinforcements`` (how many of the first ones were brought in), ``max_moves`` (the
        scenario's own), :data:`POINT_FIELDS` and ``efficient``; by ``reinforcements``. Empty
        when the scenario brings none.
    reinforcement_order : tuple of str
        The scenario's reinforcement ids, busiest first (the order the second series adds them).
    budgets : tuple of int
        The move budgets solved (the unconstrained end apart).
    solves : int
        Rebalances run (points that reuse another's solve not counted).
    seconds : float
        Wall time of the whole computation.
    """

    by_moves: tuple[dict, ...]
    by_reinforcements: tuple[dict, ...]
    reinforcement_order: tuple[str, ...]
    budgets: tuple[int, ...]
    solves: int
    seconds: float

    @property
    def unconstrained(self) -> dict:
        """The unconstrained end of the moves series."""
        return self.by_moves[-1]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (lists of plain dicts)."""
        return {"version": TRADEOFF_VERSION,
                "budgets": list(self.budgets),
                "by_moves": [dict(p) for p in self.by_moves],
                "by_reinforcements": [dict(p) for p in self.by_reinforcements],
                "reinforcement_order": list(self.reinforcement_order),
                "solves": self.solves, "seconds": self.seconds}


# --------------------------------------------------------------------------------------------
# budgets


def check_budgets(values: Iterable[Any]) -> tuple[int, ...]:
    """Move budgets as given by a caller: sorted, without duplicates.

    Raises
    ------
    InvalidInput
        If there are none or more than :data:`MAX_BUDGETS`, or one is not an integer in
        ``[0, MAX_BUDGET]`` (the message names it and its position, counted from 1).
    """
    values = list(values)
    if not values:
        raise InvalidInput("budgets: give at least one move budget", budgets="")
    if len(values) > MAX_BUDGETS:
        raise InvalidInput(f"budgets: at most {MAX_BUDGETS} move budgets, not {len(values)}",
                           budgets=len(values))
    out = set()
    for i, v in enumerate(values, 1):
        if isinstance(v, np.integer):
            v = int(v)
        if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v <= MAX_BUDGET:
            raise InvalidInput(f"budgets: value {i} ({v!r}) is not an integer in "
                               f"[0, {MAX_BUDGET}]", budget=str(v), position=i)
        out.add(v)
    return tuple(sorted(out))


def parse_budgets(text: str) -> tuple[int, ...]:
    """Move budgets from a comma-separated list (``"0,100,500"``), checked as by
    :func:`check_budgets`.

    Raises
    ------
    InvalidInput
        On an empty list or item, a value that is not a non-negative decimal integer, or the
        limits of :func:`check_budgets`.
    """
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput("budgets: give at least one move budget, e.g. budgets=0,100,500",
                           budgets="")
    items = [x.strip() for x in text.split(",")]
    if len(items) > MAX_BUDGETS:
        raise InvalidInput(f"budgets: at most {MAX_BUDGETS} move budgets, not {len(items)}",
                           budgets=len(items))
    values = []
    for i, x in enumerate(items, 1):
        # digits only: no sign, no decimals, no exponent, no "1_000"
        if not x.isascii() or not x.isdigit() or len(x) > len(str(MAX_BUDGET)):
            raise InvalidInput(f"budgets: value {i} ({x!r}) is not an integer in "
                               f"[0, {MAX_BUDGET}]", budget=x, position=i)
        values.append(int(x))
    return check_budgets(values)


def default_budgets(floor: int, top: int, steps: int = DEFAULT_STEPS) -> list[int]:
    """``steps`` budgets strictly between ``floor`` and ``top`` (fewer when the range is
    narrow): ``floor + (top - floor) × (i / (steps + 1)) ** 1.5``, denser near the floor."""
    span = top - floor
    if span <= 1 or steps <= 0:
        return []
    out = {floor + int(round(span * (i / (steps + 1)) ** 1.5)) for i in range(1, steps + 1)}
    return sorted(b for b in out if floor < b < top)


def reinforcement_counts(used: int, total: int) -> list[int]:
    """How many reinforcements the second series brings in: 0, fractions of the ``used`` ones
    (:data:`REINFORCEMENT_FRACTIONS`), all the used ones, and all ``total``."""
    out = {0, used, total}
    out |= {int(round(used * f)) for f in REINFORCEMENT_FRACTIONS}
    return sorted(k for k in out if 0 <= k <= total)


# --------------------------------------------------------------------------------------------
# points


def _point(result: RebalanceResult, **head: Any) -> dict[str, Any]:
    s = result.summary
    return {**head,
            "moves": int(s["moves"]),
            "moved_load": float(s["moved_load"]),
            "uncovered_load": float(s["uncovered_load"]),
            "uncovered_buildings": int(s["uncovered_buildings"]),
            "uncovered_households": int(s["uncovered_households"]),
            "reinforcements_used": int(s.get("reinforcements_used", 0)),
            "max_moves_met": bool(s.get("max_moves_met", True))}


def mark_efficient(points: Sequence[dict], objectives: Sequence[str],
                   tiebreak: str | None = None) -> list[dict]:
    """The points with ``efficient`` set: Pareto-efficient in ``objectives`` (each lower is
    better). A point is dominated by another at most as high in every objective and lower in
    one; of points equal in every objective, only the one first by ``tiebreak`` (lower first),
    then by position, is efficient."""
    vals = [tuple(round(float(p[k]), 6) for k in objectives) for p in points]
    ties = [(float(p[tiebreak]) if tiebreak else 0.0, i) for i, p in enumerate(points)]

    def dominates(j: int, i: int) -> bool:
        if not all(a <= b for a, b in zip(vals[j], vals[i], strict=True)):
            return False
        return vals[j] != vals[i] or ties[j] < ties[i]

    n = len(points)
    return [{**p, "efficient": not any(dominates(j, i) for j in range(n) if j != i)}
            for i, p in enumerate(points)]


# --------------------------------------------------------------------------------------------
# the curves


def tradeoff(district: District, scenario: Scenario | dict, params: Params | None = None, *,
             budgets: Iterable[int] | None = None, workers: int = 1) -> Tradeoff:
    """The trade-off curves of a scenario on a district (see the module docstring).

    Parameters
    ----------
    district : District
        As for :func:`~geo_grid.assign.rebalance.rebalance`.
    scenario : Scenario or mapping
        The scenario (its ``max_moves`` is the cap of the reinforcement series; the moves
        series replaces it).
    params : Params, optional
        Model parameters.
    budgets : iterable of int, optional
        The move budgets (checked by :func:`check_budgets`); default: 0 and a ladder up to the
        unconstrained moves, plus the scenario's own ``max_moves`` when it has one.
    workers : int
        Solves run at once (threads); the points do not depend on it.

    Returns
    -------
    Tradeoff
    """
    if not isinstance(scenario, Scenario):
        scenario = Scenario.from_dict(scenario)
    return tradeoff_prepared(prepare_rebalance(district, scenario, params), scenario,
                             budgets=budgets, workers=workers)


def tradeoff_prepared(prep: PreparedRebalance, scenario: Scenario, *,
                      budgets: Iterable[int] | None = None, workers: int = 1) -> Tradeoff:
    """:func:`tradeoff` of a prepared scenario (every point solved from ``prep``)."""
    t0 = time.perf_counter()
    given = check_budgets(budgets) if budgets is not None else None
    solves = 0

    def run(jobs: list[tuple[Any, Scenario]]) -> dict[Any, RebalanceResult]:
        nonlocal solves
        solves += len(jobs)
        if workers > 1 and len(jobs) > 1:
            with ThreadPoolExecutor(min(workers, len(jobs))) as pool:
                done = list(pool.map(lambda j: solve_prepared(prep, j[1]), jobs))
        else:
            done = [solve_prepared(prep, s) for _, s in jobs]
        return {key: r for (key, _), r in zip(jobs, done, strict=True)}

    def at(budget: int | None) -> Scenario:
        return replace(scenario, max_moves=budget)

    # the unconstrained end and the floor of the ladder (budget 0) first; then the other budgets
    first: list[tuple[Any, Scenario]] = [(None, at(None))]
    if given is None or 0 in given:
        first.append((0, at(0)))
    results = run(first)
    free = results[None]
    top = int(free.summary["moves"])
    if given is None:
        floor = int(results[0].summary["moves"])
        ceiling = int(np.ceil(CEILING * max(top, floor)))
        wanted = {0, *default_budgets(floor, ceiling)}
        if scenario.max_moves is not None:
            wanted.add(scenario.max_moves)
    else:
        wanted = set(given)
    todo = sorted(b for b in wanted if b not in results)

    # the reinforcement series: the first k reinforcements, busiest first
    reinfs = scenario.reinforcements
    order: tuple[str, ...] = ()
    counts: list[int] = []
    if reinfs:
        pl = free.placements
        carried = (pl.groupby("reinforcement")["load"].sum().to_dict()
                   if pl is not None and len(pl) else {})
        ranked = sorted(range(len(reinfs)), key=lambda i: (-carried.get(reinfs[i].id, 0.0), i))
        busiest = tuple(reinfs[i] for i in ranked)
        order = tuple(r.id for r in busiest)
        used = sum(1 for r in busiest if carried.get(r.id, 0.0) > 0)
        counts = reinforcement_counts(used, len(reinfs))

    def with_first(k: int) -> Scenario:
        return replace(scenario, reinforcements=busiest[:k])

    own = scenario.max_moves
    jobs = [(b, at(b)) for b in todo if b not in results]
    # all the reinforcements with the scenario's own cap: a point of the moves series
    r_jobs = [(("k", k), with_first(k)) for k in counts
              if not (k == len(reinfs) and (own is None or own in wanted))]
    results.update(run(jobs + r_jobs))

    base = _point(free, max_moves=None)
    by_moves = []
    for b in sorted(wanted):
        by_moves.append(_point(results[b], max_moves=b))
    by_moves.append(base)
    by_r = []
    for k in counts:
        if ("k", k) in results:
            p = _point(results[("k", k)], max_moves=own)
        elif own is None:
            p = dict(base)
        else:
            p = _point(results[own], max_moves=own)
        by_r.append({"reinforcements": k, **p})
    return Tradeoff(
        by_moves=tuple(mark_efficient(by_moves, ("moves", "uncovered_load"),
                                      "reinforcements_used")),
        by_reinforcements=tuple(mark_efficient(
            by_r, ("reinforcements_used", "moves", "uncovered_load"))),
        reinforcement_order=order,
        budgets=tuple(sorted(wanted)),
        solves=solves,
        seconds=round(time.perf_counter() - t0, 3),
    )


def table(curve: Tradeoff | dict, fmt: Callable[[Any], str] = str) -> str:
    """The curves as a plain-text table (for the CLI)."""
    d = curve.to_dict() if isinstance(curve, Tradeoff) else curve
    cols = ("max_moves", "moves", "uncovered_load", "uncovered_buildings",
            "reinforcements_used", "max_moves_met", "efficient")
    lines = []
    for title, key, first in (("by moves", "by_moves", ()),
                              ("by reinforcements", "by_reinforcements", ("reinforcements",))):
        rows = d[key]
        if not rows:
            continue
        head = (*first, *cols)
        cells = [[("-" if r[c] is None else fmt(r[c])) for c in head] for r in rows]
        width = [max(len(h), *(len(c[j]) for c in cells)) for j, h in enumerate(head)]
        lines.append(title)
        lines.append("  ".join(h.rjust(w) for h, w in zip(head, width, strict=True)))
        lines += ["  ".join(c.rjust(w) for c, w in zip(row, width, strict=True)) for row in cells]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
