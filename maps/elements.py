"""Folium extensions used by the geo-grid maps.

Each class is a folium ``MacroElement`` (layers subclass ``folium.map.Layer`` so the layer control
lists them) whose jinja template passes its data with ``|tojson`` to the small functions of
``maps/static/geogrid/geogrid.js``. No HTML is ever assembled from data in Python: popups, tooltips,
labels, legends and panels are built in the browser with ``textContent``. ``|tojson`` escapes
``<``, ``>``, ``&`` and ``'`` so no string can close the ``<script>`` element.

Assets each element needs are declared in ``default_js``/``default_css`` with the logical names of
:mod:`maps.assets`; :func:`maps.assets.make_offline` turns them into served links or inlined text.
"""

from __future__ import annotations

import json

import jinja2
from folium.elements import JSCSSMixin
from folium.map import Layer
from folium.template import Environment as _FoliumEnvironment

_GG = [("geogrid.js", "geogrid.js")]
_GG_CSS = [("geogrid.css", "geogrid.css")]


class _Environment(_FoliumEnvironment):
    """folium's template environment, with compact UTF-8 ``|tojson`` (still HTML-safe)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.policies["json.dumps_kwargs"] = {
            "ensure_ascii": False,
            "separators": (",", ":"),
            "allow_nan": False,
        }


class Template(jinja2.Template):
    environment_class = _Environment


def tojson_html(obj) -> str:
    """JSON as ``|tojson`` writes it (for tests): ``<>&'`` escaped as ``\\u003c`` etc."""
    return (
        json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("'", "\\u0027")
    )


class _GGLayer(JSCSSMixin, Layer):
    default_js = _GG
    default_css = _GG_CSS

    def __init__(self, name: str, *, show: bool = True, control: bool = True):
        super().__init__(name=name, overlay=True, control=control, show=show)


class GeoLayer(_GGLayer):
    """A GeoJSON FeatureCollection drawn by ``GG.geo`` (styles, card popups, search index).

    ``spec`` keys: ``name``, ``className``, ``style``, ``colorProp``, ``strokeProp``, ``popup``
    (card spec), ``tooltip`` (property), ``minZoom`` (only drawn at that zoom or closer),
    ``search`` ({kind, label, sub, alt, maxZoom}), ``interactive``, ``point``.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = GG.geo({{ this._parent.get_name() }}, {{ this.data|tojson }}, {{ this.spec|tojson }});
        {% endmacro %}
        """
    )

    def __init__(self, data: dict, spec: dict, name: str, *, show=True, control=True):
        super().__init__(name, show=show, control=control)
        self._name = "GeoLayer"
        self.data = data
        self.spec = dict(spec, name=spec.get("name", name))


class LabelLayer(_GGLayer):
    """Text labels at points (rows ``[lat, lon, text]``), never interactive."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = GG.labels({{ this._parent.get_name() }}, {{ this.rows|tojson }}, {{ this.spec|tojson }});
        {% endmacro %}
        """
    )

    def __init__(self, rows: list, name: str, *, class_name: str = "community", show=True):
        super().__init__(name, show=show)
        self._name = "LabelLayer"
        self.rows = rows
        self.spec = {"name": "labels", "className": class_name}


