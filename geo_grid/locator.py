"""Point → grid locator: a uniform raster index with an exact fallback on boundary cells.

The index is built once per boundary version. The street's bounding box is cut into cells of
``cell_deg`` degrees; a cell wholly inside one grid stores that grid, a cell outside every grid
stores "outside", and a cell that a grid edge crosses stores the (code-ordered) list of grids it
touches. Points in interior or outside cells are answered by one array lookup; points in boundary
cells are tested exactly against their candidates with ``shapely.intersects_xy`` on prepared
polygons.

The build never makes a box per cell of the whole bounding box (95.8M cells for a city at
1e-4°): it works band by band on blocks of cells and quarters only the blocks a grid edge
crosses, so its time and memory follow the length of the grids' edges, plus the raster itself
(4 bytes a cell, held once). Its arrays are the same as a cell-by-cell build's.

Rule for a point on an edge: polygons are closed, so a point on the edge shared by two grids lies
in both; it is given to the grid with the **smallest code** among the grids whose closed polygon
contains it. A point on the street's outer edge is covered (by the one grid there). Every other
point gets exactly the grid that contains it, as ``geopandas.sjoin(predicate="within")`` does.
"""

from __future__ import annotations

import array
from dataclasses import dataclass, field

import numpy as np
import shapely

from geo_grid.errors import InvalidGeometry

OUTSIDE = -1
#: raster values <= FIRST_BOUNDARY mark boundary cell number -(value + 3)
FIRST_BOUNDARY = -3
#: side, in cells, of the blocks the build starts from (a power of two); the build holds the
#: boxes of one band of this many raster rows at a time
BLOCK = 64


