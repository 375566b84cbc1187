"""Batch roster lookup on small real files (xlsx and CSV written to tmp_path)."""

from __future__ import annotations

import csv

import numpy as np
import openpyxl
import pandas as pd
import pytest

from geo_grid.address import AddressMatcher
from geo_grid.batch import (
    ADDED_COLUMNS,
    GridDirectory,
    check_id_number,
    find_address_column,
    lookup_records,
    normalize_header,
    read_roster,
    run_batch,
)
from geo_grid.errors import InvalidInput

VALID_ID = "11010519491231002X"  # GB 11643 example, valid checksum


def _district():
    rows = []
    for comp, comm, numbers in (("叙丰家园", "027", range(1, 31)), ("万裕苑", "029", range(1, 11))):
        for n in numbers:
            rows.append({
                "code": f"320214052{comm}{n:05d}", "grid_code": f"320214052{comm}00{1 + n % 2}",
                "community_code": f"320214052{comm}", "address": f"{comp}{n}栋",
                "compound": comp, "number": n, "category": "slab", "floors": 6, "units": 3,
                "rooms_per_floor": 2, "households": 36,
            })
    rows.append({"code": "32021405201200001", "grid_code": "320214052012001",
                 "community_code": "320214052012", "address": "锡兴路88号", "compound": "锡兴路",
                 "number": 88, "category": "shop", "floors": 2, "units": 1,
                 "rooms_per_floor": 1, "households": 1})
    b = pd.DataFrame(rows)
    grids = pd.DataFrame({"code": sorted(set(b["grid_code"]))})
    grids["name"] = [f"网格{c[-3:]}" for c in grids["code"]]
    grids["community_code"] = grids["code"].str[:12]
    comms = pd.DataFrame({"code": ["320214052027", "320214052029", "320214052012"],
                          "name": ["叙丰家园第一社区居民委员会", "万裕苑第一社区居民委员会",
                                   "风雷社区居民委员会"]})
    return b, grids, comms


@pytest.fixture(scope="module")
def setup():
    b, g, c = _district()
    return AddressMatcher(b, c), GridDirectory.from_frames(b, g, c)


ROWS = [
    # 序号, 姓名, 身份证号, 电话, 地址, expected status
    (1, "张三", VALID_ID, "13812345678", "江溪街道叙丰家园十二幢3单元502", "matched"),
    (2, "李四", "110105194912310021", "13912345678", "无锡新吴区锡兴路８８号", "matched"),
    (3, "王五", VALID_ID, "13812345678", "", "error"),
    (4, "赵六", VALID_ID, "0510-88881234", "叙丰家园999栋", "unmatched"),
    (5, "钱七", VALID_ID, "13812345678", "幸福小区3栋", "ambiguous_or_unmatched"),
    (6, "孙八", VALID_ID, "13812345678", "万裕苑3栋2-301 门口", "matched"),
    (7, "周九", VALID_ID, "13812345678", "叙丰家园", "unmatched"),
]


def _write_xlsx(path, id_as_number=False):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "花名册"
    ws.append(["江溪街道 叙丰家园 住户花名册"])
    ws.merge_cells("A1:F1")
    ws.append(["填报单位：叙丰家园第一社区", None, None, "日期：2024-05-01"])
    ws.append(["序号", "姓 名", "身份证号码", "联系\n电话", "住址（详细）", "备注"])
    for no, name, idn, phone, addr, _ in ROWS:
        ws.append([no, name, idn, phone, addr or None, None])
    if id_as_number:
        ws.append([8, "吴十", 320214199001011234, 13812345678, "叙丰家园3栋", None])
    ws.append([None] * 6)  # trailing blank row
    wb.save(path)


def test_helpers():
    assert normalize_header("住址（详细）") == "住址(详细)"
    assert normalize_header(" 联系\n电话 ") == "联系电话"
    assert find_address_column(["序号", "姓名", "户籍地址", "现住址"]) == "现住址"
    assert find_address_column(["序号", "家庭住址"]) == "家庭住址"
    assert find_address_column(["a", "详细 地址"]) == "详细 地址"
    assert find_address_column(["序号", "姓名"]) is None
    assert find_address_column(["x", "位置"], explicit=" 位置") == "位置"
    with pytest.raises(InvalidInput, match="no column named"):
        find_address_column(["x"], explicit="地址")
    assert check_id_number(VALID_ID) is None
    assert "checksum" in check_id_number("110105194912310021")
    assert "scientific" in check_id_number("3.20214E+17")
    assert "18" in check_id_number("12345")
    assert "15-digit" in check_id_number("110105491231002")


