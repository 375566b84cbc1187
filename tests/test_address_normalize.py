"""Unit tests of address normalisation and parsing (no data files needed)."""

from __future__ import annotations

import pytest

from geo_grid.address import chinese_to_int, normalize, normalize_address, parse


@pytest.mark.parametrize(
    ("numeral", "value"),
    [
        ("一", 1), ("十", 10), ("十二", 12), ("二十", 20), ("二十三", 23), ("一百", 100),
        ("一百零八", 108), ("一百一十", 110), ("三百二十五", 325), ("五〇二", 502),
        ("五零二", 502), ("一二", 12), ("两", 2), ("两百", 200), ("零", 0), ("壹拾贰", 12),
    ],
)
def test_chinese_to_int(numeral, value):
    assert chinese_to_int(numeral) == value


def test_chinese_to_int_rejects_other_characters():
    with pytest.raises(ValueError):
        chinese_to_int("十万")
    with pytest.raises(ValueError):
        chinese_to_int("")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("江溪街道叙丰家园十二幢3单元502", "叙丰家园12栋3单元502"),
        ("无锡新吴区锡兴路８８号", "锡兴路88号"),
        ("叙丰家园12号楼3-502", "叙丰家园12栋3-502"),
        ("叙丰家园１２座 ３单元５０２室", "叙丰家园12栋3单元502室"),
        ("叙丰家园12#3单元502户", "叙丰家园12栋3单元502室"),
        ("叙丰家园12号楼栋三单元五〇二", "叙丰家园12栋3单元502"),
        ("江苏省无锡市新吴区江溪街道叙丰家园十二幢", "叙丰家园12栋"),
        ("江苏无锡新区江溪叙丰家园12栋", "叙丰家园12栋"),
        ("叙丰家园12栋3单元502号", "叙丰家园12栋3单元502室"),
        ("叙丰家园 12—3—502", "叙丰家园12-3-502"),
        ("（叙丰家园）12栋，3单元。", "叙丰家园12栋3单元"),
        ("锡兴路88号附近", "锡兴路88号"),
        ("锡兴路88号门口旁边", "锡兴路88号"),
        ("春城家园二十七栋对面", "春城家园27栋"),
        ("万裕苑一百零八幢", "万裕苑108栋"),
    ],
)
def test_normalize_examples(text, expected):
    assert normalize_address(text) == expected


def test_normalize_reports_what_it_dropped():
    n = normalize("江苏省无锡市新吴区江溪街道叙丰家园第一社区居委会叙丰家园12栋门口")
    assert n.text == "叙丰家园12栋"
    assert n.prefixes == ("江苏省", "无锡市", "新吴区", "江溪街道")
    assert n.community == "叙丰家园第1社区"
    assert n.noise == ("门口",)


def test_normalize_known_community_names():
    n = normalize("无锡新区工博园社区工博园宿舍3栋", communities=["无锡新区工博园社区"])
    assert n.text == "工博园宿舍3栋"


def test_prefix_not_stripped_from_a_road_or_protected_compound():
    # 江溪路 is a road: its 江溪 is not the street prefix
    assert normalize_address("江溪路10号") == "江溪路10号"
    assert normalize_address("江溪街道江溪路10号") == "江溪路10号"
    n = normalize("江溪花园3栋", protected=frozenset({"江溪花园"}))
    assert n.text == "江溪花园3栋"
    assert normalize("新区创业园宿舍2栋", protected={"新区创业园宿舍"}).text == "新区创业园宿舍2栋"


def test_xiaoqu_suffix_kept():
    # 东风小区 is a real compound name; the matcher tries without 小区 itself
    assert normalize_address("东风小区3栋") == "东风小区3栋"


@pytest.mark.parametrize(
    ("text", "compound", "number", "marker", "unit", "room"),
    [
        ("江溪街道叙丰家园十二幢3单元502", "叙丰家园", 12, "栋", 3, 502),
        ("无锡新吴区锡兴路８８号", "锡兴路", 88, "号", None, None),
        ("叙丰家园12号楼3-502", "叙丰家园", 12, "栋", 3, 502),
        ("叙丰家园12-3-502", "叙丰家园", 12, None, 3, 502),
        ("叙丰家园12栋502", "叙丰家园", 12, "栋", None, 502),
        ("叙丰家园12栋3单元", "叙丰家园", 12, "栋", 3, None),
        ("叙丰家园12栋3", "叙丰家园", 12, "栋", 3, None),
        ("叙丰家园12", "叙丰家园", 12, None, None, None),
        ("工博园宿舍3栋5层2号", "工博园宿舍", 3, "栋", None, 502),
        ("叙丰家园十二栋三单元五楼二号", "叙丰家园", 12, "栋", 3, 502),
        ("长江北路12号旁边", "长江北路", 12, "号", None, None),
        ("五一路88号", "51路", 88, "号", None, None),
    ],
)
def test_parse_examples(text, compound, number, marker, unit, room):
    p = parse(text)
    assert (p.compound, p.number, p.marker, p.unit, p.room) == (compound, number, marker, unit, room)


def test_parse_compound_at_road_number():
    p = parse("锡兴路88号3栋")
    assert (p.compound, p.number, p.marker) == ("锡兴路88号", 3, "栋")


def test_parse_without_number_and_extra_text():
    p = parse("叙丰家园")
    assert p.number is None and p.compound == "叙丰家园"
    p = parse("万裕苑3栋王阿姨家")
    assert (p.compound, p.number, p.extra) == ("万裕苑", 3, "王阿姨家")
    p = parse("叙丰家园12栋附近")
    assert p.noise == ("附近",) and p.extra == ""


def test_parse_is_frozen():
    p = parse("叙丰家园12栋")
    with pytest.raises(AttributeError):
        p.number = 13  # type: ignore[misc]


@pytest.mark.parametrize(
    ("numeral", "value"),
    [("一百二", 120), ("两百五", 250), ("一千二", 1200), ("一百零二", 102), ("一千零二十", 1020),
     ("一百二十三", 123), ("三千", 3000)],
)
def test_chinese_to_int_colloquial_next_place_down(numeral, value):
    assert chinese_to_int(numeral) == value


def test_ordinal_di_before_a_number_is_dropped():
    assert normalize_address("锡兴路第9号") == "锡兴路9号"
    assert normalize_address("叙丰家园第十二栋") == "叙丰家园12栋"
