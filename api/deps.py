"""Request dependencies: the service state and the caller's right to see personal data.

Both are ``async def`` and do no I/O: FastAPI then calls them on the event loop instead of
sending each one to the threadpool (a thread hop per request halves the throughput of a cheap
route like ``/api/v1/lookup``).
"""

from __future__ import annotations

import hmac

from fastapi import Header, Query, Request

from api.state import ServiceState
from geo_grid.errors import Forbidden


async def service(request: Request) -> ServiceState:
    """The running service's state."""
    return request.app.state.service


async def unmasked(
    request: Request,
    unmasked: bool = Query(False, description="show names and phones in full (needs X-API-Key)"),
    x_api_key: str | None = Header(None),
) -> bool:
    """True only when the caller asks for unmasked data and sends the admin key."""
    return allow_unmasked(request, unmasked, x_api_key)


def allow_unmasked(request: Request, asked: bool, x_api_key: str | None) -> bool:
    """``asked`` if the caller may see personal data in full; raises ``Forbidden`` if it
    asked without the admin key."""
    if not asked:
        return False
    token = request.app.state.settings.admin_token
    if not token or not x_api_key or not hmac.compare_digest(token, x_api_key):
        raise Forbidden("unmasked personal data needs a valid X-API-Key")
    return True
