"""Accounts, roles, scopes and the audit trail of the service.

``roles`` names the roles and the :class:`~geo_grid.auth.roles.Principal` (who is asking),
``policy`` is the one place that decides what a principal may do and where, ``users`` keeps
accounts, API tokens, passwords and browser sessions in the store, and ``audit`` keeps an
append-only, hash-chained trail of who did what.
"""

from geo_grid.auth.roles import ANONYMOUS, ROLES, Principal

__all__ = ["ANONYMOUS", "ROLES", "Principal"]
