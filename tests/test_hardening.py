"""What a hostile or careless client sends: the service answers 4xx problem+json and stays up.

Spreadsheet bombs, formula injection, bodies that break the JSON parser, bodies sent chunked
past the limits, oversized scenarios, security headers, the store lock and the access log;
over real HTTP against uvicorn in a subprocess, and on real files.
"""

from __future__ import annotations

import io
import json
import math
import os
import signal
import socket
import subprocess
import sys
import time
import zipfile

import httpx
import openpyxl
import pandas as pd
import pytest

from geo_grid.errors import InvalidInput, PayloadTooLarge, StoreError
from geo_grid.tables import (
    check_workbook,
    neutralize,
    read_rows,
    read_rows_safely,
    read_table,
    read_table_safely,
    write_xlsx,
)
from tests.test_api import PROBLEM, authed, free_port, start_server

UPLOAD_LIMIT = 300_000
NS = '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
INJECTIONS = ['=HYPERLINK("http://x")', "=cmd|' /C calc'!A0", "@SUM(1)", "+1+1", "-2+3",
              "\tx", "\r=1"]
# a carriage return in sheet XML is read back as a line feed: that case is the CSV's
XLSX_INJECTIONS = [v for v in INJECTIONS if not v.startswith("\r")]


@pytest.fixture(scope="module")
def base(own_store):
    with start_server(own_store, GEO_GRID_MAX_UPLOAD_BYTES=str(UPLOAD_LIMIT)) as url:
        yield url


@pytest.fixture(scope="module")
def http(base):
    with authed(base, timeout=120) as c:
        yield c


def is_problem(r: httpx.Response, *statuses: int) -> bool:
    return r.status_code in statuses and r.headers["content-type"].startswith(PROBLEM)


def workbook_with_sheet(path, sheet_xml: bytes, compresslevel: int = 6):
    """A valid one-sheet xlsx whose sheet part is replaced by ``sheet_xml``."""
    write_xlsx(path, [["x"]], head_rows=[["地址"]])
    with zipfile.ZipFile(path) as src:
        parts = {n: src.read(n) for n in src.namelist()}
    parts["xl/worksheets/sheet1.xml"] = sheet_xml
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=compresslevel) as z:
        for name, data in parts.items():
            z.writestr(name, data)
    return path


def far_cell_sheet(dimension: str | None = None, far: str = "XFD1048576") -> bytes:
    dim = f'<dimension ref="{dimension}"/>' if dimension else ""
    row = "".join(ch for ch in far if ch.isdigit())
    return (f'{NS}{dim}<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>地址</t></is></c>'
            f'</row><row r="{row}"><c r="{far}"><v>1</v></c></row></sheetData></worksheet>').encode()


# ------------------------------------------------------------------ 1. spreadsheet bombs


def test_far_cell_bomb_is_refused_by_the_core_reader(tmp_path):
    path = workbook_with_sheet(tmp_path / "far.xlsx", far_cell_sheet())
    assert path.stat().st_size < 4000
    with pytest.raises(PayloadTooLarge, match=r"1,048,576 rows × 16,384 columns"):
        read_rows(path)
    # what the import routes call (people rosters, tabular layers): the same refusal
    with pytest.raises(PayloadTooLarge):
        read_table(path, lambda cells: True)


def test_declared_dimension_is_checked_even_with_few_cells(tmp_path):
    sheet = (f'{NS}<dimension ref="A1:XFD1048576"/><sheetData><row r="1"><c r="A1" '
             't="inlineStr"><is><t>地址</t></is></c></row></sheetData></worksheet>').encode()
    path = workbook_with_sheet(tmp_path / "dim.xlsx", sheet)
    with pytest.raises(PayloadTooLarge, match="declares 1,048,576 rows"):
        check_workbook(path)
    # a lying dimension (A1) does not hide a far cell
    path = workbook_with_sheet(tmp_path / "lie.xlsx", far_cell_sheet("A1", far="GR20000"))
    with pytest.raises(PayloadTooLarge, match="has cells as far as 20,000 rows × 200 columns"):
        check_workbook(path)
    # within the limit: read
    path = workbook_with_sheet(tmp_path / "ok.xlsx", far_cell_sheet("A1:C100", far="C100"))
    check_workbook(path)
    assert len(read_rows(path).rows) == 100