def test_xlsx_roundtrip(tmp_path, setup):
    matcher, directory = setup
    src, out = tmp_path / "in.xlsx", tmp_path / "out.xlsx"
    _write_xlsx(src, id_as_number=True)
    seen = []
    report = run_batch(src, out, matcher, directory, progress=lambda d, t: seen.append((d, t)))
    n = len(ROWS) + 1
    assert report["rows"] == n
    assert report["header_row"] == 3 and report["title_rows"] == 2
    assert report["address_column"] == "住址（详细）"
    assert (report["matched"] + report["ambiguous"] + report["unmatched"] + report["located"]
            + report["errors"]) == n
    assert report["errors"] == 1
    assert report["id_problems"] == 2  # bad checksum (row 2) and the ID stored as a number
    assert seen[-1] == (n, n)
    assert sum(report["by_community"].values()) == report["matched"]

    wb = openpyxl.load_workbook(out)
    ws = wb.active
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0][0] == "江溪街道 叙丰家园 住户花名册"
    header = list(rows[2])
    assert header[:6] == ["序号", "姓 名", "身份证号码", "联系\n电话", "住址（详细）", "备注"]
    assert header[6:] == list(ADDED_COLUMNS.values())
    data = rows[3:]
    assert len(data) == n
    assert [r[0] for r in data] == list(range(1, n + 1))  # order kept, numbers stay numbers
    col = {h: k for k, h in enumerate(header)}
    status = [r[col["匹配状态"]] for r in data]
    for (no, *_rest, expected), s in zip(ROWS, status, strict=False):
        if expected == "ambiguous_or_unmatched":
            assert s in ("ambiguous", "unmatched"), no
        else:
            assert s == expected, (no, s)
    first = data[0]
    assert first[col["网格编码"]] == "320214052027001"
    assert first[col["网格名称"]] == "网格001"
    assert first[col["所属社区"]] == "叙丰家园第一社区居民委员会"
    assert first[col["匹配楼栋"]] == "叙丰家园12栋"
    assert first[col["楼栋编码"]] == "32021405202700012"
    # every row that is not matched says why
    for r in data:
        if r[col["匹配状态"]] != "matched":
            assert r[col["说明"]], r
    assert data[2][col["说明"]].startswith("empty address")
    assert "has no number 999" in data[3][col["说明"]]
    # ID and phone columns are text, and stay exactly as typed
    for row in ws.iter_rows(min_row=4, max_row=3 + n):
        assert row[2].number_format == "@" and row[3].number_format == "@"
        assert isinstance(row[2].value, str) and isinstance(row[3].value, str)
    assert data[0][2] == VALID_ID and data[3][3] == "0510-88881234"
    assert "checksum" in data[1][col["数据问题"]]
    assert "stored as a number" in data[7][col["数据问题"]]
    assert data[7][3] == "13812345678"  # a phone stored as a number is recovered exactly
    assert not data[0][col["数据问题"]]


def test_csv_roundtrip_gbk_and_malformed_rows(tmp_path, setup):
    matcher, directory = setup
    src, out = tmp_path / "in.csv", tmp_path / "out.csv"
    lines = [["序号", "姓名", "身份证号", "现住址"]]
    lines += [[str(no), name, idn, addr] for no, name, idn, _p, addr, _ in ROWS]
    lines.append(["8", "短行"])  # malformed: fewer fields
    lines.append(["9", "吴十", "3.20214E+17", "万裕苑5栋", "多余字段"])  # extra field
    with src.open("w", encoding="gb18030", newline="") as fh:
        csv.writer(fh).writerows(lines)
    report = run_batch(src, out, matcher, directory)
    assert report["rows"] == len(ROWS) + 2
    assert report["format"] == "csv"
    with out.open(encoding="gb18030", newline="") as fh:
        got = list(csv.reader(fh))
    header, data = got[0], got[1:]
    assert header[:4] == ["序号", "姓名", "身份证号", "现住址"]
    assert len(data) == len(ROWS) + 2
    assert [r[0] for r in data] == [str(i) for i in range(1, len(ROWS) + 3)]
    col = {h: k for k, h in enumerate(header)}
    assert data[7][col["匹配状态"]] == "error" and data[7][col["说明"]]
    assert data[8][col["匹配状态"]] == "matched"
    assert "scientific" in data[8][col["数据问题"]]
    assert data[0][col["网格编码"]] == "320214052027001"


