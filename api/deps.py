"""Request dependencies: the service state.

It is ``async def`` and does no I/O: FastAPI then calls it on the event loop instead of sending
each one to the threadpool (a thread hop per request halves the throughput of a cheap route).
Who the caller is and what it may do are in :mod:`api.auth` and :mod:`api.access`.
"""

from __future__ import annotations

from fastapi import Request

from api.state import ServiceState


async def service(request: Request) -> ServiceState:
    """The running service's state."""
    return request.app.state.service
