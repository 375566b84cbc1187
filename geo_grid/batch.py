"""Batch lookup of Chinese rosters (CSV or xlsx): every row placed in a grid, or told why not.

A community office's household roster goes in; the same rows come out in the same format with
columns added (grid code, grid name, community, match status, confidence, matched building,
building code, notes, data problems) and a summary report. Nothing is dropped and the order is
kept: a row that cannot be placed says why in its own line.

Public API (for the CLI ``geo-grid lookup-batch IN -o OUT [--address-column C]`` and the API's
``POST /api/v1/lookup/batch``)
--------------------------------------------------------------------------------------------
``GridDirectory.from_district(district)`` / ``GridDirectory.from_frames(buildings, grids, communities)``
    Maps building code → (grid code, grid name, community name), and grid code → (grid name,
    community name). Any callable ``code -> (grid_code, grid_name, community) | None`` or a
    mapping works in its place for addresses.
``run_batch(path_in, path_out, matcher, directory, *, address_column=None, sheet=None,
lon_column=None, lat_column=None, locate=None, progress=None, crs="wgs84") -> dict``
    Read, match, write; returns the summary report (``rows, matched, ambiguous, unmatched,
    located, not_covered, errors, by_community, id_problems, address_column, header_row, seconds``).
``read_roster(path, *, sheet=None, address_column=None) -> Roster``
    xlsx (python-calamine, the engine of ``pandas.read_excel(engine="calamine")``, read
    directly so that cells stored as numbers are known) or CSV (UTF-8 with or without BOM,
    else GB18030). Title rows above the header (merged cells) are kept aside.
``lookup_roster(roster, matcher, directory, ...) -> BatchResult`` and
``write_roster(result, path)``
    The two halves of :func:`run_batch`, for callers that hold rows in memory.
``lookup_records(addresses, matcher, directory) -> list[dict]``
    A JSON-ready answer per address (for a JSON array of up to 10,000 items).

Cells: ID-number and phone columns are always written as text (number format ``@``). An
18-digit ID stored as a number in the xlsx has already lost its last digits (Excel keeps 15
significant digits): the row is flagged in ``数据问题`` and counted in ``id_problems``; an ID
stored as text is checked against its GB 11643 checksum.
"""

from __future__ import annotations

import csv
import datetime as _dt
import io
import math
import re
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from geo_grid.address import AddressMatcher, MatchResult
from geo_grid.crs import coordinate_problems, normalize_crs, to_cgcs2000
from geo_grid.errors import InvalidInput

__all__ = [
    "ADDED_COLUMNS",
    "ADDRESS_HEADERS",
    "BatchResult",
    "GridDirectory",
    "Roster",
    "check_id_number",
    "find_address_column",
    "lookup_records",
    "lookup_roster",
    "normalize_header",
    "read_roster",
    "run_batch",
    "write_roster",
]

#: Added columns: key → header written in the output.
ADDED_COLUMNS: dict[str, str] = {
    "grid_code": "网格编码",
    "grid_name": "网格名称",
    "community": "所属社区",
    "status": "匹配状态",
    "confidence": "置信度",
    "best_candidate": "匹配楼栋",
    "building_code": "楼栋编码",
    "note": "说明",
    "data_problems": "数据问题",
}

#: Address headers in order of preference (compared after :func:`normalize_header`).
ADDRESS_HEADERS: tuple[str, ...] = (
    "地址", "详细地址", "家庭住址", "现住址", "现居住地址", "居住地址", "现居住地", "现居地址",
    "住址(详细)", "住址", "家庭地址", "门牌地址", "所在地址", "房屋地址", "楼栋地址",
    "address", "addr",
)
_ID_WORDS = ("身份证", "证件号", "公民身份号码", "身份号码", "idnumber", "id_number")
_PHONE_WORDS = ("电话", "手机", "联系方式", "phone", "mobile", "tel")
_LON_WORDS = ("经度", "lon", "lng", "longitude")
_LAT_WORDS = ("纬度", "lat", "latitude")
_HEADER_SCAN_ROWS = 30
_ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
_ID_CHECK = "10X98765432"
_ID18 = re.compile(r"^\d{17}[\dX]$")
_SCI = re.compile(r"^\d(\.\d+)?[eE]\+?\d+$")

BuildingLookup = Callable[[str], "tuple[str | None, str | None, str | None] | None"]


# --------------------------------------------------------------------------- helpers


def normalize_header(label: Any) -> str:
    """Normalise a column header: NFKC (full-width brackets → ASCII), no spaces or newlines,
    lower case. ``住址（详细）`` → ``住址(详细)``, ``联系\\n电话`` → ``联系电话``."""
    if label is None or (isinstance(label, float) and math.isnan(label)):
        return ""
    s = unicodedata.normalize("NFKC", str(label))
    return re.sub(r"\s+", "", s).lower()


