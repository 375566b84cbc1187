"""Accounts, API tokens, passwords and browser sessions, kept in the store.

Secrets are never stored, only their hashes:

* API tokens, one-time login tokens and session ids are 256 bits from :mod:`secrets`; guessing
  one is hopeless however fast the hash, so a plain SHA-256 (fast, and searchable: the row is
  found by its hash) is right for them.
* Passwords are chosen by people and may be weak: they are hashed with Argon2 (slow and
  memory-hard, salted), and an unknown account costs the same verification as a known one.

A principal is always rebuilt from its account row, so disabling an account or changing its
role takes effect on the next request, whatever tokens or sessions it holds.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.engine import Connection

from geo_grid.auth.roles import ANY_SCOPE_DIGITS, ROLES, SCOPE_DIGITS, Principal
from geo_grid.errors import Conflict, InvalidInput, NotFound
from geo_grid.store import schema
from geo_grid.store.build import now_iso
from geo_grid.store.changes import notify
from geo_grid.store.history import _immediate
from geo_grid.store.store import Store

#: The prefix of every API and one-time token (so a leaked one is recognisable in logs).
TOKEN_PREFIX = "gg_"
#: The shortest password accepted.
MIN_PASSWORD = 8
#: A session's lifetime unless told otherwise (a working day).
SESSION_TTL_S = 8 * 3600
#: The account :func:`first_admin` creates.
FIRST_ADMIN = "admin"

_NAME = re.compile(r"^[^\s\x00-\x1f\x7f:]{1,64}$")
_hasher = PasswordHasher()
_dummy_hash: str | None = None


@dataclass(frozen=True)
class User:
    """An account as listed (without any secret)."""

    name: str
    role: str
    scope: str | None
    disabled: bool
    created_at: str


def _sha256(secret: str) -> str:
    # tokens and session ids are 256-bit random values: a fast hash is enough (see above)
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def _street_codes(conn: Connection) -> list[str]:
    return sorted(conn.execute(select(schema.street.c.code)).scalars())


def _check_scope(conn: Connection, role: str, scope: str | None) -> str | None:
    """The scope, validated for the role and the store's streets."""
    scope = None if scope is None or str(scope).strip() == "" else str(scope).strip()
    if role == "admin":
        if scope is not None:
            raise InvalidInput(f"an admin has no scope (got {scope})", role=role, scope=scope)
        return None
    if role in SCOPE_DIGITS:
        want = SCOPE_DIGITS[role]
        if scope is None or not (scope.isdigit() and scope.isascii() and len(scope) == want):
            raise InvalidInput(f"a {role} user needs a {role} code of {want} digits as its "
                               f"scope (got {scope})", role=role, scope=scope)
    elif scope is not None and not (scope.isdigit() and scope.isascii()
                                    and len(scope) in ANY_SCOPE_DIGITS):
        raise InvalidInput(f"a scope is a street (9 digits), community (12) or grid (15) code "
                           f"(got {scope})", role=role, scope=scope)
    streets = _street_codes(conn)
    if scope is not None and streets and not any(scope.startswith(s) for s in streets):
        raise InvalidInput(f"scope {scope} is not inside a street of this store "
                           f"({', '.join(streets)})", role=role, scope=scope)
    return scope


def _check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(f"a password has at least {MIN_PASSWORD} characters")
    return _hasher.hash(password)


def _principal(row) -> Principal:
    return Principal(row.name, row.role, row.scope)


def _require(conn: Connection, name: str):
    u = schema.users
    row = conn.execute(select(u).where(u.c.name == name)).first()
    if row is None:
        raise NotFound(f"user {name} does not exist", user=name)
    return row