@dataclass(frozen=True)
class GridLocator:
    """An immutable point-in-grid index over polygons given in lon/lat degrees.

    Build it with :meth:`GridLocator.build`; query with :meth:`locate` (arrays) or
    :meth:`locate_one` (one point). Results are indexes into ``codes`` (``-1`` = not covered).
    """

    codes: np.ndarray
    geoms: np.ndarray
    x0: float
    y0: float
    cell: float
    nx: int
    ny: int
    raster: np.ndarray  # (ny*nx,) int32: grid index, OUTSIDE, or -(3 + k) for boundary cell k
    cand_ptr: np.ndarray  # CSR pointers into cand_idx, per boundary cell
    cand_idx: np.ndarray  # candidate grid indexes, in code order
    cand_closed: np.ndarray  # bool per boundary cell: the candidates cover the whole cell
    _flat: array.array = field(repr=False, compare=False, default=None)

    @classmethod
    def build(cls, codes, geoms, cell_deg: float = 1e-4) -> GridLocator:
        """Build the index.

        The result is the same, array for array, as testing every cell of the bounding box on its
        own, but only the cells near a grid edge are ever made into boxes: the box is cut into
        bands of :data:`BLOCK` rows, each band into blocks of ``BLOCK`` × ``BLOCK`` cells, and a
        block is quartered only while a grid edge may cross it (a quadtree). A block that no edge
        crosses lies wholly inside one grid or outside all, and is filled with one value. The
        memory is the raster (4 bytes per cell, shared with the ``array`` that
        :meth:`locate_one` reads) plus one band's boxes at a time.

        Parameters
        ----------
        codes : array_like of str
            Grid codes (the answer order is by these codes for shared-edge points).
        geoms : array_like of shapely Polygon/MultiPolygon
            The grids, lon/lat degrees.
        cell_deg : float
            Raster cell size in degrees (1e-4 degree ≈ 9.5 m by 11 m at 31.5°N).

        Returns
        -------
        GridLocator
        """
        codes = np.asarray(codes, dtype=object)
        geoms = np.asarray(geoms, dtype=object)
        if len(codes) != len(geoms) or len(codes) == 0:
            raise InvalidGeometry("a locator needs one or more grids, one code per geometry")
        if not all(shapely.is_valid(geoms)):
            raise InvalidGeometry("a locator needs valid polygons")
        order = np.argsort(codes, kind="stable")
        codes, geoms = codes[order], geoms[order]
        shapely.prepare(geoms)
        minx, miny, maxx, maxy = shapely.total_bounds(geoms)
        x0, y0 = minx - cell_deg, miny - cell_deg
        nx = int(np.ceil((maxx - x0) / cell_deg)) + 1
        ny = int(np.ceil((maxy - y0) / cell_deg)) + 1
        # the raster lives in an array.array (read by locate_one without numpy); the numpy
        # raster is a view of the same memory, so it is held once
        flat = array.array("i", [OUTSIDE]) * (nx * ny)
        raster = np.frombuffer(flat, dtype=np.int32)
        cut = _Cutter(geoms, float(x0), float(y0), float(cell_deg), nx, ny, raster)
        cells, cands, closed = [], [], []
        for r0 in range(0, ny, BLOCK):
            c, g, boxes = cut.band(r0)
            cells.append(c)
            cands.append(g)
            closed.append(cut.closed(c, g, boxes))
        cell_of = np.concatenate(cells)  # one entry per (boundary cell, candidate): cell order
        cand = np.concatenate(cands).astype(np.int32)
        bcells, starts = np.unique(cell_of, return_index=True)
        ptr = np.append(starts, len(cell_of)).astype(np.int64)
        covered = np.concatenate(closed)
        raster[bcells] = -(3 + np.arange(len(bcells), dtype=np.int32))
        return cls(codes, geoms, float(x0), float(y0), float(cell_deg), nx, ny, raster, ptr, cand,
                   covered, flat)

    def with_edit(self, retired, added_codes, added_geoms) -> GridLocator:
        """The index after a boundary edit, recomputed only around the grids that changed.

        Equal, array for array, to :meth:`build` of the new grid layer (same cell size) — a
        split of one grid in a city of 8,800 grids costs a fraction of a second instead of a
        whole rebuild. When the edit moves the street's bounding box, the index is rebuilt.

        Parameters
        ----------
        retired : iterable of str
            Codes that are gone, or whose outline changed (they come back in ``added_*``).
        added_codes, added_geoms : array_like
            The new and the reshaped grids.

        Returns
        -------
        GridLocator
        """
        retired = {str(c) for c in retired}
        added_codes = np.asarray(list(added_codes), dtype=object)
        added_geoms = np.asarray(list(added_geoms), dtype=object)
        keep = np.array([str(c) not in retired for c in self.codes], dtype=bool)
        if keep.all() and not len(added_codes):  # no grid changed (a building moved)
            return self
        codes = np.concatenate([self.codes[keep], added_codes])
        geoms = np.concatenate([self.geoms[keep], added_geoms])
        if len(codes) == 0 or not all(shapely.is_valid(added_geoms)):
            return GridLocator.build(codes, geoms, self.cell)
        order = np.argsort(codes, kind="stable")
        codes, geoms = codes[order], geoms[order]
        shapely.prepare(geoms)
        cell = self.cell
        minx, miny, maxx, maxy = shapely.total_bounds(geoms)
        x0, y0 = minx - cell, miny - cell
        nx = int(np.ceil((maxx - x0) / cell)) + 1
        ny = int(np.ceil((maxy - y0) / cell)) + 1
        if (x0, y0, nx, ny) != (self.x0, self.y0, self.nx, self.ny):
            return GridLocator.build(codes, geoms, cell)
        # old grid index -> new grid index (-1 for a retired grid)
        new_pos = np.empty(len(order), dtype=np.int64)
        new_pos[order] = np.arange(len(order))
        remap = np.full(len(self.codes), -1, dtype=np.int64)
        remap[np.flatnonzero(keep)] = new_pos[: int(keep.sum())]
        # the window: every cell an old or new outline of a changed grid may touch, plus one
        changed = np.concatenate([self.geoms[~keep], added_geoms])
        bx0, by0, bx1, by1 = shapely.total_bounds(changed)
        ix0 = max(int(np.floor((bx0 - x0) / cell)) - 1, 0)
        iy0 = max(int(np.floor((by0 - y0) / cell)) - 1, 0)
        ix1 = min(int(np.floor((bx1 - x0) / cell)) + 2, nx)
        iy1 = min(int(np.floor((by1 - y0) / cell)) + 2, ny)
        ix, iy = np.arange(ix0, ix1), np.arange(iy0, iy1)
        gx, gy = np.meshgrid(x0 + ix * cell, y0 + iy * cell)
        gx, gy = gx.ravel(), gy.ravel()
        cid = (iy[:, None] * nx + ix[None, :]).ravel()
        boxes = shapely.box(gx, gy, gx + cell, gy + cell)
        # the window's cells, computed as build does, against every grid
        ce, ge = shapely.STRtree(shapely.boundary(geoms)).query(boxes, predicate="intersects")
        on_edge = np.zeros(len(cid), dtype=bool)
        on_edge[ce] = True
        win = np.full(len(cid), OUTSIDE, dtype=np.int32)
        inner = np.flatnonzero(~on_edge)
        pi, gi = shapely.STRtree(geoms).query(
            shapely.points(gx[inner] + cell / 2, gy[inner] + cell / 2), predicate="intersects")
        win[inner[pi]] = gi
        # outside the window: grid indexes renumbered, boundary cells keep their candidates
        # (a copy held once, as build holds it: the numpy raster a view of the array's memory;
        # renumbered a slice at a time, without city-sized temporaries)
        flat = array.array("i")
        flat.frombytes(memoryview(np.ascontiguousarray(self.raster, dtype=np.int32)).cast("B"))
        raster = np.frombuffer(flat, dtype=np.int32)
        remap32 = remap.astype(np.int32)
        for lo in range(0, len(raster), 1 << 22):
            part = raster[lo:lo + (1 << 22)]
            in_grid = part >= 0
            part[in_grid] = remap32[part[in_grid]]
        old_cells = np.flatnonzero(self.raster <= FIRST_BOUNDARY)
        old_cells = old_cells[np.argsort(-(self.raster[old_cells] + 3))]  # boundary-number order
        in_win = np.zeros(nx * ny, dtype=bool)
        in_win[cid] = True
        kept = np.flatnonzero(~in_win[old_cells])
        counts = np.diff(self.cand_ptr)[kept]
        gather = (np.repeat(self.cand_ptr[kept] - np.r_[0, np.cumsum(counts)[:-1]], counts)
                  + np.arange(counts.sum()))
        old_cand = remap[self.cand_idx[gather]]
        # the window's boundary cells
        pairs = np.unique(np.stack([cid[ce], ge], axis=1), axis=0)
        wcells = np.unique(cid[ce])
        wcounts = np.bincount(np.searchsorted(wcells, pairs[:, 0]), minlength=len(wcells))
        wptr = np.r_[0, np.cumsum(wcounts)]
        box_of = dict(zip(cid.tolist(), boxes, strict=True))
        wclosed = np.array([shapely.union_all(geoms[pairs[wptr[k]:wptr[k + 1], 1]]).covers(
            box_of[int(c)]) for k, c in enumerate(wcells)], dtype=bool)
        # both sets of boundary cells, numbered in cell order as build numbers them
        cells = np.concatenate([old_cells[kept], wcells])
        cnts = np.concatenate([counts, wcounts])
        closed = np.concatenate([self.cand_closed[kept], wclosed])
        cand_all = np.concatenate([old_cand, pairs[:, 1]])
        seg = np.r_[0, np.cumsum(cnts)[:-1]]
        o = np.argsort(cells, kind="stable")
        cells, cnts, closed, seg = cells[o], cnts[o], closed[o], seg[o]
        take = np.repeat(seg - np.r_[0, np.cumsum(cnts)[:-1]], cnts) + np.arange(cnts.sum())
        cand = cand_all[take].astype(np.int32)
        ptr = np.r_[0, np.cumsum(cnts)].astype(np.int64)
        raster[cid] = win
        raster[cells] = -(3 + np.arange(len(cells), dtype=np.int32))
        return GridLocator(codes, geoms, self.x0, self.y0, cell, nx, ny, raster, ptr, cand,
                           closed, flat)

    # ------------------------------------------------------------------ queries

    def locate(self, lon, lat) -> np.ndarray:
        """Grid index for each point (``-1`` where no grid covers it).

        Parameters
        ----------
        lon, lat : array_like
            CGCS2000 (or WGS-84) degrees, same shape.

        Returns
        -------
        numpy.ndarray of int32
            Index into :attr:`codes`, or -1.
        """
        x = np.asarray(lon, dtype=np.float64).ravel()
        y = np.asarray(lat, dtype=np.float64).ravel()
        inv = 1.0 / self.cell
        fx = (x - self.x0) * inv
        fy = (y - self.y0) * inv
        ok = (fx >= 0) & (fx < self.nx) & (fy >= 0) & (fy < self.ny)
        ix = np.where(ok, fx, 0).astype(np.int64)
        iy = np.where(ok, fy, 0).astype(np.int64)
        out = np.where(ok, self.raster[iy * self.nx + ix], OUTSIDE).astype(np.int32)
        b = np.flatnonzero(out <= FIRST_BOUNDARY)
        if len(b):
            out[b] = self._exact(x[b], y[b], -(out[b] + 3))
        return out.reshape(np.shape(lon))

    def _exact(self, x, y, cells) -> np.ndarray:
        start = self.cand_ptr[cells]
        count = self.cand_ptr[cells + 1] - start
        closed = self.cand_closed[cells]
        res = np.full(len(x), OUTSIDE, dtype=np.int32)
        todo = np.arange(len(x))
        k = 0
        while len(todo):
            c = self.cand_idx[start[todo] + k]
            last = (count[todo] == k + 1)
            free = last & closed[todo]  # the only grid left must contain the point
            hit = free.copy()
            test = ~free
            if test.any():
                hit[test] = shapely.intersects_xy(self.geoms[c[test]], x[todo[test]], y[todo[test]])
            res[todo[hit]] = c[hit]
            todo = todo[~hit & ~last]
            k += 1
        return res

    def locate_one(self, lon: float, lat: float) -> int:
        """Grid index of one point (``-1`` if not covered); no numpy on the fast path."""
        fx = (lon - self.x0) / self.cell
        fy = (lat - self.y0) / self.cell
        if not (0 <= fx < self.nx and 0 <= fy < self.ny):
            return OUTSIDE
        v = self._flat[int(fy) * self.nx + int(fx)]
        if v >= OUTSIDE:
            return v
        k = -(v + 3)
        lo, hi = int(self.cand_ptr[k]), int(self.cand_ptr[k + 1])
        for j in range(lo, hi):
            g = int(self.cand_idx[j])
            if (j == hi - 1 and self.cand_closed[k]) or shapely.intersects_xy(self.geoms[g], lon, lat):
                return g
        return OUTSIDE

    def codes_of(self, idx) -> np.ndarray:
        """Map indexes from :meth:`locate` to codes (None where not covered)."""
        idx = np.asarray(idx)
        out = np.full(idx.shape, None, dtype=object)
        ok = idx >= 0
        out[ok] = self.codes[idx[ok]]
        return out