def check_id_number(value: str) -> str | None:
    """Check a resident ID number; return the problem in words, or None if it is valid.

    Parameters
    ----------
    value : str
        The ID as text. 18 characters: 17 digits and a check character (digit or X), verified
        with the GB 11643-1999 ISO 7064 MOD 11-2 checksum; 15 digits: a first-generation ID
        (no checksum, accepted with a note).

    Returns
    -------
    str or None
    """
    s = value.strip().upper()
    if not s:
        return None
    if _SCI.match(s):
        return "ID is in scientific notation: it was stored as a number and its digits are lost"
    if len(s) == 15 and s.isdigit():
        return "15-digit (first-generation) ID: no checksum to verify"
    if not _ID18.match(s):
        return f"ID has {len(s)} characters; expected 18 (17 digits and a digit or X)"
    digits = np.frombuffer(s[:17].encode(), dtype=np.uint8) - 48
    expected = _ID_CHECK[int((digits * _ID_WEIGHTS).sum()) % 11]
    if expected != s[17]:
        return f"ID checksum fails (last character should be {expected})"
    return None


def _cell_text(v: Any) -> str:
    """The text of a cell as read (an integral float loses its ``.0``)."""
    if v is None:
        return ""
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, float):
        if math.isnan(v):
            return ""
        if v.is_integer() and abs(v) < 1e21:
            return str(int(v))
        return repr(v)
    if isinstance(v, _dt.datetime | _dt.date | _dt.time):
        return v.isoformat()
    return str(v)


def _kind(label: str) -> str | None:
    h = normalize_header(label)
    if any(w in h for w in _ID_WORDS):
        return "id"
    if any(w in h for w in _PHONE_WORDS):
        return "phone"
    if h in _LON_WORDS or h.startswith("经度"):
        return "lon"
    if h in _LAT_WORDS or h.startswith("纬度"):
        return "lat"
    return None


def find_address_column(columns: Sequence[Any], explicit: str | None = None) -> str | None:
    """Find the address column among ``columns`` (original header labels).

    Parameters
    ----------
    columns : sequence
        Header labels as read.
    explicit : str, optional
        A name given by the caller, compared after :func:`normalize_header`.

    Returns
    -------
    str or None
        The original label of the address column, or None if none is recognised.

    Raises
    ------
    InvalidInput
        If ``explicit`` is given and no column has that name.
    """
    labels = [str(c) for c in columns]
    norm = [normalize_header(c) for c in labels]
    if explicit is not None:
        want = normalize_header(explicit)
        for lab, n in zip(labels, norm, strict=True):
            if n == want:
                return lab
        raise InvalidInput(
            f"no column named {explicit!r}; columns are: {', '.join(labels)}",
            column=explicit, columns=labels,
        )
    for header in ADDRESS_HEADERS:
        for lab, n in zip(labels, norm, strict=True):
            if n == header:
                return lab
    for lab, n in zip(labels, norm, strict=True):
        if ("住址" in n or "地址" in n) and "户籍" not in n and "邮" not in n:
            return lab
    for lab, n in zip(labels, norm, strict=True):
        if "住址" in n or "地址" in n:
            return lab
    return None


def _looks_like_label(h: str) -> bool:
    """A normalised cell that may be a header label: short and without digit runs (an ID, a
    phone or a house number is data, not a label)."""
    return len(h) <= 16 and not re.search(r"\d{2,}", h) and "@" not in h


def _unique(labels: list[str]) -> list[str]:
    seen: Counter = Counter()
    out = []
    for i, lab in enumerate(labels):
        lab = lab if lab.strip() else f"列{i + 1}"
        seen[lab] += 1
        out.append(lab if seen[lab] == 1 else f"{lab}.{seen[lab] - 1}")
    return out


# --------------------------------------------------------------------------- directory


