"""The core never imports fastapi, pydantic or folium (DESIGN: layout)."""

from __future__ import annotations

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import geo_grid

FORBIDDEN = ("fastapi", "pydantic", "folium", "starlette", "branca")


def core_modules() -> list[str]:
    return sorted(m.name for m in pkgutil.walk_packages(geo_grid.__path__, "geo_grid."))


def test_importing_every_core_module_loads_no_web_or_map_package():
    mods = core_modules()
    assert "geo_grid.locator" in mods and "geo_grid.store.build" in mods
    code = (
        "import importlib, sys\n"
        f"for m in {mods!r}: importlib.import_module(m)\n"
        f"bad = sorted(k for k in sys.modules if k.split('.')[0] in {FORBIDDEN!r})\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"core imported: {out.stdout}"


def test_no_module_level_import_of_web_or_map_packages():
    root = Path(geo_grid.__file__).parent
    offenders = []
    for path in root.rglob("*.py"):
        tree = ast.parse(path.read_text("utf-8"))
        for node in tree.body:  # module level only; the CLI imports the service inside commands
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.name}:{n}" for n in names if n.split(".")[0] in FORBIDDEN + ("api", "maps")]
    assert offenders == []
