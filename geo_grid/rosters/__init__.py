"""Posts and shift rosters (排班): who stands at which post in which shift.

- :mod:`geo_grid.rosters.model`: posts, people, shifts and the roster (frozen dataclasses);
- :mod:`geo_grid.rosters.sources`: posts and people taken from a street (its communities and
  members) and from inline reinforcements;
- :mod:`geo_grid.rosters.solve`: the CP-SAT model (:func:`solve_roster`);
- :mod:`geo_grid.rosters.store`: rosters kept in the store's ``rosters`` table;
- :mod:`geo_grid.rosters.workbook`: a roster as an xlsx (one sheet per post and per person).
"""

from geo_grid.rosters.model import (
    PERSON_KINDS,
    POST_KINDS,
    SECURITY_KINDS,
    Person,
    PersonLoad,
    Post,
    Roster,
    Shift,
    Unfilled,
)
from geo_grid.rosters.solve import solve_roster

__all__ = ["PERSON_KINDS", "POST_KINDS", "SECURITY_KINDS", "Person", "PersonLoad", "Post",
           "Roster", "Shift", "Unfilled", "solve_roster"]