@dataclass(frozen=True)
class GridDirectory:
    """Building code → (grid code, grid name, community name); grid code → (name, community).

    Build it with :meth:`from_frames` or :meth:`from_district`; it is also a callable on a
    building code, so it fits wherever a building lookup callable is accepted.
    """

    buildings: Mapping[str, tuple[str, str | None, str | None]]
    grids: Mapping[str, tuple[str | None, str | None]] = field(default_factory=dict)

    @classmethod
    def from_frames(
        cls,
        buildings: pd.DataFrame,
        grids: pd.DataFrame | None = None,
        communities: pd.DataFrame | None = None,
    ) -> GridDirectory:
        """Join buildings (code, grid_code) with grids (code, name, community_code) and
        communities (code, name)."""
        comm = {}
        if communities is not None and len(communities):
            comm = dict(zip(communities["code"].astype(str), communities["name"], strict=True))
        gmap: dict[str, tuple[str | None, str | None]] = {}
        if grids is not None and len(grids):
            cc = grids["community_code"].astype(str) if "community_code" in grids else None
            for i, (code, name) in enumerate(zip(grids["code"].astype(str), grids["name"],
                                                 strict=True)):
                c = cc.iloc[i] if cc is not None else code[:12]
                gmap[code] = (name, comm.get(c))
        bmap: dict[str, tuple[str, str | None, str | None]] = {}
        for code, gcode in zip(buildings["code"].astype(str), buildings["grid_code"].astype(str),
                               strict=True):
            name, community = gmap.get(gcode, (None, comm.get(gcode[:12])))
            bmap[code] = (gcode, name, community)
        return cls(bmap, gmap)

    @classmethod
    def from_district(cls, district: Any) -> GridDirectory:
        """Build from a :class:`geo_grid.district.District`."""
        return cls.from_frames(district.buildings, district.grids, district.communities)

    def __call__(self, code: str) -> tuple[str, str | None, str | None] | None:
        return self.buildings.get(code)

    def grid(self, code: str) -> tuple[str | None, str | None] | None:
        """(grid name, community name) of a grid code, or None."""
        return self.grids.get(code)


def _building_lookup(directory: Any) -> BuildingLookup:
    if directory is None:
        return lambda code: None
    if isinstance(directory, Mapping):
        return directory.get
    if isinstance(directory, pd.DataFrame):
        return GridDirectory.from_frames(directory)
    if callable(directory):
        return directory
    raise InvalidInput(f"cannot map building codes with a {type(directory).__name__}")


# --------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class Roster:
    """A roster as read: its data rows (text), raw cell values and layout.

    Attributes
    ----------
    frame : pandas.DataFrame
        One column per header (labels made unique), every cell as text ('' when empty).
    values : list of list
        The raw cell values as read (numbers stay numbers), used to write other columns back
        unchanged.
    header : tuple of str
        The header labels as read.
    title_rows : tuple of tuple
        Rows above the header (merged title rows), written back unchanged.
    header_row : int
        0-based row index of the header in the file.
    numeric : dict
        Column label → boolean array: cells stored as numbers (xlsx only).
    kinds : dict
        Column label → ``id``, ``phone``, ``lon`` or ``lat`` for recognised columns.
    format : str
        ``xlsx`` or ``csv``.
    encoding : str
        CSV encoding read (written back the same).
    sheet : str or None
        The sheet read.
    trimmed_blank_rows : int
        Blank rows dropped at the end.
    source : str or None
        The file read (an xlsx written back keeps its other sheets and merged cells).
    """

    frame: pd.DataFrame
    values: list[list[Any]]
    header: tuple[str, ...]
    title_rows: tuple[tuple[Any, ...], ...]
    header_row: int
    numeric: dict[str, np.ndarray]
    kinds: dict[str, str]
    format: str
    encoding: str = "utf-8"
    sheet: str | None = None
    trimmed_blank_rows: int = 0
    source: str | None = None


def _read_grid(path: Path, sheet: str | int | None) -> tuple[list[list[Any]], str, str | None]:
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm", ".xls", ".ods"):
        from python_calamine import CalamineWorkbook

        try:
            wb = CalamineWorkbook.from_path(str(path))
        except Exception as exc:  # noqa: BLE001 - any reader failure is the caller's file
            raise InvalidInput(f"cannot read {path.name} as a spreadsheet: {exc}") from exc
        names = wb.sheet_names
        if sheet is None:
            name = names[0]
        elif isinstance(sheet, int):
            if not 0 <= sheet < len(names):
                raise InvalidInput(f"sheet index {sheet} out of range; sheets: {names}")
            name = names[sheet]
        else:
            if sheet not in names:
                raise InvalidInput(f"no sheet {sheet!r}; sheets: {names}")
            name = sheet
        rows = wb.get_sheet_by_name(name).to_python(skip_empty_area=False)
        return [list(r) for r in rows], "xlsx", name
    if suffix in (".csv", ".txt", ".tsv"):
        raw = path.read_bytes()
        for enc in ("utf-8-sig", "gb18030"):
            try:
                text = raw.decode(enc)
                break
            except UnicodeDecodeError:
                continue
        else:  # pragma: no cover - gb18030 decodes any byte string
            raise InvalidInput(f"cannot decode {path.name}")
        if enc == "utf-8-sig" and not raw.startswith(b"\xef\xbb\xbf"):
            enc = "utf-8"
        delim = "\t" if suffix == ".tsv" else ","
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delim))
        return rows, "csv:" + enc, None
    raise InvalidInput(f"unsupported roster format {suffix!r}: use .xlsx or .csv")