def add_user(store: Store, name: str, role: str, scope: str | None = None,
             password: str | None = None) -> str:
    """Create an account and return its API token (shown once: only its hash is kept).

    Parameters
    ----------
    store : Store
        The store.
    name : str
        Unique; 1 to 64 characters, no spaces, control characters or colons.
    role : str
        One of :data:`geo_grid.auth.roles.ROLES`.
    scope : str, optional
        Required for ``street`` (9 digits), ``community`` (12) and ``grid`` (15); optional for
        ``viewer`` and ``service`` (any of these levels); none for ``admin``. It must lie in
        the store's street.
    password : str, optional
        For logging in from a browser (at least :data:`MIN_PASSWORD` characters).

    Returns
    -------
    str
        The API token, ``gg_`` followed by 43 URL-safe characters.

    Raises
    ------
    InvalidInput
        A malformed name, an unknown role, a scope wrong for the role, a short password.
    Conflict
        The name is taken.
    """
    name = str(name).strip()
    if not _NAME.match(name) or name == "anonymous":
        raise InvalidInput(f"invalid user name {name!r}: 1 to 64 characters, no spaces, control "
                           "characters or colons, not 'anonymous'", user=name)
    if role not in ROLES:
        raise InvalidInput(f"unknown role {role!r}; roles: {', '.join(ROLES)}", role=role)
    pw_hash = _check_password(password) if password is not None else None
    token = _token()
    u = schema.users
    with _immediate(store) as conn:
        scope = _check_scope(conn, role, scope)
        if conn.execute(select(u.c.fid).where(u.c.name == name)).first() is not None:
            raise Conflict(f"user {name} exists", user=name)
        conn.execute(insert(u).values(name=name, role=role, scope=scope,
                                      token_hash=_sha256(token), password_hash=pw_hash,
                                      disabled=False, created_at=now_iso()))
    return token


def get_user(store: Store, name: str) -> User:
    """One account (NotFound if there is none of that name)."""
    with store.engine.connect() as conn:
        r = _require(conn, name)
    return User(r.name, r.role, r.scope, bool(r.disabled), r.created_at)


def list_users(store: Store) -> list[User]:
    """Every account, by name."""
    u = schema.users
    with store.engine.connect() as conn:
        rows = conn.execute(select(u).order_by(u.c.name)).all()
    return [User(r.name, r.role, r.scope, bool(r.disabled), r.created_at) for r in rows]


def has_users(store: Store) -> bool:
    """Whether the store has any account."""
    with store.engine.connect() as conn:
        return bool(conn.execute(select(func.count()).select_from(schema.users)).scalar())


def disable_user(store: Store, name: str) -> None:
    """Disable an account: its token, password and sessions stop working at once.

    Raises
    ------
    NotFound
        No such account.
    """
    u = schema.users
    with _immediate(store) as conn:
        _require(conn, name)
        conn.execute(update(u).where(u.c.name == name).values(disabled=True))
        conn.execute(delete(schema.sessions).where(schema.sessions.c.user_name == name))
        notify(conn, "users", name)  # other services drop the credentials they cached


def new_token(store: Store, name: str) -> str:
    """A new API token for an account; the old one stops working.

    Raises
    ------
    NotFound
        No such account.
    """
    token = _token()
    u = schema.users
    with _immediate(store) as conn:
        _require(conn, name)
        conn.execute(update(u).where(u.c.name == name).values(token_hash=_sha256(token)))
        notify(conn, "users", name)
    return token


def set_password(store: Store, name: str, password: str) -> None:
    """Set (or replace) an account's password.

    Raises
    ------
    InvalidInput
        Shorter than :data:`MIN_PASSWORD`.
    NotFound
        No such account.
    """
    pw_hash = _check_password(password)
    u = schema.users
    with _immediate(store) as conn:
        _require(conn, name)
        conn.execute(update(u).where(u.c.name == name).values(password_hash=pw_hash))


def authenticate_token(store: Store, token: str) -> Principal | None:
    """The principal of an API token; None for an unknown token or a disabled account."""
    if not token:
        return None
    digest = _sha256(token)
    u = schema.users
    with store.engine.connect() as conn:
        row = conn.execute(select(u).where(u.c.token_hash == digest)).first()
    # the row was found through an index on the hash; compare once more in constant time
    if row is None or not hmac.compare_digest(row.token_hash, digest) or row.disabled:
        return None
    return _principal(row)


def _dummy() -> str:
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = _hasher.hash(secrets.token_urlsafe(16))
    return _dummy_hash


def check_password(store: Store, name: str, password: str) -> Principal | None:
    """The principal of a name and password; None if either is wrong or the account disabled.

    An unknown name (or an account without a password) is verified against a dummy hash, so
    the answer takes as long as for a known one and does not tell which names exist.
    """
    u = schema.users
    with store.engine.connect() as conn:
        row = conn.execute(select(u).where(u.c.name == str(name))).first()
    stored = row.password_hash if row is not None and row.password_hash else None
    try:
        ok = _hasher.verify(stored or _dummy(), password) and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        ok = False
    if not ok or row.disabled:
        return None
    if _hasher.check_needs_rehash(stored):  # the hasher's parameters were raised since
        with _immediate(store) as conn:
            conn.execute(update(u).where(u.c.name == row.name)
                         .values(password_hash=_hasher.hash(password)))
    return _principal(row)


