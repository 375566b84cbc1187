"""What a principal may do and where: the one place the service decides.

Two questions, always both: does the principal's role allow the action (:func:`allows`), and is
the place it acts on inside its scope (:func:`in_scope`)? :func:`check` asks both and raises;
:func:`may_unmask` is the personal-data decision (the masking itself is
:mod:`geo_grid.privacy`); :func:`scope_filter` answers :func:`in_scope` for a whole column of
codes at once.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from geo_grid.auth.roles import Principal
from geo_grid.errors import Forbidden, Unauthorized

#: Every action the policy knows. ``lookup``: which grid covers a place; ``read``: layers,
#: statistics and maps (personal data masked); ``read_personal``: names, phones and homes
#: unmasked; ``scenario``: compute a scenario; ``apply``: apply or revert one; ``edit``: grid
#: edits; ``import``: layer, member and household imports; ``export``: layer exports;
#: ``campaign``: campaigns; ``users``: manage accounts; ``audit``: read the audit trail.
ACTIONS = ("lookup", "read", "read_personal", "scenario", "apply", "edit", "import", "export",
           "campaign", "users", "audit")

#: The actions of each role. A role not listed (``anonymous``) may do nothing: the API opens
#: lookups to everyone itself when it is started with ``--public-lookup``.
ROLE_ACTIONS: dict[str, frozenset[str]] = {
    "admin": frozenset(ACTIONS),
    "street": frozenset(ACTIONS) - {"users"},
    "community": frozenset({"lookup", "read", "read_personal", "scenario", "campaign"}),
    "grid": frozenset({"lookup", "read", "read_personal", "campaign"}),
    "viewer": frozenset({"lookup", "read", "export"}),
    "service": frozenset({"lookup"}),
}

#: Length of a street code: a principal scoped to a street covers the street-wide things
#: (``code=None``), since a store holds one street.
STREET_DIGITS = 9


def _known(action: str) -> None:
    if action not in ACTIONS:
        # a typo in the caller, not a refusal: fail loudly rather than refuse silently
        raise ValueError(f"unknown action {action!r}; known: {', '.join(ACTIONS)}")


def allows(p: Principal, action: str) -> bool:
    """Whether the principal's role allows the action anywhere at all.

    Parameters
    ----------
    p : Principal
        Who asks.
    action : str
        One of :data:`ACTIONS` (another name raises ``ValueError``).

    Returns
    -------
    bool
    """
    _known(action)
    return action in ROLE_ACTIONS.get(p.role, frozenset())


def in_scope(p: Principal, code: str | None) -> bool:
    """Whether a place is inside the principal's scope.

    Only codes at or below the scope are inside it: a community user covers its grids and
    buildings, not its street, not a neighbour community.

    A building's code is its community's code and a serial number, not its grid's (a building
    can move to another grid and keeps its code): to ask about a building for a grid-scoped
    principal, pass the building's ``grid_code``. Its own code is refused to a grid scope (the
    safe side), and accepted by the street and community scopes above it.

    Parameters
    ----------
    p : Principal
        Who asks.
    code : str or None
        A street, community, grid or building code; None for a street-wide thing (the whole
        district, a scenario over every grid, a list of everything).

    Returns
    -------
    bool
        True for an unscoped principal; for ``code=None`` only for an unscoped principal or
        one scoped to a street; otherwise whether ``code`` starts with the scope.
    """
    if p.scope is None:
        return True
    if code is None:
        return len(p.scope) == STREET_DIGITS
    return str(code).startswith(p.scope)


def check_role(p: Principal, action: str) -> None:
    """Raise unless the principal's role allows ``action`` somewhere (its scope is checked
    later, on the data, with :func:`check`): what a route declares it needs.

    Raises
    ------
    Unauthorized
        The principal is anonymous.
    Forbidden
        The role does not allow the action.
    """
    _known(action)
    if p.is_anonymous:
        raise Unauthorized(f"{action} requires authentication: give an API token or log in",
                           action=action)
    if not allows(p, action):
        raise Forbidden(f"user {p.name} (role {p.role}) may not {action}", role=p.role,
                        action=action)


def check(p: Principal, action: str, code: str | None = None) -> None:
    """Raise unless the principal may do ``action`` on ``code``.

    Parameters
    ----------
    p : Principal
        Who asks.
    action : str
        One of :data:`ACTIONS`.
    code : str or None
        The place acted on (None: street-wide).

    Raises
    ------
    Unauthorized
        The principal is anonymous.
    Forbidden
        The role does not allow the action, or the place is outside the principal's scope.
    """
    _known(action)
    if p.is_anonymous:
        raise Unauthorized(f"{action} requires authentication: give an API token or log in",
                           action=action)
    where = "the whole street" if code is None else str(code)
    if not allows(p, action):
        raise Forbidden(f"user {p.name} (role {p.role}) may not {action} ({where})",
                        role=p.role, action=action, target=code)
    if not in_scope(p, code):
        raise Forbidden(f"user {p.name} (role {p.role}, scope {p.scope}) may not {action} "
                        f"{where}: outside its scope", role=p.role, action=action, target=code,
                        scope=p.scope)


def may_unmask(p: Principal, code: str | None) -> bool:
    """Whether the principal may see personal data (names, phones, homes) of a place unmasked.

    Parameters
    ----------
    p : Principal
        Who asks.
    code : str or None
        The place the data belong to (None: street-wide).

    Returns
    -------
    bool
        ``allows(p, "read_personal") and in_scope(p, code)``.
    """
    return allows(p, "read_personal") and in_scope(p, code)


def scope_filter(p: Principal, codes) -> np.ndarray:
    """:func:`in_scope` for every code of an array, vectorised (to filter a list).

    Parameters
    ----------
    p : Principal
        Who asks.
    codes : array-like of str or None
        Place codes; a None (or NaN) entry is a street-wide thing. Filter buildings by their
        ``grid_code`` (see :func:`in_scope`).

    Returns
    -------
    numpy.ndarray of bool
        One flag per code.
    """
    s = pd.Series(np.asarray(codes, dtype=object).ravel(), dtype=object)
    if p.scope is None:
        return np.ones(len(s), dtype=bool)
    missing = s.isna().to_numpy()
    inside = s.astype("string").str.startswith(p.scope).fillna(False).to_numpy(dtype=bool)
    inside[missing] = in_scope(p, None)
    return inside


__all__ = ["ACTIONS", "ROLE_ACTIONS", "allows", "check", "in_scope", "may_unmask", "scope_filter"]