def read_roster(
    path: str | Path,
    *,
    sheet: str | int | None = None,
    address_column: str | None = None,
    lon_column: str | None = None,
    lat_column: str | None = None,
) -> Roster:
    """Read a roster and find its header row.

    The header is the first of the top rows that holds the named address column, else an
    address-like header (:data:`ADDRESS_HEADERS`), else lon/lat headers; rows above it are
    title rows (merged cells read as one value and blanks).

    Parameters
    ----------
    path : str or Path
        ``.xlsx`` or ``.csv``.
    sheet : str or int, optional
        Sheet name or index (xlsx); the first by default.
    address_column, lon_column, lat_column : str, optional
        Column names given by the caller (compared after :func:`normalize_header`).

    Returns
    -------
    Roster

    Raises
    ------
    InvalidInput
        Unreadable file, unknown format, or no header row found.
    """
    path = Path(path)
    if not path.exists():
        raise InvalidInput(f"no such file: {path}")
    rows, fmt, sheet_name = _read_grid(path, sheet)
    fmt, _, encoding = fmt.partition(":")
    width = max((len(r) for r in rows), default=0)
    for r in rows:
        if len(r) < width:
            r.extend([""] * (width - len(r)))
    header_row = None
    wanted = [normalize_header(c) for c in (address_column, lon_column, lat_column) if c]
    for i, row in enumerate(rows[:_HEADER_SCAN_ROWS]):
        cells = [normalize_header(v) for v in row if _cell_text(v).strip()]
        if len(cells) < 1:
            continue
        if wanted:
            if all(w in cells for w in wanted):
                header_row = i
                break
            continue
        if len(cells) >= 2 and find_address_column(cells) is not None:
            header_row = i
            break
    if header_row is None and not wanted:
        for i, row in enumerate(rows[:_HEADER_SCAN_ROWS]):
            kinds = {_kind(_cell_text(v)) for v in row}
            if {"lon", "lat"} <= kinds:
                header_row = i
                break
    if header_row is None:
        # only header-like labels of the first non-empty row (never cell values of data rows:
        # names, phones and ID numbers must not reach an error message or a log)
        first = next((r for r in rows[:_HEADER_SCAN_ROWS] if any(_cell_text(v).strip() for v in r)),
                     [])
        candidates = [h for v in first if (h := normalize_header(_cell_text(v)))
                      and _looks_like_label(h)]
        raise InvalidInput(
            "no header row with an address column found in the first "
            f"{_HEADER_SCAN_ROWS} rows; name it with the address column option "
            f"(header candidates: {', '.join(candidates) or 'none'})",
            header_candidates=candidates,
        )
    header = [_cell_text(v).strip() for v in rows[header_row]]
    labels = _unique(header)
    data = rows[header_row + 1:]
    trimmed = 0
    while data and not any(_cell_text(v).strip() for v in data[-1]):
        data.pop()
        trimmed += 1
    ncol = len(labels)
    cols = list(zip(*data, strict=True)) if data else [() for _ in range(ncol)]
    frame = pd.DataFrame(
        {lab: [_cell_text(v) for v in col] for lab, col in zip(labels, cols, strict=True)},
        dtype=object,
    )
    numeric = {
        lab: np.fromiter((isinstance(v, int | float) and not isinstance(v, bool) for v in col),
                         dtype=bool, count=len(col))
        for lab, col in zip(labels, cols, strict=True)
    }
    kinds = {lab: k for lab in labels if (k := _kind(lab)) is not None}
    return Roster(
        frame=frame,
        values=data,
        header=tuple(header),
        title_rows=tuple(tuple(r) for r in rows[:header_row]),
        header_row=header_row,
        numeric=numeric,
        kinds=kinds,
        format=fmt,
        encoding=encoding or "utf-8",
        sheet=sheet_name,
        trimmed_blank_rows=trimmed,
        source=str(path),
    )


# --------------------------------------------------------------------------- lookup


@dataclass(frozen=True)
class BatchResult:
    """The roster with its added columns, and the summary report."""

    roster: Roster
    added: pd.DataFrame
    report: dict[str, Any]