def test_named_address_column_and_no_header(tmp_path, setup):
    matcher, directory = setup
    src = tmp_path / "in.csv"
    src.write_text("编号,位置\n1,叙丰家园3栋\n2,万裕苑4栋\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match="no header row"):
        read_roster(src)
    report = run_batch(src, tmp_path / "out.xlsx", matcher, directory, address_column="位置")
    assert report["matched"] == 2
    with pytest.raises(InvalidInput, match="no such file"):
        read_roster(tmp_path / "missing.xlsx")
    (tmp_path / "x.json").write_text("[]")
    with pytest.raises(InvalidInput, match="unsupported"):
        read_roster(tmp_path / "x.json")


def test_coordinates_mode(tmp_path, setup):
    matcher, directory = setup
    src = tmp_path / "in.csv"
    src.write_text("编号,地址,经度,纬度\n1,叙丰家园3栋,,\n2,,120.40,31.55\n3,,0,0\n4,,abc,1\n5,,,\n",
                   encoding="utf-8")

    def locate(lon, lat):
        return np.where(lon > 100, "320214052029001", None)

    report = run_batch(src, tmp_path / "out.csv", matcher, directory, locate=locate)
    assert report["rows"] == 5
    assert report["matched"] == 1 and report["located"] == 1
    got = list(csv.reader((tmp_path / "out.csv").open(encoding="utf-8")))
    col = {h: k for k, h in enumerate(got[0])}
    assert got[2][col["网格编码"]] == "320214052029001"
    assert got[2][col["网格名称"]] == "网格001"
    assert got[3][col["匹配状态"]] == "not_covered"
    assert got[4][col["匹配状态"]] == "error"
    assert got[5][col["匹配状态"]] == "error"


def test_lookup_records(setup):
    matcher, directory = setup
    out = lookup_records(["叙丰家园3栋", None, "叙丰家园999栋"], matcher, directory)
    assert [o["index"] for o in out] == [0, 1, 2]
    assert out[0]["grid_code"] == "320214052027002" and out[0]["match"]["status"] == "matched"
    assert out[1]["error"] == "empty address"
    assert out[2]["match"]["status"] == "unmatched" and out[2]["grid_code"] is None


def test_csv_quoted_newlines_and_line_separators_kept(tmp_path, setup):
    matcher, directory = setup
    src, out = tmp_path / "in.csv", tmp_path / "out.csv"
    lines = [["序号", "联系\n电话", "地址", "备注"],
             ["1", "13812345678", "叙丰家园3栋", "a\u2028b\x85c\x1cd"],
             ["2", "13912345678", "万裕苑4栋", "第一行\n第二行"]]
    with src.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(lines)
    roster = read_roster(src)
    assert roster.header == ("序号", "联系\n电话", "地址", "备注")
    assert roster.kinds["联系\n电话"] == "phone"
    assert len(roster.frame) == 2
    report = run_batch(src, out, matcher, directory)
    assert report["rows"] == 2 and report["matched"] == 2
    with out.open(encoding="utf-8", newline="") as fh:
        got = list(csv.reader(fh))
    assert got[0][:4] == lines[0]
    assert got[1][:4] == lines[1] and got[2][:4] == lines[2]


def test_csv_confidence_blank_not_nan(tmp_path, setup):
    matcher, directory = setup
    src, out = tmp_path / "in.csv", tmp_path / "out.csv"
    src.write_text("序号,地址\n1,叙丰家园3栋\n2,\n", encoding="utf-8")
    run_batch(src, out, matcher, directory)
    got = list(csv.reader(out.open(encoding="utf-8", newline="")))
    col = {h: k for k, h in enumerate(got[0])}
    assert got[1][col["置信度"]] == "1.0"
    assert got[2][col["匹配状态"]] == "error"
    assert got[2][col["置信度"]] == ""
    assert "nan" not in ",".join(got[2]).lower()
    run_batch(src, tmp_path / "out.xlsx", matcher, directory)
    rows = list(openpyxl.load_workbook(tmp_path / "out.xlsx").active.iter_rows(values_only=True))
    assert rows[2][list(rows[0]).index("置信度")] is None


def test_no_header_error_shows_no_personal_data(tmp_path):
    src = tmp_path / "in.csv"
    src.write_text(f"序号,姓名,身份证号,电话\n1,张三,{VALID_ID},13812345678\n"
                   f"2,李四,{VALID_ID},13912345678\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match="no header row") as err:
        read_roster(src)
    text = str(err.value) + repr(err.value.details)
    for secret in ("张三", "李四", VALID_ID, "13812345678"):
        assert secret not in text
    assert "身份证号" in text
    msg = check_id_number("3.20214E+17")
    assert "scientific" in msg and "3.20214" not in msg


def test_coordinates_crs_swapped_and_ambiguous_note(tmp_path, setup):
    _matcher, directory = setup
    from geo_grid import crs as gcrs

    b, _g, c = _district()
    sib = b[b["compound"] == "叙丰家园"].copy()
    sib["compound"] = "叙丰花园"
    sib["code"] = sib["code"].str[:-5] + "9" + sib["code"].str[-4:]
    sib["address"] = sib["address"].str.replace("家园", "花园")
    matcher = AddressMatcher(pd.concat([b, sib], ignore_index=True), c)

    calls = []

    def locate(lon, lat):
        calls.append((lon.copy(), lat.copy()))
        return np.where((lon > 120) & (lon < 121), "320214052029001", None)

    src = tmp_path / "in.csv"
    src.write_text("编号,地址,经度,纬度\n1,,120.40,31.55\n2,,31.55,120.40\n3,,500,31\n"
                   "4,叙丰佳园12栋,120.40,31.55\n", encoding="utf-8")
    report = run_batch(src, tmp_path / "out.csv", matcher, directory, locate=locate)
    got = list(csv.reader((tmp_path / "out.csv").open(encoding="utf-8")))
    col = {h: k for k, h in enumerate(got[0])}
    st = [r[col["匹配状态"]] for r in got[1:]]
    assert st == ["located", "error", "error", "located"]
    assert "swapped" in got[2][col["说明"]]
    assert "out of range" in got[3][col["说明"]]
    assert matcher.match("叙丰佳园12栋").status == "ambiguous"
    assert "coordinates decided" in got[4][col["说明"]]
    assert report["located"] == 2 and report["errors"] == 2 and report["crs"] == "wgs84"
    # GCJ-02 input is converted before locating
    gx, gy = gcrs.wgs84_to_gcj02(np.array([120.40]), np.array([31.55]))
    src.write_text(f"编号,经度,纬度\n1,{float(gx[0])!r},{float(gy[0])!r}\n", encoding="utf-8")
    calls.clear()
    run_batch(src, tmp_path / "out2.csv", matcher, directory, locate=locate, crs="gcj02")
    assert abs(calls[0][0][0] - 120.40) < 1e-7 and abs(calls[0][1][0] - 31.55) < 1e-7
    with pytest.raises(InvalidInput):
        run_batch(src, tmp_path / "out3.csv", matcher, directory, locate=locate, crs="nope")


def test_xlsx_output_keeps_other_sheets_and_merged_title(tmp_path, setup):
    matcher, directory = setup
    src, out = tmp_path / "in.xlsx", tmp_path / "out.xlsx"
    _write_xlsx(src)
    wb = openpyxl.load_workbook(src)
    wb.create_sheet("说明").append(["本表由社区填报"])
    wb.save(src)
    report = run_batch(src, out, matcher, directory)
    assert report["rows"] == len(ROWS)
    got = openpyxl.load_workbook(out)
    assert got.sheetnames == ["花名册", "说明"]
    assert got["说明"]["A1"].value == "本表由社区填报"
    ws = got["花名册"]
    assert "A1:F1" in {str(r) for r in ws.merged_cells.ranges}
    rows = list(ws.iter_rows(values_only=True))
    header = list(rows[2])
    assert header[:6] == ["序号", "姓 名", "身份证号码", "联系\n电话", "住址（详细）", "备注"]
    assert header[6:] == list(ADDED_COLUMNS.values())
    col = {h: k for k, h in enumerate(header)}
    assert rows[3][col["网格编码"]] == "320214052027001"
    assert rows[5][col["匹配状态"]] == "error" and rows[5][col["置信度"]] is None
    assert ws.cell(row=4, column=3).number_format == "@"
