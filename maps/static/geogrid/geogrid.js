/* geo-grid map helpers (no external dependency besides Leaflet and its plugins).
 *
 * Every user-supplied string (names, addresses, scenario names) arrives as JSON data and is
 * put into the page with textContent only: nothing here assigns innerHTML from data.
 */
(function () {
  "use strict";
  var GG = (window.GG = window.GG || {});
  GG.maps = GG.maps || {};

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  GG.el = el;

  function state(map) {
    var id = map.getContainer().id;
    if (!GG.maps[id]) GG.maps[id] = { map: map, layers: {}, index: [], counts: {} };
    return GG.maps[id];
  }
  GG.state = state;

  function safeClass(s) {
    return /^[A-Za-z0-9_-]+$/.test(String(s)) ? String(s) : "x";
  }

  /* A popup/tooltip card built from a feature's properties and a spec given once per layer:
   * {heading, title: key, subtitle: key, fields: [[key, label, suffix]], lists: [[key, label]]} */
  GG.card = function (p, spec) {
    var root = el("div", "gg-card");
    if (spec.heading) root.appendChild(el("div", "gg-card-kind", spec.heading));
    if (spec.title && p[spec.title] != null) root.appendChild(el("div", "gg-card-title", p[spec.title]));
    if (spec.subtitle && p[spec.subtitle] != null && p[spec.subtitle] !== "")
      root.appendChild(el("div", "gg-card-sub", p[spec.subtitle]));
    var tbl = el("table", "gg-card-table");
    (spec.fields || []).forEach(function (f) {
      var v = p[f[0]];
      if (v === undefined || v === null || v === "") return;
      var tr = el("tr");
      tr.appendChild(el("th", null, f[1]));
      tr.appendChild(el("td", null, String(v) + (f[2] || "")));
      tbl.appendChild(tr);
    });
    if (tbl.childNodes.length) root.appendChild(tbl);
    (spec.lists || []).forEach(function (l) {
      var items = p[l[0]];
      if (!items || !items.length) return;
      root.appendChild(el("div", "gg-card-list-label", l[1] + "（" + items.length + "）"));
      var ul = el("ul", "gg-card-list");
      items.forEach(function (it) {
        ul.appendChild(el("li", null, it));
      });
      root.appendChild(ul);
    });
    return root;
  };

  function norm(s) {
    s = String(s == null ? "" : s);
    s = s.replace(/[\uFF01-\uFF5E]/g, function (c) {
      return String.fromCharCode(c.charCodeAt(0) - 0xfee0);
    });
    return s.toLowerCase().replace(/\s+/g, "").replace(/号楼|幢|栋/g, "栋");
  }
  GG.norm = norm;

  /* Initialise a map: attribution prefix without an external link, registry, first view. */
  GG.init = function (map, opt) {
    var st = state(map);
    if (map.attributionControl) map.attributionControl.setPrefix("Leaflet");
    if (opt && opt.bounds) map.fitBounds(opt.bounds, { padding: [10, 10] });
    if (opt && opt.title) {
      var T = L.Control.extend({
        options: { position: "topright" },
        onAdd: function () {
          return el("div", "gg-map-title", opt.title);
        }
      });
      new T({ position: opt.titlePosition || "topright" }).addTo(map);
    }
    return st;
  };

  /* Show ``inner`` inside the returned group only while the map is at ``minZoom`` or closer. */
  GG.zoomGated = function (map, inner, minZoom) {
    var wrap = L.featureGroup();
    function sync() {
      var want = map.hasLayer(wrap) && map.getZoom() >= minZoom;
      if (want && !wrap.hasLayer(inner)) wrap.addLayer(inner);
      else if (!want && wrap.hasLayer(inner)) wrap.removeLayer(inner);
    }
    map.on("zoomend", sync);
    wrap.on("add", sync);
    wrap.ggInner = inner;
    wrap.ggMinZoom = minZoom;
    return wrap;
  };

  /* A GeoJSON layer (polygons, lines, points) styled per feature, with card popups and text
   * tooltips. opt: {name, className, style, colorProp, strokeProp, popup, tooltip, minZoom,
   * search: {kind, label, sub, maxZoom}, interactive, point: {radius...}} */
  GG.geo = function (map, fc, opt) {
    var st = state(map);
    opt = opt || {};
    var base = opt.style || {};
    var gate = null;
    var layer = L.geoJSON(fc, {
      interactive: opt.interactive !== false,
      style: function (f) {
        var s = L.extend({}, base);
        var p = f.properties || {};
        if (opt.colorProp && p[opt.colorProp]) s.fillColor = p[opt.colorProp];
        if (opt.strokeProp && p[opt.strokeProp]) s.color = p[opt.strokeProp];
        s.className = (opt.className || "") + (p._cls ? " " + safeClass(p._cls) : "");
        if (opt.interactive === false) s.interactive = false;
        return s;
      },
      pointToLayer: function (f, latlng) {
        var p = f.properties || {};
        var s = L.extend({ radius: 4 }, base, opt.point || {});
        if (opt.colorProp && p[opt.colorProp]) s.fillColor = p[opt.colorProp];
        if (opt.strokeProp && p[opt.strokeProp]) s.color = p[opt.strokeProp];
        s.className = (opt.className || "") + " gg-point" + (p._cls ? " " + safeClass(p._cls) : "");
        return L.circleMarker(latlng, s);
      },
      onEachFeature: function (f, lyr) {
        var p = f.properties || {};
        if (opt.popup)
          lyr.bindPopup(function () {
            return GG.card(p, opt.popup);
          }, { maxWidth: 340 });
        if (opt.tooltip && p[opt.tooltip] != null)
          lyr.bindTooltip(function () {
            return el("span", "gg-tip", p[opt.tooltip]);
          }, { sticky: true });
        if (opt.search) {
          var s = opt.search;
          var label = p[s.label];
          if (label != null && label !== "") {
            var sub = s.sub ? p[s.sub] : "";
            st.index.push({
              kind: s.kind,
              label: String(label),
              sub: sub == null ? "" : String(sub),
              key: norm(label) + "|" + norm(p[s.alt || s.label]) + "|" + norm(sub),
              parts: [norm(label), norm(p[s.alt || s.label])],
              layer: lyr,
              maxZoom: s.maxZoom || 17,
              owner: function () {
                return gate;
              }
            });
          }
        }
      }
    });
    st.counts[opt.name || "layer"] = fc.features ? fc.features.length : 0;
    var out = layer;
    if (opt.minZoom) {
      gate = GG.zoomGated(map, layer, opt.minZoom);
      out = gate;
    }
    st.layers[opt.name || "layer" + Object.keys(st.layers).length] = out;
    return out;
  };

  /* Text labels at points: rows [[lat, lon, text]]. */
  GG.labels = function (map, rows, opt) {
    opt = opt || {};
    var g = L.layerGroup();
    rows.forEach(function (r) {
      var span = el("span", "gg-label-text", r[2]);
      L.marker([r[0], r[1]], {
        icon: L.divIcon({ className: "gg-label " + safeClass(opt.className || "x"), html: span, iconSize: null }),
        interactive: false,
        keyboard: false
      }).addTo(g);
    });
    state(map).layers[opt.name || "labels"] = g;
    return g;
  };

  /* Clustered point markers: data = {fields: [...], rows: [[...], ...]} with lat, lon fields. */
  GG.cluster = function (map, data, opt) {
    opt = opt || {};
    var group = L.markerClusterGroup({ maxClusterRadius: 45, chunkedLoading: true, showCoverageOnHover: false });
    var markers = data.rows.map(function (r) {
      var p = {};
      data.fields.forEach(function (f, i) {
        p[f] = r[i];
      });
      var cls = "gg-member" + (opt.classProp && p[opt.classProp] ? " gg-" + safeClass(p[opt.classProp]) : "");
      var m = L.marker([p.lat, p.lon], { icon: L.divIcon({ className: cls, iconSize: [12, 12] }), keyboard: false });
      m.ggProps = p;
      if (opt.popup)
        m.bindPopup(function () {
          return GG.card(p, opt.popup);
        });
      return m;
    });
    group.addLayers(markers);
    state(map).counts[opt.name || "cluster"] = markers.length;
    state(map).layers[opt.name || "cluster"] = group;
    return group;
  };

  /* Markers with a glyph (one character, text) on a coloured disc, and lines between points,
   * each with a card popup. data = {markers: [{lat, lon, color, glyph, cls, props}],
   * lines: [{latlngs: [[lat, lon], ...], color, weight, props}]};
   * opt = {name, className, lineClassName, popup, linePopup (card specs), tooltip (a property)} */
  GG.markers = function (map, data, opt) {
    opt = opt || {};
    var group = L.featureGroup();
    function bind(lyr, p, spec) {
      if (spec)
        lyr.bindPopup(function () {
          return GG.card(p, spec);
        }, { maxWidth: 340 });
      if (opt.tooltip && p[opt.tooltip] != null)
        lyr.bindTooltip(function () {
          return el("span", "gg-tip", p[opt.tooltip]);
        }, { sticky: true });
    }
    (data.lines || []).forEach(function (ln) {
      var p = ln.props || {};
      var line = L.polyline(ln.latlngs, {
        color: ln.color || "#555555",
        weight: ln.weight || 2,
        opacity: 0.85,
        className: safeClass(opt.lineClassName || "gg-line")
      });
      bind(line, p, opt.linePopup);
      group.addLayer(line);
    });
    var n = 0;
    (data.markers || []).forEach(function (mk) {
      var p = mk.props || {};
      var disc = el("span", "gg-glyph", mk.glyph);
      if (mk.color) disc.style.background = mk.color;
      var cls = "gg-marker " + safeClass(opt.className || "x") + (mk.cls ? " " + safeClass(mk.cls) : "");
      var m = L.marker([mk.lat, mk.lon], {
        icon: L.divIcon({ className: cls, html: disc, iconSize: [20, 20], iconAnchor: [10, 10], popupAnchor: [0, -10] }),
        keyboard: false,
        riseOnHover: true
      });
      m.ggProps = p;
      bind(m, p, opt.popup);
      group.addLayer(m);
      n += 1;
    });
    state(map).counts[opt.name || "markers"] = n;
    state(map).layers[opt.name || "markers"] = group;
    return group;
  };

  GG.heat = function (map, points, opt) {
    var h = L.heatLayer(points, opt || {});
    state(map).layers.heat = h;
    return h;
  };

  function flyTo(map, r) {
    var lyr = r.layer;
    var gate = r.owner && r.owner();
    if (gate && !map.hasLayer(gate)) map.addLayer(gate);
    var bounds = lyr.getBounds ? lyr.getBounds() : L.latLngBounds([lyr.getLatLng(), lyr.getLatLng()]);
    var done = false;
    function open() {
      if (done) return;
      done = true;
      if (map.hasLayer(lyr) && lyr.openPopup) lyr.openPopup();
      map.fire("gg:found", { kind: r.kind, label: r.label });
    }
    map.once("moveend", function () {
      setTimeout(open, 0);
    });
    setTimeout(open, 2500);
    map.flyToBounds(bounds, { maxZoom: r.maxZoom, duration: 0.8, padding: [20, 20] });
  }
  GG.flyTo = flyTo;

  /* Search the map's index (grids, communities, buildings); exact and prefix matches first. */
  GG.search = function (map, q, limit) {
    var st = state(map);
    var n = norm(q);
    if (!n) return [];
    var exact = [], prefix = [], other = [];
    for (var i = 0; i < st.index.length; i++) {
      var r = st.index[i];
      var at = r.key.indexOf(n);
      if (at < 0) continue;
      if (r.parts.indexOf(n) >= 0) exact.push(r);
      else if (at === 0) prefix.push(r);
      else other.push(r);
      if (exact.length + prefix.length >= (limit || 10) * 4) break;
    }
    return exact.concat(prefix, other).slice(0, limit || 10);
  };

  GG.SearchControl = L.Control.extend({
    options: { position: "topleft", placeholder: "搜索网格编码、名称、社区或地址" },
    onAdd: function (map) {
      var box = el("div", "gg-search leaflet-bar");
      var input = el("input", "gg-search-input");
      input.type = "search";
      input.placeholder = this.options.placeholder;
      input.setAttribute("aria-label", this.options.placeholder);
      var list = el("ul", "gg-search-results");
      box.appendChild(input);
      box.appendChild(list);
      L.DomEvent.disableClickPropagation(box);
      L.DomEvent.disableScrollPropagation(box);
      var current = [];
      function pick(r) {
        list.textContent = "";
        current = [];
        flyTo(map, r);
      }
      function render() {
        list.textContent = "";
        current = GG.search(map, input.value, 10);
        if (!current.length && input.value.trim()) list.appendChild(el("li", "gg-search-none", "无匹配"));
        current.forEach(function (r) {
          var li = el("li", "gg-search-item");
          li.appendChild(el("span", "gg-search-kind", r.kind));
          li.appendChild(el("span", "gg-search-label", r.label));
          if (r.sub) li.appendChild(el("span", "gg-search-sub", r.sub));
          li.addEventListener("click", function () {
            pick(r);
          });
          list.appendChild(li);
        });
      }
      input.addEventListener("input", render);
      input.addEventListener("keydown", function (e) {
        if (e.key === "Enter") {
          render();
          if (current.length) pick(current[0]);
        } else if (e.key === "Escape") {
          list.textContent = "";
        }
      });
      return box;
    }
  });

  GG.toggleFullscreen = function (map) {
    var c = map.getContainer();
    function pseudo() {
      L.DomUtil.hasClass(c, "gg-pseudo-fullscreen")
        ? L.DomUtil.removeClass(c, "gg-pseudo-fullscreen")
        : L.DomUtil.addClass(c, "gg-pseudo-fullscreen");
      map.invalidateSize();
    }
    if (document.fullscreenElement) {
      document.exitFullscreen();
    } else if (L.DomUtil.hasClass(c, "gg-pseudo-fullscreen") || !c.requestFullscreen) {
      pseudo();
    } else {
      var p = c.requestFullscreen();
      if (p && p.catch) p.catch(pseudo);
    }
  };
  document.addEventListener("fullscreenchange", function () {
    Object.keys(GG.maps).forEach(function (k) {
      GG.maps[k].map.invalidateSize();
    });
  });

  GG.FullscreenControl = L.Control.extend({
    options: { position: "topleft", title: "全屏" },
    onAdd: function (map) {
      var bar = el("div", "leaflet-bar gg-fullscreen");
      var a = el("a", "gg-fullscreen-button", "⛶");
      a.href = "#";
      a.title = this.options.title;
      a.setAttribute("role", "button");
      a.setAttribute("aria-label", this.options.title);
      bar.appendChild(a);
      L.DomEvent.on(a, "click", function (e) {
        L.DomEvent.stop(e);
        GG.toggleFullscreen(map);
      });
      return bar;
    }
  });

  /* Legend: spec = {title, items: [{color, label, outline, dashed}]} */
  GG.LegendControl = L.Control.extend({
    options: { position: "bottomright" },
    initialize: function (spec, options) {
      this.spec = spec;
      L.setOptions(this, options);
    },
    onAdd: function () {
      var box = el("div", "gg-legend gg-panel");
      var spec = this.spec;
      (spec.sections || [spec]).forEach(function (sec) {
        if (sec.title) box.appendChild(el("div", "gg-legend-title", sec.title));
        (sec.items || []).forEach(function (it) {
          var row = el("div", "gg-legend-row");
          var sw = el("span", "gg-swatch" + (it.outline ? " gg-swatch-outline" : "") + (it.line ? " gg-swatch-line" : ""));
          if (it.outline || it.line) sw.style.borderColor = it.color;
          else sw.style.background = it.color;
          if (it.dashed) sw.style.borderStyle = "dashed";
          row.appendChild(sw);
          row.appendChild(el("span", "gg-legend-label", it.label));
          box.appendChild(row);
        });
      });
      L.DomEvent.disableScrollPropagation(box);
      return box;
    }
  });

  /* A panel with a card: spec as GG.card plus the properties object. */
  GG.PanelControl = L.Control.extend({
    options: { position: "topright" },
    initialize: function (props, spec, options) {
      this.props = props;
      this.spec = spec;
      L.setOptions(this, options);
    },
    onAdd: function () {
      var box = el("div", "gg-summary gg-panel");
      box.appendChild(GG.card(this.props, this.spec));
      L.DomEvent.disableClickPropagation(box);
      L.DomEvent.disableScrollPropagation(box);
      return box;
    }
  });

  /* Keep two maps on the same view (own sync, both directions, no loop). */
  GG.sync = function (a, b) {
    var busy = false;
    function link(src, dst) {
      src.on("move zoomend", function () {
        if (busy) return;
        busy = true;
        dst.setView(src.getCenter(), src.getZoom(), { animate: false });
        busy = false;
      });
    }
    link(a, b);
    link(b, a);
    b.setView(a.getCenter(), a.getZoom(), { animate: false });
  };
})();
