"""The records of a campaign: the campaign, its buildings and its visits."""

from __future__ import annotations

from dataclasses import dataclass

#: What a visit found: the households were reached (``done``), nobody opened (``not_home``),
#: or they declined (``refused``).
STATUSES = ("done", "not_home", "refused")


@dataclass(frozen=True)
class Campaign:
    """A campaign: ``scope`` is the JSON the campaign was created with (grids, area or
    scenario); ``deadline`` and ``created_at`` are ISO-8601 times with an offset."""

    id: str
    name: str
    deadline: str
    created_at: str
    created_by: str
    scope: str


@dataclass(frozen=True)
class CampaignBuilding:
    """A building of a campaign and the member who is to visit it (None: nobody covers it)."""

    building_code: str
    grid_code: str
    community_code: str
    member_id: str | None
    households: int


@dataclass(frozen=True)
class Visit:
    """One visit as the client sent it; ``id`` is the client's UUID (a replay of the same id
    counts nothing twice)."""

    id: str
    building: str
    unit: str
    households_reached: int
    status: str
    member: str | None
    at: str
