"""The typer CLI, run as a user would run it (a subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys

CLI = [sys.executable, "-m", "geo_grid.cli"]


def run(*args, check=True):
    out = subprocess.run(CLI + list(args), capture_output=True, text=True, timeout=300)
    if check:
        assert out.returncode == 0, out.stderr
    return out


def test_init_builds_once_and_reports_counts(tmp_path):
    db = tmp_path / "s.gpkg"
    report = json.loads(run("init", "--db", str(db)).stdout)
    assert report["grids"] == 231 and report["communities"] == 33
    assert report["buildings"] >= 4000 and report["members"] >= 2500
    again = run("init", "--db", str(db))
    assert "exists" in again.stderr


def test_lookup_prints_the_api_json(store_path, district):
    g = district.grids.iloc[12]
    p = g.geometry.representative_point()
    out = json.loads(run("lookup", "--lon", str(p.x), "--lat", str(p.y), "--db", str(store_path)).stdout)
    assert out["grid"]["code"] == g["code"] and out["covered"] is True
    assert "*" in out["team"]["secretary"]["name"]


def test_lookup_bad_coordinate_is_a_clear_error(store_path):
    out = run("lookup", "--lon", "31.5", "--lat", "120.3", "--db", str(store_path), check=False)
    assert out.returncode == 2 and "invalid_coordinate" in out.stderr and "swapped" in out.stderr
