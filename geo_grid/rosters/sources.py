"""Posts and people taken from a street and from a request.

Posts from the street (``"posts": "layer"``): the store's posts layer (``geo-grid
import-posts``: checkpoints and the 信息/隔离/后勤 posts where the street put them) when it has
any. A store without posts has no layer of compound gates, so a checkpoint per gate cannot be
generated; instead each community gets the three posts of its "三位一体" team — information
(信息), isolation (隔离) and logistics (后勤) — at the community's representative point (a point
inside its boundary), one person per shift each. Checkpoints given inline (``checkpoints``) are
added to either.

People: the street's available members (kind = their role; a scenario's unavailable members
left out) plus reinforcements given inline with their lon/lat and an optional ``capacity``
(the most shifts they can take over the roster), or ``"pool"``: the entries of the store's
reinforcement pool available during the whole roster (their capacity, in load units, does not
limit shifts; the hour rules do).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from geo_grid.crs import to_metric
from geo_grid.errors import InvalidInput
from geo_grid.rosters.model import Person, Post

#: The three group posts generated per community: (id suffix, kind).
GROUP_POSTS = (("info", "information"), ("isolation", "isolation"), ("logistics", "logistics"))
#: Kinds a reinforcement may have.
REINFORCEMENT_KINDS = ("cadre", "auxiliary_police", "security", "volunteer")


def post_from_dict(d: dict[str, Any]) -> Post:
    """A :class:`Post` from ``{"id","kind","lon","lat","per_shift","min_security"}``."""
    try:
        return Post(id=str(d["id"]), kind=str(d["kind"]), lon=float(d["lon"]),
                    lat=float(d["lat"]), per_shift=int(d.get("per_shift", 1)),
                    min_security=int(d.get("min_security", 0)))
    except KeyError as exc:
        raise InvalidInput(f"a post lacks {exc.args[0]!r}", post=d.get("id")) from None


def posts_from_layer(district, checkpoints: Iterable[dict[str, Any]] = (),
                     stored: Sequence[Any] = ()) -> list[Post]:
    """The ``stored`` posts (:class:`geo_grid.store.pool.StoredPost`) when there are any, else
    the three group posts per community of ``district`` (at its representative point); then
    the inline ``checkpoints``."""
    if stored:
        return [Post(p.id, p.kind, p.lon, p.lat, p.per_shift, p.min_security)
                for p in stored] + [post_from_dict(c) for c in checkpoints]
    out = []
    for code, geom in zip(district.communities["code"], district.communities.geometry,
                          strict=True):
        p = geom.representative_point()
        out += [Post(f"{code}-{suffix}", kind, float(p.x), float(p.y))
                for suffix, kind in GROUP_POSTS]
    return out + [post_from_dict(c) for c in checkpoints]


def people_from_district(district, unavailable: Iterable[str] = ()) -> list[Person]:
    """The available members of ``district`` (minus ``unavailable``), kind = role, at their
    ``x, y`` (metres of ``district.metric_epsg``)."""
    m = district.members
    gone = set(unavailable)
    keep = m[m["available"].astype(bool) & ~m["id"].isin(gone)]
    return [Person(str(i), str(r), float(x), float(y))
            for i, r, x, y in zip(keep["id"], keep["role"], keep["x"], keep["y"], strict=True)]


def reinforcements(items: Sequence[dict[str, Any]], epsg: int) -> list[Person]:
    """People from ``{"id","kind","lon","lat","capacity"}`` (lon/lat CGCS2000 degrees)."""
    out = []
    for d in items:
        kind = d.get("kind")
        if kind not in REINFORCEMENT_KINDS:
            raise InvalidInput(f"reinforcement {d.get('id')!r}: kind {kind!r} is not one of "
                               f"{', '.join(REINFORCEMENT_KINDS)}", person=d.get("id"))
        x, y = to_metric(float(d["lon"]), float(d["lat"]), epsg)
        cap = d.get("capacity")
        out.append(Person(str(d["id"]), kind, float(x), float(y),
                          None if cap is None else int(cap)))
    return out