def test_zip_members_too_big_or_too_compressed_are_refused(tmp_path):
    padding = b" " * (12 * 1024 * 1024)  # 12 MB of XML whitespace deflates about 1000:1
    sheet = NS.encode() + b"<sheetData>" + padding + b"</sheetData></worksheet>"
    path = workbook_with_sheet(tmp_path / "bomb.xlsx", sheet)
    assert path.stat().st_size < 100_000
    with pytest.raises(PayloadTooLarge, match=r"ratio of \d+:1, over 100:1"):
        read_rows(path)
    # the size of a member, whatever its ratio
    text = "".join(f'<row r="{i}"><c r="A{i}"><v>{i}</v></c></row>' for i in range(1, 60_000))
    path = workbook_with_sheet(tmp_path / "big.xlsx", f"{NS}<sheetData>{text}</sheetData>"
                               "</worksheet>".encode())
    with pytest.raises(PayloadTooLarge, match="unpacks to .* over the limit of 1,000,000 bytes"):
        check_workbook(path, max_unpacked_bytes=1_000_000)
    check_workbook(path)


def test_safe_read_in_a_child_with_memory_and_time_limits(tmp_path):
    n = 30_000
    path = write_xlsx(tmp_path / "r.xlsx", [[f"叙丰家园{i}栋" for i in range(n)], list(range(n))],
                      head_rows=[["地址", "序号"]])
    raw = read_rows_safely(path)
    assert len(raw.rows) == n + 1 and raw.rows[5] == ["叙丰家园4栋", 4]
    # the rows read in the child are what the next read of the file in this process gets
    table = read_table_safely(path, lambda cells: "地址" in cells)
    assert len(table.frame) == n and table.frame.iloc[7, 0] == "叙丰家园7栋"
    with pytest.raises(PayloadTooLarge, match="more than 4 MiB of memory"):
        read_rows_safely(path, max_mib=4)
    with pytest.raises(PayloadTooLarge, match="longer than 0 s"):
        read_rows_safely(path, max_seconds=0)
    # the reader's own refusals come back as they are
    bomb = workbook_with_sheet(tmp_path / "far.xlsx", far_cell_sheet())
    with pytest.raises(PayloadTooLarge, match="16,384 columns"):
        read_rows_safely(bomb)
    bad = tmp_path / "x.xlsx"
    bad.write_bytes(b"not a workbook")
    with pytest.raises(InvalidInput, match="cannot read"):
        read_rows_safely(bad)


def test_bombs_uploaded_to_the_batch_route_are_413_and_the_service_lives(http, tmp_path):
    far = workbook_with_sheet(tmp_path / "far.xlsx", far_cell_sheet()).read_bytes()
    r = http.post("/api/v1/lookup/batch", files={"file": ("far.xlsx", far, "application/octet-stream")})
    assert is_problem(r, 413) and "16,384 columns" in r.json()["detail"]
    sheet = NS.encode() + b"<sheetData>" + b" " * (12 << 20) + b"</sheetData></worksheet>"
    zipped = workbook_with_sheet(tmp_path / "z.xlsx", sheet).read_bytes()
    r = http.post("/api/v1/lookup/batch", files={"file": ("z.xlsx", zipped, "application/octet-stream")})
    assert is_problem(r, 413) and "zip bomb" in r.json()["detail"]
    assert http.get("/healthz").status_code == 200


# ------------------------------------------------------------------ 2. formula injection


def test_neutralize_quotes_formulas_and_keeps_numbers():
    assert [neutralize(v) for v in INJECTIONS] == ["'" + v for v in INJECTIONS]
    assert neutralize(-3) == -3 and neutralize(-2.5) == -2.5 and neutralize("-3") == "-3"
    assert neutralize("+8613800000000") == "+8613800000000"  # a number, not a formula
    assert neutralize("叙丰家园1栋") == "叙丰家园1栋" and neutralize("") == "" and neutralize(None) is None


