/* The phone page of a campaign: a member's buildings in walking order, visits recorded.
 *
 * A visit is first put in a queue kept in localStorage (with a UUID made here), then the queue
 * is sent one visit at a time; a visit leaves the queue only once the service answered it
 * (201, or 200 for one it had already recorded), so a dropped network keeps it on the phone
 * and a resend is never counted twice. The queue is sent again when the browser comes back
 * online and every few seconds. State-changing requests carry the session's CSRF token
 * (read from /api/v1/session). Every text is set with textContent.
 */
(function () {
  'use strict';
  var data = JSON.parse(document.getElementById('gg-data').textContent);
  var KEY = 'gg-campaign-queue:' + data.campaign.id;
  var STATUS = [['done', '已走访'], ['not_home', '不在家'], ['refused', '拒访']];
  var csrf = null, sending = false;
  var reached = {};  // building code -> households reached (as the service last answered)

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined) { e.textContent = text; }
    return e;
  }
  function queue() {
    try { return JSON.parse(localStorage.getItem(KEY) || '[]'); } catch (e) { return []; }
  }
  function save(q) { localStorage.setItem(KEY, JSON.stringify(q)); showState(); }
  function uuid() {
    if (window.crypto && crypto.randomUUID) { return crypto.randomUUID(); }
    var b = new Uint8Array(16);
    crypto.getRandomValues(b);
    b[6] = (b[6] & 15) | 64; b[8] = (b[8] & 63) | 128;
    var h = Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join('');
    return h.slice(0, 8) + '-' + h.slice(8, 12) + '-' + h.slice(12, 16) + '-' + h.slice(16, 20) + '-' + h.slice(20);
  }
  function showState() {
    var net = document.getElementById('gg-net');
    net.textContent = navigator.onLine ? '在线' : '离线';
    net.className = navigator.onLine ? '' : 'offline';
    var n = queue().length;
    document.getElementById('gg-queue').textContent = n ? '待发送 ' + n + ' 条' : '已全部发送';
    document.body.setAttribute('data-queued', String(n));
  }
  function token() {
    if (csrf) { return Promise.resolve(csrf); }
    return fetch(data.session_url, {credentials: 'same-origin'})
      .then(function (r) { if (!r.ok) { throw new Error('session ' + r.status); } return r.json(); })
      .then(function (s) { csrf = s.csrf; return csrf; });
  }
  function drop(id) { save(queue().filter(function (v) { return v.id !== id; })); }
  function sendNext(t) {
    var q = queue();
    if (!q.length) { return null; }
    var v = q[0];
    return fetch(data.visits_url, {
      method: 'POST', credentials: 'same-origin',
      headers: {'Content-Type': 'application/json', 'X-CSRF-Token': t},
      body: JSON.stringify(v)
    }).then(function (r) {
      if (r.status === 200 || r.status === 201) {
        return r.json().then(function (a) {
          reached[a.building] = a.building_reached;
          drop(v.id);
          paintBuilding(a.building, '');
          return sendNext(t);
        });
      }
      if (r.status === 401 || r.status === 408 || r.status === 429 || r.status >= 500) {
        csrf = null;
        throw new Error('later');  // kept: sent again later
      }
      // refused for good (outside the scope, too many households...): shown, not resent
      return r.json().catch(function () { return {}; }).then(function (p) {
        drop(v.id);
        paintBuilding(v.building, '未记录：' + (p.detail || r.status));
        return sendNext(t);
      });
    });
  }
  function flush() {
    showState();
    if (sending || !queue().length || !navigator.onLine) { return; }
    sending = true;
    token().then(sendNext).catch(function () { /* offline or logged out: kept */ })
      .then(function () { sending = false; showState(); });
  }
  function record(b, li) {
    var hh = parseInt(li.querySelector('input.hh').value, 10);
    var v = {id: uuid(), building: b.code, unit: li.querySelector('input.unit').value,
             households_reached: isNaN(hh) ? 0 : hh,
             status: li.querySelector('select.status').value,
             member: document.getElementById('gg-member').value || null,
             at: new Date().toISOString()};
    var q = queue();
    q.push(v);
    save(q);
    paintBuilding(b.code, '已保存，待发送');
    flush();
  }
  var items = {};
  function paintBuilding(code, msg) {
    var it = items[code];
    if (!it) { return; }
    if (reached[code] !== undefined) {
      it.state.textContent = '已走访 ' + reached[code] + '/' + it.b.households + ' 户';
      it.li.classList.toggle('done', reached[code] >= it.b.households);
    }
    it.msg.textContent = msg;
  }
  function showMember() {
    var mid = document.getElementById('gg-member').value;
    var m = data.members.filter(function (x) { return String(x.id) === mid; })[0] || data.members[0];
    var list = document.getElementById('gg-list');
    list.textContent = '';
    items = {};
    if (!m) { return; }
    m.buildings.forEach(function (b, i) {
      var li = el('li');
      li.setAttribute('data-code', b.code);
      li.appendChild(el('div', 'addr', b.address));
      li.appendChild(el('div', 'meta', b.households + ' 户 · 网格 ' + b.grid +
        (i ? ' · 距上一栋 ' + Math.round(b.walk_m) + ' 米' : ' · 起点')));
      var state = el('div', 'meta', '');
      li.appendChild(state);
      var row = el('div', 'row');
      var unit = el('input', 'unit'); unit.placeholder = '单元'; unit.maxLength = 32;
      var hh = el('input', 'hh'); hh.type = 'number'; hh.min = '0'; hh.max = String(b.households);
      hh.value = '0'; hh.setAttribute('aria-label', '走访户数');
      var st = el('select', 'status');
      STATUS.forEach(function (s) { var o = el('option', '', s[1]); o.value = s[0]; st.appendChild(o); });
      var btn = el('button', 'record', '记录');
      btn.type = 'button';
      btn.addEventListener('click', function () { record(b, li); });
      [unit, hh, st, btn].forEach(function (x) { row.appendChild(x); });
      li.appendChild(row);
      var msg = el('div', 'msg', '');
      li.appendChild(msg);
      list.appendChild(li);
      items[b.code] = {li: li, b: b, state: state, msg: msg};
      paintBuilding(b.code, '');
    });
  }
  function loadProgress() {
    if (!navigator.onLine) { return; }
    fetch(data.progress_url, {credentials: 'same-origin'})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (p) {
        if (!p) { return; }
        p.buildings.forEach(function (b) { reached[b.code] = b.reached; });
        Object.keys(items).forEach(function (c) { paintBuilding(c, items[c].msg.textContent); });
      }).catch(function () {});
  }

  document.getElementById('gg-title').textContent = data.campaign.name;
  document.getElementById('gg-deadline').textContent = '截止：' + data.campaign.deadline;
  var sel = document.getElementById('gg-member');
  data.members.forEach(function (m) {
    var o = el('option', '', m.label);
    o.value = m.id === null ? '' : m.id;
    sel.appendChild(o);
  });
  sel.addEventListener('change', showMember);
  showMember();
  loadProgress();
  window.addEventListener('online', flush);
  window.addEventListener('offline', showState);
  setInterval(flush, 3000);
  flush();
})();
