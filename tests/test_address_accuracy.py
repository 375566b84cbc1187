"""Accuracy of the address matcher on a seeded test set generated from the reference district.

Positive set: 3,000 buildings drawn (seeded) from ``boundaries/buildings.geojson``, each written
the way people write: Chinese numerals (十二, 一百零八, 五〇二), 幢/号楼/座/#/栋, full-width
digits, random spaces, units and rooms in several notations, missing or extra prefixes (江苏省,
无锡市, 新吴区, 江溪街道, the community name), trailing noise (附近, 门口...), and in 20% of
rows a one-character typo in the compound or road name (substitution, deletion, insertion or
doubling). Target: ≥ 98% top-1 correct (the best candidate is the right building).

Negative set: addresses whose building does not exist — a number past the compound's last
building, 999, a road number between two real ones, and compounds or roads that do not exist
(at Levenshtein distance ≥ 2 from every real name, so they are not typos). Target: no
``matched`` answer at all.

Run with ``pytest -s tests/test_address_accuracy.py`` to see the figures.
"""

from __future__ import annotations

import json
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rapidfuzz.distance import Levenshtein

from geo_grid.address import AddressMatcher

ROOT = Path(__file__).resolve().parents[1]
BUILDINGS = ROOT / "boundaries" / "buildings.geojson"
COMMUNITIES = ROOT / "boundaries" / "communities.geojson"
SEED = 20240517
N_POSITIVE = 3000

_CN = "零一二三四五六七八九"
_FULLWIDTH = str.maketrans("0123456789-", "０１２３４５６７８９－")
# common characters for substitution/insertion typos (homophones of frequent name characters
# and everyday characters)
TYPO_POOL = list(
    "许序徐绪旭丰风峰锋封佳加嘉家花华化新心欣星兴园元源圆苑远湖胡虎太泰春村纯城成诚城暖南"
    "楠阳扬洋光广景井静曙书竹竺东冬西路陆鹿里理李雅亚鼎顶城前钱坊方芳塘唐堂江姜将陂波博"
    "卫维伟中忠海洋万湾裕玉雨缇提香湘奕亦淳纯康抗叙旺望笋损锡西梅美士是山善鸿红宏长常北"
)
NONEXISTENT_NAMES = [
    "幸福家园", "金色新城", "锦绣江南", "蠡湖山庄", "梁溪公寓", "运河人家", "清扬新村",
    "阳光水岸", "明珠嘉苑", "碧桂园", "香樟苑", "紫金城", "天一新村", "江南明珠", "凤凰城",
    "太湖大道", "人民中路", "解放西路", "中山路", "学前街", "崇安寺", "南长街", "金城东路",
]
NOISE = ["附近", "门口", "旁边", "对面", "楼下", "周边", "东门"]