class ClusterLayer(_GGLayer):
    """Clustered point markers (Leaflet.markercluster) with card popups.

    ``data`` = ``{"fields": [...], "rows": [[...], ...]}`` with ``lat`` and ``lon`` among the fields.
    """

    default_js = _GG + [("markercluster.js", "markercluster.js")]
    default_css = _GG_CSS + [
        ("markercluster.css", "markercluster.css"),
        ("markercluster.default.css", "markercluster.default.css"),
    ]
    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = GG.cluster({{ this._parent.get_name() }}, {{ this.data|tojson }}, {{ this.spec|tojson }});
        {% endmacro %}
        """
    )

    def __init__(self, data: dict, spec: dict, name: str, *, show=True):
        super().__init__(name, show=show)
        self._name = "ClusterLayer"
        self.data = data
        self.spec = spec


class MarkerLayer(_GGLayer):
    """Glyph markers and lines drawn by ``GG.markers``, with card popups.

    ``data`` = ``{"markers": [{lat, lon, color, glyph, cls, props}], "lines": [{latlngs, color,
    weight, props}]}``; ``spec`` keys: ``name``, ``className`` (of the markers),
    ``lineClassName``, ``popup`` and ``linePopup`` (card specs), ``tooltip`` (a property).
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = GG.markers({{ this._parent.get_name() }}, {{ this.data|tojson }}, {{ this.spec|tojson }});
        {% endmacro %}
        """
    )

    def __init__(self, data: dict, spec: dict, name: str, *, show=True):
        super().__init__(name, show=show)
        self._name = "MarkerLayer"
        self.data = data
        self.spec = dict(spec, name=spec.get("name", name))


class HeatLayer(_GGLayer):
    """Leaflet.heat layer from ``[lat, lon, weight]`` rows (folium's bundled leaflet-heat)."""

    default_js = _GG + [("leaflet-heat.js", "leaflet-heat.js")]
    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = GG.heat({{ this._parent.get_name() }}, {{ this.points|tojson }}, {{ this.options|tojson }});
        {% endmacro %}
        """
    )

    def __init__(self, points: list, name: str, *, options: dict | None = None, show=True):
        super().__init__(name, show=show)
        self._name = "HeatLayer"
        self.points = points
        self.options = options or {}


class _GGControl(JSCSSMixin):
    default_js = _GG
    default_css = _GG_CSS


class MapInit(_GGControl):
    """Registers the map with ``GG``, fits the bounds, sets a link-free attribution prefix."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        GG.init({{ this._parent.get_name() }}, {{ this.options|tojson }});
        {% endmacro %}
        """
    )

    def __init__(self, bounds=None, title: str | None = None, title_position: str = "topright"):
        super().__init__()
        self._name = "MapInit"
        self.options = {"bounds": bounds, "title": title, "titlePosition": title_position}


class SearchBox(_GGControl):
    """Search box for grid code or name, community and address; flies to the hit."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        new GG.SearchControl({{ this.options|tojson }}).addTo({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, position: str = "topleft", placeholder: str = "搜索网格编码、名称、社区或地址"):
        super().__init__()
        self._name = "SearchBox"
        self.options = {"position": position, "placeholder": placeholder}


class FullscreenButton(_GGControl):
    """Fullscreen toggle (Fullscreen API, with a CSS fallback)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        new GG.FullscreenControl({{ this.options|tojson }}).addTo({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, position: str = "topleft"):
        super().__init__()
        self._name = "FullscreenButton"
        self.options = {"position": position}


class Legend(_GGControl):
    """Legend: ``{"sections": [{"title", "items": [{"color", "label", "outline", "line", "dashed"}]}]}``."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        new GG.LegendControl({{ this.spec|tojson }}, {{ this.options|tojson }}).addTo({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, spec: dict, position: str = "bottomright"):
        super().__init__()
        self._name = "Legend"
        self.spec = spec
        self.options = {"position": position}


class Panel(_GGControl):
    """A card panel (e.g. a scenario summary): ``props`` shown through a card ``spec``."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        new GG.PanelControl({{ this.props|tojson }}, {{ this.spec|tojson }}, {{ this.options|tojson }}).addTo({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, props: dict, spec: dict, position: str = "topright"):
        super().__init__()
        self._name = "Panel"
        self.props = props
        self.spec = spec
        self.options = {"position": position}


class SyncMaps(_GGControl):
    """Keeps two maps of one page on the same view (add it to the second map, last)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        GG.sync({{ this.a.get_name() }}, {{ this.b.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, a, b):
        super().__init__()
        self._name = "SyncMaps"
        self.a = a
        self.b = b
