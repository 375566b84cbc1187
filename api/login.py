"""The login page, login and logout (browser sessions); attempts rate-limited per client.

The page is a Jinja2 template rendered with autoescape: ``next`` and messages are user data.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import jinja2
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from api.access import principal
from api.auth import SESSION_COOKIE, RateLimiter, session_cookie

router = APIRouter(tags=["login"], include_in_schema=False)

_ENV = jinja2.Environment(autoescape=True)
_PAGE = _ENV.from_string("""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>geo-grid 登录</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font-family:sans-serif;max-width:22rem;margin:4rem auto}label{display:block;margin:.6rem 0}
input{width:100%;padding:.3rem}.msg{color:#b00}</style></head>
<body><h1>geo-grid 登录</h1>
{% if message %}<p class="msg">{{ message }}</p>{% endif %}
<form method="post" action="/login">
<input type="hidden" name="next" value="{{ next_url }}">
<label>用户名 user <input name="name" autocomplete="username"></label>
<label>密码 password <input name="password" type="password" autocomplete="current-password"></label>
<p>或 or</p>
<label>令牌 token <input name="token" type="password" autocomplete="off"></label>
<button type="submit">登录 Log in</button>
</form></body></html>""")


def _safe_next(value: str | None) -> str:
    """Only a path on this service (no scheme, no host, not ``//evil``) is a redirect target."""
    if not value:
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not value.startswith("/") or value.startswith("//"):
        return "/"
    return value


def login_page(next_url: str = "/", message: str = "") -> str:
    """The login form (HTML)."""
    return _PAGE.render(next_url=_safe_next(next_url), message=message)


def _client(request: Request) -> str:
    return request.client.host if request.client else "?"


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request, next: str = "/", token: str = "") -> Response:  # noqa: A002
    """The login form; with ``?token=`` (the one-time token printed at first start, or an API
    token) a session is started at once and the browser sent to ``next``."""
    if not token:
        return HTMLResponse(login_page(next))
    return await _login(request, token=token, next_url=next)


async def _login(request: Request, *, token: str = "", name: str = "", password: str = "",
                 next_url: str = "/") -> Response:
    from geo_grid.auth.users import check_password, start_session, use_login_token

    limiter: RateLimiter = request.app.state.login_limiter
    wait = limiter.retry_after(_client(request))
    if wait:
        return HTMLResponse(login_page(message="尝试过多，请稍后再试 (too many attempts)"),
                            status_code=429, headers={"Retry-After": str(wait)})
    store = request.app.state.service.store
    principal = None
    if token:
        principal = await run_in_threadpool(use_login_token, store, token)
    elif name and password:
        principal = await run_in_threadpool(check_password, store, name, password)
    next_url = _safe_next(next_url)
    if principal is None:
        return HTMLResponse(login_page(next_url, "用户名、密码或令牌不正确 (wrong name, password or "
                                                 "token)"), status_code=401)
    sid, _csrf = await run_in_threadpool(start_session, store, principal)
    resp = RedirectResponse(next_url, status_code=303)
    resp.headers["set-cookie"] = session_cookie(sid)
    return resp


@router.post("/login")
async def login(request: Request) -> Response:
    """Check a user name and password (or a token), start a session and go to ``next``."""
    form = await request.form()
    return await _login(request, token=str(form.get("token") or ""),
                        name=str(form.get("name") or ""), password=str(form.get("password") or ""),
                        next_url=str(form.get("next") or "/"))


@router.post("/logout")
async def logout(request: Request) -> Response:
    """End the session."""
    from geo_grid.auth.users import end_session

    sid = request.cookies.get(SESSION_COOKIE)
    if sid:
        await run_in_threadpool(end_session, request.app.state.service.store, sid)
    resp = RedirectResponse("/login", status_code=303)
    resp.headers["set-cookie"] = session_cookie("", max_age=0)
    return resp


session_router = APIRouter(tags=["login"])


class SessionOut(BaseModel):
    """Who the caller is, and (for a browser session) the CSRF token its state-changing
    requests must send as ``X-CSRF-Token``."""

    model_config = {"json_schema_extra": {"examples": [{
        "user": "网格办", "role": "street", "scope": "320214052", "csrf": "x8Yk…"}]}}

    user: str
    role: str
    scope: str | None = None
    csrf: str | None = Field(None, description="null when the caller sent a bearer token")


@session_router.get("/session", response_model=SessionOut)
async def whoami(request: Request) -> dict:
    """The caller's user, role and scope, and its session's CSRF token."""
    who = principal(request)
    if who.is_anonymous:
        from geo_grid.errors import Unauthorized

        raise Unauthorized("no user: send `Authorization: Bearer TOKEN`, or log in at /login")
    return {"user": who.name, "role": who.role, "scope": who.scope,
            "csrf": getattr(request.state, "csrf", None)}