def cn_number(n: int, rng: np.random.Generator) -> str:
    """Write ``n`` in Chinese: positional (十二, 一百零八) or digit by digit (五〇二)."""
    if n >= 1000 or (n >= 100 and rng.random() < 0.5):
        return "".join(rng.choice(["〇", "零"]) if d == "0" else _CN[int(d)] for d in str(n))
    if n < 10:
        return _CN[n]
    if n < 20:
        return "十" + (_CN[n % 10] if n % 10 else "")
    if n < 100:
        return _CN[n // 10] + "十" + (_CN[n % 10] if n % 10 else "")
    h, r = divmod(n, 100)
    out = _CN[h] + "百"
    if r == 0:
        return out
    if r < 10:
        return out + "零" + _CN[r]
    return out + _CN[r // 10] + "十" + (_CN[r % 10] if r % 10 else "")


def write_number(n: int, rng: np.random.Generator) -> str:
    k = rng.random()
    if k < 0.55:
        return str(n)
    if k < 0.8:
        return cn_number(n, rng)
    return str(n).translate(_FULLWIDTH)


def typo(name: str, rng: np.random.Generator) -> str:
    """One-character typo: substitution, deletion (names of 4+ characters), insertion, doubling."""
    kinds = ["sub", "ins", "dup"] + (["del"] if len(name) >= 4 else [])
    kind = kinds[int(rng.integers(len(kinds)))]
    pos = int(rng.integers(len(name)))
    if kind == "sub":
        c = name[pos]
        while c == name[pos]:
            c = TYPO_POOL[int(rng.integers(len(TYPO_POOL)))]
        return name[:pos] + c + name[pos + 1:]
    if kind == "del":
        return name[:pos] + name[pos + 1:]
    if kind == "ins":
        return name[:pos] + TYPO_POOL[int(rng.integers(len(TYPO_POOL)))] + name[pos:]
    return name[:pos] + name[pos] + name[pos:]


def prefix(community: str, rng: np.random.Generator) -> tuple[str, str]:
    """A random administrative prefix (possibly none) and its kind."""
    parts = []
    if rng.random() < 0.2:
        parts.append(str(rng.choice(["江苏省", "江苏"])))
    if rng.random() < 0.35:
        parts.append(str(rng.choice(["无锡市", "无锡"])))
    if rng.random() < 0.35:
        parts.append(str(rng.choice(["新吴区", "新区"])))
    if rng.random() < 0.45:
        parts.append(str(rng.choice(["江溪街道", "江溪"])))
    if rng.random() < 0.15:
        parts.append(community + str(rng.choice(["", "居委会"])))
    return "".join(parts), "prefix" if parts else "bare"


def spaced(text: str, rng: np.random.Generator) -> str:
    if rng.random() >= 0.15:
        return text
    pos = sorted(rng.choice(len(text), size=min(2, len(text)), replace=False))
    for p in reversed(pos):
        text = text[: int(p)] + " " + text[int(p):]
    return text


def positive_case(b: dict, community: str, rng: np.random.Generator) -> tuple[str, set[str]]:
    """One written variant of building ``b``, and the set of variant tags used."""
    tags: set[str] = set()
    name = b["compound"]
    if rng.random() < 0.2:
        name = typo(name, rng)
        tags.add("typo")
    road = b["address"].endswith("号")
    num = write_number(int(b["number"]), rng)
    if not num.isascii():
        tags.add("cn_or_fullwidth_number")
    if road:
        marker = "号"
    else:
        marker = str(rng.choice(["栋", "栋", "幢", "号楼", "座", "#", "栋", "号楼栋"]))
        if marker != "栋":
            tags.add("marker_" + marker)
    text = f"{name}{num}{marker}"
    if b["category"] in ("slab", "point", "dormitory") and rng.random() < 0.6:
        unit = int(rng.integers(1, int(b["units"]) + 1))
        floor = int(rng.integers(1, int(b["floors"]) + 1))
        door = int(rng.integers(1, max(int(b["rooms_per_floor"]), 1) + 1))
        room = floor * 100 + door
        style = int(rng.integers(5))
        if style == 0:
            text += f"{unit}单元{room}"
        elif style == 1:
            text += f"{unit}-{room}"
        elif style == 2:
            text += f"{cn_number(unit, rng)}单元{cn_number(room, rng)}室"
        elif style == 3:
            text += f"{unit}单元{room}室"
        else:
            text += f"{room}室" if b["units"] == 1 else f"{unit}单元"
        tags.add("unit_room")
    pre, kind = prefix(community, rng)
    tags.add(kind)
    text = pre + text
    if rng.random() < 0.2:
        text += str(rng.choice(NOISE))
        tags.add("noise")
    text = spaced(text, rng)
    if " " in text:
        tags.add("spaces")
    return text, tags


@pytest.fixture(scope="module")
def district():
    if not BUILDINGS.exists():
        pytest.skip("boundaries/buildings.geojson not generated")
    b = pd.DataFrame([f["properties"] for f in json.loads(BUILDINGS.read_text())["features"]])
    c = pd.DataFrame([f["properties"] for f in json.loads(COMMUNITIES.read_text())["features"]])
    return b, c


@pytest.fixture(scope="module")
def matcher(district):
    b, c = district
    return AddressMatcher(b, c)


def test_accuracy_where_the_building_exists(district, matcher):
    b, c = district
    rng = np.random.default_rng(SEED)
    short = dict(zip(c["code"], c["short_name"], strict=True))
    rows = b.iloc[rng.choice(len(b), size=N_POSITIVE, replace=False)].to_dict("records")
    cases = [(*positive_case(r, short[r["community_code"]], rng), r["code"]) for r in rows]
    t0 = time.perf_counter()
    results = matcher.match_many([t for t, _, _ in cases])
    dt = time.perf_counter() - t0
    stats: dict[str, Counter] = defaultdict(Counter)
    wrong_matched = []
    misses = []
    for (text, tags, code), r in zip(cases, results, strict=True):
        top1 = r.best.code if r.best else None
        for tag in {"all", *tags}:
            s = stats[tag]
            s["n"] += 1
            s["top1"] += top1 == code
            s["matched_right"] += r.status == "matched" and r.building_code == code
            s[r.status] += 1
        if r.status == "matched" and r.building_code != code:
            wrong_matched.append((text, r.building_address, code))
        if top1 != code:
            misses.append((text, r.status, [c.address for c in r.candidates[:3]]))
    print(f"\naddress accuracy, {N_POSITIVE} existing buildings (seed {SEED}), "
          f"{dt * 1000:.0f} ms for all")
    print(f"{'variant':<24}{'n':>6}{'top-1':>9}{'matched&right':>15}{'ambiguous':>11}"
          f"{'unmatched':>11}")
    for tag in sorted(stats, key=lambda t: (t != "all", t)):
        s = stats[tag]
        print(f"{tag:<24}{s['n']:>6}{s['top1'] / s['n']:>9.2%}{s['matched_right'] / s['n']:>15.2%}"
              f"{s['ambiguous'] / s['n']:>11.2%}{s['unmatched'] / s['n']:>11.2%}")
    print(f"matched to a wrong building: {len(wrong_matched)}")
    for m in misses[:12]:
        print("  miss:", m)
    top1 = stats["all"]["top1"] / stats["all"]["n"]
    assert top1 >= 0.98, f"top-1 {top1:.2%} < 98%"
    assert len(wrong_matched) <= 0.005 * N_POSITIVE, wrong_matched[:10]


def negative_cases(b: pd.DataFrame, rng: np.random.Generator) -> list[tuple[str, str]]:
    cases: list[tuple[str, str]] = []
    groups = {k: sorted(int(v) for v in g) for k, g in b.groupby("compound")["number"]}
    suffix = {k: ("号" if str(a).endswith("号") else "栋")
              for k, a in b.groupby("compound")["address"].first().items()}
    for comp, nums in groups.items():
        s = suffix[comp]
        for n in (max(nums) + 1, max(nums) + int(rng.integers(2, 50)), 999):
            cases.append((f"{comp}{n}{s}", "number past the last"))
            cases.append((f"江溪街道{comp}{cn_number(n, rng)}{s}3单元502", "number past the last"))
        gaps = sorted(set(range(1, max(nums))) - set(nums))
        for n in gaps[:: max(1, len(gaps) // 4)][:4]:
            cases.append((f"无锡市新吴区{comp}{n}{s}", "number in a gap"))
    real = list(groups)
    names = [n for n in NONEXISTENT_NAMES if min(Levenshtein.distance(n, r) for r in real) >= 2]
    assert len(names) >= 15
    for name in names:
        s = "号" if name.endswith(("路", "道", "街")) else "栋"
        for n in (1, 3, 8, 12, 27):
            cases.append((f"{name}{n}{s}", "compound does not exist"))
            cases.append((f"江溪街道{name}{cn_number(n, rng)}{s}附近", "compound does not exist"))
    return cases


def test_nonexistent_buildings_are_never_matched(district, matcher):
    b, _ = district
    rng = np.random.default_rng(SEED + 1)
    cases = negative_cases(b, rng)
    results = matcher.match_many([t for t, _ in cases])
    by_kind: dict[str, Counter] = defaultdict(Counter)
    bad = []
    for (text, kind), r in zip(cases, results, strict=True):
        by_kind[kind][r.status] += 1
        if r.status == "matched":
            bad.append((text, r.building_address, r.confidence))
    print(f"\nnonexistent buildings: {len(cases)} addresses")
    for kind, cnt in sorted(by_kind.items()):
        print(f"  {kind:<26} {dict(cnt)}")
    print(f"  matched (must be 0): {len(bad)}")
    assert not bad, bad[:10]
