"""A campaign's pages: the progress map (``/map/campaigns/{id}``) and the phone page where a
member walks their buildings and records visits (``/m/campaigns/{id}``).

- The map draws the campaign's grids and buildings and colours them by progress; a small JS
  module (:class:`CampaignProgress`, a MacroElement) polls the progress JSON every few seconds
  and repaints. Names and addresses reach the page as JSON (``|tojson``) and are shown with
  ``textContent``.
- The phone page is plain HTML with one served script (``maps/static/geogrid/campaign_m.js``):
  visits go into a queue in ``localStorage`` first and are sent from there (each with its
  client-made UUID, so that a resend is safe), at once when the network is up, later when it
  comes back.
"""

from __future__ import annotations

from typing import Any

from branca.element import MacroElement
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from api.access import in_scope, needs
from geo_grid.campaigns import plan, records
from geo_grid.privacy import mask_name
from maps import _data as D  # noqa: N812
from maps._base import base_map, finish
from maps.assets import render_html
from maps.elements import Template
from maps.routes import STATIC_PREFIX, _page, tiles_of

router = APIRouter(tags=["maps"])

#: How often the map asks for the progress again (milliseconds).
POLL_MS = 4000

GRID_STYLE = {"color": "#444444", "weight": 1.5, "opacity": 0.9, "fillOpacity": 0.3}
BUILDING_STYLE = {"color": "#333333", "weight": 0.6, "opacity": 0.9, "fillOpacity": 0.85}


class CampaignProgress(MacroElement):
    """Grids and buildings coloured by the share of households reached, repainted from the
    progress JSON at ``url`` every ``every_ms``; a panel shows the totals."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
          var map = {{ this._parent.get_name() }};
          var url = {{ this.url|tojson }}, every = {{ this.every_ms|tojson }};
          var gridStyle = {{ this.grid_style|tojson }}, buildingStyle = {{ this.building_style|tojson }};
          var title = {{ this.title|tojson }};
          function colour(p, overdue) {
            if (overdue) { return '#7b3294'; }
            return p >= 100 ? '#1a9850' : p >= 50 ? '#a6d96a' : p > 0 ? '#fdae61' : '#d73027';
          }
          function tip(layer, text) {
            var el = document.createElement('span');
            el.textContent = text;
            layer.unbindTooltip();
            layer.bindTooltip(el, {sticky: true});
          }
          function draw(fc, style) {
            return L.geoJSON(fc, {style: function () { return Object.assign({fillColor: '#d73027'}, style); }}).addTo(map);
          }
          var grids = draw({{ this.grids|tojson }}, gridStyle);
          var buildings = draw({{ this.buildings|tojson }}, buildingStyle);
          if (grids.getBounds().isValid()) { map.fitBounds(grids.getBounds()); }
          var panel = L.control({position: 'topright'});
          var box;
          panel.onAdd = function () {
            box = L.DomUtil.create('div', 'gg-campaign-panel');
            box.style.cssText = 'background:#fff;padding:6px 10px;border-radius:4px;font:13px sans-serif;max-width:260px';
            return box;
          };
          panel.addTo(map);
          function line(text, bold) {
            var d = document.createElement('div');
            d.textContent = text;
            if (bold) { d.style.fontWeight = 'bold'; }
            box.appendChild(d);
          }
          function paint(p) {
            var byGrid = {}, byBuilding = {};
            p.grids.forEach(function (g) { byGrid[g.grid] = g; });
            p.buildings.forEach(function (b) { byBuilding[b.code] = b; });
            grids.eachLayer(function (l) {
              var pr = l.feature.properties, g = byGrid[pr.code];
              if (!g) { return; }
              l.setStyle({fillColor: colour(g.percent, false)});
              tip(l, pr.name + '（' + pr.code + '）' + g.reached + '/' + g.households + ' 户，' + g.percent + '%');
            });
            buildings.eachLayer(function (l) {
              var pr = l.feature.properties, b = byBuilding[pr.code];
              if (!b) { return; }
              l.setStyle({fillColor: colour(b.households ? 100 * b.reached / b.households : 100, b.overdue)});
              tip(l, pr.address + '：' + b.reached + '/' + b.households + ' 户' + (b.overdue ? '（逾期）' : ''));
            });
            box.textContent = '';
            line(title, true);
            line('已走访 ' + p.totals.reached + '/' + p.totals.households + ' 户（' + p.totals.percent + '%）');
            line('完成楼栋 ' + p.totals.done_buildings + '/' + p.totals.buildings + '，逾期 ' + p.totals.overdue_buildings);
            line('更新于 ' + p.as_of);
            document.body.setAttribute('data-gg-campaign-reached', String(p.totals.reached));
          }
          function poll() {
            fetch(url, {credentials: 'same-origin', headers: {'Accept': 'application/json'}})
              .then(function (r) { return r.ok ? r.json() : null; })
              .then(function (p) { if (p) { paint(p); } })
              .catch(function () { /* offline: try again at the next tick */ })
              .then(function () { setTimeout(poll, every); });
          }
          poll();
        })();
        {% endmacro %}
        """
    )

    def __init__(self, grids: dict, buildings: dict, url: str, title: str,
                 every_ms: int = POLL_MS):
        super().__init__()
        self._name = "CampaignProgress"
        self.grids, self.buildings, self.url, self.title = grids, buildings, url, title
        self.every_ms = every_ms
        self.grid_style, self.building_style = GRID_STYLE, BUILDING_STYLE


