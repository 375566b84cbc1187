"""Offline assets: every script and stylesheet a map needs, from installed packages.

folium references its JavaScript and CSS on public CDNs (``Map.default_js`` and each plugin's
``default_js``/``default_css``); on an intranet with no internet the page stays blank. Here every
asset comes from a Python package installed with the service:

========================  ==================================================================
logical name              source
========================  ==================================================================
``leaflet.js/.css``       ``xstatic-leaflet`` (Leaflet 1.9.3)
``markercluster.*``       ``xstatic-leaflet-markercluster`` (1.4.1)
``leaflet-heat.js``       folium's own patched copy (``folium/templates/leaflet_heat.min.js``)
``jquery.js``             ``xstatic-jquery`` (served only; none of our maps needs it)
``font-awesome.css``      ``xstatic-font-awesome`` (served only; none of our maps needs it)
``geogrid.js/.css``       this package (``maps/static/geogrid``): search, fullscreen, legend,
                          popups built with ``textContent``, map sync
``vectorgrid.js``         Leaflet.VectorGrid 1.3.0 from npm, bundled build, vendored in
                          ``maps/static/vectorgrid`` with its licences (the tiled map only)
``vtiles.js``             this package: the service's vector tiles as VectorGrid layers
========================  ==================================================================

Two modes:

- ``served``: ``<script src="{static_prefix}/leaflet/leaflet.js">`` etc.; the API mounts the files
  with :func:`maps.routes.mount_static` (directory layout in :data:`SERVED_DIRS`).
- ``inline``: the contents are written into the page (images referenced by Leaflet's CSS become
  ``data:`` URIs), so a file opened from disk works with no network.

:func:`make_offline` rewrites a whole folium element tree **per instance** (never the class-wide
lists, which ``Map.add_js_link`` would change for every map in the process): it empties each
element's ``default_js``/``default_css`` and puts one :class:`AssetBundle` in the figure header.
Bootstrap, glyphicons and awesome-markers are dropped (our maps use their own small controls);
an unknown external asset raises :class:`OfflineAssetError` rather than leaking a CDN URL.
"""

from __future__ import annotations

import base64
import html
import re
from functools import cache
from pathlib import Path

import folium
import xstatic.pkg.font_awesome as _xfa
import xstatic.pkg.jquery as _xjq
import xstatic.pkg.leaflet as _xleaflet
import xstatic.pkg.leaflet_markercluster as _xmc
from branca.element import Element, Figure
from folium.elements import JSCSSMixin

ASSET_MODES = ("inline", "served")

OWN_STATIC_DIR = Path(__file__).parent / "static" / "geogrid"
FOLIUM_TEMPLATES_DIR = Path(folium.__file__).parent / "templates"

#: URL sub-directory under the static prefix → directory on disk (what ``mount_static`` serves).
SERVED_DIRS: dict[str, Path] = {
    "leaflet": Path(_xleaflet.BASE_DIR),
    "markercluster": Path(_xmc.BASE_DIR),
    "jquery": Path(_xjq.BASE_DIR),
    "font-awesome": Path(_xfa.BASE_DIR),
    "geogrid": OWN_STATIC_DIR,
    "vectorgrid": Path(__file__).parent / "static" / "vectorgrid",
}
#: Single files served beside the directories: URL path under the prefix → file on disk.
SERVED_FILES: dict[str, Path] = {
    "leaflet-heat/leaflet-heat.js": FOLIUM_TEMPLATES_DIR / "leaflet_heat.min.js",
}

