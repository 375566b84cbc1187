/* geo-grid vector-tile layers: the service's /tiles/{layer}/{z}/{x}/{y}.mvt drawn with
 * Leaflet.VectorGrid (vendored in /static/vectorgrid, no CDN).
 *
 * Feature properties come from the tiles (names, codes, figures) and are shown with GG.card,
 * which puts every value into the page with textContent: nothing here assigns innerHTML.
 *
 * Once a layer has drawn its first view it also loads the tiles in a ring around the view
 * (opt.prefetch, a share of the view's size; half by default), so that a pan finds its tiles
 * drawn already.
 *
 * Figures for the benchmark and the tests, GG.tileStats = {
 *   firstView: when every layer on the map (at a zoom it is drawn at) had drawn its first
 *   view, requested, loaded,
 *   pending: tiles requested and not drawn yet, firstAt / lastAt: first and latest tile drawn,
 *   loads: [ms from a tile's request to its drawing],
 *   blank: [ms a tile stayed blank in view: from when it was in view and not drawn to its
 *           drawing; a tile drawn before it came into view is not counted]}
 * (times in ms since the navigation started).
 */
(function () {
  "use strict";
  var GG = (window.GG = window.GG || {});
  var stats = (GG.tileStats = GG.tileStats || {
    firstView: null, requested: 0, loaded: 0, pending: 0, firstAt: null, lastAt: null,
    loads: [], blank: []
  });

  /* opt: {url (with {z}/{x}/{y}), layer (the MVT layer name), name, style, colorProp,
   * popup (a GG.card spec), minZoom, maxZoom, interactive, prefetch} */
  GG.vtiles = function (map, opt) {
    var base = opt.style || {};
    var styles = {};
    styles[opt.layer] = function (p) {
      var s = L.extend({}, base);
      if (opt.colorProp && p && p[opt.colorProp]) s.fillColor = String(p[opt.colorProp]);
      return s;
    };
    var interactive = opt.interactive !== false && !!opt.popup;
    var layer = L.vectorGrid.protobuf(opt.url, {
      vectorTileLayerStyles: styles,
      rendererFactory: L.svg.tile,
      interactive: interactive,
      minZoom: opt.minZoom || 0,
      maxZoom: opt.maxZoom || 19,
      // tiles are requested while panning, not only when the map stops, and a ring of them
      // is kept beyond the view: fewer blank tiles when panning back and forth
      updateWhenIdle: false,
      keepBuffer: 4,
      fetchOptions: { credentials: "same-origin" }
    });

    // the ring loaded around the view, once the first view is drawn
    var pad = 0;
    var prefetch = opt.prefetch === undefined ? 0.5 : opt.prefetch;
    function viewBounds(center) {
      return L.GridLayer.prototype._getTiledPixelBounds.call(layer, center || map.getCenter());
    }
    layer._getTiledPixelBounds = function (center) {
      var b = viewBounds(center);
      if (!pad) return b;
      var s = b.getSize().multiplyBy(pad);
      return new L.Bounds(b.min.subtract(s), b.max.add(s));
    };
    var all = (GG._vtLayers = GG._vtLayers || []);
    all.push(layer);
    layer.on("load", function () {
      if (layer._ggViewAt !== undefined) return;
      layer._ggViewAt = performance.now();
      var z = map.getZoom();
      var waiting = all.filter(function (l) {
        return map.hasLayer(l) && z >= l.options.minZoom && z <= l.options.maxZoom && l._ggViewAt === undefined;
      });
      if (!waiting.length && stats.firstView === null) stats.firstView = layer._ggViewAt;
      if (prefetch > 0) {
        pad = prefetch;
        layer._update();
      }
    });

    // blank-time accounting: a tile is blank from when it is in view (and not drawn)
    var started = {}; // key -> {coords, at, seenAt}
    function key(c) {
      return c.z + "/" + c.x + "/" + c.y;
    }
    function inView(c) {
      if (!map || c.z !== Math.round(map.getZoom())) return false;
      var range = layer._pxBoundsToTileRange(viewBounds());
      return c.x >= range.min.x && c.x <= range.max.x && c.y >= range.min.y && c.y <= range.max.y;
    }
    function look() {
      var now = performance.now();
      for (var k in started) {
        var t = started[k];
        if (t.seenAt === null && inView(t.coords)) t.seenAt = now;
      }
    }
    map.on("move moveend zoomend", look);
    layer.on("tileloadstart", function (e) {
      var k = key(e.coords);
      stats.requested += 1;
      if (started[k] === undefined) stats.pending += 1;
      var now = performance.now();
      started[k] = { coords: e.coords, at: now, seenAt: inView(e.coords) ? now : null };
    });
    layer.on("tileunload", function (e) {
      // a tile that left the view before it was drawn is no longer blank
      var k = key(e.coords);
      if (started[k] !== undefined) {
        stats.pending -= 1;
        delete started[k];
      }
    });
    layer.on("tileload", function (e) {
      var now = performance.now();
      var k = key(e.coords);
      stats.loaded += 1;
      if (stats.firstAt === null) stats.firstAt = now;
      stats.lastAt = now;
      var t = started[k];
      if (t !== undefined) {
        stats.loads.push(now - t.at);
        if (t.seenAt !== null) stats.blank.push(now - t.seenAt);
        stats.pending -= 1;
        delete started[k];
      }
      map.getContainer().setAttribute("data-gg-tiles-loaded", String(stats.loaded));
    });

    if (interactive) {
      layer.on("click", function (e) {
        var p = (e.layer && e.layer.properties) || {};
        L.popup({ maxWidth: 340 }).setLatLng(e.latlng).setContent(GG.card(p, opt.popup)).openOn(map);
        if (e.originalEvent) L.DomEvent.stopPropagation(e.originalEvent);
      });
    }
    var st = GG.state(map);
    st.layers[opt.name || opt.layer] = layer;
    return layer;
  };
})();
