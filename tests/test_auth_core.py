"""The auth core: the policy (roles × actions, hierarchical scopes), accounts, tokens,
passwords, sessions, the hash-chained audit trail, and the ``user`` and ``audit`` commands."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys

import numpy as np
import pytest

from geo_grid.auth import audit, users
from geo_grid.auth.policy import (
    ACTIONS,
    allows,
    check,
    in_scope,
    may_unmask,
    scope_filter,
)
from geo_grid.auth.roles import ANONYMOUS, ROLES, Principal
from geo_grid.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized
from geo_grid.store import Store
from tests.conftest import copy_without_users

STREET = "320214052"
COMMUNITY = "320214052005"
NEIGHBOUR = "320214052008"
GRID = "320214052005001"
OTHER_GRID = "320214052005002"
BUILDING = "32021405200500001"  # community code + serial: its grid is not in its code

# The table of the brief, written out (not read from the module under test).
EXPECTED = {
    "admin": set(ACTIONS),
    "street": {"lookup", "read", "read_personal", "scenario", "apply", "edit", "import",
               "export", "campaign", "audit"},
    "community": {"lookup", "read", "read_personal", "scenario", "campaign"},
    "grid": {"lookup", "read", "read_personal", "campaign"},
    "viewer": {"lookup", "read", "export"},
    "service": {"lookup"},
    "anonymous": set(),
}


def _principal(role: str) -> Principal:
    scope = {"street": STREET, "community": COMMUNITY, "grid": GRID}.get(role)
    return Principal(f"u_{role}", role, scope)


@pytest.fixture
def fresh(store_path, tmp_path):
    """A fresh copy of the reference store, opened."""
    path = copy_without_users(store_path, tmp_path / "s.gpkg")
    store = Store(path)
    yield store
    store.close()


@pytest.fixture(scope="module")
def shared(store_path, tmp_path_factory):
    """One copy of the reference store for the account tests of this module."""
    path = copy_without_users(store_path, tmp_path_factory.mktemp("auth") / "s.gpkg")
    store = Store(path)
    yield store
    store.close()


# --- policy ---------------------------------------------------------------------------------

@pytest.mark.parametrize("role", [*ROLES, "anonymous"])
def test_each_role_is_allowed_exactly_its_actions(role):
    p = ANONYMOUS if role == "anonymous" else _principal(role)
    got = {a for a in ACTIONS if allows(p, a)}
    assert got == EXPECTED[role]


def test_role_table_spot_checks():
    assert allows(_principal("street"), "apply") and not allows(_principal("street"), "users")
    assert allows(_principal("community"), "scenario")
    assert not allows(_principal("community"), "apply")
    assert not allows(_principal("grid"), "scenario")
    assert allows(_principal("viewer"), "export") and not allows(_principal("viewer"), "read_personal")
    assert allows(_principal("service"), "lookup") and not allows(_principal("service"), "read")
    assert allows(Principal("root", "admin"), "users") and allows(Principal("root", "admin"), "audit")
    with pytest.raises(ValueError, match="unknown action"):
        allows(_principal("admin"), "delete_everything")


def test_community_scope_covers_its_grids_and_buildings_only():
    p = _principal("community")
    assert in_scope(p, COMMUNITY) and in_scope(p, GRID) and in_scope(p, BUILDING)
    assert not in_scope(p, NEIGHBOUR)
    assert not in_scope(p, NEIGHBOUR + "001")
    assert not in_scope(p, STREET)  # its whole street is above it
    assert not in_scope(p, None)    # street-wide things too


def test_street_grid_and_unscoped_principals():
    street, grid = _principal("street"), _principal("grid")
    assert in_scope(street, None) and in_scope(street, NEIGHBOUR) and in_scope(street, BUILDING)
    assert not in_scope(street, "320214053001")  # another street
    assert in_scope(grid, GRID) and not in_scope(grid, OTHER_GRID)
    assert not in_scope(grid, COMMUNITY) and not in_scope(grid, None)
    # a building is asked about by its grid code; its own code is refused to a grid scope
    assert not in_scope(grid, BUILDING)
    for p in (Principal("root", "admin"), Principal("v", "viewer", None)):
        assert in_scope(p, None) and in_scope(p, NEIGHBOUR) and in_scope(p, BUILDING)
    # a viewer scoped to a community is like a community user as to places
    v = Principal("v", "viewer", COMMUNITY)
    assert in_scope(v, GRID) and not in_scope(v, NEIGHBOUR) and not in_scope(v, None)


def test_check_raises_unauthorized_then_forbidden():
    with pytest.raises(Unauthorized):
        check(ANONYMOUS, "lookup")
    check(_principal("community"), "scenario", GRID)
    with pytest.raises(Forbidden, match=r"u_community \(role community\) may not apply") as e:
        check(_principal("community"), "apply", GRID)
    assert e.value.details["action"] == "apply" and e.value.details["target"] == GRID
    with pytest.raises(Forbidden, match=f"may not read {NEIGHBOUR}: outside its scope"):
        check(_principal("community"), "read", NEIGHBOUR)
    with pytest.raises(Forbidden, match="may not read the whole street"):
        check(_principal("grid"), "read")
    check(_principal("street"), "edit")
    check(Principal("root", "admin"), "users")


def test_may_unmask():
    assert may_unmask(_principal("community"), GRID)
    assert not may_unmask(_principal("community"), NEIGHBOUR + "001")
    assert not may_unmask(_principal("viewer"), GRID)
    assert not may_unmask(ANONYMOUS, GRID)
    assert may_unmask(_principal("street"), None)
    assert not may_unmask(_principal("grid"), None)


def test_scope_filter_agrees_with_in_scope():
    codes = [GRID, OTHER_GRID, NEIGHBOUR + "003", COMMUNITY, STREET, None, BUILDING]
    for p in (_principal("community"), _principal("grid"), _principal("street"),
              Principal("root", "admin"), ANONYMOUS):
        mask = scope_filter(p, np.array(codes, dtype=object))
        assert mask.dtype == bool
        assert mask.tolist() == [in_scope(p, c) for c in codes], p
    assert scope_filter(_principal("community"), []).tolist() == []


# --- accounts -------------------------------------------------------------------------------

def test_new_store_has_the_auth_tables_registered(store_path):
    con = sqlite3.connect(store_path)
    got = {r[0]: r[1] for r in con.execute(
        "SELECT table_name, data_type FROM gpkg_contents "
        "WHERE table_name IN ('users', 'sessions', 'audit')")}
    con.close()
    assert got == {"users": "attributes", "sessions": "attributes", "audit": "attributes"}


def test_an_old_store_gains_the_auth_tables(store_path, tmp_path):
    path = copy_without_users(store_path, tmp_path / "old.gpkg")
    con = sqlite3.connect(path)
    for t in ("users", "sessions", "audit"):
        con.execute(f"DROP TABLE {t}")
        con.execute("DELETE FROM gpkg_contents WHERE table_name = ?", (t,))
    con.commit()
    con.close()
    store = Store(path)
    try:
        assert not users.has_users(store)
        token = users.add_user(store, "li", "viewer")
        assert users.authenticate_token(store, token) == Principal("li", "viewer", None)
        assert audit.record(store, user="li", role="viewer", action="read", route="GET /",
                            outcome="ok") == 1
    finally:
        store.close()
    con = sqlite3.connect(path)
    n = con.execute("SELECT count(*) FROM gpkg_contents WHERE table_name IN "
                    "('users', 'sessions', 'audit')").fetchone()[0]
    con.close()
    assert n == 3


def test_add_list_disable_and_rotate(shared):
    token = users.add_user(shared, "zhang", "community", COMMUNITY)
    assert token.startswith("gg_") and len(token) == 3 + 43
    assert users.authenticate_token(shared, token) == Principal("zhang", "community", COMMUNITY)
    listed = {u.name: u for u in users.list_users(shared)}
    assert listed["zhang"].role == "community" and listed["zhang"].scope == COMMUNITY
    assert not listed["zhang"].disabled and listed["zhang"].created_at
    # only the hash is stored
    con = sqlite3.connect(shared.path)
    stored = con.execute("SELECT token_hash FROM users WHERE name = 'zhang'").fetchone()[0]
    con.close()
    assert token not in stored and len(stored) == 64

    with pytest.raises(Conflict):
        users.add_user(shared, "zhang", "viewer")
    rotated = users.new_token(shared, "zhang")
    assert rotated != token
    assert users.authenticate_token(shared, token) is None
    assert users.authenticate_token(shared, rotated).name == "zhang"
    assert users.authenticate_token(shared, "gg_" + "x" * 43) is None
    assert users.authenticate_token(shared, "") is None

    users.disable_user(shared, "zhang")
    assert users.authenticate_token(shared, rotated) is None
    assert {u.name: u.disabled for u in users.list_users(shared)}["zhang"] is True
    with pytest.raises(NotFound):
        users.disable_user(shared, "nobody")
    with pytest.raises(NotFound):
        users.new_token(shared, "nobody")


@pytest.mark.parametrize(("role", "scope"), [
    ("root", None),                    # unknown role
    ("admin", STREET),                 # an admin has no scope
    ("street", None),                  # a street user needs its street
    ("street", COMMUNITY),             # of 9 digits
    ("community", GRID),               # 12
    ("grid", COMMUNITY),               # 15
    ("viewer", "3202140520"),          # not a level
    ("service", "32021405200A"),       # not digits
    ("community", "320214053001"),     # another street
])
def test_add_user_refuses_a_wrong_role_or_scope(shared, role, scope):
    with pytest.raises(InvalidInput):
        users.add_user(shared, f"bad_{role}", role, scope)
    assert f"bad_{role}" not in {u.name for u in users.list_users(shared)}


@pytest.mark.parametrize("name", ["", "two words", "a:b", "anonymous", "x" * 65])
def test_add_user_refuses_a_bad_name(shared, name):
    with pytest.raises(InvalidInput):
        users.add_user(shared, name, "viewer")


def test_viewer_and_service_scopes_are_optional_at_any_level(shared):
    for i, scope in enumerate((None, STREET, COMMUNITY, GRID)):
        users.add_user(shared, f"svc{i}", "service", scope)
    assert {u.name: u.scope for u in users.list_users(shared)}["svc3"] == GRID


def test_first_admin_one_time_token(fresh):
    assert not users.has_users(fresh)
    once = users.first_admin(fresh)
    assert once and once.startswith("gg_")
    assert users.has_users(fresh)
    assert users.first_admin(fresh) is None  # only in a store without accounts
    # the one-time token is no API token
    assert users.authenticate_token(fresh, once) is None
    assert users.use_login_token(fresh, once) == Principal("admin", "admin", None)
    assert users.use_login_token(fresh, once) is None  # consumed
    # an API token logs in as often as wanted
    api = users.new_token(fresh, "admin")
    assert users.use_login_token(fresh, api).name == "admin"
    assert users.use_login_token(fresh, api).name == "admin"
    assert users.use_login_token(fresh, "gg_unknown") is None


def test_passwords(shared):
    users.add_user(shared, "chen", "grid", GRID, password="correct horse")
    con = sqlite3.connect(shared.path)
    stored = con.execute("SELECT password_hash FROM users WHERE name = 'chen'").fetchone()[0]
    con.close()
    assert stored.startswith("$argon2id$") and "correct horse" not in stored
    assert users.check_password(shared, "chen", "correct horse") == Principal("chen", "grid", GRID)
    assert users.check_password(shared, "chen", "correct horsE") is None
    assert users.check_password(shared, "nobody", "correct horse") is None
    users.set_password(shared, "chen", "battery staple")
    assert users.check_password(shared, "chen", "correct horse") is None
    assert users.check_password(shared, "chen", "battery staple").name == "chen"
    with pytest.raises(InvalidInput, match="at least 8"):
        users.set_password(shared, "chen", "short")
    with pytest.raises(NotFound):
        users.set_password(shared, "nobody", "long enough")
    # an account without a password cannot log in with one
    users.add_user(shared, "nopw", "viewer")
    assert users.check_password(shared, "nopw", "") is None
    users.disable_user(shared, "chen")
    assert users.check_password(shared, "chen", "battery staple") is None


def test_sessions(shared):
    users.add_user(shared, "zhao", "community", COMMUNITY)
    p = Principal("zhao", "community", COMMUNITY)
    sid, csrf = users.start_session(shared, p)
    assert sid and csrf and sid != csrf
    assert users.session(shared, sid) == (p, csrf)
    assert users.session(shared, sid + "x") is None
    assert users.session(shared, "") is None
    for ttl in (0, -5):
        expired, _ = users.start_session(shared, p, ttl_s=ttl)
        assert users.session(shared, expired) is None
    users.end_session(shared, sid)
    assert users.session(shared, sid) is None
    with pytest.raises(NotFound):
        users.start_session(shared, Principal("ghost", "viewer"))

    again, _ = users.start_session(shared, p)
    assert users.session(shared, again) is not None
    users.disable_user(shared, "zhao")
    assert users.session(shared, again) is None
    with pytest.raises(NotFound):
        users.start_session(shared, p)


# --- audit ----------------------------------------------------------------------------------

def _five(store) -> None:
    for i, (user, action, target) in enumerate([
            ("zhang", "read", GRID), ("zhang", "scenario", COMMUNITY),
            ("li", "edit", OTHER_GRID), ("li", "read", NEIGHBOUR + "001"),
            ("cli:ops", "users", "wang")]):
        seq = audit.record(store, user=user, role="street", action=action,
                           route=f"POST /api/v1/x/{i}", targets=[target], outcome="ok",
                           client="127.0.0.1")
        assert seq == i + 1


def _sql(store, statement: str) -> None:
    con = sqlite3.connect(store.path)
    con.execute(statement)
    con.commit()
    con.close()


def test_audit_records_and_filters(fresh):
    assert audit.verify(fresh) == (True, None, "audit trail intact: 0 entries")
    _five(fresh)
    assert audit.verify(fresh) == (True, None, "audit trail intact: 5 entries")
    got = audit.entries(fresh)
    assert [e["seq"] for e in got] == [5, 4, 3, 2, 1]
    assert got[-1]["targets"] == [GRID] and got[-1]["client"] == "127.0.0.1"
    assert [e["seq"] for e in audit.entries(fresh, user="li")] == [4, 3]
    assert [e["seq"] for e in audit.entries(fresh, action="read")] == [4, 1]
    assert [e["seq"] for e in audit.entries(fresh, code_prefix=COMMUNITY)] == [3, 2, 1]
    assert [e["seq"] for e in audit.entries(fresh, code_prefix=NEIGHBOUR)] == [4]
    assert [e["seq"] for e in audit.entries(fresh, limit=2, offset=1)] == [4, 3]
    at3 = got[2]["at"]
    assert [e["seq"] for e in audit.entries(fresh, since=at3)] == [5, 4, 3]
    assert [e["seq"] for e in audit.entries(fresh, until=at3)] == [2, 1]


def test_audit_entry_in_a_rolled_back_transaction_is_not_kept(fresh):
    from geo_grid.store.history import _immediate

    _five(fresh)
    with pytest.raises(RuntimeError), _immediate(fresh) as conn:
        audit.record(fresh, user="x", role="admin", action="users", route="r",
                     outcome="ok", conn=conn)
        raise RuntimeError("the change failed")
    assert audit.verify(fresh) == (True, None, "audit trail intact: 5 entries")
    assert audit.record(fresh, user="x", role="admin", action="users", route="r",
                        outcome="ok") == 6


def test_audit_names_a_changed_row(fresh):
    _five(fresh)
    _sql(fresh, "UPDATE audit SET outcome = 'denied' WHERE seq = 3")
    ok, bad, message = audit.verify(fresh)
    assert (ok, bad) == (False, 3) and "changed" in message


def test_audit_names_a_changed_target(fresh):
    _five(fresh)
    _sql(fresh, f"UPDATE audit SET targets = '[\"{NEIGHBOUR}\"]' WHERE seq = 1")
    assert audit.verify(fresh)[:2] == (False, 1)


def test_audit_names_a_missing_middle_row(fresh):
    _five(fresh)
    _sql(fresh, "DELETE FROM audit WHERE seq = 2")
    ok, bad, message = audit.verify(fresh)
    assert (ok, bad) == (False, 2) and "missing" in message


def test_audit_detects_the_last_row_removed(fresh):
    _five(fresh)
    _sql(fresh, "DELETE FROM audit WHERE seq = 5")
    ok, bad, message = audit.verify(fresh)
    assert (ok, bad) == (False, 5) and "head mismatch" in message
    # appending after the removal does not hide it: the gap stays
    audit.record(fresh, user="x", role="admin", action="audit", route="r", outcome="ok")
    ok, bad, message = audit.verify(fresh)
    assert (ok, bad) == (False, 5) and "missing" in message


# --- CLI ------------------------------------------------------------------------------------

def _cli(*args, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "geo_grid.cli", *args], capture_output=True,
                          text=True, input=stdin, timeout=300)


def test_cli_users_and_audit(store_path, tmp_path):
    db = copy_without_users(store_path, tmp_path / "cli.gpkg")
    out = _cli("user", "add", "wang", "--role", "community", "--scope", COMMUNITY, "--db", str(db),
               "--password-stdin", stdin="a long password\n")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert json.loads(lines[0])["scope"] == COMMUNITY
    token = lines[-1]
    assert token.startswith("gg_") and " " not in token

    bad = _cli("user", "add", "wang", "--role", "viewer", "--db", str(db))
    assert bad.returncode != 0 and "conflict" in bad.stderr

    rotated = _cli("user", "token", "wang", "--db", str(db))
    assert rotated.returncode == 0, rotated.stderr
    new = rotated.stdout.strip().splitlines()[-1]
    assert new.startswith("gg_") and new != token

    listed = _cli("user", "list", "--db", str(db))
    assert [json.loads(x)["name"] for x in listed.stdout.splitlines()] == ["wang"]
    assert _cli("user", "disable", "wang", "--db", str(db)).returncode == 0

    store = Store(db)
    try:
        assert users.authenticate_token(store, token) is None
        assert users.authenticate_token(store, new) is None  # disabled
        got = audit.entries(store, action="users")
        assert [e["targets"] for e in got] == [["wang"]] * 3
        assert all(e["user"].startswith("cli:") for e in got)
    finally:
        store.close()

    ok = _cli("audit", "verify", "--db", str(db))
    assert ok.returncode == 0 and "audit trail intact: 3 entries" in ok.stdout
    listed = _cli("audit", "list", "--db", str(db), "--limit", "1")
    assert [json.loads(x)["seq"] for x in listed.stdout.splitlines()] == [3]

    con = sqlite3.connect(db)
    con.execute("UPDATE audit SET route = 'user list' WHERE seq = 2")
    con.commit()
    con.close()
    broken = _cli("audit", "verify", "--db", str(db))
    assert broken.returncode == 1 and "entry 2" in broken.stderr