#: logical asset → (kind, path under the static prefix). Order here is the load order.
ASSETS: dict[str, tuple[str, str]] = {
    "leaflet.css": ("css", "leaflet/leaflet.css"),
    "markercluster.css": ("css", "markercluster/MarkerCluster.css"),
    "markercluster.default.css": ("css", "markercluster/MarkerCluster.Default.css"),
    "font-awesome.css": ("css", "font-awesome/css/all.min.css"),
    "geogrid.css": ("css", "geogrid/geogrid.css"),
    "leaflet.js": ("js", "leaflet/leaflet.js"),
    "jquery.js": ("js", "jquery/jquery.min.js"),
    "markercluster.js": ("js", "markercluster/leaflet.markercluster.js"),
    "leaflet-heat.js": ("js", "leaflet-heat/leaflet-heat.js"),
    "geogrid.js": ("js", "geogrid/geogrid.js"),
    "vectorgrid.js": ("js", "vectorgrid/Leaflet.VectorGrid.bundled.min.js"),
    "vtiles.js": ("js", "geogrid/vtiles.js"),
}
#: assets that cannot be inlined sensibly (web fonts): refused in inline mode
SERVED_ONLY = {"jquery.js", "font-awesome.css"}

#: folium's resource names → our logical asset, or None to drop it (Bootstrap-dependent bits).
FOLIUM_NAMES: dict[str, str | None] = {
    "leaflet": "leaflet.js",
    "leaflet_css": "leaflet.css",
    "jquery": "jquery.js",
    "bootstrap": None,
    "bootstrap_css": None,
    "glyphicons_css": None,
    "awesome_markers": None,
    "awesome_markers_css": None,
    "awesome_rotate_css": None,
    "awesome_markers_font_css": None,
    "markerclusterjs": "markercluster.js",
    "markerclustercss": "markercluster.css",
    "markerclusterdefaultcss": "markercluster.default.css",
    "leaflet-heat.js": "leaflet-heat.js",
}
# our own elements name their needs with the logical names directly
FOLIUM_NAMES.update({k: k for k in ASSETS})

#: what a plain folium.Map needs once Bootstrap/jQuery/awesome-markers are gone
MAP_ASSETS = ("leaflet.js", "leaflet.css", "geogrid.js", "geogrid.css")

_EXTERNAL = re.compile(r"^(?:https?:)?//", re.I)


class OfflineAssetError(ValueError):
    """A folium element wants an external asset this package cannot serve."""


def asset_path(name: str) -> Path:
    """Return the file on disk of a logical asset."""
    sub = ASSETS[name][1]
    if sub in SERVED_FILES:
        return SERVED_FILES[sub]
    top, _, rest = sub.partition("/")
    return SERVED_DIRS[top] / rest


def asset_url(name: str, static_prefix: str = "/static") -> str:
    """Return the served URL of a logical asset."""
    return static_prefix.rstrip("/") + "/" + ASSETS[name][1]


@cache
def asset_text(name: str) -> str:
    """Return the contents of a logical asset, ready to inline.

    CSS ``url(...)`` references to files beside the stylesheet become ``data:`` URIs;
    ``</`` inside scripts is written ``<\\/`` so it cannot close the ``<script>`` element.
    """
    path = asset_path(name)
    text = path.read_text(encoding="utf-8")
    kind = ASSETS[name][0]
    if kind == "css":
        base = path.parent

        def repl(m: re.Match) -> str:
            ref = m.group(1).strip("'\"")
            if ref.startswith(("data:", "#")) or _EXTERNAL.match(ref):
                return m.group(0)
            f = (base / ref).resolve()
            if not f.is_file():
                return m.group(0)
            mime = {"png": "image/png", "svg": "image/svg+xml", "gif": "image/gif"}.get(
                f.suffix.lstrip(".").lower(), "application/octet-stream"
            )
            data = base64.b64encode(f.read_bytes()).decode()
            return f"url(data:{mime};base64,{data})"

        text = re.sub(r"url\(([^)]*)\)", repl, text)
        text = re.sub(r"</(style)", r"<\\/\1", text, flags=re.I)
    else:
        text = re.sub(r"</(script)", r"<\\/\1", text, flags=re.I)
    return text