def test_batch_csv_and_xlsx_outputs_are_neutralised(http, district, tmp_path):
    addr = district.buildings["address"].iloc[:len(INJECTIONS)].tolist()
    csv_text = "地址,备注,联系电话,数量\n" + "\n".join(
        f'{a},"{v.replace(chr(34), chr(34) * 2)}","{v.replace(chr(34), chr(34) * 2)}",-{i}'
        for i, (a, v) in enumerate(zip(addr, INJECTIONS, strict=True)))
    r = http.post("/api/v1/lookup/batch", files={"file": ("r.csv", csv_text.encode(), "text/csv")})
    assert r.status_code == 200, r.text
    out = pd.read_csv(io.BytesIO(r.content), dtype=str, keep_default_na=False)
    assert out["备注"].tolist() == ["'" + v for v in INJECTIONS]
    assert out["联系电话"].tolist() == ["'" + v for v in INJECTIONS]
    assert out["数量"].tolist()[1:] == [f"-{i}" for i in range(1, len(INJECTIONS))]

    # xlsx in, xlsx out (the fast writer): text quoted, numbers still numbers
    inj = XLSX_INJECTIONS
    addr = addr[:len(inj)]
    cols = [addr, inj, inj, [-float(i) - 0.5 for i in range(len(inj))]]
    src = write_xlsx(tmp_path / "in.xlsx", cols, head_rows=[["地址", "备注", "联系电话", "数量"]])
    r = http.post("/api/v1/lookup/batch",
                  files={"file": ("in.xlsx", src.read_bytes(), "application/octet-stream")})
    assert r.status_code == 200, r.text
    ws = openpyxl.load_workbook(io.BytesIO(r.content)).active
    rows = list(ws.iter_rows(min_row=2, values_only=True))
    assert [row[1] for row in rows] == ["'" + v for v in inj]
    assert [row[2] for row in rows] == ["'" + v for v in inj]
    assert [row[3] for row in rows] == [-float(i) - 0.5 for i in range(len(inj))]
    assert all(c.data_type != "f" for row in ws.iter_rows() for c in row)


def test_batch_xlsx_written_into_the_source_workbook_is_neutralised(http, district):
    # merged title cells: the source workbook is reopened with openpyxl and written back
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["江溪街道住户花名册"])
    ws.merge_cells("A1:C1")
    ws.append(["地址", "备注", "联系电话"])
    for i, v in enumerate(XLSX_INJECTIONS):
        ws.append([district.buildings["address"].iloc[i], None, None])
        for col in (2, 3):  # stored as text, as Excel stores a typed '=...
            c = ws.cell(row=i + 3, column=col)
            c.value, c.data_type = v, "s"
    buf = io.BytesIO()
    wb.save(buf)
    r = http.post("/api/v1/lookup/batch",
                  files={"file": ("m.xlsx", buf.getvalue(), "application/octet-stream")})
    assert r.status_code == 200, r.text
    out = openpyxl.load_workbook(io.BytesIO(r.content)).active
    assert [out.cell(row=i + 3, column=2).value for i in range(len(XLSX_INJECTIONS))] == \
        ["'" + v for v in XLSX_INJECTIONS]
    assert [out.cell(row=i + 3, column=3).value for i in range(len(XLSX_INJECTIONS))] == \
        ["'" + v for v in XLSX_INJECTIONS]
    assert all(c.data_type != "f" for row in out.iter_rows() for c in row)


def test_roster_is_neutralised(district, tmp_path):
    import dataclasses

    from geo_grid.roster import write_roster

    members = district.members.copy()
    k = len(INJECTIONS)
    members.loc[members.index[:k], "name"] = INJECTIONS
    members.loc[members.index[:k], "phone"] = INJECTIONS
    path = tmp_path / "roster.xlsx"
    write_roster(dataclasses.replace(district, members=members), path, unmasked=True)
    wb = openpyxl.load_workbook(path)
    ws = wb["网格团队"]
    assert all(c.data_type != "f" for row in ws.iter_rows() for c in row)
    header = [c.value for c in ws[1]]
    names = {ws.cell(row=r, column=header.index("姓名") + 1).value for r in range(2, ws.max_row + 1)}
    phones = {ws.cell(row=r, column=header.index("电话") + 1).value for r in range(2, ws.max_row + 1)}
    quoted = {"'" + v for v in XLSX_INJECTIONS}
    assert quoted <= names and quoted <= phones
    assert not set(INJECTIONS) & (names | phones)


# ------------------------------------------------------------------ 3. bodies that used to be 500s

