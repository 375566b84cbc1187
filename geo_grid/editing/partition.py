"""Cutting one grid into k contiguous parts balanced by households, along gaps between buildings.

Recursive bisection: a grid to be cut into ``k`` parts is cut in two by a straight line, one
side meant for ``k1 = k // 2`` parts and the other for ``k - k1``, and each side is cut again.
The line is perpendicular to one of the two principal axes of the buildings' centroids (in
metres; the major axis is tried first). Along an axis every building covers the interval of
its footprint's projection; the line is put in the middle of a gap between those intervals, so
it cuts no footprint, at the gap whose households on either side are nearest to the balanced
share ``k1 / k``. A cut through footprints (at the balanced position of the centroids) is
only chosen when no gap does much better: it costs as much as a quarter of the households
being on the wrong side.

A straight cut through a concave grid can leave one side in several pieces. The piece of a
side with most households is kept and every stray piece goes to the other side (which it
always touches: the grid is one piece), then the same is done for the other side, so both
sides are single polygons. A candidate cut whose sides still are not (pieces touching at a
point only) or which leaves a side with fewer buildings than it has parts to make is passed
over for the next best.

Geometry is cut in lon/lat: the half-plane is built in metres, densified, and turned into
lon/lat before it is intersected with the grid, so the parts keep the grid's own vertices
exactly and still tile with its neighbours.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from geo_grid.editing.common import (
    SPECK_DEG2,
    polygonal,
    tidy,
    to_lonlat,
    to_metric,
)

#: A cut through footprints costs this share of the households (see the module docstring).
CUT_PENALTY = 0.25
#: How many candidate cuts are tried at most per bisection (best predicted first).
MAX_TRIES = 8


@dataclass(frozen=True)
class _Candidate:
    score: float  # predicted |households on the first side - its share| / all households
    cuts: bool  # the line crosses footprints
    axis: int  # rank of the axis in _axes (0 for the major axis of the centroids)
    u: tuple[float, float]  # unit normal of the line, in metres
    t: float  # position of the line along u
    first_parts: int  # parts the side u·p <= t is to be cut into
    share: float  # the households that side should get


class _Partition:
    def __init__(self, footprints, weights: np.ndarray, epsg: int) -> None:
        self.epsg = epsg
        self.foot_m = to_metric(np.asarray(footprints, dtype=object), epsg)
        self.cent_m = shapely.get_coordinates(shapely.centroid(self.foot_m))
        self.cent_ll = shapely.get_coordinates(shapely.centroid(np.asarray(footprints, dtype=object)))
        self.coords, self.owner = shapely.get_coordinates(self.foot_m, return_index=True)
        self.w = np.asarray(weights, dtype=float)

    # -- candidates ------------------------------------------------------------------------

    def _axes(self, idx: np.ndarray) -> list[np.ndarray]:
        """Unit vectors the cut lines may be perpendicular to: the principal axes of the
        centroids, then the axes the buildings themselves are aligned to (rows of slabs
        leave gaps along those even when the layout as a whole is diagonal)."""
        axes: list[np.ndarray] = []
        xy = self.cent_m[idx]
        if len(idx) >= 2:
            cov = np.cov((xy - xy.mean(axis=0)).T)
            if np.all(np.isfinite(cov)) and not np.allclose(cov, 0):
                vals, vecs = np.linalg.eigh(cov)
                major = vecs[:, int(np.argmax(vals))]
                axes += [major, np.array([-major[1], major[0]])]
        theta = self._orientation(idx)
        if theta is not None:
            along = np.array([np.cos(theta), np.sin(theta)])
            axes += [along, np.array([-along[1], along[0]])]
        axes += [np.array([1.0, 0.0]), np.array([0.0, 1.0])]
        out: list[np.ndarray] = []
        for a in axes:  # drop axes within 2 degrees of one already listed
            if all(abs(float(a @ b)) < np.cos(np.radians(2)) for b in out):
                out.append(a)
        return out

    def _orientation(self, idx: np.ndarray) -> float | None:
        """The dominant direction of the footprints' edges (radians, modulo 90 degrees): the
        area-weighted mean of the side angles of their minimum rotated rectangles, taken on
        4θ so that directions a right angle apart count as the same."""
        env = shapely.oriented_envelope(self.foot_m[idx])
        boxes = env[shapely.get_type_id(env) == 3]  # polygons (points or lines for degenerate)
        if len(boxes) == 0:
            return None
        coords = shapely.get_coordinates(shapely.get_exterior_ring(boxes)).reshape(len(boxes), -1, 2)
        edge = coords[:, 1] - coords[:, 0]
        angle = np.arctan2(edge[:, 1], edge[:, 0])
        weight = shapely.area(boxes)
        z = np.sum(weight * np.exp(4j * angle))
        if abs(z) < 1e-9:
            return None
        return float(np.angle(z) / 4)

    def _candidates(self, idx: np.ndarray, k: int, w: np.ndarray) -> list[_Candidate]:
        total = float(w.sum())
        k1, k2 = k // 2, k - k // 2
        splits = {(k1, k2), (k2, k1)}
        out: list[_Candidate] = []
        sel = np.isin(self.owner, idx)
        local = np.searchsorted(idx, self.owner[sel])  # idx is sorted
        n = len(idx)
        for axis, u in enumerate(self._axes(idx)):
            proj = self.coords[sel] @ u
            lo = np.full(n, np.inf)
            hi = np.full(n, -np.inf)
            np.minimum.at(lo, local, proj)
            np.maximum.at(hi, local, proj)
            order = np.argsort(lo, kind="stable")
            reach = np.maximum.accumulate(hi[order])
            cum = np.cumsum(w[order])
            # a gap after sorted position i: no footprint reaches past the next one's start
            gaps = np.flatnonzero(reach[:-1] < lo[order][1:])
            cent = self.cent_m[idx] @ u
            corder = np.argsort(cent, kind="stable")
            ccum = np.cumsum(w[corder])
            for first, _second in splits:
                share = total * first / k
                for i in gaps:
                    left = i + 1
                    if left < first or n - left < k - first:
                        continue
                    t = (reach[i] + lo[order][i + 1]) / 2
                    out.append(_Candidate(abs(cum[i] - share) / total, False, axis,
                                          (float(u[0]), float(u[1])), float(t), first, share))
                # the balanced cut through the centroids, whatever it crosses
                lo_i, hi_i = first - 1, n - (k - first) - 1
                if lo_i <= hi_i:
                    i = lo_i + int(np.argmin(np.abs(ccum[lo_i:hi_i + 1] - share)))
                    t = (cent[corder][i] + cent[corder][i + 1]) / 2
                    out.append(_Candidate(abs(ccum[i] - share) / total, True, axis,
                                          (float(u[0]), float(u[1])), float(t), first, share))
        out.sort(key=lambda c: (c.score + (CUT_PENALTY if c.cuts else 0.0), c.axis))
        return out

    # -- cutting ---------------------------------------------------------------------------

    def _half_plane(self, poly_m: BaseGeometry, u, t: float) -> BaseGeometry:
        """The side ``u·p <= t`` of the line, as a lon/lat polygon covering the grid's side."""
        u = np.asarray(u)
        v = np.array([-u[1], u[0]])
        minx, miny, maxx, maxy = poly_m.bounds
        centre = np.array([(minx + maxx) / 2, (miny + maxy) / 2])
        r = float(np.hypot(maxx - minx, maxy - miny)) + 10.0
        a0, s0 = float(centre @ u), float(centre @ v)
        back = min(t, a0) - r
        corners = [t * u + (s0 - r) * v, t * u + (s0 + r) * v,
                   back * u + (s0 + r) * v, back * u + (s0 - r) * v]
        rect = shapely.segmentize(shapely.Polygon(corners), 5.0)
        return to_lonlat(rect, self.epsg)

    def _inside(self, geom: BaseGeometry, idx: np.ndarray) -> np.ndarray:
        xy = self.cent_ll[idx]
        return shapely.contains_xy(geom, xy[:, 0], xy[:, 1])

    def _main_piece(self, geom: BaseGeometry, idx: np.ndarray, w: np.ndarray) -> BaseGeometry:
        pieces = [p for p in shapely.get_parts(geom) if p.area > SPECK_DEG2]
        if len(pieces) <= 1:
            return pieces[0] if pieces else shapely.Polygon()
        return max(pieces, key=lambda p: (float(w[self._inside(p, idx)].sum()), p.area))

    def _cut(self, poly: BaseGeometry, poly_m: BaseGeometry, c: _Candidate, idx, w):
        half = self._half_plane(poly_m, c.u, c.t)
        first = polygonal(shapely.intersection(poly, half))
        if first.is_empty:
            return None
        first_main = self._main_piece(first, idx, w)
        second = polygonal(shapely.difference(poly, first_main))
        second_main = self._main_piece(second, idx, w)
        first = polygonal(shapely.difference(poly, second_main))
        first = tidy(first, self.epsg)
        second_main = tidy(second_main, self.epsg)
        if first.is_empty or second_main.is_empty:
            return None
        return first, second_main

    def bisect(self, poly: BaseGeometry, idx: np.ndarray, k: int) -> list[BaseGeometry]:
        if k == 1:
            return [poly]
        w = self.w[idx]
        if float(w.sum()) <= 0:
            w = np.ones(len(idx))
        poly_m = to_metric(poly, self.epsg)
        best = None
        for c in self._candidates(idx, k, w)[:MAX_TRIES]:
            cut = self._cut(poly, poly_m, c, idx, w)
            if cut is None:
                continue
            first, second = cut
            inside = self._inside(first, idx)
            n_first = int(inside.sum())
            feasible = n_first >= c.first_parts and len(idx) - n_first >= k - c.first_parts
            single = first.geom_type == "Polygon" and second.geom_type == "Polygon"
            score = abs(float(w[inside].sum()) - c.share) / float(w.sum())
            rank = (not feasible, not single, score + (CUT_PENALTY if c.cuts else 0.0))
            if best is None or rank < best[0]:
                best = (rank, c, first, second, inside)
            if feasible and single and score <= c.score + 1e-9:
                break  # nothing strayed: the cut is as good as predicted
        if best is None or best[0][0]:
            # no line leaves enough buildings on both sides (cannot happen with k <= buildings
            # unless footprints share one point); give up on this grid
            raise ValueError("no feasible cut")
        _, c, first, second, inside = best
        return (self.bisect(first, idx[inside], c.first_parts)
                + self.bisect(second, idx[~inside], k - c.first_parts))


def partition(polygon: BaseGeometry, footprints, weights, k: int, epsg: int) -> list[BaseGeometry]:
    """Cut a grid into ``k`` contiguous parts balanced by the weights of its buildings.

    Parameters
    ----------
    polygon : shapely Polygon or MultiPolygon
        The grid, lon/lat.
    footprints : array_like of shapely geometries
        Its buildings' footprints, lon/lat (at least ``k``).
    weights : array_like of float
        Households of each building (every building counts 1 if they are all zero).
    k : int
        Number of parts, at least 1.
    epsg : int
        The metric CRS distances are measured in.

    Returns
    -------
    list of shapely geometries
        ``k`` parts in lon/lat whose union is the grid, in the order of the cuts.

    Raises
    ------
    ValueError
        If no cut leaves every part at least one building (footprints all on one spot).
    """
    footprints = np.asarray(footprints, dtype=object)
    part = _Partition(footprints, np.asarray(weights, dtype=float), epsg)
    return part.bisect(polygon, np.arange(len(footprints)), int(k))