class AssetBundle(Element):
    """All assets of a page, as links to the service's own ``/static`` or inlined."""

    def __init__(self, names, mode: str = "served", static_prefix: str = "/static"):
        super().__init__()
        if mode not in ASSET_MODES:
            raise ValueError(f"asset_mode must be one of {ASSET_MODES}, not {mode!r}")
        self._name = "AssetBundle"
        self.mode = mode
        self.static_prefix = static_prefix
        wanted = set(names)
        self.names = [n for n in ASSETS if n in wanted]
        if mode == "inline":
            bad = [n for n in self.names if n in SERVED_ONLY]
            if bad:
                raise OfflineAssetError(f"assets {bad} can only be served, not inlined")

    def render(self, **kwargs) -> str:
        parts = []
        for name in self.names:
            kind = ASSETS[name][0]
            if self.mode == "served":
                url = html.escape(asset_url(name, self.static_prefix), quote=True)
                if kind == "js":
                    parts.append(f'<script src="{url}"></script>')
                else:
                    parts.append(f'<link rel="stylesheet" href="{url}"/>')
            elif kind == "js":
                parts.append(f"<script>/* {name} */\n{asset_text(name)}\n</script>")
            else:
                parts.append(f"<style>/* {name} */\n{asset_text(name)}\n</style>")
        return "\n".join(parts)


def _walk(element):
    yield element
    for child in list(element._children.values()):
        yield from _walk(child)


def make_offline(root, mode: str = "served", static_prefix: str = "/static") -> Figure:
    """Rewrite every asset of a folium tree to the service's own URLs or inlined contents.

    Parameters
    ----------
    root : folium.Map or branca Figure
        Any element of the tree; the whole figure it belongs to is rewritten.
    mode : ``"served"`` or ``"inline"``
    static_prefix : str
        URL prefix of the static mount (``served`` mode).

    Returns
    -------
    Figure
        The root figure, with exactly one :class:`AssetBundle` in its header.

    Raises
    ------
    OfflineAssetError
        If an element references an external asset with no local copy.
    """
    fig = root.get_root()
    needed: list[str] = []
    for el in _walk(fig):
        if not isinstance(el, JSCSSMixin):
            continue
        if isinstance(el, folium.Map):
            wanted = list(MAP_ASSETS)
        else:
            wanted = []
            for res_name, url in list(el.default_js) + list(el.default_css):
                if res_name in FOLIUM_NAMES:
                    if FOLIUM_NAMES[res_name]:
                        wanted.append(FOLIUM_NAMES[res_name])
                elif _EXTERNAL.match(url):
                    raise OfflineAssetError(
                        f"{type(el).__name__} wants {res_name!r} from {url}; no local copy"
                    )
                else:
                    raise OfflineAssetError(f"{type(el).__name__}: unknown asset {res_name!r}")
        # per instance: the class-wide lists stay untouched
        el.default_js = []
        el.default_css = []
        needed.extend(wanted)
        for n in list(getattr(el, "_gg_assets", ())):
            needed.append(n)
    for n in getattr(fig, "_gg_assets", ()):
        needed.append(n)
    prev = fig.header._children.get("gg_assets")
    if prev is not None:
        needed.extend(prev.names)
    fig.header.add_child(AssetBundle(needed, mode, static_prefix), name="gg_assets")
    return fig


def render_html(root, mode: str | None = None, static_prefix: str | None = None) -> str:
    """Render a map (or figure) to a complete HTML page with offline assets.

    ``mode``/``static_prefix`` default to what the map was built with (``coverage_map`` etc.
    remember them), else ``served`` and ``/static``.
    """
    fig = root.get_root()
    mode = mode or getattr(root, "gg_asset_mode", None) or getattr(fig, "gg_asset_mode", "served")
    prefix = static_prefix or getattr(root, "gg_static_prefix", None) or getattr(
        fig, "gg_static_prefix", "/static"
    )
    make_offline(fig, mode, prefix)
    return fig.render()
