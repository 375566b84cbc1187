"""Table I/O (geo_grid.tables): readers by suffix, header kinds, ID checks, the fast xlsx writer.

Every file is written to tmp_path and read back with independent readers (openpyxl, pandas,
python-calamine, Python's csv module).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import zipfile

import numpy as np
import openpyxl
import pandas as pd
import pytest
from python_calamine import CalamineWorkbook

from geo_grid.address import AddressMatcher
from geo_grid.batch import ADDED_COLUMNS, GridDirectory, read_roster, run_batch
from geo_grid.errors import InvalidInput
from geo_grid.status import MatchStatus
from geo_grid.tables import (
    READERS,
    ColumnKind,
    RawSheet,
    Vocabulary,
    cell_text,
    check_id_number,
    decode_text,
    id_problems,
    neutralize,
    phone_problems,
    read_rows,
    read_table,
    register_reader,
    write_xlsx,
)
from geo_grid.tables.headers import ROSTER
from geo_grid.tables.writers import workbook_has_more
from geo_grid.tables.xlsx import column_letter
from tests.test_batch import VALID_ID, _district

_W = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])


def _valid_id(rng: np.random.Generator) -> str:
    body = "".join(str(d) for d in rng.integers(0, 10, 17))
    return body + "10X98765432"[int((np.array([int(c) for c in body]) * _W).sum()) % 11]


def _calamine(path) -> list[list]:
    wb = CalamineWorkbook.from_path(str(path))
    return wb.get_sheet_by_name(wb.sheet_names[0]).to_python(skip_empty_area=False)


TRICKY = [
    "=1+1", "=HYPERLINK(\"http://x\")", "+8613812345678", "-2", "@SUM(A1)",  # formula-like
    "0510-85001234", "007", "1e5", "TRUE",  # must not become numbers or booleans
    "叙丰家园12栋3单元502室", "a & b < c > d", " leading and trailing ", "line\nbreak",
    "ctrl\x01char", "_x0041_ literal", "tab\there", "😀 emoji", "\u2028sep",
]


def test_fast_xlsx_reads_back_identically(tmp_path):
    rng = np.random.default_rng(11)
    n = 25_003  # more than two streamed blocks, not a multiple of the block size
    ids = [_valid_id(rng) for _ in range(n)]
    phones = [f"0{rng.integers(10, 99)}{rng.integers(0, 10**8):08d}" for _ in range(n)]
    text = [TRICKY[i % len(TRICKY)] for i in range(n)]
    ints = [int(v) for v in rng.integers(-5, 10**6, n)]
    floats = [float(v) for v in rng.normal(size=n).round(6)]
    blanks = [None if i % 3 else f"r{i}" for i in range(n)]
    mixed = [[1, "x", None, 2.5, True, dt.date(2024, 5, 1)][i % 6] for i in range(n)]
    cols = [ids, phones, text, ints, floats, blanks, mixed]
    head = [["江溪街道住户信息登记表"], ["身份证号", "联系电话", "备注", "整数", "小数", "稀疏", "混合"]]
    path = write_xlsx(tmp_path / "t.xlsx", cols, head_rows=head, text_columns=[0, 1],
                      widths=[24, 24, 14, 14, 14, 14, 14], sheet_name="花名册")

    rows = _calamine(path)
    assert len(rows) == n + 2
    assert rows[0][0] == "江溪街道住户信息登记表" and rows[1] == head[1]
    for i in (0, 1, 2, 9_999, 10_000, 17, 18, 19, n - 1):
        r = rows[i + 2]
        assert r[0] == ids[i] and r[1] == phones[i] and r[2] == text[i], i
        assert r[3] == ints[i] and r[4] == floats[i]
        assert r[5] == (blanks[i] or "")
    got_text = [r[2] for r in rows[2:]]
    assert got_text == text  # every row, in order, every tricky string exact

    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["花名册"]
    ws = wb.active
    for row in ws.iter_rows(min_row=3, max_row=3 + len(TRICKY)):
        assert row[0].number_format == "@" and row[1].number_format == "@"
        assert row[0].data_type == "s" and row[2].data_type == "s"  # never a formula ('f')
        assert row[1].value.startswith("0")
    # openpyxl leaves Excel's _xHHHH_ escapes undecoded (calamine and Excel decode them)
    plain = [t for t in TRICKY if "_x" not in t and "\x01" not in t]
    assert [v for v in (ws.cell(row=3 + i, column=3).value for i in range(len(TRICKY)))
            if "_x" not in v] == plain
    assert [ws.cell(row=3 + i, column=7).value for i in range(6)] == [
        1, "x", None, 2.5, True, dt.datetime(2024, 5, 1)]
    df = pd.read_excel(path, dtype=str, header=1, engine="openpyxl")
    assert df["身份证号"].tolist() == ids and df["联系电话"].tolist() == phones


def test_fast_xlsx_small_cases(tmp_path):
    assert [column_letter(j) for j in (0, 25, 26, 27, 701, 702)] == [
        "A", "Z", "AA", "AB", "ZZ", "AAA"]
    empty = write_xlsx(tmp_path / "e.xlsx", [[], []], head_rows=[["a", "b"]],
                       sheet_name="bad/name:[x]*?" * 3)
    assert _calamine(empty) == [["a", "b"]]
    name = openpyxl.load_workbook(empty).sheetnames[0]
    assert len(name) <= 31 and not set(name) & set("[]:*?/\\")
    when = [dt.datetime(2024, 5, 1, 8, 30), dt.time(12, 0), float("nan"), float("inf"), None]
    p = write_xlsx(tmp_path / "d.xlsx", [when])
    ws = openpyxl.load_workbook(p).active
    assert ws["A1"].value == dt.datetime(2024, 5, 1, 8, 30)
    assert ws["A2"].value == dt.time(12, 0)
    assert ws["A3"].value is None and ws["A4"].value == "inf"


def _plain_roster(path, rows):
    """A one-sheet roster without merged cells: written back by the fast writer."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "花名册"
    ws.append(["住户花名册（2024）"])
    ws.append(["序号", "姓名", "身份证号", "联系电话", "家庭住址", "出生日期"])
    for r in rows:
        ws.append(r)
    for row in ws.iter_rows(min_row=3):
        for cell in row:
            if isinstance(cell.value, str) and cell.value.startswith("="):
                cell.data_type = "s"  # text that looks like a formula, as a clerk may type it
    wb.save(path)