def _id_problems(roster: Roster) -> list[list[str]]:
    problems: list[list[str]] = [[] for _ in range(len(roster.frame))]
    for lab, kind in roster.kinds.items():
        if kind != "id":
            continue
        col = roster.frame[lab].tolist()
        num = roster.numeric.get(lab)
        for i, v in enumerate(col):
            if not v.strip():
                continue
            if num is not None and num[i]:
                digits = len(v.lstrip("-"))
                if digits >= 16:
                    problems[i].append(
                        f"{lab}: stored as a number in the file, so its last digits are lost "
                        "(Excel keeps 15 significant digits); re-enter it as text"
                    )
                    continue
            msg = check_id_number(v)
            if msg:
                problems[i].append(f"{lab}: {msg}")
    return problems


def lookup_roster(
    roster: Roster,
    matcher: AddressMatcher,
    directory: Any,
    *,
    address_column: str | None = None,
    lon_column: str | None = None,
    lat_column: str | None = None,
    locate: Callable[[np.ndarray, np.ndarray], Sequence[Any]] | None = None,
    progress: Callable[[int, int], None] | None = None,
    crs: str | None = "wgs84",
) -> BatchResult:
    """Place every row of a roster.

    Parameters
    ----------
    roster : Roster
        From :func:`read_roster`.
    matcher : AddressMatcher
        Built once for the district.
    directory : GridDirectory, callable, mapping or DataFrame
        Building code → (grid code, grid name, community name).
    address_column : str, optional
        The address column; found by its header when not given.
    lon_column, lat_column : str, optional
        Coordinate columns (found by header 经度/纬度/lon/lat when not given); used, with
        ``locate``, for rows whose address is blank or not matched.
    locate : callable, optional
        ``locate(lon_array, lat_array) -> grid codes`` (None or '' where outside every grid),
        called with CGCS2000 lon/lat.
    crs : str, optional
        CRS of the coordinate columns (:func:`geo_grid.crs.normalize_crs` names: ``wgs84``
        by default, ``cgcs2000``, ``gcj02``, ``bd09``, ``epsg:4549`` metres). Each pair is
        checked on its own (range, swapped lon/lat or x/y): a bad pair makes its row an
        ``error`` with the reason, the other rows go on.
    progress : callable, optional
        ``progress(done, total)`` while matching.

    Returns
    -------
    BatchResult
        ``added`` has one row per roster row, in order, with the :data:`ADDED_COLUMNS` keys;
        ``status`` is ``matched``, ``ambiguous``, ``unmatched`` (addresses), ``located`` or
        ``not_covered`` (by coordinates), or ``error``.
    """
    t0 = time.perf_counter()
    crs_name = normalize_crs(crs)
    frame = roster.frame
    n = len(frame)
    addr_col = find_address_column(list(frame.columns), address_column)
    lon_col = lon_column or next((c for c, k in roster.kinds.items() if k == "lon"), None)
    lat_col = lat_column or next((c for c, k in roster.kinds.items() if k == "lat"), None)
    for c in (lon_col, lat_col):
        if c is not None and c not in frame.columns:
            raise InvalidInput(f"no column named {c!r}", column=c)
    use_coords = locate is not None and lon_col is not None and lat_col is not None
    if addr_col is None and not use_coords:
        raise InvalidInput(
            "no address column recognised; columns are: " + ", ".join(map(str, frame.columns)),
            columns=list(map(str, frame.columns)),
        )
    lookup = _building_lookup(directory)
    grid_of = getattr(directory, "grid", None)

    out = {k: [""] * n for k in ADDED_COLUMNS}
    out["confidence"] = [None] * n
    addresses = frame[addr_col].tolist() if addr_col is not None else [""] * n
    results: list[MatchResult | None] = [None] * n
    if addr_col is not None:
        total = n
        for start in range(0, n, 5000):
            chunk = addresses[start:start + 5000]
            for j, text in enumerate(chunk):
                if text.strip():
                    try:
                        results[start + j] = matcher.match(text)
                    except Exception as exc:  # noqa: BLE001 - one bad row must not stop a batch
                        out["status"][start + j] = "error"
                        out["note"][start + j] = f"matcher failed: {exc}"
            if progress is not None:
                progress(min(start + 5000, total), total)
    if progress is not None and n == 0:
        progress(0, 0)
    info_cache: dict[str, Any] = {}
    for i, r in enumerate(results):
        if r is None:
            continue
        out["status"][i] = r.status
        out["confidence"][i] = round(r.confidence, 3)
        best = r.best
        if r.status == "matched":
            out["best_candidate"][i] = r.building_address or ""
            out["building_code"][i] = r.building_code or ""
            code = r.building_code
            if code not in info_cache:
                info_cache[code] = lookup(code)
            info = info_cache[code]
            if info:
                out["grid_code"][i] = info[0] or ""
                out["grid_name"][i] = info[1] or ""
                out["community"][i] = info[2] or ""
            else:
                out["status"][i] = "error"
                out["note"][i] = f"building {code} has no grid in the directory; "
        elif best is not None:
            out["best_candidate"][i] = " | ".join(
                f"{c.address}({c.confidence:.2f})" for c in r.candidates[:3]
            )
        out["note"][i] += "; ".join(r.reasons)
    # coordinates for rows without a matched address
    located = 0
    if use_coords:
        todo = [i for i in range(n) if out["status"][i] not in ("matched",)]
        lon = pd.to_numeric(frame[lon_col].iloc[todo], errors="coerce").to_numpy(dtype=float)
        lat = pd.to_numeric(frame[lat_col].iloc[todo], errors="coerce").to_numpy(dtype=float)
        ok = np.isfinite(lon) & np.isfinite(lat)
        problems_xy: list[str | None] = [None] * len(todo)
        if ok.any():
            checked = coordinate_problems(lon[ok], lat[ok], crs_name)
            for k, msg in zip(np.flatnonzero(ok), checked, strict=True):
                if msg is not None:
                    problems_xy[k] = msg
                    ok[k] = False
        codes: list[Any] = [None] * len(todo)
        if ok.any():
            try:
                x, y = to_cgcs2000(lon[ok], lat[ok], crs_name, validate=False)
                got = list(locate(np.atleast_1d(x), np.atleast_1d(y)))
            except Exception as exc:  # noqa: BLE001
                raise InvalidInput(f"locating coordinates failed: {exc}") from exc
            for k, g in zip(np.flatnonzero(ok), got, strict=True):
                codes[k] = g
        for k, i in enumerate(todo):
            has_xy = frame[lon_col].iat[i].strip() or frame[lat_col].iat[i].strip()
            if not has_xy:
                continue
            prev = out["note"][i]
            if not ok[k]:
                reason = problems_xy[k] or "lon/lat are not numbers"
                if out["status"][i] in ("", "unmatched", "ambiguous"):
                    out["status"][i] = "error"
                    out["confidence"][i] = None
                    out["note"][i] = f"coordinates: {reason}" + (
                        f" (address: {prev})" if prev else "")
                continue
            g = codes[k]
            if g is None or (isinstance(g, float) and math.isnan(g)) or g == "":
                if out["status"][i] in ("", "unmatched"):
                    out["status"][i] = "not_covered"
                    out["confidence"][i] = None
                    out["note"][i] = "the coordinates are outside every grid" + (
                        f" (address: {prev})" if prev else "")
                continue
            g = str(g)
            was = out["status"][i]
            out["status"][i] = "located"
            out["confidence"][i] = 1.0
            out["grid_code"][i] = g
            ginfo = grid_of(g) if callable(grid_of) else None
            if ginfo:
                out["grid_name"][i] = ginfo[0] or ""
                out["community"][i] = ginfo[1] or ""
            if was == "ambiguous":
                out["note"][i] = ("address ambiguous; the coordinates decided it"
                                  + (f" (address: {prev})" if prev else ""))
            else:
                out["note"][i] = "located by coordinates" + (f" (address: {prev})" if prev else "")
            located += 1
    for i in range(n):
        if out["status"][i] == "":
            out["status"][i] = "error"
            out["note"][i] = (
                "empty address" if addr_col is not None else "no coordinates"
            ) + (" and no coordinates" if use_coords and addr_col is not None else "")
    problems = _id_problems(roster)
    out["data_problems"] = ["; ".join(p) for p in problems]
    counts = Counter(out["status"])
    by_community = Counter(c for c, s in zip(out["community"], out["status"], strict=True)
                           if s in ("matched", "located") and c)
    report = {
        "rows": n,
        "matched": counts.get("matched", 0),
        "ambiguous": counts.get("ambiguous", 0),
        "unmatched": counts.get("unmatched", 0),
        "located": counts.get("located", 0),
        "not_covered": counts.get("not_covered", 0),
        "errors": counts.get("error", 0),
        "by_community": dict(sorted(by_community.items(), key=lambda kv: -kv[1])),
        "id_problems": sum(1 for p in problems if p),
        "address_column": addr_col,
        "coordinate_columns": [lon_col, lat_col] if use_coords else None,
        "crs": crs_name if use_coords else None,
        "header_row": roster.header_row + 1,
        "title_rows": len(roster.title_rows),
        "trimmed_blank_rows": roster.trimmed_blank_rows,
        "format": roster.format,
        "seconds": round(time.perf_counter() - t0, 3),
    }
    assert sum(counts.values()) == n
    return BatchResult(roster=roster, added=pd.DataFrame(out), report=report)


