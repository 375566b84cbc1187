"""Unit tests of the address matcher on a small hand-made buildings table."""

from __future__ import annotations

import pandas as pd
import pytest

from geo_grid.address import AddressMatcher, MatchResult
from geo_grid.errors import GeoGridError, InvalidInput


def _buildings() -> pd.DataFrame:
    rows = []
    k = 0

    def add(compound, number, category="slab", floors=6, units=3, rpf=2, hh=36, comm="027"):
        nonlocal k
        k += 1
        suffix = "号" if compound.endswith("路") else "栋"
        rows.append({
            "code": f"320214052{comm}{k:05d}", "grid_code": f"320214052{comm}001",
            "community_code": f"320214052{comm}", "address": f"{compound}{number}{suffix}",
            "compound": compound, "number": number, "category": category, "floors": floors,
            "units": units, "rooms_per_floor": rpf, "households": hh,
        })

    for n in range(1, 41):
        add("叙丰家园", n)
    for n in range(1, 21):
        add("叙丰花园", n, comm="017")
    for n in range(1, 11):
        add("万裕苑", n, comm="029")
    for n in (7, 9, 88):
        add("锡兴路", n, category="shop", floors=2, units=1, rpf=1, hh=1, comm="012")
    for n in (3, 10):
        add("江溪路", n, category="factory", floors=1, units=1, rpf=0, hh=0, comm="400")
    for n in range(1, 4):
        add("工博园宿舍", n, category="dormitory", floors=5, units=1, rpf=16, hh=60, comm="401")
    add("东风小区", 1)
    return pd.DataFrame(rows)


COMMUNITIES = pd.DataFrame({
    "name": ["叙丰家园第一社区居民委员会", "无锡新区工博园社区"],
    "short_name": ["叙丰家园第一社区", "无锡新区工博园社区"],
})


@pytest.fixture(scope="module")
def matcher() -> AddressMatcher:
    return AddressMatcher(_buildings(), COMMUNITIES)


@pytest.mark.parametrize(
    ("text", "address", "unit", "room"),
    [
        ("江溪街道叙丰家园十二幢3单元502", "叙丰家园12栋", 3, 502),
        ("无锡新吴区锡兴路８８号", "锡兴路88号", None, None),
        ("叙丰家园12号楼3-502", "叙丰家园12栋", 3, 502),
        ("叙丰家园 12-3-502 门口", "叙丰家园12栋", 3, 502),
        ("江苏省无锡市新吴区江溪街道叙丰家园第一社区叙丰家园二十三栋一百零二室", "叙丰家园23栋", None, 102),
        ("万裕苑三栋", "万裕苑3栋", None, None),
        ("无锡新区工博园社区工博园宿舍3栋5层2号", "工博园宿舍3栋", None, 502),
        ("江溪街道江溪路10号附近", "江溪路10号", None, None),
        ("叙丰家园小区12栋", "叙丰家园12栋", None, None),
        ("叙丰家园第一社区12栋", "叙丰家园12栋", None, None),
        ("东风小区1栋", "东风小区1栋", None, None),
    ],
)
def test_matched_examples(matcher, text, address, unit, room):
    r = matcher.match(text)
    assert r.status == "matched", r
    assert r.building_address == address
    assert (r.unit, r.room) == (unit, room)
    assert r.grid_code is not None and r.community_code is not None
    assert r.confidence >= matcher.threshold


def test_exact_is_full_confidence(matcher):
    r = matcher.match("叙丰家园12栋2单元301")
    assert r.status == "matched" and r.confidence == 1.0 and r.reasons == ()


def test_one_character_typo_is_matched_with_lower_confidence(matcher):
    r = matcher.match("许丰家园12栋")
    assert r.status == "matched"
    assert r.building_address == "叙丰家园12栋"
    assert 0.6 <= r.confidence < 1.0
    assert any("not a known compound" in s for s in r.reasons)


def test_typo_between_two_siblings_is_ambiguous(matcher):
    # 叙丰X园 is as close to 叙丰家园 as to 叙丰花园: never guessed
    r = matcher.match("叙丰佳园12栋")
    assert r.status == "ambiguous"
    assert r.building_code is None
    assert {c.address for c in r.candidates[:2]} == {"叙丰家园12栋", "叙丰花园12栋"}
    assert r.candidates[0].confidence < matcher.threshold


def test_sibling_with_the_number_only_in_one(matcher):
    # 叙丰花园 has 1..20: 叙丰佳园30栋 can only be 叙丰家园30栋
    r = matcher.match("叙丰佳园30栋")
    assert r.status == "matched" and r.building_address == "叙丰家园30栋"


