/* geo-grid vector-tile layers: the service's /tiles/{layer}/{z}/{x}/{y}.mvt drawn with
 * Leaflet.VectorGrid (vendored in /static/vectorgrid, no CDN).
 *
 * Feature properties come from the tiles (names, codes, figures) and are shown with GG.card,
 * which puts every value into the page with textContent: nothing here assigns innerHTML.
 *
 * Each layer counts its tiles for the benchmark and the tests: GG.tileStats = {requested,
 * loaded, pending (tiles in view not drawn yet), firstAt and lastAt (ms since navigation start
 * of the first and the latest tile drawn), loads: [ms from a tile's request to its drawing,
 * i.e. how long its place stayed blank, ...]}.
 */
(function () {
  "use strict";
  var GG = (window.GG = window.GG || {});
  var stats = (GG.tileStats = GG.tileStats || { requested: 0, loaded: 0, pending: 0, firstAt: null, lastAt: null, loads: [] });

  /* opt: {url (with {z}/{x}/{y}), layer (the MVT layer name), name, style, colorProp,
   * popup (a GG.card spec), minZoom, maxZoom, interactive} */
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
      keepBuffer: 3,
      fetchOptions: { credentials: "same-origin" }
    });
    var started = {};
    function key(e) {
      return e.coords.z + "/" + e.coords.x + "/" + e.coords.y;
    }
    layer.on("tileloadstart", function (e) {
      stats.requested += 1;
      if (started[key(e)] === undefined) stats.pending += 1;
      started[key(e)] = performance.now();
    });
    layer.on("tileunload tileabort", function (e) {
      // a tile that left the view before it was drawn is no longer blank
      if (started[key(e)] !== undefined) {
        stats.pending -= 1;
        delete started[key(e)];
      }
    });
    layer.on("tileload", function (e) {
      var now = performance.now();
      stats.loaded += 1;
      if (stats.firstAt === null) stats.firstAt = now;
      stats.lastAt = now;
      if (started[key(e)] !== undefined) {
        stats.loads.push(now - started[key(e)]);
        stats.pending -= 1;
        delete started[key(e)];
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