class _Cutter:
    """The build's worker: cuts the raster band by band and fills it.

    Every block is a union of whole raster cells, with corners computed exactly as the cells'
    own (``x0 + i * cell`` and that plus ``cell``). While quartering, a block is kept when an
    edge *segment* comes within a small tolerance of it (plain arithmetic on numpy arrays: it
    may keep a block that no edge touches, never drop one that an edge touches); the single
    cells it ends with are then tested exactly, with shapely, as the cell-by-cell build tests
    them: the answers are the same to the last bit.
    """

    def __init__(self, geoms, x0: float, y0: float, cell: float, nx: int, ny: int,
                 raster: np.ndarray) -> None:
        self.geoms, self.cell, self.nx, self.ny, self.raster = geoms, cell, nx, ny, raster
        # left / bottom side of every column / row, as the cell-by-cell build computes them
        self.xs = x0 + np.arange(nx) * cell
        self.ys = y0 + np.arange(ny) * cell
        self.edges = shapely.boundary(geoms)
        shapely.prepare(self.edges)
        self.tree = shapely.STRtree(geoms)
        # every edge segment (x1, y1, x2, y2) and its grid, ring by ring
        rings, grid_of_ring = shapely.get_parts(self.edges, return_index=True)
        xy, ring = shapely.get_coordinates(rings, return_index=True)
        same = ring[1:] == ring[:-1]
        self.seg = np.hstack([xy[:-1][same], xy[1:][same]])
        self.seg_grid = grid_of_ring[ring[:-1][same]]
        self.tree_s = shapely.STRtree(shapely.linestrings(self.seg.reshape(-1, 2, 2)))
        # far above the rounding of the arithmetic below, far below a cell
        self.tol = 1e-9 * max(1.0, float(np.abs(xy).max(initial=0.0)))
        self.ngrids = len(geoms)
        self.unions: dict[tuple[int, ...], object] = {}

    def boxes(self, r: np.ndarray, c: np.ndarray, s: int) -> np.ndarray:
        """Boxes of the s × s blocks whose lower-left cells are (row r, column c), clipped to the
        raster."""
        r1 = np.minimum(r + s, self.ny) - 1
        c1 = np.minimum(c + s, self.nx) - 1
        return shapely.box(self.xs[c], self.ys[r], self.xs[c1] + self.cell, self.ys[r1] + self.cell)

    def near(self, r: np.ndarray, c: np.ndarray, s: int, b: np.ndarray,
             k: np.ndarray) -> np.ndarray:
        """For pairs (block b, segment k): may the segment touch the block's box? True whenever
        it does (the box widened by ``tol``: a separating-axis test on the box's sides and the
        segment's line)."""
        r1 = np.minimum(r + s, self.ny) - 1
        c1 = np.minimum(c + s, self.nx) - 1
        t = self.tol
        bx0, bx1 = self.xs[c][b] - t, self.xs[c1][b] + self.cell + t
        by0, by1 = self.ys[r][b] - t, self.ys[r1][b] + self.cell + t
        x1, y1, x2, y2 = self.seg[k].T
        ok = ((np.minimum(x1, x2) <= bx1) & (np.maximum(x1, x2) >= bx0)
              & (np.minimum(y1, y2) <= by1) & (np.maximum(y1, y2) >= by0))
        dx, dy = x2 - x1, y2 - y1
        # the side of the segment's line each corner is on (0 on it): the box is clear of the
        # line when all four are strictly on one side
        side = np.stack([dx * (py - y1) - dy * (px - x1)
                         for px, py in ((bx0, by0), (bx1, by0), (bx0, by1), (bx1, by1))])
        return ok & (side.max(axis=0) >= 0) & (side.min(axis=0) <= 0)

    def fill(self, r: np.ndarray, c: np.ndarray, s: int) -> None:
        """Fill s × s blocks that no grid edge crosses with the grid holding their first cell's
        centre (the same grid holds every cell of such a block)."""
        if not len(r):
            return
        pts = shapely.points(self.xs[c] + self.cell / 2, self.ys[r] + self.cell / 2)
        pi, gi = self.tree.query(pts, predicate="intersects")
        val = np.full(len(r), OUTSIDE, dtype=np.int32)
        val[pi] = gi
        inside = val != OUTSIDE  # the raster starts OUTSIDE
        r, c, val = r[inside], c[inside], val[inside]
        d = np.arange(s)
        rows, cols = r[:, None] + d, c[:, None] + d
        idx = rows[:, :, None] * self.nx + cols[:, None, :]
        ok = (rows < self.ny)[:, :, None] & (cols < self.nx)[:, None, :]
        self.raster[idx[ok]] = np.broadcast_to(val[:, None, None], idx.shape)[ok]

    def band(self, r0: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Fill the band of rows ``r0 .. r0 + BLOCK - 1`` outside its boundary cells.

        Returns
        -------
        cells, grids : numpy.ndarray
            The band's boundary cells (flat raster index) and the grids whose edge touches each,
            one pair per row, sorted by cell then grid.
        boxes : numpy.ndarray
            The boundary cells' boxes, one per cell, in cell order.
        """
        s = BLOCK
        c = np.arange(0, self.nx, s)
        r = np.full(len(c), r0)
        # pairs (block, segment): the segments whose bounding box meets the block's box
        bi, ki = self.tree_s.query(self.boxes(r, c, s))
        while True:
            near = self.near(r, c, s, bi, ki)
            bi, ki = bi[near], ki[near]
            if s == 1:
                break
            crossed = np.zeros(len(r), dtype=bool)
            crossed[bi] = True
            self.fill(r[~crossed], c[~crossed], s)
            # quarter the crossed blocks; a quarter is tested only against its parent's segments
            h = s // 2
            parents = np.flatnonzero(crossed)
            qr = (r[parents][:, None] + np.array([0, 0, h, h])).ravel()
            qc = (c[parents][:, None] + np.array([0, h, 0, h])).ravel()
            keep = (qr < self.ny) & (qc < self.nx)
            slot = np.full(len(r), -1)
            slot[parents] = np.arange(len(parents))
            qb = (4 * slot[bi][:, None] + np.arange(4)).ravel()
            qk = np.repeat(ki, 4)
            qb, qk = qb[keep[qb]], qk[keep[qb]]
            renumber = np.cumsum(keep) - 1
            r, c, bi, ki, s = qr[keep], qc[keep], renumber[qb], qk, h
        # single cells: each grid whose segments came near, tested exactly against the cell
        pair = np.unique(bi.astype(np.int64) * self.ngrids + self.seg_grid[ki])
        bi, gi = pair // self.ngrids, pair % self.ngrids
        near_cells, which = np.unique(bi, return_inverse=True)
        boxes = self.boxes(r[near_cells], c[near_cells], 1)
        hit = shapely.intersects(self.edges[gi], boxes[which])
        bi, gi, which = bi[hit], gi[hit], which[hit]
        crossed = np.zeros(len(r), dtype=bool)
        crossed[bi] = True
        self.fill(r[~crossed], c[~crossed], 1)
        cells = r[bi] * self.nx + c[bi]
        o = np.lexsort((gi, cells))
        cells, gi, which = cells[o], gi[o], which[o]
        first = np.r_[True, cells[1:] != cells[:-1]]
        return cells, gi, boxes[which[first]]

    def closed(self, cells: np.ndarray, grids: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """Per boundary cell (sorted pairs and boxes as :meth:`band` returns them): do its
        candidates cover the whole cell? The union of each distinct candidate set is made once."""
        bcells, start, count = np.unique(cells, return_index=True, return_counts=True)
        out = np.zeros(len(bcells), dtype=bool)
        if not len(bcells):
            return out
        keys = np.full((len(bcells), int(count.max())), -1, dtype=np.int64)
        row = np.repeat(np.arange(len(bcells)), count)
        keys[row, np.arange(len(cells)) - start[row]] = grids
        sets, which = np.unique(keys, axis=0, return_inverse=True)
        which = which.ravel()
        order = np.argsort(which, kind="stable")
        bounds = np.searchsorted(which[order], np.arange(len(sets) + 1))
        for k, key in enumerate(sets):
            members = order[bounds[k]:bounds[k + 1]]
            cand = tuple(int(g) for g in key if g >= 0)
            union = self.unions.get(cand)
            if union is None:
                # not prepared: a prepared union answers ``covers`` differently in rare
                # degenerate cases, and the answer must be the cell-by-cell build's
                union = shapely.union_all(self.geoms[np.array(cand)])
                self.unions[cand] = union
            out[members] = shapely.covers(union, boxes[members])
        return out