BAD_JSON = {
    "nan": b'{"x": NaN}',
    "infinity": b'{"x": -Infinity}',
    "deep": b'{"x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    "digits": b'{"x": ' + b"9" * 4300 + b"}",
    "huge float": b'{"x": 1e400}',
}


@pytest.mark.parametrize("kind", list(BAD_JSON))
def test_bad_json_bodies_are_4xx_problems(http, kind):
    body = BAD_JSON[kind]
    for path, payload in (("/api/v1/lookup/batch", b"[" + body + b"]"), ("/api/v1/scenarios", body)):
        r = http.post(path, content=payload, headers={"content-type": "application/json"})
        assert is_problem(r, 400, 422), (path, r.status_code, r.text[:200])
        assert r.json()["detail"]


def test_non_ascii_token_surge_and_long_query_are_4xx_problems(http):
    r = http.get("/api/v1/grids", headers={"Authorization": "Bearer ключ".encode()})
    assert is_problem(r, 400) and "ASCII" in r.json()["detail"]
    r = http.post("/api/v1/scenarios", json={"surge": {"elderly": 1e308}})
    assert is_problem(r, 422) and "over the limit of 100" in r.json()["detail"]
    r = http.get("/api/v1/lookup", params={"address": "叙" * 5000})
    assert is_problem(r, 414)


def raw_request(base: str, request: bytes) -> bytes:
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=60) as s:
        s.sendall(request)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    return data


# ------------------------------------------------------------------ 4. limits on the stream


def chunks(total: int, size: int = 1 << 20):
    sent = 0
    while sent < total:
        yield b" " * min(size, total - sent)
        sent += size


def test_chunked_bodies_over_the_limit_are_413(http):
    for path in ("/api/v1/lookup/batch", "/api/v1/scenarios"):
        r = http.post(path, content=chunks(50 << 20), headers={"content-type": "application/json"})
        assert is_problem(r, 413) and "5242880" in r.json()["detail"], path
    # multipart, chunked: cut at the upload limit, not read whole
    boundary = "b0undary"
    head = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="r.csv"\r\n'
            "Content-Type: text/csv\r\n\r\n地址\n").encode()

    def multipart():
        yield head
        yield from chunks(2 << 20)
        yield f"\r\n--{boundary}--\r\n".encode()

    r = http.post("/api/v1/lookup/batch", content=multipart(),
                  headers={"content-type": f"multipart/form-data; boundary={boundary}"})
    assert is_problem(r, 413) and str(UPLOAD_LIMIT + 64 * 1024) in r.json()["detail"]
    # a declared length over the limit is answered before the body is read
    r = http.post("/api/v1/scenarios", content=b" " * (6 << 20),
                  headers={"content-type": "application/json"})
    assert is_problem(r, 413)
    assert http.get("/healthz").status_code == 200


# ------------------------------------------------------------------ 5. scenarios


def test_sealed_area_with_too_many_vertices_is_422(http, district):
    c = district.grids.geometry.iloc[0].centroid
    n = 10_001
    ring = [[c.x + 0.001 * math.cos(2 * math.pi * i / n), c.y + 0.001 * math.sin(2 * math.pi * i / n)]
            for i in range(n)]
    ring.append(ring[0])
    r = http.post("/api/v1/scenarios", json={"sealed_area": {"type": "Polygon", "coordinates": [ring]},
                                             "sealed_area_crs": "cgcs2000"})
    assert is_problem(r, 422) and "10000 vertices" in r.json()["detail"]


def test_computed_scenarios_are_kept_to_the_newest(own_store):
    from sqlalchemy import select, update

    from geo_grid.store import Store, history, schema

    store = Store(own_store)
    try:
        s = schema.scenarios
        applied = history.save_scenario(store, "applied", {}, {"x": 1}, None, keep_computed=2)
        with store.engine.begin() as conn:
            conn.execute(update(s).where(s.c.id == applied).values(status="applied"))
        ids = [history.save_scenario(store, f"c{i}", {}, {"x": i}, None, keep_computed=2)
               for i in range(5)]
        with store.engine.connect() as conn:
            kept = {r.id: r.status for r in conn.execute(select(s.c.id, s.c.status))}
        assert kept.get(applied) == "applied"
        assert [i for i in ids if i in kept] == ids[-2:]
    finally:
        store.close()