def lookup_records(
    addresses: Sequence[str | None], matcher: AddressMatcher, directory: Any
) -> list[dict[str, Any]]:
    """A JSON-ready answer per address, in order (for ``POST /api/v1/lookup/batch`` arrays).

    Each item is ``{"index", "address", "grid_code", "grid_name", "community", "match"}``
    where ``match`` is :meth:`MatchResult.to_dict` (None for a blank address, with
    ``"error": "empty address"``).
    """
    lookup = _building_lookup(directory)
    out = []
    for i, (text, r) in enumerate(zip(addresses, matcher.match_many(list(addresses)),
                                      strict=True)):
        item: dict[str, Any] = {"index": i, "address": text, "grid_code": None,
                                "grid_name": None, "community": None, "match": None}
        if r is None:
            item["error"] = "empty address"
        else:
            item["match"] = r.to_dict()
            if r.status == "matched":
                info = lookup(r.building_code)
                if info:
                    item["grid_code"], item["grid_name"], item["community"] = info
        out.append(item)
    return out


# --------------------------------------------------------------------------- writing


def _blank(v: Any) -> bool:
    """None, NaN or '' (an added cell with nothing to say)."""
    return v is None or (isinstance(v, float) and math.isnan(v)) or (isinstance(v, str) and v == "")