def first_admin(store: Store) -> str | None:
    """In a store without accounts, create ``admin`` and return a one-time login token.

    The token logs in once (:func:`use_login_token`) and is then cleared; the admin gives
    itself a password or rotates its API token (which is not shown to anyone) from there.

    Returns
    -------
    str or None
        The one-time token, or None when the store already has accounts.
    """
    once = _token()
    u = schema.users
    with _immediate(store) as conn:
        if conn.execute(select(func.count()).select_from(u)).scalar():
            return None
        # an API token nobody knows: the account starts with the one-time token only
        conn.execute(insert(u).values(name=FIRST_ADMIN, role="admin", scope=None,
                                      token_hash=_sha256(_token()), once_hash=_sha256(once),
                                      disabled=False, created_at=now_iso()))
    return once


def use_login_token(store: Store, token: str) -> Principal | None:
    """The principal of an API token or of a one-time login token, which is consumed.

    Returns
    -------
    Principal or None
        None for an unknown (or already used) token or a disabled account.
    """
    if not token:
        return None
    digest = _sha256(token)
    u = schema.users
    with _immediate(store) as conn:
        row = conn.execute(select(u).where(or_(u.c.token_hash == digest,
                                               u.c.once_hash == digest))).first()
        if row is None:
            return None
        if row.once_hash is not None and hmac.compare_digest(row.once_hash, digest):
            # used once: cleared in the same transaction, so two logins cannot both use it
            conn.execute(update(u).where(u.c.fid == row.fid).values(once_hash=None))
        elif not hmac.compare_digest(row.token_hash or "", digest):
            return None
    return None if row.disabled else _principal(row)


def _expiry(ttl_s: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=ttl_s)).isoformat(timespec="microseconds")


def start_session(store: Store, p: Principal, ttl_s: float = SESSION_TTL_S) -> tuple[str, str]:
    """Open a browser session for an account.

    Parameters
    ----------
    store : Store
        The store.
    p : Principal
        An authenticated principal (its account must exist and be enabled).
    ttl_s : float
        Lifetime in seconds (0 or less: expired at once).

    Returns
    -------
    tuple of (str, str)
        The session id (the cookie; only its hash is kept) and the CSRF token its forms echo.

    Raises
    ------
    NotFound
        No such account, or a disabled one.
    """
    sid, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    s = schema.sessions
    now = now_iso()
    with _immediate(store) as conn:
        row = _require(conn, p.name)
        if row.disabled:
            raise NotFound(f"user {p.name} is disabled", user=p.name)
        conn.execute(delete(s).where(s.c.expires_at <= now))  # forget expired sessions
        conn.execute(insert(s).values(id_hash=_sha256(sid), user_name=p.name, csrf=csrf,
                                      created_at=now, expires_at=_expiry(ttl_s)))
    return sid, csrf


def session(store: Store, session_id: str) -> tuple[Principal, str] | None:
    """The principal and CSRF token of a session; None if unknown, expired or disabled."""
    if not session_id:
        return None
    s, u = schema.sessions, schema.users
    with store.engine.connect() as conn:
        row = conn.execute(
            select(u.c.name, u.c.role, u.c.scope, u.c.disabled, s.c.csrf, s.c.expires_at)
            .join(u, u.c.name == s.c.user_name)
            .where(s.c.id_hash == _sha256(session_id))).first()
    if row is None or row.disabled or row.expires_at <= now_iso():
        return None
    return _principal(row), row.csrf


def end_session(store: Store, session_id: str) -> None:
    """Close a session (log out); an unknown id is ignored."""
    s = schema.sessions
    with _immediate(store) as conn:
        conn.execute(delete(s).where(s.c.id_hash == _sha256(session_id or "")))
        notify(conn, "users")  # the session stops working on the other services too


__all__ = ["MIN_PASSWORD", "User", "add_user", "authenticate_token", "check_password",
           "disable_user", "end_session", "first_admin", "get_user", "has_users", "list_users",
           "new_token", "session", "set_password", "start_session", "use_login_token"]