# ------------------------------------------------------------------ 6. headers


def test_security_headers_everywhere_and_allow_on_405(http):
    for path in ("/healthz", "/api/v1/grids", "/api/v1/nothing-here"):
        r = http.get(path)
        assert r.headers["x-content-type-options"] == "nosniff", path
        assert r.headers["referrer-policy"] == "no-referrer", path
        assert r.headers["x-frame-options"] == "DENY", path
        assert r.headers["content-security-policy"].startswith("default-src 'none'"), path
    page = http.get("/")
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["x-frame-options"] in ("DENY", "SAMEORIGIN")
    if page.status_code == 200:  # the map page keeps its own policy
        assert "default-src 'none'" not in page.headers["content-security-policy"]
    r = http.delete("/healthz")
    assert is_problem(r, 405) and r.headers["allow"] == "GET"
    r = http.put("/api/v1/scenarios")
    assert r.status_code == 405 and set(r.headers["allow"].split(", ")) == {"GET", "POST"}


def test_gb18030_csv_comes_back_labelled_gb18030(http, district):
    addr = district.buildings["address"].iloc[:3].tolist()
    text = "地址,备注\n" + "\n".join(f"{a},住户" for a in addr)
    r = http.post("/api/v1/lookup/batch",
                  files={"file": ("r.csv", text.encode("gb18030"), "text/csv")})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "text/csv; charset=gb18030"
    assert r.content.decode("gb18030").startswith("地址,备注,")
    r = http.post("/api/v1/lookup/batch", files={"file": ("r.csv", text.encode(), "text/csv")})
    assert r.headers["content-type"] == "text/csv; charset=utf-8"


# ------------------------------------------------------------------ 7. the store lock


def test_init_force_refuses_while_a_service_holds_the_store(base, own_store):
    out = subprocess.run([sys.executable, "-m", "geo_grid.cli", "init", "--db", str(own_store),
                          "--force"], capture_output=True, text=True, timeout=300)
    assert out.returncode != 0
    assert "in use by a running service (pid" in out.stdout + out.stderr
    assert httpx.get(base + "/healthz").status_code == 200


def test_lock_is_exclusive_across_processes_and_stale_builds_go(tmp_path):
    from geo_grid.store.build import remove_stale_builds
    from geo_grid.store.lock import exclusive, hold_shared

    db = tmp_path / "s.gpkg"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from geo_grid.store.lock import hold_shared; "
         f"hold_shared({str(db)!r}); print('held', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(StoreError, match=f"pid {holder.pid}"), exclusive(db):
            pass
        # this process may hold it shared too; a rebuild here is still refused
        release = hold_shared(db)
        with pytest.raises(StoreError), exclusive(db):
            pass
        release()
    finally:
        holder.send_signal(signal.SIGTERM)
        holder.wait(10)
    with exclusive(db):  # the holder is gone: free
        pass
    # a service of this process converts its own lock for a rebuild, and keeps it after
    release = hold_shared(db)
    with exclusive(db):
        pass
    release()
    dead = tmp_path / ".s.gpkg.building-4194999"
    alive = tmp_path / f".s.gpkg.building-{os.getpid()}"
    dead.write_bytes(b"x")
    alive.write_bytes(b"x")
    assert remove_stale_builds(db) == [dead]
    assert not dead.exists() and alive.exists()


# ------------------------------------------------------------------ 8. access log and the CLI server


def test_serve_logs_paths_without_queries_and_answers_long_urls_as_problems(store_path):
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "geo_grid.cli", "serve", "--db", str(store_path),
                             "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 120
        while True:
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
            assert proc.poll() is None and time.time() < deadline
        r = httpx.get(base + "/api/v1/lookup", params={"address": "叙丰家园12栋 私人地址"})
        assert r.status_code in (200, 401, 404, 422)
        reply = raw_request(base, b"GET /api/v1/lookup?address=" + b"a" * 1_000_000
                            + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        head, _, body = reply.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 414") and b"application/problem+json" in head
        assert json.loads(body)["status"] == 414
    finally:
        proc.terminate()
        log = proc.communicate(timeout=20)[0].decode()
    assert '"GET /api/v1/lookup HTTP/1.1" ' in log
    assert "address=" not in log and "私人" not in log
