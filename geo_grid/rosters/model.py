"""The things a roster is made of: posts, people, shifts, and the roster itself."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from geo_grid.errors import InvalidInput

#: Kinds of post: a checkpoint (卡口) and the three groups of the "三位一体" team: information
#: (信息管理), isolation (隔离管理) and logistics (后勤管理).
POST_KINDS = ("checkpoint", "information", "isolation", "logistics")
#: Kinds of people: the grid members by role, and reinforcements (cadres, auxiliary police,
#: compound security guards, volunteers).
PERSON_KINDS = ("secretary", "social_worker", "volunteer", "cadre", "auxiliary_police", "security")
#: The kinds that count towards a checkpoint's ``min_security``.
SECURITY_KINDS = frozenset({"auxiliary_police", "security"})


@dataclass(frozen=True)
class Post:
    """A place to staff around the clock.

    Attributes
    ----------
    id : str
    kind : str
        One of :data:`POST_KINDS`.
    lon, lat : float
        CGCS2000 degrees.
    per_shift : int
        People needed in each shift (at least 1).
    min_security : int
        Of those, how many must be auxiliary police or security guards (checkpoints only).
    """

    id: str
    kind: str
    lon: float
    lat: float
    per_shift: int = 1
    min_security: int = 0

    def __post_init__(self) -> None:
        if self.kind not in POST_KINDS:
            raise InvalidInput(f"post {self.id!r}: kind {self.kind!r} is not one of "
                               f"{', '.join(POST_KINDS)}", post=self.id)
        if self.per_shift < 1:
            raise InvalidInput(f"post {self.id!r}: per_shift must be at least 1", post=self.id)
        if not 0 <= self.min_security <= self.per_shift:
            raise InvalidInput(f"post {self.id!r}: min_security must be between 0 and per_shift "
                               f"({self.per_shift})", post=self.id)
        if self.min_security and self.kind != "checkpoint":
            raise InvalidInput(f"post {self.id!r}: min_security applies to checkpoints only",
                               post=self.id)


@dataclass(frozen=True)
class Person:
    """Someone who can stand at a post.

    Attributes
    ----------
    id : str
        A member id or a reinforcement's id (never a name).
    kind : str
        One of :data:`PERSON_KINDS`.
    x, y : float
        Where the person starts from, in metres of the street's metric CRS.
    capacity : int or None
        At most this many shifts over the whole roster (None: only the hour rules limit).
    """

    id: str
    kind: str
    x: float
    y: float
    capacity: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in PERSON_KINDS:
            raise InvalidInput(f"person {self.id!r}: kind {self.kind!r} is not one of "
                               f"{', '.join(PERSON_KINDS)}", person=self.id)
        if self.capacity is not None and self.capacity < 0:
            raise InvalidInput(f"person {self.id!r}: capacity must not be negative",
                               person=self.id)


@dataclass(frozen=True)
class Shift:
    """One shift of one post and the people on it."""

    post: str
    start: datetime
    end: datetime
    people: tuple[str, ...]


@dataclass(frozen=True)
class Unfilled:
    """A shift short of people: ``missing`` places empty, ``missing_security`` of the
    security places not held by auxiliary police or security guards."""

    post: str
    start: datetime
    end: datetime
    missing: int
    missing_security: int = 0


@dataclass(frozen=True)
class PersonLoad:
    """A person's share of the roster: hours and the number of shifts."""

    id: str
    kind: str
    hours: float
    shifts: int


@dataclass(frozen=True)
class Roster:
    """A computed roster.

    ``status`` is ``optimal`` (proved best), ``feasible`` (every slot filled, not proved best)
    or ``infeasible`` (slots left unfilled: see ``unfilled``; ``proven`` says whether the solver
    proved that no roster fills them all). ``gap`` is the relative distance of the objective to
    the solver's best bound (0 when optimal). ``changes`` counts the assignments of
    ``previous`` not kept (None without one).
    """

    status: str
    gap: float
    shifts: tuple[Shift, ...]
    people: tuple[PersonLoad, ...]
    unfilled: tuple[Unfilled, ...]
    objective: float = 0.0
    proven: bool = False
    solve_s: float = 0.0
    changes: int | None = None
    params: dict[str, Any] = field(default_factory=dict)

    def assignments(self) -> set[tuple[str, datetime, str]]:
        """``(post, start, person)`` of every assignment."""
        return {(s.post, s.start, p) for s in self.shifts for p in s.people}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (times in ISO 8601)."""
        def iso(d: dict) -> dict:
            return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in d.items()}

        return {
            "status": self.status, "gap": self.gap, "proven": self.proven,
            "objective": self.objective, "solve_s": self.solve_s, "changes": self.changes,
            "params": self.params,
            "shifts": [iso({**asdict(s), "people": list(s.people)}) for s in self.shifts],
            "people": [asdict(p) for p in self.people],
            "unfilled": [iso(asdict(u)) for u in self.unfilled],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Roster:
        """The inverse of :meth:`to_dict`."""
        ts = datetime.fromisoformat
        return cls(
            status=d["status"], gap=d["gap"], proven=d.get("proven", False),
            objective=d.get("objective", 0.0), solve_s=d.get("solve_s", 0.0),
            changes=d.get("changes"), params=d.get("params", {}),
            shifts=tuple(Shift(s["post"], ts(s["start"]), ts(s["end"]), tuple(s["people"]))
                         for s in d["shifts"]),
            people=tuple(PersonLoad(**p) for p in d["people"]),
            unfilled=tuple(Unfilled(u["post"], ts(u["start"]), ts(u["end"]), u["missing"],
                                    u.get("missing_security", 0)) for u in d["unfilled"]),
        )