def _out_value(v: Any) -> Any:
    if isinstance(v, float):
        if math.isnan(v):
            return None
        if v.is_integer() and abs(v) < 2**53:
            return int(v)
    if v == "":
        return None
    return v


def _write_into_workbook(result: BatchResult, path: Path, header: list[str],
                         added_cols: list[list[Any]], text_cols: list[int],
                         frame_cols: dict[int, list[str]]) -> Path:
    """Write the added columns into a copy of the source workbook: its other sheets, merged
    title cells, styles and column widths stay as they were."""
    from openpyxl import load_workbook
    from openpyxl.utils import get_column_letter

    roster = result.roster
    src = Path(roster.source or "")
    try:
        wb = load_workbook(src, keep_vba=src.suffix.lower() == ".xlsm")
    except Exception as exc:  # noqa: BLE001 - any reader failure is the caller's file
        raise InvalidInput(f"cannot reopen {src.name} to write it back: {exc}") from exc
    ws = wb[roster.sheet] if roster.sheet in wb.sheetnames else wb.worksheets[0]
    ncol = len(roster.header)
    hrow = roster.header_row + 1  # 1-based sheet row of the header
    for k, lab in enumerate(header[ncol:]):
        ws.cell(row=hrow, column=ncol + 1 + k, value=lab)
        ws.column_dimensions[get_column_letter(ncol + 1 + k)].width = (
            24 if lab in ("说明", "匹配楼栋", "数据问题") else 16)
    for i in range(len(roster.frame)):
        r = hrow + 1 + i
        for j in text_cols:
            cell = ws.cell(row=r, column=j + 1)
            cell.value = frame_cols[j][i] or None
            cell.number_format = "@"
        for k, col in enumerate(added_cols):
            if not _blank(col[i]):
                ws.cell(row=r, column=ncol + 1 + k, value=col[i])
    wb.save(path)
    return path


def _workbook_has_more(source: str | Path) -> bool:
    """True when an xlsx holds more than one sheet or merged cells (worth copying as a whole).

    Reads the zip's member list and the sheets' XML only; a plain one-sheet roster takes the
    write-only path, several times faster on 100,000 rows.
    """
    import zipfile

    try:
        with zipfile.ZipFile(source) as z:
            sheets = [n for n in z.namelist() if n.startswith("xl/worksheets/") and n.endswith(".xml")]
            if len(sheets) != 1:
                return True
            with z.open(sheets[0]) as f:
                tail = b""
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    if b"<mergeCell" in tail + chunk:
                        return True
                    tail = chunk[-16:]
    except (OSError, zipfile.BadZipFile):
        return False
    return False


