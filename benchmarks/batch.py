"""Batch lookup benchmark: a 100,000-row xlsx household roster through ``run_batch``.

Generates (seeded) a roster from the reference district's buildings — a merged title row,
headers with a newline and full-width brackets, IDs with valid checksums written as text, phones,
addresses written as people write them (Chinese numerals, 幢/号楼, prefixes, noise, 3% typos,
1% blank, 1% nonexistent buildings) — then times read + match + write in one run, and as the
baseline in the same run the plain read (``pandas.read_excel(dtype=str, engine="calamine")``)
and write (``DataFrame.to_excel`` with openpyxl) of the same file without matching.

The output is checked: every row present in order, a status on each, ID numbers and phones
read back as the exact text of the input.

Usage: ``python benchmarks/batch.py [--rows 100000] [--seed 7] [--keep DIR]``
The last line printed is one JSON object: ``seconds`` (= ``total_s``, the whole ``run_batch``:
read, match, write, wall clock), its parts, ``cpu_s`` (the process's CPU time for the same run:
other work on the machine inflates the wall clock, much less this) and ``load_avg_1m`` (the load
when the run started), ``baseline_read_write_s`` and ``ratio_vs_baseline``
(``seconds / baseline``; below 1 is faster than pandas reading and writing the file without
matching), ``target_s`` (10) and ``under_target``.
"""

from __future__ import annotations

import sys
from pathlib import Path

# run as a script, this folder comes first on sys.path: a sibling module named like a standard
# one (benchmarks/http.py) would shadow it, so the repository root replaces the folder
ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "benchmarks"]

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from geo_grid.address import AddressMatcher  # noqa: E402
from geo_grid.batch import GridDirectory, run_batch  # noqa: E402

_CN = "零一二三四五六七八九"
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀英华平刚桂兰玉珍建国红霞"
_W = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])


def _layer(name: str) -> pd.DataFrame:
    d = json.loads((ROOT / "boundaries" / f"{name}.geojson").read_text())
    return pd.DataFrame([f["properties"] for f in d["features"]])


