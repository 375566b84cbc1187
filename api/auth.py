"""Who is calling: API tokens, browser sessions, the login page, CSRF — one ASGI middleware.

Every request is identified before it reaches a route:

- ``Authorization: Bearer TOKEN`` (API clients): the token is looked up in the store
  (:func:`geo_grid.auth.users.authenticate_token`), the answer kept for a few seconds so a hot
  route does not read the store on every call (a revoked token stops working within
  :data:`CACHE_SECONDS`).
- the ``gg_session`` cookie (browser pages): HttpOnly, SameSite=Strict, started by the login form
  or by opening any page with ``?token=TOKEN`` (an API token or the one-time token printed at
  first start), after which the service redirects to the same URL without the token.
- anything else is anonymous: a 401 problem (a login form for pages), except for ``/healthz``,
  ``/login``, static assets, and — with ``public_lookup`` — the masked point and address lookups.

State-changing requests that ride on the session cookie must carry the session's CSRF token
(``X-CSRF-Token`` header, or ``csrf_token`` form field on the login/logout forms) and, when the
browser sends one, an ``Origin`` of this host; bearer-token requests are not ambient and need
neither. What a principal may then do is decided by :mod:`geo_grid.auth.policy`, route by route.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import OrderedDict, deque
from urllib.parse import parse_qsl, urlencode

from starlette.types import ASGIApp, Receive, Scope, Send

from geo_grid.auth.roles import ANONYMOUS, Principal

SESSION_COOKIE = "gg_session"
CSRF_HEADER = b"x-csrf-token"
#: How long an authenticated token or session is trusted without reading the store again.
CACHE_SECONDS = 2.0
PUBLIC_PREFIXES = ("/static/",)
PUBLIC_PATHS = frozenset({"/healthz", "/login", "/logout"})
LOOKUP_PATHS = frozenset({"/api/v1/lookup"})
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


class _TTLCache:
    """A small thread-safe map with expiry (credential digest → what it authenticates as)."""

    def __init__(self, size: int = 4096) -> None:
        self._data: OrderedDict[str, tuple[float, object]] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(self, key: str):
        with self._lock:
            hit = self._data.get(key)
            if hit is None or hit[0] < time.monotonic():
                return None
            return hit[1]

    def put(self, key: str, value) -> None:
        with self._lock:
            self._data[key] = (time.monotonic() + CACHE_SECONDS, value)
            self._data.move_to_end(key)
            while len(self._data) > self._size:
                self._data.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


class RateLimiter:
    """At most ``limit`` attempts per client address in a sliding ``window`` of seconds."""

    def __init__(self, limit: int = 10, window: float = 60.0) -> None:
        self.limit, self.window = limit, window
        self._hits: dict[str, deque] = {}
        self._lock = threading.Lock()

    def retry_after(self, client: str) -> int:
        """0 if ``client`` may try now (the attempt is counted), else seconds to wait."""
        now = time.monotonic()
        with self._lock:
            q = self._hits.setdefault(client, deque())
            while q and q[0] <= now - self.window:
                q.popleft()
            if len(q) >= self.limit:
                return max(1, int(q[0] + self.window - now) + 1)
            q.append(now)
            if len(self._hits) > 10_000:  # forget idle clients
                for k in [k for k, v in self._hits.items() if not v][:5000]:
                    del self._hits[k]
            return 0


def _header(scope: Scope, name: bytes) -> str | None:
    for k, v in scope.get("headers", ()):
        if k == name:
            return v.decode("latin-1")
    return None


def _cookie(scope: Scope, name: str) -> str | None:
    raw = _header(scope, b"cookie")
    if not raw:
        return None
    for part in raw.split(";"):
        k, _, v = part.strip().partition("=")
        if k == name:
            return v
    return None


def session_cookie(value: str, max_age: int | None = None) -> str:
    """The ``Set-Cookie`` value of the session cookie (HttpOnly, SameSite=Strict)."""
    age = f"; Max-Age={max_age}" if max_age is not None else ""
    return f"{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict{age}"


async def _send_problem(send: Send, status: int, title: str, detail: str, path: str,
                        extra_headers: list[tuple[bytes, bytes]] = ()) -> None:
    body = json.dumps({"type": f"urn:geo-grid:error:{'unauthorized' if status == 401 else 'forbidden'}",
                       "title": title, "status": status, "detail": detail, "instance": path,
                       "code": "unauthorized" if status == 401 else "forbidden"},
                      ensure_ascii=False).encode()
    headers = [(b"content-type", b"application/problem+json"),
               (b"content-length", str(len(body)).encode()), *extra_headers]
    if status == 401:
        headers.append((b"www-authenticate", b'Bearer realm="geo-grid"'))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class AuthMiddleware:
    """Identify every request (see the module docstring) and refuse anonymous ones.

    Sets ``scope["state"]["principal"]`` (a :class:`~geo_grid.auth.roles.Principal`) and, for
    session requests, ``scope["state"]["csrf"]``. The service state (its store) is read from
    ``app.state.service`` at request time, so the middleware can be added before startup.
    """

    def __init__(self, app: ASGIApp, *, public_lookup: bool = False) -> None:
        self.app = app
        self.public_lookup = public_lookup
        self.tokens = _TTLCache()
        self.sessions = _TTLCache()
        self._epoch = 0

    def _store(self, scope: Scope):
        return scope["app"].state.service.store

    def _fresh(self, scope: Scope) -> None:
        # another process changed accounts, tokens or sessions (a notification bumped the
        # service's epoch): what was cached may no longer hold
        epoch = getattr(scope["app"].state.service, "credentials_epoch", 0)
        if epoch != self._epoch:
            self.forget()
            self._epoch = epoch

    def _by_token(self, scope: Scope, token: str) -> Principal | None:
        self._fresh(scope)
        key = _digest(token)
        hit = self.tokens.get(key)
        if hit is None:
            from geo_grid.auth.users import authenticate_token

            hit = authenticate_token(self._store(scope), token) or ANONYMOUS
            self.tokens.put(key, hit)
        return None if hit is ANONYMOUS else hit

    def _by_session(self, scope: Scope, sid: str) -> tuple[Principal, str] | None:
        self._fresh(scope)
        key = _digest(sid)
        hit = self.sessions.get(key)
        if hit is None:
            from geo_grid.auth.users import session

            hit = session(self._store(scope), sid) or (ANONYMOUS, "")
            self.sessions.put(key, hit)
        return None if hit[0] is ANONYMOUS else hit

    def forget(self) -> None:
        """Drop every cached credential (after a user is disabled or a token rotated)."""
        self.tokens.clear()
        self.sessions.clear()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        state = scope.setdefault("state", {})
        principal: Principal | None = None
        via_session = False

        auth = _header(scope, b"authorization")
        if auth is not None:
            kind, _, token = auth.partition(" ")
            if kind.lower() != "bearer" or not token.strip():
                await _send_problem(send, 401, "Authentication required",
                                    "the Authorization header must be `Bearer TOKEN`", path)
                return
            principal = self._by_token(scope, token.strip())
            if principal is None:
                await _send_problem(send, 401, "Authentication required",
                                    "the token is unknown, revoked or its user disabled", path)
                return
        else:
            sid = _cookie(scope, SESSION_COOKIE)
            if sid:
                hit = self._by_session(scope, sid)
                if hit is not None:
                    principal, state["csrf"] = hit
                    via_session = True

        query = scope.get("query_string", b"")
        if (b"token=" in query and scope["method"] == "GET" and not path.startswith("/api/")
                and path not in PUBLIC_PATHS):
            # a page opened with ?token=: start a session and come back without the token
            await self._login_redirect(scope, send, query)
            return

        if principal is None:
            open_route = path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES) or (
                self.public_lookup and path in LOOKUP_PATHS and scope["method"] == "GET")
            if open_route:
                principal = ANONYMOUS
            else:
                await self._unauthenticated(scope, send)
                return

        if via_session and scope["method"] in UNSAFE and path not in PUBLIC_PATHS:
            problem = self._csrf_problem(scope, state.get("csrf", ""))
            if problem:
                await _send_problem(send, 403, "Forbidden", problem, path)
                return
        state["principal"] = principal
        await self.app(scope, receive, send)

    @staticmethod
    def _csrf_problem(scope: Scope, csrf: str) -> str | None:
        import hmac

        origin = _header(scope, b"origin")
        host = _header(scope, b"host")
        if origin is not None and host is not None and origin.split("://", 1)[-1] != host:
            return f"cross-site request refused (Origin {origin} is not this service)"
        sent = _header(scope, CSRF_HEADER)
        if not sent or not csrf or not hmac.compare_digest(sent.encode(), csrf.encode()):
            return "a state-changing request from a browser session needs its X-CSRF-Token"
        return None

    async def _unauthenticated(self, scope: Scope, send: Send) -> None:
        path = scope["path"]
        accept = _header(scope, b"accept") or ""
        if not path.startswith("/api/") and "text/html" in accept:
            from api.login import login_page

            body = login_page(next_url=path).encode()
            await send({"type": "http.response.start", "status": 401, "headers": [
                (b"content-type", b"text/html; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"www-authenticate", b'Bearer realm="geo-grid"')]})
            await send({"type": "http.response.body", "body": body})
            return
        await _send_problem(send, 401, "Authentication required",
                            "send `Authorization: Bearer TOKEN`, or log in at /login", path)

    async def _login_redirect(self, scope: Scope, send: Send, query: bytes) -> None:
        from anyio.to_thread import run_sync

        from geo_grid.auth.users import start_session, use_login_token

        pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True)
        token = next((v for k, v in pairs if k == "token"), "")
        rest = urlencode([(k, v) for k, v in pairs if k != "token"])
        store = self._store(scope)
        principal = await run_sync(use_login_token, store, token) if token else None
        if principal is None:
            await _send_problem(send, 401, "Authentication required",
                                "the token in the address is unknown, used or revoked",
                                scope["path"])
            return
        sid, _csrf = await run_sync(start_session, store, principal)
        location = scope["path"] + (f"?{rest}" if rest else "")
        await send({"type": "http.response.start", "status": 303, "headers": [
            (b"location", location.encode("latin-1", "replace")),
            (b"set-cookie", session_cookie(sid).encode()),
            (b"content-length", b"0")]})
        await send({"type": "http.response.body", "body": b""})