def write_roster(result: BatchResult, path: str | Path) -> Path:
    """Write the roster with its added columns, in the format of ``path``'s suffix.

    xlsx from an xlsx roster with several sheets or merged cells: the source workbook is reopened
    with openpyxl and the columns are added to the processed sheet, so other sheets, merged title
    cells and styles are kept. Otherwise openpyxl (write-only), title rows first, then the header, then one line per row.
    ID and phone columns are written as text (number format ``@``), other cells as read.
    CSV: the encoding of the input (UTF-8 with BOM for an xlsx input, so Excel opens it).

    Returns
    -------
    pathlib.Path
    """
    path = Path(path)
    roster = result.roster
    labels = list(roster.frame.columns)
    text_cols = [j for j, lab in enumerate(labels) if roster.kinds.get(lab) in ("id", "phone")]
    text_set = set(text_cols)
    added_keys = list(ADDED_COLUMNS)
    added_cols = [result.added[k].tolist() for k in added_keys]
    header = list(roster.header) + [ADDED_COLUMNS[k] for k in added_keys]
    n = len(roster.frame)
    frame_cols = {j: roster.frame[lab].tolist() for j, lab in enumerate(labels) if j in text_set}
    suffix = path.suffix.lower()
    if (suffix in (".xlsx", ".xlsm") and roster.format == "xlsx" and roster.source
            and Path(roster.source).suffix.lower() in (".xlsx", ".xlsm")
            and Path(roster.source).exists() and _workbook_has_more(roster.source)):
        return _write_into_workbook(result, path, header, added_cols, text_cols, frame_cols)
    if suffix in (".xlsx", ".xlsm"):
        from openpyxl import Workbook
        from openpyxl.cell import WriteOnlyCell
        from openpyxl.utils import get_column_letter

        wb = Workbook(write_only=True)
        ws = wb.create_sheet(roster.sheet or "Sheet1")
        for j, lab in enumerate(header):
            width = 14 if j < len(labels) else 16
            if lab in ("说明", "匹配楼栋", "数据问题") or j in text_set:
                width = 24
            ws.column_dimensions[get_column_letter(j + 1)].width = width
        for row in roster.title_rows:
            ws.append([_out_value(v) for v in row])
        ws.append(header)
        # one styled cell per text column, reused: a write-only sheet serialises each row
        # as it is appended, so only the value changes between rows
        text_cells = {}
        for j in text_cols:
            cell = WriteOnlyCell(ws)
            cell.number_format = "@"
            text_cells[j] = cell
        for i in range(n):
            raw = roster.values[i]
            line: list[Any] = [_out_value(v) for v in raw]
            for j in text_cols:
                cell = text_cells[j]
                cell.value = frame_cols[j][i] or None
                line[j] = cell
            line.extend(None if _blank(col[i]) else col[i] for col in added_cols)
            ws.append(line)
        wb.save(path)
        return path
    if suffix in (".csv", ".txt", ".tsv"):
        enc = roster.encoding if roster.format == "csv" else "utf-8-sig"
        delim = "\t" if suffix == ".tsv" else ","
        all_text = [roster.frame[lab].tolist() for lab in labels]
        with path.open("w", encoding=enc, newline="") as fh:
            w = csv.writer(fh, delimiter=delim)
            for row in roster.title_rows:
                w.writerow([_cell_text(v) for v in row])
            w.writerow(header)
            for i in range(n):
                w.writerow([c[i] for c in all_text]
                           + ["" if _blank(col[i]) else col[i] for col in added_cols])
        return path
    raise InvalidInput(f"unsupported output format {suffix!r}: use .xlsx or .csv")


def run_batch(
    path_in: str | Path,
    path_out: str | Path,
    matcher: AddressMatcher,
    directory: Any,
    *,
    address_column: str | None = None,
    sheet: str | int | None = None,
    lon_column: str | None = None,
    lat_column: str | None = None,
    locate: Callable[[np.ndarray, np.ndarray], Sequence[Any]] | None = None,
    progress: Callable[[int, int], None] | None = None,
    crs: str | None = "wgs84",
) -> dict[str, Any]:
    """Read a roster, place every row, write it out with the added columns.

    Parameters
    ----------
    path_in, path_out : str or Path
        ``.xlsx`` or ``.csv`` (the output format follows ``path_out``'s suffix; give the same
        suffix as the input to keep the format).
    matcher : AddressMatcher
    directory : GridDirectory, callable, mapping or DataFrame
        Building code → (grid code, grid name, community name).
    address_column, sheet, lon_column, lat_column, locate, progress, crs
        See :func:`read_roster` and :func:`lookup_roster`.

    Returns
    -------
    dict
        The summary report, with ``read_s``, ``match_s``, ``write_s`` and ``seconds``.

    Raises
    ------
    InvalidInput
        Unreadable input, no address column, unknown column name or format.
    """
    t0 = time.perf_counter()
    roster = read_roster(path_in, sheet=sheet, address_column=address_column,
                         lon_column=lon_column if locate else None,
                         lat_column=lat_column if locate else None)
    t1 = time.perf_counter()
    result = lookup_roster(roster, matcher, directory, address_column=address_column,
                           lon_column=lon_column, lat_column=lat_column, locate=locate,
                           progress=progress, crs=crs)
    t2 = time.perf_counter()
    write_roster(result, path_out)
    t3 = time.perf_counter()
    report = dict(result.report)
    report.update(read_s=round(t1 - t0, 3), match_s=round(t2 - t1, 3), write_s=round(t3 - t2, 3),
                  seconds=round(t3 - t0, 3), output=str(path_out))
    return report