def test_batch_fast_xlsx_and_csv_outputs_agree(tmp_path):
    b, g, c = _district()
    matcher, directory = AddressMatcher(b, c), GridDirectory.from_frames(b, g, c)
    rng = np.random.default_rng(5)
    addresses = ["叙丰家园3栋2单元301", "万裕苑4栋", "", "=1+1", "叙丰家园999栋", "幸福小区3栋",
                 "锡兴路88号", "叙丰家园十二幢"]
    rows = []
    for i in range(400):
        rows.append([i + 1, "张三" if i % 2 else "李四", _valid_id(rng),
                     f"0510{rng.integers(10**7, 10**8)}", addresses[i % len(addresses)] or None,
                     dt.datetime(1950 + i % 50, 1 + i % 12, 1)])
    rows[7][2] = 320214199001011234  # an ID stored as a number: flagged
    src = tmp_path / "in.xlsx"
    _plain_roster(src, rows)
    assert not workbook_has_more(src)

    rep_x = run_batch(src, tmp_path / "out.xlsx", matcher, directory)
    rep_c = run_batch(src, tmp_path / "out.csv", matcher, directory)
    for k in ("rows", "matched", "ambiguous", "unmatched", "errors", "id_problems"):
        assert rep_x[k] == rep_c[k]
    assert rep_x["rows"] == 400 and rep_x["id_problems"] == 1
    assert sum(rep_x[s] for s in ("matched", "ambiguous", "unmatched", "located",
                                  "not_covered", "errors")) == 400

    got = _calamine(tmp_path / "out.xlsx")
    with (tmp_path / "out.csv").open(encoding="utf-8-sig", newline="") as fh:
        got_csv = list(csv.reader(fh))
    assert len(got) == len(got_csv) == 402
    header = got[1]
    assert header == ["序号", "姓名", "身份证号", "联系电话", "家庭住址", "出生日期",
                      *ADDED_COLUMNS.values()]
    col = {h: k for k, h in enumerate(header)}
    source = _calamine(src)[2:]
    for i, r in enumerate(got[2:]):
        # every cell as read (numbers, dates), order kept; ID and phone as text
        # (text a spreadsheet would run as a formula comes back quoted: "=1+1" → "'=1+1")
        assert [r[j] for j in (0, 1, 4, 5)] == [neutralize(source[i][j]) for j in (0, 1, 4, 5)]
        assert r[col["序号"]] == i + 1
        assert r[col["身份证号"]] == cell_text(source[i][2])
        assert r[col["联系电话"]] == rows[i][3]
        if i != 7:
            assert r[col["身份证号"]] == rows[i][2]
        assert r[col["家庭住址"]] == neutralize(rows[i][4] or "")
        assert r[col["出生日期"]] == rows[i][5].date()
        assert r[col["匹配状态"]] in set(MatchStatus)
        # the CSV holds the same added cells as text
        for k in ("网格编码", "匹配状态", "匹配楼栋", "楼栋编码", "说明", "数据问题"):
            assert got_csv[i + 2][col[k]] == r[col[k]], (i, k)
    assert "stored as a number" in got[9][col["数据问题"]]
    assert got[9][col["身份证号"]] == "320214199001011328"  # Excel's 15 digits, flagged
    ws = openpyxl.load_workbook(tmp_path / "out.xlsx").active
    cell = ws.cell(row=6, column=5)  # the "=1+1" address, quoted
    assert cell.value == "'=1+1" and cell.data_type == "s"
    assert all(ws.cell(row=r, column=4).number_format == "@" for r in range(3, 403))


