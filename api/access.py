"""What a route needs: every route declares an action of :mod:`geo_grid.auth.policy`.

The caller was identified by :class:`api.auth.AuthMiddleware` (``request.state.principal``);
here the route's action and, for data addressed by code (a grid, a member's grid, a building),
the principal's scope are checked — the decision itself is :func:`geo_grid.auth.policy.check`.

- ``dependencies=[needs("edit")]`` on a route (or a router) declares its action;
- :func:`check_code` checks the scope of the code a route is about to answer for;
- :func:`unmask` is the personal-data switch: names, phones and homes in full only when asked
  (``unmasked=true``) and allowed (role and scope), a 403 when asked and not allowed.
"""

from __future__ import annotations

from fastapi import Depends, Request

from geo_grid.auth import policy
from geo_grid.auth.roles import ANONYMOUS, Principal


def principal(request: Request) -> Principal:
    """The caller (anonymous when the middleware let an open route through)."""
    return getattr(request.state, "principal", ANONYMOUS)


def needs(action: str, *, street_wide: bool = False):
    """A route dependency declaring (and checking) the action the route performs.

    The role is checked here; the scope on the data the route reads (grids, members...), or
    here too with ``street_wide`` for routes acting on the whole street (export, import)."""
    if action not in policy.ACTIONS:
        raise ValueError(f"unknown action {action!r}")

    async def _needs(request: Request) -> None:
        who = principal(request)
        if who.is_anonymous and action == "lookup" and request.app.state.settings.public_lookup:
            return  # --public-lookup: masked lookups are open
        if street_wide:
            policy.check(who, action, None)
        else:
            policy.check_role(who, action)

    _needs.__name__ = f"needs_{action}"
    return Depends(_needs)


def require(request: Request, action: str) -> None:
    """What :func:`needs` checks, called by a hot route itself (a
    :class:`~api.routes._read.RequestRoute`, which takes no dependencies)."""
    policy.check_role(principal(request), action)


def check_code(request: Request, action: str, code: str | None) -> None:
    """Refuse (403) ``action`` on ``code`` outside the caller's scope (401 when anonymous)."""
    who = principal(request)
    if who.is_anonymous and action == "lookup" and request.app.state.settings.public_lookup:
        return
    policy.check(who, action, code)


def unmask(request: Request, asked: bool, code: str | None) -> bool:
    """True when the caller asked for personal data in full and may see it for ``code``.

    Raises
    ------
    Forbidden
        When asked and not allowed (role or scope).
    """
    if not asked:
        return False
    who = principal(request)
    policy.check(who, "read_personal", code)
    from geo_grid.auth import audit

    # every read of personal data in full is recorded
    audit.record(request.app.state.service.store, user=who.name, role=who.role,
                 action="read_personal", route=f"{request.method} {request.url.path}",
                 targets=[code] if code else [], outcome="ok", client=_client(request))
    return True


def in_scope(request: Request, code: str | None) -> bool:
    """Whether ``code`` is inside the caller's scope (for filtering lists)."""
    return policy.in_scope(principal(request), code)


def _client(request: Request) -> str:
    return request.client.host if request.client else ""


def audit_targets(request: Request, *codes: str) -> None:
    """Name the codes (grids, buildings, members, scenarios) a state change is about, for the
    audit entry :func:`audited` writes."""
    request.state.audit_targets = [*getattr(request.state, "audit_targets", []), *codes]


def audited(action: str, *, street_wide: bool = False):
    """A route dependency that checks ``action`` (like :func:`needs`) and records the call in
    the audit trail when it ends: who, which route, the targets the route named with
    :func:`audit_targets`, and the outcome (``ok`` or the error code)."""
    if action not in policy.ACTIONS:
        raise ValueError(f"unknown action {action!r}")

    async def _audited(request: Request):
        from fastapi.concurrency import run_in_threadpool

        from geo_grid.auth import audit
        from geo_grid.errors import GeoGridError

        who = principal(request)
        if street_wide:
            policy.check(who, action, None)
        else:
            policy.check_role(who, action)
        outcome = "ok"
        try:
            yield
        except GeoGridError as exc:
            outcome = f"error:{exc.code}"
            raise
        except Exception:
            outcome = "error:internal"
            raise
        finally:
            route = f"{request.method} {request.url.path}"
            await run_in_threadpool(
                audit.record, request.app.state.service.store, user=who.name, role=who.role,
                action=action, route=route, targets=getattr(request.state, "audit_targets", []),
                outcome=outcome, client=_client(request))

    _audited.__name__ = f"audited_{action}"
    return Depends(_audited)