def cn(n: int) -> str:
    if n < 10:
        return _CN[n]
    if n < 20:
        return "十" + (_CN[n % 10] if n % 10 else "")
    if n < 100:
        return _CN[n // 10] + "十" + (_CN[n % 10] if n % 10 else "")
    return "".join(_CN[int(d)] for d in str(n))


def id_number(rng: np.random.Generator) -> str:
    body = "320214" + f"{rng.integers(1940, 2020)}{rng.integers(1, 13):02d}{rng.integers(1, 29):02d}"
    body += f"{rng.integers(0, 1000):03d}"
    digits = np.array([int(c) for c in body])
    return body + "10X98765432"[int((digits * _W).sum()) % 11]


def make_roster(path: Path, buildings: pd.DataFrame, rows: int, seed: int) -> None:
    from openpyxl import Workbook

    rng = np.random.default_rng(seed)
    res = buildings[buildings["households"] > 0].reset_index(drop=True)
    p = res["households"].to_numpy(float)
    pick = rng.choice(len(res), size=rows, p=p / p.sum())
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("花名册")
    ws.append(["江溪街道住户信息登记表（2024年）"])
    ws.append(["序号", "户主\n姓名", "身份证号", "联系电话", "家庭住址（详细）", "家庭人口"])
    comp = res["compound"].to_numpy()
    num = res["number"].to_numpy()
    road = res["address"].str.endswith("号").to_numpy()
    units = res["units"].to_numpy()
    floors = res["floors"].to_numpy()
    rpf = res["rooms_per_floor"].to_numpy()
    for k in range(rows):
        i = pick[k]
        u = rng.random()
        n = int(num[i])
        name = str(comp[i])
        if u < 0.01:
            addr = ""
        elif u < 0.02:
            addr = f"{name}{n + 500}{'号' if road[i] else '栋'}"
        else:
            if u < 0.05:
                pos = int(rng.integers(len(name)))
                name = name[:pos] + "叙"[0] + name[pos + 1:] if name[pos] != "叙" else name
            ns = cn(n) if rng.random() < 0.3 else str(n)
            marker = "号" if road[i] else str(rng.choice(["栋", "幢", "号楼", "栋"]))
            unit = int(rng.integers(1, units[i] + 1))
            room = int(rng.integers(1, floors[i] + 1)) * 100 + int(rng.integers(1, max(rpf[i], 1) + 1))
            tail = "" if road[i] else (f"{unit}单元{room}室" if rng.random() < 0.7 else f"{unit}-{room}")
            pre = str(rng.choice(["", "", "江溪街道", "无锡市新吴区江溪街道", "新吴区"]))
            noise = str(rng.choice(["", "", "", "", "附近"]))
            addr = f"{pre}{name}{ns}{marker}{tail}{noise}"
        person = SURNAMES[rng.integers(len(SURNAMES))] + GIVEN[rng.integers(len(GIVEN))]
        phone = f"1{rng.integers(30, 90)}{rng.integers(0, 10**8):08d}"
        ws.append([k + 1, person, id_number(rng), phone, addr or None, int(rng.integers(1, 6))])
    wb.save(path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--keep", type=Path, default=None, help="write the files here")
    args = ap.parse_args()
    buildings = _layer("buildings")
    grids = _layer("grids")
    communities = _layer("communities")
    folder = args.keep or Path(tempfile.mkdtemp(prefix="geo-grid-batch-"))
    folder.mkdir(parents=True, exist_ok=True)
    src = folder / "roster.xlsx"
    out = folder / "roster_out.xlsx"
    t = time.perf_counter()
    make_roster(src, buildings, args.rows, args.seed)
    print(f"generated {args.rows} rows in {time.perf_counter() - t:.1f} s: {src}")

    # baseline: read and write the same file with pandas, no matching
    t = time.perf_counter()
    df = pd.read_excel(src, dtype=str, engine="calamine", header=1)
    df.to_excel(folder / "baseline_out.xlsx", index=False, engine="openpyxl")
    baseline_s = time.perf_counter() - t
    print(f"baseline pandas read_excel(calamine) + to_excel(openpyxl): {baseline_s:.2f} s")

    t = time.perf_counter()
    matcher = AddressMatcher(buildings, communities)
    directory = GridDirectory.from_frames(buildings, grids, communities)
    build_s = time.perf_counter() - t
    last = []
    load = os.getloadavg()[0]
    t, cpu = time.perf_counter(), time.process_time()
    report = run_batch(src, out, matcher, directory, progress=lambda d, n: last.append(d))
    total_s, cpu_s = time.perf_counter() - t, time.process_time() - cpu
    print(f"run_batch: {total_s:.2f} s (read {report['read_s']} s, match {report['match_s']} s, "
          f"write {report['write_s']} s); matcher build {build_s:.2f} s")
    check = pd.read_excel(out, dtype=str, engine="calamine", header=1)
    accounted = len(check) == args.rows and check["匹配状态"].notna().all()
    order_kept = check["序号"].tolist() == [str(i + 1) for i in range(args.rows)]
    text_kept = (check["身份证号"].tolist() == df["身份证号"].tolist()
                 and check["联系电话"].tolist() == df["联系电话"].tolist())
    print({k: report[k] for k in ("rows", "matched", "ambiguous", "unmatched", "errors")})
    print(json.dumps({
        "rows": args.rows,
        "seconds": round(total_s, 2),
        "total_s": round(total_s, 2),
        "cpu_s": round(cpu_s, 2),
        "load_avg_1m": round(load, 2),
        "read_s": report["read_s"],
        "match_s": report["match_s"],
        "write_s": report["write_s"],
        "rows_per_s": round(args.rows / total_s),
        "baseline_read_write_s": round(baseline_s, 2),
        "baseline": "pandas read_excel(calamine, dtype=str) + to_excel(openpyxl), no matching",
        "ratio_vs_baseline": round(total_s / baseline_s, 3),
        "matched": report["matched"],
        "ambiguous": report["ambiguous"],
        "unmatched": report["unmatched"],
        "errors": report["errors"],
        "every_row_accounted": bool(accounted and order_kept),
        "ids_phones_text_kept": bool(text_kept),
        "under_30_s": total_s < 30,
        "target_s": 10,
        "under_target": total_s <= 10,
    }, ensure_ascii=False))


if __name__ == "__main__":
    main()