def test_decode_text_and_csv_encodings(tmp_path):
    text = "序号,地址\n1,叙丰家园3栋\n"
    for enc, want in (("utf-8", "utf-8"), ("utf-8-sig", "utf-8-sig"), ("gbk", "gb18030"),
                      ("gb18030", "gb18030"), ("utf-16", "utf-16")):
        raw = text.encode(enc)
        assert decode_text(raw) == (text, want), enc
        p = tmp_path / f"{enc}.csv"
        p.write_bytes(raw)
        sheet = read_rows(p)
        assert sheet.rows == [["序号", "地址"], ["1", "叙丰家园3栋"]] and sheet.encoding == want
    with pytest.raises(InvalidInput, match="cannot decode"):
        decode_text(b"\x81\x20\xff\xfe\x00"[1:] + b"\x81")
    p = tmp_path / "t.tsv"
    p.write_text("序号\t地址\n1\t叙丰家园3栋\n", encoding="utf-8")
    assert read_rows(p).rows[1] == ["1", "叙丰家园3栋"] and read_rows(p).delimiter == "\t"


def test_batch_csv_keeps_gbk_encoding(tmp_path):
    b, g, c = _district()
    matcher, directory = AddressMatcher(b, c), GridDirectory.from_frames(b, g, c)
    src = tmp_path / "in.csv"
    src.write_bytes("序号,联系电话,地址\n1,051085001234,叙丰家园3栋\n2,,万裕苑4栋\n".encode("gbk"))
    run_batch(src, tmp_path / "out.csv", matcher, directory)
    raw = (tmp_path / "out.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    got = list(csv.reader(raw.decode("gb18030").splitlines()))
    assert got[1][:3] == ["1", "051085001234", "叙丰家园3栋"]
    assert got[1][3 + list(ADDED_COLUMNS).index("status")] == "matched"


def test_reader_registry_takes_a_new_suffix(tmp_path):
    @register_reader(".jsonl")
    def _jsonl(path, sheet=None):
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
        return RawSheet(rows, "csv")

    try:
        p = tmp_path / "r.jsonl"
        p.write_text('["编号", "地址"]\n["1", "叙丰家园3栋"]\n["2"]\n', encoding="utf-8")
        roster = read_roster(p)
        assert roster.frame["地址"].tolist() == ["叙丰家园3栋", ""]  # short rows padded
    finally:
        READERS.pop(".jsonl")
    with pytest.raises(InvalidInput, match="unsupported"):
        read_rows(p)


def test_header_below_title_rows_and_new_kinds(tmp_path):
    # an importer's vocabulary: grid code, name, households by their Chinese headers
    code = ColumnKind("code", exact=("网格编码", "编码", "代码", "编号", "code"),
                      contains=("编码", "代码"))
    name = ColumnKind("name", exact=("网格名称", "名称", "name"), contains=("名称",))
    households = ColumnKind("households", exact=("户数", "住户数", "households"),
                            contains=("户数",))
    vocab = Vocabulary((code, name, households))
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["江溪街道网格台账"])
    ws.merge_cells("A1:D1")
    ws.append([None])
    ws.append(["序号", "网格\n编码", "网格名称（全称）", " 住户数 "])
    ws.append([1, "320214052027001", "叙丰一网格", 420])
    path = tmp_path / "grids.xlsx"
    wb.save(path)
    table = read_table(path, lambda cells: vocab.find(cells, "code") is not None,
                       vocabulary=vocab)
    assert table.header_row == 2 and len(table.title_rows) == 2
    assert table.kinds == {"网格\n编码": "code", "网格名称（全称）": "name", "住户数": "households"}
    assert vocab.find(table.frame.columns, "name") == "网格名称（全称）"
    assert table.frame["网格\n编码"].tolist() == ["320214052027001"]
    assert table.numeric["住户数"].tolist() == [True]
    with pytest.raises(InvalidInput, match="no header row with the grid codes") as err:
        read_table(path, lambda cells: False, vocabulary=vocab, missing="the grid codes")
    assert "320214052027001" not in str(err.value)
    assert ROSTER.classify("户主身份证号") == "id" and ROSTER.classify("经度(WGS84)") == "lon"
    assert ROSTER.find(["户籍地址", "现住址"], "address") == "现住址"


