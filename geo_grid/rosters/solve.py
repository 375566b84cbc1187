"""The roster as a CP-SAT model (OR-Tools).

One boolean ``x[person, post, k]`` per person, post and shift ``k`` (shift ``k`` runs from
``start + k * shift_hours`` for ``shift_hours``), created only where the person lives within
``max_travel_m`` of the post. Rules (hard):

- each shift of each post gets ``per_shift`` people, and a checkpoint ``min_security`` of kind
  auxiliary police or security — both softened by "unfilled" counters priced far above
  everything else, so the model is always solvable and the shortage is reported;
- one shift at a time and at least ``min_rest_hours`` between two shifts of a person: among any
  ``ceil((shift_hours + min_rest_hours) / shift_hours)`` consecutive shifts a person works at
  most one;
- at most ``max_hours_per_week`` hours in any 7 days (every window of consecutive shifts
  starting within 168 hours);
- at most ``capacity`` shifts for a person that has one.

Objective (weighted, in this order of importance): unfilled places, then fairness (the largest
number of shifts anyone works), then changes to ``previous`` (its assignments not kept), then
travel (distance from person to post, in 100 m steps).
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta

import numpy as np

from geo_grid.crs import metric_epsg, to_metric
from geo_grid.errors import InvalidInput
from geo_grid.rosters.model import (
    SECURITY_KINDS,
    Person,
    PersonLoad,
    Post,
    Roster,
    Shift,
    Unfilled,
)

#: Objective weights: one unfilled place outweighs any roster's fairness, change and travel.
W_UNFILLED = 1_000_000
W_FAIR = 1_000
W_CHANGE = 50
#: Travel is priced per started step of this many metres.
TRAVEL_STEP_M = 100.0


def _check(days: int, shift_hours: int, max_hours_per_week: float, min_rest_hours: float,
           max_travel_m: float) -> None:
    if days < 1:
        raise InvalidInput("days must be at least 1", days=days)
    if not 1 <= shift_hours <= 24:
        raise InvalidInput("shift_hours must be between 1 and 24", shift_hours=shift_hours)
    if max_hours_per_week < shift_hours:
        raise InvalidInput("max_hours_per_week is shorter than one shift",
                           max_hours_per_week=max_hours_per_week)
    if min_rest_hours < 0 or max_travel_m < 0:
        raise InvalidInput("min_rest_hours and max_travel_m must not be negative")


def post_xy(posts: Sequence[Post], epsg: int) -> np.ndarray:
    """The posts in metres of ``epsg`` (an ``(n, 2)`` array)."""
    if not posts:
        return np.zeros((0, 2))
    x, y = to_metric([p.lon for p in posts], [p.lat for p in posts], epsg)
    return np.column_stack([np.atleast_1d(x), np.atleast_1d(y)])


def greedy(posts: Sequence[Post], people: Sequence[Person],
           cand: dict[int, list[tuple[int, int]]], nshift: int, window: int, week: int,
           per_week: int, keep: set[tuple[int, int, int]] = frozenset()) -> set:
    """A roster that keeps every rule, built shift by shift (the solver's starting point).

    For each shift and post, in order: security people for a checkpoint's ``min_security``,
    then the others; within each, the people of ``keep`` (an earlier roster) first, then the
    least loaded, then the nearest; a person is taken
    only when free (no shift in the last ``window - 1``, fewer than ``per_week`` in the last
    ``week`` shifts, under capacity). Returns ``{(person, post, k)}``."""
    last: dict[int, list[int]] = defaultdict(list)
    out = set()

    def free(i: int, k: int) -> bool:
        ks = last[i]
        if ks and k - ks[-1] < window:
            return False
        if sum(1 for kk in ks if kk > k - week) >= per_week:
            return False
        cap = people[i].capacity
        return cap is None or len(ks) < cap

    for k in range(nshift):
        for j, post in enumerate(posts):
            # the earlier roster's people first, then the least loaded, then the nearest
            order = sorted(cand[j], key=lambda ic: ((ic[0], j, k) not in keep,
                                                    len(last[ic[0]]), ic[1]))
            chosen: list[int] = []
            need_sec = post.min_security
            for i, _ in order:  # security places first
                if need_sec and people[i].kind in SECURITY_KINDS and free(i, k):
                    chosen.append(i)
                    last[i].append(k)
                    need_sec -= 1
            for i, _ in order:
                if len(chosen) >= post.per_shift:
                    break
                if i not in chosen and free(i, k):
                    chosen.append(i)
                    last[i].append(k)
            out.update((i, j, k) for i in chosen)
    return out


def lower_bound(posts: Sequence[Post], cand: dict[int, list[tuple[int, int]]], nshift: int,
                n_people: int) -> float:
    """A lower bound of the objective: every place unfillable for want of candidates is
    unfilled, the busiest person works at least the places over the people, and each place
    costs at least the travel of its nearest candidates."""
    missing = places = travel = 0
    for j, post in enumerate(posts):
        costs = sorted(c for _, c in cand[j])
        missing += max(0, post.per_shift - len(costs)) * nshift
        places += min(post.per_shift, len(costs)) * nshift
        travel += sum(costs[:post.per_shift]) * nshift
    fair = math.ceil(places / n_people) if n_people else 0
    return float(W_UNFILLED * missing + W_FAIR * fair + travel)


def solve_roster(posts: Sequence[Post], people: Sequence[Person], start: datetime, days: int,
                 shift_hours: int = 8, max_hours_per_week: float = 48,
                 min_rest_hours: float = 12, max_travel_m: float = 2000,
                 previous: Roster | None = None, time_limit_s: float = 30.0, *,
                 epsg: int | None = None, max_candidates: int | None = None,
                 workers: int = 2, seed: int = 0) -> Roster:
    """Staff every shift of every post for ``days`` days from ``start``.

    Parameters
    ----------
    posts, people : sequences of Post and Person
        Ids must be unique within each.
    start : datetime
        The first shift's start.
    days : int
        The roster covers ``days * 24 // shift_hours`` shifts per post.
    shift_hours, max_hours_per_week, min_rest_hours, max_travel_m : numbers
        The rules (see the module's docstring).
    previous : Roster, optional
        An earlier roster: its assignments are the solver's starting hint, and each one not
        kept costs a penalty, so that a re-solve after absences changes few shifts.
    time_limit_s : float
        Wall-time limit of the call (building the model, then CP-SAT; at least 1 s of
        search).
    epsg : int, optional
        The metric CRS of the people's ``x, y`` (default: :func:`geo_grid.crs.metric_epsg` of
        the posts' longitudes).
    max_candidates : int, optional
        Keep for each post only its nearest this many eligible people (for a checkpoint with
        ``min_security``, this many security people and this many others): a cap on the
        model's size for large streets; None keeps them all.
    workers, seed : int
        CP-SAT's search workers and random seed.

    Returns
    -------
    Roster

    Raises
    ------
    InvalidInput
        Bad rules or duplicate ids.
    """
    from ortools.sat.python import cp_model

    _check(days, shift_hours, max_hours_per_week, min_rest_hours, max_travel_m)
    for what, items in (("post", posts), ("person", people)):
        ids = [i.id for i in items]
        if len(set(ids)) != len(ids):
            dup = sorted({i for i in ids if ids.count(i) > 1})[:5]
            raise InvalidInput(f"duplicate {what} ids: {', '.join(dup)}", ids=dup)
    started = time.perf_counter()
    epsg = epsg or metric_epsg([p.lon for p in posts] or [120.0])
    nshift = days * 24 // shift_hours
    h = timedelta(hours=shift_hours)
    starts = [start + k * h for k in range(nshift)]
    pxy = post_xy(posts, epsg)
    qxy = np.array([[q.x, q.y] for q in people], dtype=float).reshape(-1, 2)

    # who may stand at which post, and at what travel cost
    cand: dict[int, list[tuple[int, int]]] = {}
    for j in range(len(posts)):
        d = np.hypot(qxy[:, 0] - pxy[j, 0], qxy[:, 1] - pxy[j, 1]) if len(people) else np.zeros(0)
        ok = np.flatnonzero(d <= max_travel_m)
        ok = ok[np.argsort(d[ok], kind="stable")]
        if max_candidates is not None:
            if posts[j].min_security:  # the nearest of each: security people and the others
                sec = np.array([people[i].kind in SECURITY_KINDS for i in ok], dtype=bool)
                ok = np.sort(np.concatenate([ok[sec][:max_candidates],
                                             ok[~sec][:max_candidates]]))
                ok = ok[np.argsort(d[ok], kind="stable")]
            else:
                ok = ok[:max_candidates]
        cand[j] = [(int(i), int(math.ceil(d[i] / TRAVEL_STEP_M))) for i in ok]

    model = cp_model.CpModel()
    x: dict[tuple[int, int, int], cp_model.IntVar] = {}
    by_person_shift: dict[tuple[int, int], list] = defaultdict(list)
    by_person: dict[int, list] = defaultdict(list)
    travel_terms, change_terms = [], []
    prev = previous.assignments() if previous is not None else set()
    pos = {p.id: j for j, p in enumerate(posts)}
    who = {q.id: i for i, q in enumerate(people)}
    at = {st: k for k, st in enumerate(starts)}
    keep = {(who[pid], pos[post], at[st]) for post, st, pid in prev
            if pid in who and post in pos and st in at}
    window = max(1, math.ceil((shift_hours + min_rest_hours) / shift_hours))
    week = math.ceil(168 / shift_hours)
    per_week = int(max_hours_per_week // shift_hours)
    start_hint = greedy(posts, people, cand, nshift, window, week, per_week, keep)
    unfilled_vars = []
    slot_vars: dict[tuple[int, int], tuple] = {}
    for j, post in enumerate(posts):
        for k in range(nshift):
            xs, sec = [], []
            for i, cost in cand[j]:
                v = model.NewBoolVar(f"x{i}_{j}_{k}")
                model.AddHint(v, (i, j, k) in start_hint)
                x[i, j, k] = v
                xs.append(v)
                by_person_shift[i, k].append(v)
                by_person[i].append(v)
                if people[i].kind in SECURITY_KINDS:
                    sec.append(v)
                if cost:
                    travel_terms.append(cost * v)
                if (post.id, starts[k], people[i].id) in prev:
                    change_terms.append(1 - v)  # a kept assignment costs nothing
            miss = model.NewIntVar(0, post.per_shift, f"u{j}_{k}")
            model.Add(sum(xs) + miss == post.per_shift)
            got = sum((i, j, k) in start_hint for i, _ in cand[j])
            model.AddHint(miss, post.per_shift - got)
            miss_sec = None
            if post.min_security:
                miss_sec = model.NewIntVar(0, post.min_security, f"us{j}_{k}")
                model.Add(sum(sec) + miss_sec >= post.min_security)
                got_sec = sum((i, j, k) in start_hint for i, _ in cand[j]
                              if people[i].kind in SECURITY_KINDS)
                model.AddHint(miss_sec, max(0, post.min_security - got_sec))
                unfilled_vars.append(miss_sec)
            unfilled_vars.append(miss)
            slot_vars[j, k] = (miss, miss_sec)

    # one shift at a time, and the rest between two shifts
    persons = sorted(by_person)
    for i in persons:
        per_k = [by_person_shift.get((i, k), []) for k in range(nshift)]
        for k in range(nshift):
            terms = [v for kk in range(k, min(k + window, nshift)) for v in per_k[kk]]
            if len(terms) > 1:
                model.AddAtMostOne(terms)
        if per_week * window < min(week, nshift):  # else the rest rule already implies it
            for k in range(max(1, nshift - week + 1)):
                terms = [v for kk in range(k, min(k + week, nshift)) for v in per_k[kk]]
                if len(terms) > per_week:
                    model.Add(sum(terms) <= per_week)
        if people[i].capacity is not None:
            model.Add(sum(by_person[i]) <= people[i].capacity)
    most = model.NewIntVar(0, nshift, "most_shifts")
    hinted = defaultdict(int)
    for i, _, _ in start_hint:
        hinted[i] += 1
    model.AddHint(most, max(hinted.values(), default=0))
    for i in persons:
        model.Add(sum(by_person[i]) <= most)
    model.Minimize(W_UNFILLED * sum(unfilled_vars) + W_FAIR * most
                   + W_CHANGE * sum(change_terms) + sum(travel_terms))

    solver = cp_model.CpSolver()
    # the limit covers the whole call: building the model counts against it
    spent = time.perf_counter() - started
    solver.parameters.max_time_in_seconds = max(1.0, float(time_limit_s) - spent)
    solver.parameters.num_search_workers = max(1, int(workers))
    solver.parameters.random_seed = int(seed)
    code = solver.Solve(model)
    if code not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        # the slack makes the model always solvable: only the time limit ends here
        raise InvalidInput(f"no roster found within {time_limit_s} s; raise time_limit_s or "
                           "split the street", solver=solver.StatusName(code))
    obj, bound = solver.ObjectiveValue(), solver.BestObjectiveBound()
    # CP-SAT's bound is weak with few workers (no LP): take the better of it and ours
    bound = max(bound, lower_bound(posts, cand, nshift, len(by_person)))
    gap = 0.0 if code == cp_model.OPTIMAL else min(1.0, max(0.0, obj - bound) / max(1.0, obj))

    shifts, unfilled = [], []
    count = defaultdict(int)
    for j, post in enumerate(posts):
        for k in range(nshift):
            on = tuple(people[i].id for i, _ in cand[j] if solver.Value(x[i, j, k]))
            for pid in on:
                count[pid] += 1
            shifts.append(Shift(post.id, starts[k], starts[k] + h, on))
            miss, miss_sec = slot_vars[j, k]
            m, ms = solver.Value(miss), solver.Value(miss_sec) if miss_sec is not None else 0
            if m or ms:
                unfilled.append(Unfilled(post.id, starts[k], starts[k] + h, int(m), int(ms)))
    loads = tuple(PersonLoad(q.id, q.kind, count[q.id] * shift_hours, count[q.id])
                  for q in people)
    kept = {(s.post, s.start, p) for s in shifts for p in s.people}
    present = {q.id for q in people}
    changes = (sum(1 for a in prev if a[2] not in present or a not in kept)
               if previous is not None else None)
    proven = code == cp_model.OPTIMAL
    status = "infeasible" if unfilled else ("optimal" if proven else "feasible")
    params = {"start": start.isoformat(), "days": days, "shift_hours": shift_hours,
              "max_hours_per_week": max_hours_per_week, "min_rest_hours": min_rest_hours,
              "max_travel_m": max_travel_m, "epsg": epsg}
    return Roster(status=status, gap=round(gap, 6), shifts=tuple(shifts), people=loads,
                  unfilled=tuple(unfilled), objective=obj, proven=proven,
                  solve_s=round(time.perf_counter() - started, 3), changes=changes,
                  params=params)