def test_unit_that_does_not_exist_lowers_confidence(matcher):
    r = matcher.match("叙丰家园12栋5单元502")
    assert r.status == "matched" and r.unit == 5
    assert r.confidence < 1.0
    assert "unit 5 does not exist: building has 3 units" in r.reasons


def test_room_that_does_not_exist_lowers_confidence(matcher):
    r = matcher.match("叙丰家园12栋1单元1205")
    assert r.room == 1205 and r.confidence < 1.0
    assert any("room 1205 does not exist: building has 6 floors" in s for s in r.reasons)
    r = matcher.match("叙丰家园12栋1单元507")
    assert any("2 rooms per floor" in s for s in r.reasons)


def test_marker_mismatch_noted(matcher):
    r = matcher.match("叙丰家园12号")
    assert r.status == "matched" and r.confidence < 1.0
    assert any("standard address is 叙丰家园12栋" in s for s in r.reasons)


@pytest.mark.parametrize(
    "text",
    ["叙丰家园999栋", "叙丰家园41栋", "幸福小区3栋", "锡兴路8号", "锡兴路100号", "太湖大道12号",
     "12栋3单元", "叙丰家园", "", "   ", "江溪路4号"],
)
def test_nonexistent_is_never_matched(matcher, text):
    r = matcher.match(text)
    assert r.status != "matched", r
    assert r.building_code is None
    assert r.reasons


def test_result_is_frozen_and_serialisable(matcher):
    r = matcher.match("叙丰家园12栋")
    assert isinstance(r, MatchResult)
    with pytest.raises(AttributeError):
        r.status = "x"  # type: ignore[misc]
    d = r.to_dict()
    assert d["status"] == "matched"
    assert d["building"] == {"code": r.building_code, "address": "叙丰家园12栋"}
    assert d["candidates"][0]["code"] == r.building_code
    r = matcher.match("叙丰佳园12栋").to_dict()
    assert r["building"] is None and len(r["candidates"]) >= 2


def test_match_many_order_blanks_and_cache(matcher):
    texts = ["叙丰家园12栋", None, "", "万裕苑3栋", "叙丰家园12栋", float("nan")]
    seen = []
    out = matcher.match_many(texts, progress=lambda d, t: seen.append((d, t)))
    assert len(out) == len(texts)
    assert out[1] is None and out[2] is None and out[5] is None
    assert out[0].building_address == "叙丰家园12栋" and out[3].building_address == "万裕苑3栋"
    assert out[0] is out[4]
    assert seen[-1] == (6, 6)


def test_match_many_matches_a_large_batch(matcher):
    # its speed is measured by benchmarks/batch.py, not asserted here
    texts = [f"江溪街道叙丰家园{n % 40 + 1}栋{n % 3 + 1}单元{(n % 6 + 1) * 100 + n % 2 + 1}"
             for n in range(20_000)]
    out = matcher.match_many(texts)
    assert all(r.status == "matched" for r in out)


def test_bad_input(matcher):
    with pytest.raises(InvalidInput):
        matcher.match(12)  # type: ignore[arg-type]
    with pytest.raises(GeoGridError):
        AddressMatcher(pd.DataFrame({"code": ["1"]}))
    b = _buildings()
    b.loc[1, "number"] = 1
    with pytest.raises(InvalidInput, match="share the address"):
        AddressMatcher(b)


def test_room_a_shop_cannot_have_lowers_confidence(matcher):
    exact = matcher.match("锡兴路9号")
    r = matcher.match("锡兴路9号1502室")
    assert r.building_address == "锡兴路9号"
    assert r.confidence < exact.confidence
    assert any("room 1502 does not exist" in s and "2 floors" in s for s in r.reasons)


def test_floor_beyond_the_building_lowers_confidence(matcher):
    exact = matcher.match("叙丰家园12栋")
    r = matcher.match("叙丰家园12栋9楼")
    assert r.building_address == "叙丰家园12栋"
    assert r.confidence < exact.confidence
    assert any("floor 9 does not exist" in s for s in r.reasons)
    ok = matcher.match("叙丰家园12栋5楼")
    assert ok.confidence == exact.confidence and not any("floor" in s for s in ok.reasons)


def test_ordinal_di_is_an_exact_match(matcher):
    r = matcher.match("锡兴路第9号")
    assert r.status == "matched" and r.building_address == "锡兴路9号"
    assert r.confidence == 1.0