def test_id_and_phone_checks_vectorised():
    rng = np.random.default_rng(3)
    good = [_valid_id(rng) for _ in range(300)]
    bad = [g[:17] + ("0" if g[17] != "0" else "1") for g in good[:100]]
    assert id_problems(good) == [None] * 300
    assert all("checksum" in p for p in id_problems(bad))
    # the vectorised column check gives what the one-value check gives
    mixed = good[:5] + bad[:5] + ["", "  ", "12345", "3.20214E+17", "110105491231002",
                                  VALID_ID.lower(), "１１０１０５１９４９１２３１００２Ｘ"]
    assert id_problems(mixed) == [check_id_number(v) for v in mixed]
    assert check_id_number("１１０１０５１９４９１２３１００２Ｘ") is None  # full-width digits
    assert check_id_number(VALID_ID.lower()) is None
    numeric = [False] * len(mixed)
    numeric[0] = True
    assert "stored as a number" in id_problems(mixed, numeric)[0]
    phones = ["13812345678", "0510-85001234", "+86 13812345678", "85001234", "12345", ""]
    assert phone_problems(phones) == [None, None, None, None,
                                      "not a phone number: 5 characters", None]
    assert "stored as a number" in phone_problems(["13812345678"], [True])[0]


def test_status_words_are_plain_strings(tmp_path):
    assert json.dumps([MatchStatus.MATCHED, MatchStatus.NOT_COVERED]) == '["matched", "not_covered"]'
    p = tmp_path / "s.csv"
    pd.DataFrame({"s": list(MatchStatus)}).to_csv(p, index=False)
    assert p.read_text().split() == ["s", *[m.value for m in MatchStatus]]
    b, _g, c = _district()
    r = AddressMatcher(b, c).match("叙丰家园3栋")
    assert r.status is MatchStatus.MATCHED and type(r.to_dict()["status"]) is str


