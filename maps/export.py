"""``geo-grid map -o FILE.html``: the coverage map as one self-contained HTML file."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from geo_grid.district import District
from maps.coverage import coverage_html


def write_map(district: District, path: str | Path, tiles="none", **kwargs) -> Path:
    """Write the coverage map with every asset inlined (works from disk with no network).

    Parameters
    ----------
    district : District
    path : str or Path
        The HTML file to write (replaced atomically).
    tiles : str
        ``none`` (default), ``osm``, ``gaode``, ``tianditu`` (``tiles_key=``) or a URL template
        (``tiles_attr=``); any other keyword goes to :func:`maps.coverage.coverage_map`.

    The figures are the core's (:func:`geo_grid.figures.district_figures`, or ``figures=``), as
    on the served ``/`` page. The file gets the ordinary permissions (0666 minus the umask).

    Returns
    -------
    Path
        The written file.
    """
    path = Path(path)
    html = coverage_html(district, tiles=tiles, asset_mode="inline", **kwargs)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(html)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600; a map is an ordinary file
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