def campaign_map(district, campaign, codes: set[str], progress_url: str, *,
                 asset_mode: str = "served", static_prefix: str = STATIC_PREFIX, **tiles):
    """The progress map of a campaign over the buildings ``codes`` (those the caller may see).

    Returns
    -------
    folium.Map
    """
    m, proj = base_map(district, asset_mode=asset_mode, static_prefix=static_prefix,
                       page_title=f"走访进度 {campaign.name}", fullscreen=True, **tiles)
    b = district.buildings[district.buildings["code"].isin(codes)]
    g = district.grids[district.grids["code"].isin(set(b["grid_code"]))]
    grid_fc = D.feature_collection(g.geometry.to_numpy(), [
        {"code": str(r.code), "name": str(r.name)} for r in g.itertuples(index=False)], proj)
    building_fc = D.feature_collection(b.geometry.to_numpy(), [
        {"code": str(r.code), "address": str(r.address)} for r in b.itertuples(index=False)], proj)
    CampaignProgress(grid_fc, building_fc, progress_url, campaign.name).add_to(m)
    return finish(m)


def _visible(request: Request, cid: str):
    svc = request.app.state.service
    c = records.get_campaign(svc.store, cid)
    rows = [b for b in records.buildings_of(svc.store, cid) if in_scope(request, b.grid_code)]
    return svc, c, rows


@router.get("/map/campaigns/{cid}", response_class=HTMLResponse,
            dependencies=[needs("read")], summary="Progress map of a campaign (updates itself)")
def campaign_page(cid: str, request: Request) -> HTMLResponse:
    svc, c, rows = _visible(request, cid)
    tiles = tiles_of(request)
    url = request.url_for("get_progress", cid=cid).path
    m = campaign_map(svc.view.district, c, {b.building_code for b in rows}, url, **tiles)
    return _page(render_html(m), tiles)


PHONE_PAGE = Template(
    """<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>入户走访</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="{{ static|e }}/geogrid/campaign_m.css">
</head>
<body>
<header>
  <h1 id="gg-title"></h1>
  <p id="gg-deadline"></p>
  <p><span id="gg-net"></span> <span id="gg-queue"></span></p>
  <label>网格员 <select id="gg-member"></select></label>
</header>
<ol id="gg-list"></ol>
<script id="gg-data" type="application/json">{{ data|tojson }}</script>
<script src="{{ static|e }}/geogrid/campaign_m.js"></script>
</body>
</html>
"""
)


def phone_data(request: Request, svc, campaign, rows) -> dict[str, Any]:
    """What the phone page shows: the caller's visible buildings per member, in walking
    order (members' names masked)."""
    district = svc.view.district
    b = district.buildings
    names = dict(zip(district.members["id"].astype(str), district.members["name"], strict=True))
    addresses = dict(zip(b["code"].astype(str), b["address"].astype(str), strict=True))
    by_member: dict[str | None, list] = {}
    for r in rows:
        by_member.setdefault(r.member_id, []).append(r)
    members = []
    for mid in sorted(by_member, key=lambda k: (k is None, str(k))):
        group = by_member[mid]
        info = {x.building_code: x for x in group}
        order = plan.walking_order([x.building_code for x in group], b)
        label = f"{mask_name(names.get(mid)) or ''}（{mid}）" if mid else "未分配"
        members.append({"id": mid, "label": label, "buildings": [
            {"code": code, "address": addresses.get(code, code), "grid": info[code].grid_code,
             "households": info[code].households, "walk_m": metres}
            for code, metres in order]})
    return {"campaign": {"id": campaign.id, "name": campaign.name,
                         "deadline": campaign.deadline},
            "visits_url": request.url_for("record_visit", cid=campaign.id).path,
            "progress_url": request.url_for("get_progress", cid=campaign.id).path,
            "session_url": "/api/v1/session",
            "members": members}


@router.get("/m/campaigns/{cid}", response_class=HTMLResponse,
            dependencies=[needs("campaign")],
            summary="Phone page of a campaign: a member's buildings in walking order, visits "
                    "recorded (kept on the phone while offline)")
def phone_page(cid: str, request: Request) -> HTMLResponse:
    svc, c, rows = _visible(request, cid)
    html = PHONE_PAGE.render(static=STATIC_PREFIX, data=phone_data(request, svc, c, rows))
    return _page(html, tiles_of(request))