def test_xlsx_parts_are_well_formed(tmp_path):
    from xml.etree import ElementTree

    p = write_xlsx(tmp_path / "w.xlsx", [["a & <b>", "ctrl\x02"], [1, 2]],
                   head_rows=[["x", "y"]], text_columns=[0], widths=[10, None])
    with zipfile.ZipFile(p) as z:
        for name in z.namelist():
            ElementTree.fromstring(z.read(name))  # raises on malformed XML
        assert "xl/styles.xml" in z.namelist()


def test_vocabulary_resolves_each_column_once(tmp_path):
    vocab = Vocabulary((
        ColumnKind("community", exact=("社区编码", "所属社区"), contains=("社区",)),
        ColumnKind("code", exact=("编码", "代码", "编号"), contains=("编码", "代码")),
        ColumnKind("name", exact=("名称",), contains=("名称",)),
    ))
    cols = ["序号", "网格编码", "网格名称", "社区编码", "户数"]
    assert vocab.resolve(cols) == {"community": "社区编码", "code": "网格编码", "name": "网格名称"}
    assert vocab.resolve(cols, {"name": "户数"})["name"] == "户数"
    with pytest.raises(InvalidInput, match="no column named"):
        vocab.resolve(cols, {"code": "nope"})
    p = write_xlsx(tmp_path / "m.xlsm", [["a"]])
    with zipfile.ZipFile(p) as z:
        assert b"macroEnabled" in z.read("[Content_Types].xml")
    assert _calamine(p) == [["a"]]


def test_tricky_text_round_trips_through_csv_and_xlsx(tmp_path):
    b, g, c = _district()
    matcher, directory = AddressMatcher(b, c), GridDirectory.from_frames(b, g, c)
    rng = np.random.default_rng(8)
    lines = [["序号", "身份证号", "联系电话", "地址", "备注"]]
    for i in range(300):
        lines.append([f"{i + 1:04d}", _valid_id(rng), f"0{rng.integers(10**9, 10**10)}",
                      "叙丰家园3栋" if i % 3 else "=HYPERLINK(\"x\")", TRICKY[i % len(TRICKY)]])
    src = tmp_path / "in.csv"
    with src.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(lines)
    run_batch(src, tmp_path / "out.csv", matcher, directory)
    run_batch(src, tmp_path / "out.xlsx", matcher, directory)
    with (tmp_path / "out.csv").open(encoding="utf-8", newline="") as fh:
        back_csv = [r[:5] for r in csv.reader(fh)]
    # every cell exactly as read (leading zeros kept), but text a spreadsheet would run as a
    # formula ("=HYPERLINK(...)", "@SUM(A1)") quoted with a leading '
    expected = [[neutralize(v) for v in row] for row in lines]
    assert expected != lines and back_csv == expected
    back_xlsx = [r[:5] for r in _calamine(tmp_path / "out.xlsx")]
    assert back_xlsx == expected
    ws = openpyxl.load_workbook(tmp_path / "out.xlsx").active
    assert all(cell.data_type == "s" for row in ws.iter_rows(min_row=2, max_col=5)
               for cell in row if cell.value is not None)


def test_write_frame_csv_and_xlsx(tmp_path):
    from geo_grid.tables import write_frame

    df = pd.DataFrame({"网格编码": ["320214052027001", "0001"], "户数": [420, np.nan],
                       "名称": ["叙丰一网格", None]})
    write_frame(df, tmp_path / "f.xlsx", text_columns=["网格编码"])
    assert _calamine(tmp_path / "f.xlsx") == [["网格编码", "户数", "名称"],
                                              ["320214052027001", 420.0, "叙丰一网格"],
                                              ["0001", "", ""]]
    assert openpyxl.load_workbook(tmp_path / "f.xlsx").active["A2"].number_format == "@"
    write_frame(df, tmp_path / "f.csv")
    got = (tmp_path / "f.csv").read_text(encoding="utf-8-sig").splitlines()
    assert got == ["网格编码,户数,名称", "320214052027001,420,叙丰一网格", "0001,,"]
    with pytest.raises(InvalidInput, match="unsupported"):
        write_frame(df, tmp_path / "f.json")
