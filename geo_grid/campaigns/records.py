"""A campaign and its visits in the store.

Recording a visit is idempotent by the client's visit id: the row is written with ``INSERT ...
ON CONFLICT DO NOTHING`` (the id is UNIQUE) inside one write transaction, so of any number of
concurrent requests carrying the same id exactly one inserts; every request then reads the
answer stored with the row, so all of them answer the same body.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from geo_grid.campaigns.model import STATUSES, Campaign, CampaignBuilding, Visit
from geo_grid.errors import InvalidInput, NotFound
from geo_grid.store import schema
from geo_grid.store.backend import insert_ignore
from geo_grid.store.history import _immediate


def parse_time(value: str, field: str) -> datetime:
    """An ISO-8601 time with an offset (a time without one is taken as UTC).

    Raises
    ------
    InvalidInput
        Not an ISO-8601 time.
    """
    try:
        when = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as exc:
        raise InvalidInput(f"{field} is not an ISO-8601 time: {value!r}", field=field) from exc
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def create_campaign(store, name: str, deadline: str, scope: dict[str, Any], author: str,
                    buildings: Sequence[CampaignBuilding]) -> Campaign:
    """Keep a new campaign and its buildings; returns it.

    Raises
    ------
    InvalidInput
        An empty name, a deadline that is not a time, no building.
    """
    if not name or not name.strip():
        raise InvalidInput("the campaign needs a name", field="name")
    if not buildings:
        raise InvalidInput("the campaign's scope holds no building", field="scope")
    due = parse_time(deadline, "deadline")
    c = Campaign(id=uuid.uuid4().hex[:12], name=name.strip(), deadline=due.isoformat(),
                 created_at=datetime.now(UTC).isoformat(timespec="seconds"),
                 created_by=author, scope=json.dumps(scope, ensure_ascii=False))
    with _immediate(store) as conn:
        conn.execute(schema.campaigns.insert().values(**c.__dict__))
        conn.execute(schema.campaign_buildings.insert(), [
            {"campaign_id": c.id, **b.__dict__} for b in buildings])
    return c


def get_campaign(store, cid: str) -> Campaign:
    """A kept campaign (raises :class:`NotFound`)."""
    t = schema.campaigns
    with store.engine.connect() as conn:
        row = conn.execute(select(t).where(t.c.id == cid)).mappings().first()
    if row is None:
        raise NotFound(f"campaign {cid} does not exist", campaign=cid)
    return Campaign(**{k: row[k] for k in Campaign.__dataclass_fields__})


def buildings_of(store, cid: str) -> list[CampaignBuilding]:
    """The campaign's buildings, in the order they were kept."""
    t = schema.campaign_buildings
    with store.engine.connect() as conn:
        rows = conn.execute(select(t).where(t.c.campaign_id == cid).order_by(t.c.fid)).mappings()
        return [CampaignBuilding(**{k: r[k] for k in CampaignBuilding.__dataclass_fields__})
                for r in rows]


def visits_of(store, cid: str) -> list[Visit]:
    """The campaign's visits, in the order they were recorded."""
    t = schema.campaign_visits
    with store.engine.connect() as conn:
        rows = conn.execute(select(t).where(t.c.campaign_id == cid).order_by(t.c.fid)).mappings()
        return [Visit(id=r["id"], building=r["building_code"], unit=r["unit"],
                      households_reached=r["households_reached"], status=r["status"],
                      member=r["member_id"], at=r["at"]) for r in rows]


def record_visit(store, cid: str, visit: Visit, author: str) -> tuple[dict[str, Any], bool]:
    """Record a visit once; returns the answer and whether this call recorded it.

    A replay (a visit id already recorded, in this campaign) returns the answer of the first
    call and records nothing. ``households_reached`` must lie between 0 and the building's
    households.

    Raises
    ------
    NotFound
        The campaign, or the building in the campaign.
    InvalidInput
        A bad status, a negative or too large ``households_reached``, a bad time.
    Conflict
        The visit id was used in another campaign.
    """
    from geo_grid.errors import Conflict

    if visit.status not in STATUSES:
        raise InvalidInput(f"status must be one of {', '.join(STATUSES)}, not {visit.status!r}",
                           field="status")
    parse_time(visit.at, "at")
    cb, cv = schema.campaign_buildings, schema.campaign_visits
    with _immediate(store) as conn:
        done = conn.execute(select(cv.c.campaign_id, cv.c.answer)
                            .where(cv.c.id == visit.id)).first()
        if done is None:
            if not _campaign_exists(conn, cid):
                raise NotFound(f"campaign {cid} does not exist", campaign=cid)
            households = conn.execute(select(cb.c.households).where(
                cb.c.campaign_id == cid, cb.c.building_code == visit.building)).scalar()
            if households is None:
                raise NotFound(f"building {visit.building} is not in campaign {cid}",
                               building=visit.building, campaign=cid)
            if not 0 <= visit.households_reached <= households:
                raise InvalidInput(
                    f"households_reached must be between 0 and the building's {households} "
                    f"households, not {visit.households_reached}", field="households_reached")
            before = conn.execute(select(func.coalesce(func.sum(cv.c.households_reached), 0))
                                  .where(cv.c.campaign_id == cid,
                                         cv.c.building_code == visit.building)).scalar()
            answer = {"id": visit.id, "campaign": cid, "building": visit.building,
                      "unit": visit.unit, "households_reached": visit.households_reached,
                      "status": visit.status, "member": visit.member, "at": visit.at,
                      "building_households": int(households),
                      "building_reached": min(int(households),
                                              int(before) + visit.households_reached)}
            text = json.dumps(answer, ensure_ascii=False)
            # the UNIQUE id makes a concurrent duplicate a no-op (the lock already orders them)
            inserted = insert_ignore(conn, cv, dict(
                id=visit.id, campaign_id=cid, building_code=visit.building, unit=visit.unit,
                households_reached=visit.households_reached, status=visit.status,
                member_id=visit.member, at=visit.at,
                recorded_at=datetime.now(UTC).isoformat(timespec="seconds"),
                recorded_by=author, answer=text))
            if inserted:
                return answer, True
            done = conn.execute(select(cv.c.campaign_id, cv.c.answer)
                                .where(cv.c.id == visit.id)).first()
    if done.campaign_id != cid:
        raise Conflict(f"visit {visit.id} was recorded in another campaign", visit=visit.id)
    return json.loads(done.answer), False


def building_grid(store, cid: str, building: str) -> str:
    """The grid of a campaign's building (for the scope check before recording a visit).

    Raises
    ------
    NotFound
        The campaign, or the building in it.
    """
    cb = schema.campaign_buildings
    with store.engine.connect() as conn:
        if not _campaign_exists(conn, cid):
            raise NotFound(f"campaign {cid} does not exist", campaign=cid)
        grid = conn.execute(select(cb.c.grid_code).where(
            cb.c.campaign_id == cid, cb.c.building_code == building)).scalar()
    if grid is None:
        raise NotFound(f"building {building} is not in campaign {cid}", building=building,
                       campaign=cid)
    return grid


def _campaign_exists(conn, cid: str) -> bool:
    t = schema.campaigns
    return conn.execute(select(t.c.fid).where(t.c.id == cid)).first() is not None
