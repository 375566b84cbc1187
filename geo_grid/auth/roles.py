"""The roles of the service and the principal a request or a command acts as.

A scope is a place code: a street (9 digits), a community (12) or a grid (15). Codes are
hierarchical (a grid's code starts with its community's, a building's with its grid's), so a
principal scoped to a community covers its grids and buildings. ``None`` is everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Every role, from the most to the least powerful (``service`` is a machine doing lookups).
ROLES = ("admin", "street", "community", "grid", "viewer", "service")

#: The length of the scope code each scoped role must have.
SCOPE_DIGITS = {"street": 9, "community": 12, "grid": 15}
#: The scope lengths a ``viewer`` or ``service`` may have (or no scope at all).
ANY_SCOPE_DIGITS = (9, 12, 15)


@dataclass(frozen=True)
class Principal:
    """Who is asking: an account name, its role and its scope.

    Parameters
    ----------
    name : str
        The account name (``anonymous`` for no account).
    role : str
        One of :data:`ROLES`, or ``anonymous``.
    scope : str or None
        The code of the street, community or grid the principal is limited to; None is
        everywhere (an admin, or an unscoped viewer or service).
    """

    name: str
    role: str
    scope: str | None = None

    @property
    def is_anonymous(self) -> bool:
        """True for the principal of a request without credentials."""
        return self.role == "anonymous"


#: The principal of a request without credentials: it may do nothing by itself.
ANONYMOUS = Principal("anonymous", "anonymous", None)

__all__ = ["ANONYMOUS", "ANY_SCOPE_DIGITS", "Principal", "ROLES", "SCOPE_DIGITS"]
