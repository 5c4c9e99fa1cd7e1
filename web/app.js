/*
 * tocsin NOC page (docs/noc.md).  Plain JS, no framework, nothing loaded
 * from anywhere but this tocsind.
 *
 * The model is one Map: incident id -> the latest tocsin.incident/1 event
 * (without steps).  It is filled by a snapshot (GET /api/v1/incidents,
 * every page) and kept current by the SSE stream (GET /api/v1/events);
 * a snapshot REPLACES the map, so after a reconnect, a reset or a seq gap
 * the board shows exactly the open incidents (no ghost rows).  Events
 * that arrive while a snapshot is read are held and applied after it.
 * When the stream cannot be had the page polls the snapshot every second;
 * when tocsind cannot be reached at all the rows stay on screen, marked
 * stale, and the page keeps trying.
 */
(function () {
  'use strict';

  var POLL_MS = 1000;             /* snapshot period without the stream */
  var WATCHDOG_MS = 2000;         /* /readyz probe when the stream is quiet */
  var REMIND_MS = 30000;          /* sound again while unacknowledged */
  var SEV = { critical: 0, major: 1, minor: 2, warning: 3 };
  var TIER = { premium: 0, standard: 1 };
  var COLOR = {
    open: 'red', reopened: 'red',
    acknowledged: 'yellow', dispatched: 'yellow', on_site: 'yellow',
    cleared: 'green', resolved: 'green', closed: 'green'
  };
  var PROGRESS = { red: 'waiting', yellow: 'being handled', green: 'restored, verifying', grey: 'planned work' };
  var FILTERS = ['q', 'area', 'customer', 'tier', 'state', 'severity', 'planned', 'flapping', 'chronic', 'group'];
  var LEVELS = ['station', 'branch', 'headquarters'];

  var incidents = new Map();      /* id -> event */
  var arriveStart = new Map();    /* id -> ms the arrive clock started */
  var expanded = new Set();       /* ids whose children are shown */
  var announced = new Set();      /* ids a sound was made for */
  var selected = null;            /* id */
  var panelId = null;
  var panelDetail = null;
  var order = [];                 /* ids as rendered, for j/k */

  var S = {
    conn: 'connecting',           /* live | polling | lost | connecting */
    es: null, lastId: null, lastEventAt: 0, lastEvent: null,
    snapshotting: null, held: null, lostSince: 0, firstSnapshot: false,
    pollTimer: null, reconnectTimer: null, reconnectDelay: 1000,
    clockOffset: 0, beeps: 0, lastRemind: 0, audio: null, unlocked: false,
    snapshots: 0
  };

  var $ = function (id) { return document.getElementById(id); };
  var el = function (tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = text;
    return e;
  };
  var now = function () { return Date.now() + S.clockOffset; };
  var store = function (kind, k, v) {
    try {
      if (v == null) window[kind].removeItem(k); else window[kind].setItem(k, v);
    } catch (e) { /* private mode: keep it in memory only */ }
  };
  var load = function (kind, k) {
    try { return window[kind].getItem(k); } catch (e) { return null; }
  };

  /* ---- time ---- */

  function dur(ms) {
    var s = Math.floor(Math.abs(ms) / 1000), d = Math.floor(s / 86400), h = Math.floor(s / 3600) % 24,
      m = Math.floor(s / 60) % 60, x = s % 60;
    if (d > 0) return d + 'd ' + h + 'h';
    if (h > 0) return h + 'h ' + String(m).padStart(2, '0') + 'm';
    if (m > 0) return m + 'm ' + String(x).padStart(2, '0') + 's';
    return x + 's';
  }
  function ts(iso) {
    if (!iso) return '-';
    var d = new Date(iso);
    return isNaN(d) ? iso : d.toLocaleString(undefined, { hour12: false });
  }
  function ms(iso) { var t = Date.parse(iso); return isNaN(t) ? null : t; }

  /* ---- what a row shows ---- */

  function inc(ev) { return ev.incident || {}; }
  function color(i) { return i.planned ? 'grey' : (COLOR[i.state] || 'red'); }
  function stateWord(s) { return String(s || '').replace('_', ' '); }

  /* Start of a clock: ack and resolve run from the opening, arrive from
   * the dispatch (seen live, or read from the timeline). */
  function clockStart(i, name) {
    if (name === 'arrive') return arriveStart.get(i.id) || null;
    return ms(i.opened_at);
  }

  /* {name, deadline, left, breached} of the nearest running clock; null
   * when none runs (idle, stopped, paused or met). */
  function nearest(i) {
    var best = null, cl = i.clocks || {};
    ['ack', 'arrive', 'resolve'].forEach(function (n) {
      var c = cl[n];
      if (!c || c.state !== 'running' || c.paused || c.met || !c.deadline) return;
      var d = ms(c.deadline);
      if (d == null) return;
      if (!best || d < best.deadline) best = { name: n, deadline: d };
    });
    if (best) {
      best.left = best.deadline - now();
      best.breached = best.left < 0;
    }
    return best;
  }

  /* The order: breached first (longest ago first), then the nearest
   * deadline; equal seconds by tier, then severity; no running clock
   * last, oldest first (then tier, severity); then id. */
  function compare(a, b) {
    var ia = inc(a), ib = inc(b), na = nearest(ia), nb = nearest(ib);
    if (na && !nb) return -1;
    if (nb && !na) return 1;
    if (na && nb) {
      var sa = Math.floor(na.deadline / 1000), sb = Math.floor(nb.deadline / 1000);
      if (sa !== sb) return sa - sb;
    } else {
      var oa = ms(ia.opened_at) || 0, ob = ms(ib.opened_at) || 0;
      if (oa !== ob) return oa - ob;
    }
    var t = (TIER[ia.tier] != null ? TIER[ia.tier] : 2) - (TIER[ib.tier] != null ? TIER[ib.tier] : 2);
    if (t) return t;
    var s = (SEV[ia.severity] != null ? SEV[ia.severity] : 4) - (SEV[ib.severity] != null ? SEV[ib.severity] : 4);
    if (s) return s;
    return ia.id < ib.id ? -1 : ia.id > ib.id ? 1 : 0;
  }

  function clockInfo(i, name) {
    var c = (i.clocks || {})[name];
    if (!c) return { cls: 'f-idle', frac: 0, text: name + ': none' };
    if (c.met) return { cls: 'f-met', frac: 1, text: name + ': met' };
    if (c.state === 'stopped') return { cls: c.breached ? 'f-breach' : 'f-met', frac: 1, text: name + (c.breached ? ': breached' : ': stopped') };
    if (c.paused) return { cls: 'f-paused', frac: 0.5, text: name + ': paused' };
    if (c.state !== 'running' || !c.deadline) return { cls: 'f-idle', frac: 0, text: name + ': not started' };
    var d = ms(c.deadline), st = clockStart(i, name), left = d - now(), frac;
    /* the budget's used share where the wall clock is the clock's own
     * (left within the budget); else, on a working-day calendar, the
     * share of the span from its start to the deadline */
    if (c.budget_ms > 0 && left <= c.budget_ms) frac = 1 - left / c.budget_ms;
    else if (st != null && d > st) frac = (now() - st) / (d - st);
    else frac = left <= 0 ? 1 : 0;
    /* the colour is the engine's: the warnings its sla_warning events
     * passed (sla.warnings, whatever the configuration says) */
    var w = c.warnings || 0;
    var cls = left <= 0 ? 'f-breach' : w >= 2 ? 'f-warn2' : w >= 1 ? 'f-warn1' : 'f-ok';
    return {
      cls: cls, frac: Math.max(0, Math.min(1, frac)),
      text: name + (left <= 0 ? ': breached ' + dur(left) + ' ago' : ': ' + dur(left) + ' left')
    };
  }

  /* ---- filters, in the URL ---- */

  function params() { return new URLSearchParams(location.search); }
  function filters() {
    var p = params(), f = {};
    FILTERS.forEach(function (k) { f[k] = p.get(k) || ''; });
    return f;
  }
  function setParam(k, v) {
    var p = params();
    if (v) p.set(k, v); else p.delete(k);
    var q = p.toString();
    history.replaceState(history.state, '', location.pathname + (q ? '?' + q : ''));
  }
  function matches(ev, f) {
    var i = inc(ev), col = color(i);
    if (f.area && i.area !== f.area) return false;
    if (f.customer && !(i.customers || []).some(function (c) { return c.id === f.customer; })) return false;
    if (f.tier && i.tier !== f.tier) return false;
    if (f.severity && f.severity.split(',').indexOf(i.severity) < 0) return false;
    if (f.state) {
      var ok = f.state.split(',').some(function (s) {
        return s === i.state || (s === 'waiting' && col === 'red') || (s === 'handling' && col === 'yellow') ||
          (s === 'restored' && col === 'green');
      });
      if (!ok) return false;
    }
    var flag = function (k) { return !f[k] || String(!!i[k]) === f[k]; };
    if (!flag('planned') || !flag('flapping') || !flag('chronic')) return false;
    if (f.q) {
      var hay = [i.id, i.site, i.area, i.state, i.severity, i.owner, (i.root_cause || {}).alarm,
        (i.root_cause || {}).device].concat((i.customers || []).map(function (c) { return c.id; }))
        .concat((i.alarms || []).map(function (a) { return a.code + ' ' + a.device; })).join(' ').toLowerCase();
      if (f.q.toLowerCase().split(/\s+/).some(function (w) { return w && hay.indexOf(w) < 0; })) return false;
    }
    return true;
  }

  function fillSelect(id, values, current) {
    var s = $(id), have = {}, want = values.slice();
    if (current && want.indexOf(current) < 0) want.push(current);
    want.sort();
    for (var k = s.options.length - 1; k >= 1; k--) have[s.options[k].value] = s.options[k];
    if (Object.keys(have).sort().join('\n') !== want.join('\n')) {
      while (s.options.length > 1) s.remove(1);
      want.forEach(function (v) { var o = el('option', null, v); o.value = v; s.add(o); });
    }
    s.value = current || '';
  }

  function syncFilterInputs() {
    var f = filters(), areas = {}, custs = {};
    incidents.forEach(function (ev) {
      var i = inc(ev);
      if (i.area) areas[i.area] = 1;
      (i.customers || []).forEach(function (c) { custs[c.id] = 1; });
    });
    fillSelect('f-area', Object.keys(areas), f.area);
    fillSelect('f-customer', Object.keys(custs), f.customer);
    ['tier', 'state', 'severity', 'planned', 'flapping', 'chronic', 'group'].forEach(function (k) {
      var s = $('f-' + k);
      if (f[k] && ![].some.call(s.options, function (o) { return o.value === f[k]; })) {
        var o = el('option', null, f[k]); o.value = f[k]; s.add(o);
      }
      s.value = f[k];
    });
    if (document.activeElement !== $('f-q')) $('f-q').value = f.q;
  }

  /* ---- rendering ---- */

  /* The countdown, written into span (kept: rows are updated in place so
   * a click that spans a re-render still lands). */
  function ttbFill(span, i) {
    var n = nearest(i);
    span.className = 'ttb';
    span.replaceChildren();
    if (!n) {
      span.textContent = i.planned ? 'planned' : (i.kind === 'area' ? 'area' : 'no clock');
      span.classList.add('muted');
    } else if (n.breached) {
      span.textContent = 'breached ' + dur(n.left) + ' ago';
      span.classList.add('breached');
      span.appendChild(el('span', 'which', n.name));
    } else {
      span.textContent = dur(n.left);
      span.appendChild(el('span', 'which', n.name));
    }
  }
  function ttbCell(i) {
    var td = el('td', 'c-ttb'), span = el('span', 'ttb');
    ttbFill(span, i);
    td.appendChild(span);
    return td;
  }

  function barFill(bar, c) {
    bar.className = 'bar ' + c.cls;
    bar.firstChild.style.width = Math.round(c.frac * 100) + '%';
    bar.setAttribute('aria-label', c.text);
    bar.title = c.text;
  }

  function clocksCell(i) {
    var td = el('td', 'c-clocks'), box = el('div', 'clocks');
    ['ack', 'arrive', 'resolve'].forEach(function (n) {
      var w = el('div', 'clk'), bar = el('div', 'bar');
      bar.appendChild(el('i'));
      bar.setAttribute('role', 'img');
      barFill(bar, clockInfo(i, n));
      w.appendChild(bar);
      w.appendChild(el('small', null, n));
      box.appendChild(w);
    });
    td.appendChild(box);
    return td;
  }

  function rowLabel(i) {
    var n = nearest(i), col = color(i);
    return i.id + ', ' + stateWord(i.state) + ' (' + PROGRESS[col] + '), ' + (i.severity || '') + ', ' +
      (i.kind === 'area' ? 'area ' + i.area : 'site ' + i.site) +
      (n ? (n.breached ? ', ' + n.name + ' breached ' + dur(n.left) + ' ago' : ', ' + n.name + ' due in ' + dur(n.left)) : '');
  }

  function childIds(ev) {
    var i = inc(ev), out = [];
    if (i.kind !== 'area') return out;
    var links = i.links || [];
    incidents.forEach(function (c) {
      var ci = inc(c);
      if (ci.kind !== 'area' && (ci.area_incident === i.id || links.indexOf(ci.id) >= 0)) out.push(ci.id);
    });
    return out;
  }

  /* What a row shows apart from the passing time: while it holds, the
   * row element is kept and only its times are written (rowTimes). */
  function rowSig(ev, depth) {
    var i = inc(ev);
    return [ev.seq, depth, expanded.has(i.id), i.id === selected, arriveStart.get(i.id) || 0,
      i.kind === 'area' ? childIds(ev).join(',') : ''].join('|');
  }
  function rowTimes(tr, ev) {
    var i = inc(ev), bars = tr.querySelectorAll('.bar'), op = ms(i.opened_at);
    ttbFill(tr.firstChild.firstChild, i);
    ['ack', 'arrive', 'resolve'].forEach(function (n, k) { if (bars[k]) barFill(bars[k], clockInfo(i, n)); });
    var nd = nearest(i);
    tr.dataset.deadline = nd ? String(nd.deadline) : '';
    tr.setAttribute('aria-label', rowLabel(i));
    tr.lastChild.textContent = op ? dur(now() - op) : '';
  }

  function incidentRow(ev, depth) {
    var i = inc(ev), col = color(i), tr = el('tr', 'row c-' + col + (depth ? ' child' : ''));
    tr._key = 'r:' + i.id + ':' + depth;
    tr._sig = rowSig(ev, depth);
    var n = nearest(i);
    tr.dataset.id = i.id;
    tr.dataset.state = i.state || '';
    tr.dataset.color = col;
    tr.dataset.kind = i.kind || 'site';
    tr.dataset.site = i.site || '';
    tr.dataset.area = i.area || '';
    tr.dataset.tier = i.tier || '';
    tr.dataset.sev = i.severity || '';
    tr.dataset.deadline = n ? String(n.deadline) : '';
    tr.setAttribute('aria-label', rowLabel(i));
    tr.setAttribute('tabindex', '-1');
    if (i.id === selected) tr.classList.add('sel');
    tr.appendChild(ttbCell(i));
    var st = el('td'), b = el('span', 'badge c-' + col, stateWord(i.state));
    b.title = PROGRESS[col];
    st.appendChild(b);
    if (i.planned) st.appendChild(el('span', 'tag', 'planned'));
    if (i.flapping) st.appendChild(el('span', 'tag', 'flapping'));
    if (i.chronic) st.appendChild(el('span', 'tag', 'chronic'));
    tr.appendChild(st);
    tr.appendChild(el('td', 'sev-' + i.severity, i.severity || ''));
    var where = el('td');
    var kids = i.kind === 'area' ? childIds(ev) : (i.alarms || []).slice(1);
    if (kids.length) {
      var x = el('button', 'exp', expanded.has(i.id) ? '▾' : '▸');
      x.type = 'button';
      x.dataset.expand = i.id;
      x.setAttribute('aria-expanded', expanded.has(i.id) ? 'true' : 'false');
      x.setAttribute('aria-label', (expanded.has(i.id) ? 'collapse ' : 'expand ') + (i.kind === 'area' ? 'the storm\'s sites' : 'the child alarms'));
      where.appendChild(x);
    }
    if (i.kind === 'area') {
      where.appendChild(document.createTextNode('area storm ' + i.area + ' · ' + (i.links_total != null ? i.links_total : kids.length) + ' sites'));
    } else {
      where.appendChild(document.createTextNode(i.site + ' '));
      where.appendChild(el('span', 'muted', i.area));
    }
    tr.appendChild(where);
    var rc = i.root_cause;
    var cp = i.complaint, rcText = rc ? rc.alarm + ' @ ' + rc.device : i.kind === 'area' ? 'grid outage of the area' :
      cp ? 'complaint from ' + cp.customer + ': ' + (cp.text.length > 60 ? cp.text.slice(0, 57) + '...' : cp.text) : '-';
    var rcTd = el('td', null, rcText);
    if (i.kind !== 'area' && (i.alarms || []).length > 1) rcTd.appendChild(el('span', 'tag', '+' + (i.alarms.length - 1)));
    tr.appendChild(rcTd);
    var cu = el('td');
    (i.customers || []).slice(0, 4).forEach(function (c, k) {
      if (k) cu.appendChild(document.createTextNode(', '));
      cu.appendChild(el('span', 'tier-' + c.tier, c.id + (c.tier === 'premium' ? '★' : '')));
    });
    if ((i.customers || []).length > 4) cu.appendChild(el('span', 'muted', ' +' + (i.customers.length - 4)));
    tr.appendChild(cu);
    tr.appendChild(clocksCell(i));
    tr.appendChild(el('td', null, i.owner || ''));
    tr.appendChild(el('td', null, i.escalation_level == null ? '' : (LEVELS[i.escalation_level] || String(i.escalation_level))));
    var op = ms(i.opened_at);
    tr.appendChild(el('td', 'ttb muted', op ? dur(now() - op) : ''));
    return tr;
  }

  function alarmRow(parentId, a) {
    var tr = el('tr', 'sub');
    tr._key = 'a:' + parentId + ':' + a.device + ':' + a.code;
    tr.dataset.parent = parentId;
    var td = el('td', null, a.active ? 'active' : 'cleared');
    td.colSpan = 3;
    tr.appendChild(td);
    tr.appendChild(el('td', null, a.device));
    tr.appendChild(el('td', 'sev-' + a.severity, a.code + ' (' + a.severity + ')'));
    var t = el('td', null, 'raised ' + ts(a.raised_at) + (a.cleared_at ? ' · cleared ' + ts(a.cleared_at) : ''));
    t.colSpan = 5;
    tr.appendChild(t);
    return tr;
  }

  function groupKeys(ev, g) {
    var i = inc(ev);
    if (g === 'area') return [i.area || '-'];
    if (g === 'site') return [i.kind === 'area' ? 'area ' + i.area : i.site];
    if (g === 'customer') {
      var c = (i.customers || []).map(function (x) { return x.id; });
      return c.length ? c : ['no customer'];
    }
    return [''];
  }

  function render() {
    var f = filters(), tb = $('rows'), list = [], shownChild = new Set();
    incidents.forEach(function (ev) { if (matches(ev, f)) list.push(ev); });
    list.sort(compare);
    /* a storm's sites are under its row */
    list.forEach(function (ev) { if (inc(ev).kind === 'area') childIds(ev).forEach(function (c) { shownChild.add(c); }); });
    var top = list.filter(function (ev) { return !shownChild.has(inc(ev).id); });
    var groups = new Map();
    top.forEach(function (ev) {
      groupKeys(ev, f.group).forEach(function (k) {
        if (!groups.has(k)) groups.set(k, []);
        groups.get(k).push(ev);
      });
    });
    var old = new Map(), nodes = [];
    [].forEach.call(tb.children, function (tr) { if (tr._key) old.set(tr._key, tr); });
    var keep = function (tr, ev) {
      var o = old.get(tr._key);
      if (o && o._sig === tr._sig) {
        if (ev) rowTimes(o, ev);
        nodes.push(o);
      } else nodes.push(tr);
    };
    order = [];
    groups.forEach(function (evs, k) {
      if (f.group) {
        var g = el('tr', 'grp'), td = el('td', null, f.group + ' ' + k + ' · ' + evs.length);
        td.colSpan = 10;
        g.appendChild(td);
        g._key = 'g:' + k;
        g._sig = td.textContent;
        keep(g, null);
      }
      evs.forEach(function (ev) {
        var i = inc(ev);
        var sig = rowSig(ev, 0), o = old.get('r:' + i.id + ':0');
        if (o && o._sig === sig) { rowTimes(o, ev); nodes.push(o); } else nodes.push(incidentRow(ev, 0));
        order.push(i.id);
        if (!expanded.has(i.id)) return;
        if (i.kind === 'area') {
          childIds(ev).map(function (id) { return incidents.get(id); }).sort(compare).forEach(function (c) {
            var cs = rowSig(c, 1), co = old.get('r:' + inc(c).id + ':1');
            if (co && co._sig === cs) { rowTimes(co, c); nodes.push(co); } else nodes.push(incidentRow(c, 1));
            order.push(inc(c).id);
          });
        } else {
          (i.alarms || []).slice(1).forEach(function (a) {
            var tr = alarmRow(i.id, a);
            tr._sig = tr.textContent;
            keep(tr, null);
          });
        }
      });
    });
    var same = nodes.length === tb.children.length && nodes.every(function (n, k) { return n === tb.children[k]; });
    if (!same) tb.replaceChildren.apply(tb, nodes);
    $('empty').hidden = list.length > 0;
    var c = { red: 0, yellow: 0, green: 0, grey: 0 };
    incidents.forEach(function (ev) { c[color(inc(ev))]++; });
    var counts = $('counts');
    counts.replaceChildren();
    [['red', 'waiting'], ['yellow', 'handled'], ['green', 'restored'], ['grey', 'planned']].forEach(function (p) {
      var s = el('span', 'badge c-' + p[0], c[p[0]] + ' ' + p[1]);
      counts.appendChild(s);
    });
    counts.appendChild(el('span', 'muted', list.length + ' shown of ' + incidents.size));
  }

  var renderQueued = false;
  function queueRender() {
    if (renderQueued) return;
    renderQueued = true;
    requestAnimationFrame(function () { renderQueued = false; render(); syncFilterInputs(); });
  }

  /* ---- the header ---- */

  function setConn(c) {
    S.conn = c;
    var e = $('conn');
    e.textContent = c === 'live' ? 'live' : c === 'polling' ? 'polling' : c === 'lost' ? 'stream lost' : 'connecting';
    e.className = 'conn conn-' + c;
    if (c === 'live' || c === 'polling') S.lostSince = 0;
    else if (!S.lostSince) S.lostSince = Date.now();
    $('board').classList.toggle('stale', c === 'lost' || (c === 'connecting' && S.firstSnapshot));
  }

  function tickHeader() {
    var e = $('lastev');
    if (S.lastEvent) {
      e.textContent = 'last event ' + S.lastEvent + ' · ' + dur(Date.now() - S.lastEventAt) + ' ago';
    }
    $('clock').textContent = new Date(now()).toLocaleTimeString(undefined, { hour12: false });
  }

  /* ---- the model ---- */

  function apply(ev, live) {
    var i = inc(ev), id = i.id;
    if (!id) return;
    var old = incidents.get(id);
    if (old && ev.seq <= old.seq) return;
    if (old && ev.seq > old.seq + 1 && live) gap();
    if (i.clocks && i.clocks.arrive && i.clocks.arrive.state === 'running' && !arriveStart.has(id) &&
        (ev.event === 'dispatched' || (old && inc(old).clocks && inc(old).clocks.arrive && inc(old).clocks.arrive.state !== 'running'))) {
      arriveStart.set(id, ms(ev.at));
    }
    if (i.state === 'closed') {
      incidents.delete(id);
      arriveStart.delete(id);
    } else {
      incidents.set(id, ev);
      if (live && !old && S.firstSnapshot) announce(ev);
    }
    if (id === panelId) refreshPanelSoon();
  }

  var gapTimer = null;
  function gap() {
    if (gapTimer) return;
    gapTimer = setTimeout(function () { gapTimer = null; snapshot(); }, 100);
  }

  async function fetchJSON(url, opts) {
    var r = await fetch(url, Object.assign({ cache: 'no-store' }, opts || {}));
    var body = null;
    try { body = await r.json(); } catch (e) { body = null; }
    var date = r.headers.get('Date');
    if (date) {
      var off = Date.parse(date) - Date.now();
      S.clockOffset = Math.abs(off) > 2000 ? off : 0;
    }
    return { status: r.status, body: body };
  }

  /* Reads every page of the list and replaces the model with it. */
  async function snapshot() {
    if (S.snapshotting) return S.snapshotting;
    S.held = [];
    S.snapshotting = (async function () {
      var fresh = new Map(), cursor = null, pages = 0;
      do {
        var r = await fetchJSON('/api/v1/incidents?limit=1000' + (cursor ? '&cursor=' + encodeURIComponent(cursor) : ''));
        if (r.status !== 200 || !r.body) throw new Error('incidents: HTTP ' + r.status);
        r.body.incidents.forEach(function (ev) { fresh.set(inc(ev).id, ev); });
        cursor = r.body.next_cursor;
      } while (cursor && ++pages < 100);
      var before = new Set(incidents.keys());
      incidents = fresh;
      var held = S.held;
      S.held = null;
      held.forEach(function (ev) { apply(ev, false); });
      if (S.firstSnapshot) {
        incidents.forEach(function (ev, id) { if (!before.has(id)) announce(ev); });
      }
      S.firstSnapshot = true;
      S.snapshots++;
      arriveStartsWanted();
      queueRender();
    })();
    try {
      await S.snapshotting;
      return true;
    } catch (e) {
      return false;
    } finally {
      S.snapshotting = null;
      S.held = null;
    }
  }

  /* The arrive clock's start is on the timeline (its dispatch). */
  var arriveFetching = new Set();
  function arriveStartsWanted() {
    incidents.forEach(function (ev, id) {
      var c = (inc(ev).clocks || {}).arrive;
      if (!c || c.state !== 'running' || arriveStart.has(id) || arriveFetching.has(id) || arriveFetching.size >= 4) return;
      arriveFetching.add(id);
      fetchJSON('/api/v1/incidents/' + encodeURIComponent(id)).then(function (r) {
        var st = ((r.body || {}).timeline || []).filter(function (s) { return s.action === 'dispatched'; }).pop();
        if (st) arriveStart.set(id, ms(st.at));
      }).catch(function () {}).finally(function () { arriveFetching.delete(id); });
    });
  }

  /* ---- live: SSE, else polling; stale when neither ---- */

  function onEvent(e) {
    var ev;
    try { ev = JSON.parse(e.data); } catch (x) { return; }
    if (e.lastEventId) S.lastId = e.lastEventId;
    S.lastEventAt = Date.now();
    S.lastEvent = (ev.event || '') + ' ' + (inc(ev).id || '');
    tickHeader();
    if (S.held) S.held.push(ev); else apply(ev, true);
    queueRender();
  }

  function connect() {
    if (S.es) S.es.close();
    clearTimeout(S.reconnectTimer);
    var url = '/api/v1/events' + (S.lastId ? '?last_event_id=' + encodeURIComponent(S.lastId) : '');
    var es = new EventSource(url);
    S.es = es;
    es.addEventListener('incident', onEvent);
    es.addEventListener('reset', function () { snapshot(); });
    es.onopen = function () {
      S.reconnectDelay = 1000;
      stopPolling();
      setConn('live');
      S.lastEventAt = S.lastEventAt || Date.now();
      /* whatever happened while it was away: read the open set again */
      snapshot();
    };
    es.onerror = function () {
      if (S.es !== es) return;
      if (es.readyState === EventSource.CLOSED) {
        es.close();
        S.es = null;
        S.reconnectTimer = setTimeout(connect, S.reconnectDelay);
        S.reconnectDelay = Math.min(S.reconnectDelay * 2, 5000);
      }
      /* the browser retries by itself while CONNECTING; until then the
       * snapshot is polled (no stream route, or tocsind gone) */
      startPolling();
    };
  }

  function startPolling() {
    if (S.pollTimer) return;
    var step = async function () {
      S.pollTimer = setTimeout(step, POLL_MS);
      if (S.es && S.es.readyState === EventSource.OPEN) return;
      var ok = await snapshot();
      if (S.es && S.es.readyState === EventSource.OPEN) return;
      setConn(ok ? 'polling' : 'lost');
    };
    setConn(S.conn === 'live' ? 'lost' : S.conn);
    S.pollTimer = setTimeout(step, 0);
  }
  function stopPolling() { clearTimeout(S.pollTimer); S.pollTimer = null; }

  /* A stream that is open but silent may be a dead peer (no FIN): probe. */
  async function watchdog() {
    if (S.conn !== 'live' || Date.now() - S.lastEventAt < WATCHDOG_MS) return;
    var ac = new AbortController(), t = setTimeout(function () { ac.abort(); }, 1500);
    try {
      var r = await fetch('/readyz', { cache: 'no-store', signal: ac.signal });
      if (r.status >= 500 && S.conn === 'live') throw new Error('not ready');
    } catch (e) {
      if (S.conn === 'live') { setConn('lost'); connect(); }
    } finally { clearTimeout(t); }
  }

  /* ---- sound ---- */

  function muted() { return load('localStorage', 'tocsin.mute') === '1'; }
  function setMute(m) {
    store('localStorage', 'tocsin.mute', m ? '1' : null);
    $('mute').textContent = 'sound: ' + (m ? 'off' : (S.unlocked ? 'on' : 'on (click to allow)'));
    $('mute').setAttribute('aria-pressed', m ? 'true' : 'false');
  }
  function unlockAudio() {
    if (S.unlocked) return;
    S.unlocked = true;
    try {
      var AC = window.AudioContext || window.webkitAudioContext;
      if (AC) S.audio = new AC();
    } catch (e) { S.audio = null; }
    setMute(muted());
  }
  function beep() {
    S.beeps++;
    if (muted() || !S.audio) return;
    try {
      var a = S.audio, t = a.currentTime;
      if (a.state === 'suspended') a.resume();
      [0, 0.25].forEach(function (d) {
        var o = a.createOscillator(), g = a.createGain();
        o.frequency.value = 880;
        g.gain.setValueAtTime(0.0001, t + d);
        g.gain.exponentialRampToValueAtTime(0.3, t + d + 0.02);
        g.gain.exponentialRampToValueAtTime(0.0001, t + d + 0.18);
        o.connect(g).connect(a.destination);
        o.start(t + d);
        o.stop(t + d + 0.2);
      });
    } catch (e) { /* no audio device: the board still works */ }
  }
  function impacting(i) { return !i.planned && (i.customers || []).length > 0; }
  function announce(ev) {
    var i = inc(ev);
    if (announced.has(i.id) || !impacting(i)) return;
    announced.add(i.id);
    S.lastRemind = Date.now();
    beep();
  }
  function remind() {
    var waiting = false;
    announced.forEach(function (id) {
      var ev = incidents.get(id);
      if (!ev) { announced.delete(id); return; }
      if (color(inc(ev)) === 'red') waiting = true;
    });
    if (waiting && Date.now() - S.lastRemind >= REMIND_MS) { S.lastRemind = Date.now(); beep(); }
  }

  /* ---- actions ---- */

  function token() { return load('sessionStorage', 'tocsin.token'); }
  function actor() { return load('localStorage', 'tocsin.actor') || 'noc'; }
  function showTokenState() { $('tokenbtn').textContent = 'token: ' + (token() ? 'set' : 'none'); }

  function toast(text) {
    var t = $('toast');
    t.textContent = text;
    t.hidden = false;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(function () { t.hidden = true; }, 4000);
  }

  function panelMsg(text, ok) {
    var m = $('p-msg');
    m.textContent = text;
    m.className = 'msg' + (ok ? ' ok' : '');
    m.hidden = !text;
  }

  var STEP_OF = { ack: 'acknowledged', dispatch: 'dispatched', on_site: 'on_site', resolve: 'resolved', close: 'closed', pause: 'paused', resume: 'resumed' };

  async function act(id, action) {
    if (!id) return;
    if (!token()) { openToken(); toast('set the bearer token first'); return; }
    var body = { actor: actor() }, note = $('p-note').value.trim();
    if (action === 'note' || action === 'pause') {
      if (!note || panelId !== id) { toast(action + ' needs a text (open the incident, fill "note / pause reason")'); return; }
      body.note = note;
    } else if (note && panelId === id) body.note = note;
    if (action === 'close' && $('p-sat').value) body.satisfaction = Number($('p-sat').value);
    var r;
    try {
      r = await fetchJSON('/api/v1/incidents/' + encodeURIComponent(id) + '/' + action, {
        method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: 'Bearer ' + token() },
        body: JSON.stringify(body)
      });
    } catch (e) {
      report(id, 'tocsind cannot be reached: ' + e.message, false);
      return;
    }
    var err = (r.body && r.body.error) || ('HTTP ' + r.status);
    if (r.status === 200) {
      report(id, action + ' done: ' + id + ' is ' + stateWord((r.body || {}).state), true);
      if (panelId === id) $('p-note').value = '';
      refreshPanelSoon();
    } else if (r.status === 409) {
      /* someone was first: say who, from the timeline */
      var who = '';
      try {
        var d = await fetchJSON('/api/v1/incidents/' + encodeURIComponent(id));
        var step = ((d.body || {}).timeline || []).filter(function (s) { return s.action === STEP_OF[action]; }).pop();
        var owner = inc(d.body || {}).owner;
        if (step && err.indexOf(step.actor) < 0) who = ' — ' + stateWord(step.action) + ' by ' + step.actor + ' at ' + ts(step.at);
        else if (step) who = ' at ' + ts(step.at);
        else if (owner && err.indexOf(owner) < 0) who = ' — owned by ' + owner;
      } catch (e) { /* the server's reason is enough */ }
      report(id, 'refused: ' + err + who, false);
    } else if (r.status === 401) {
      report(id, 'token refused (' + err + '): set it again', false);
      openToken();
    } else {
      report(id, action + ' failed: ' + err, false);
    }
  }
  function report(id, text, ok) {
    if (panelId === id) panelMsg(text, ok);
    toast(text);
  }

  async function planWork() {
    var d = panelDetail ? inc(panelDetail) : null;
    if (!d) return;
    if (!token()) { openToken(); return; }
    var start = new Date($('pl-start').value), end = new Date($('pl-end').value);
    if (isNaN(start) || isNaN(end) || end <= start) { panelMsg('planned work: the end must be after the start', false); return; }
    var body = { start: start.toISOString(), end: end.toISOString(), reason: $('pl-reason').value.trim() || 'planned work', actor: actor() };
    if (d.kind === 'area') body.area = d.area; else body.site = d.site;
    try {
      var r = await fetchJSON('/api/v1/maintenance', {
        method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: 'Bearer ' + token() },
        body: JSON.stringify(body)
      });
      if (r.status === 201) panelMsg('planned work ' + ((r.body || {}).id != null ? '#' + r.body.id + ' ' : '') + 'created at ' + (body.site || 'area ' + body.area), true);
      else panelMsg('planned work refused: ' + ((r.body && r.body.error) || 'HTTP ' + r.status), false);
    } catch (e) { panelMsg('tocsind cannot be reached', false); }
  }

  /* ---- the panel ---- */

  function dl(rows) {
    var t = el('table');
    rows.forEach(function (r) {
      var tr = el('tr');
      tr.appendChild(el('th', null, r[0]));
      var td = el('td');
      if (r[1] instanceof Node) td.appendChild(r[1]); else td.textContent = r[1] == null ? '-' : String(r[1]);
      tr.appendChild(td);
      t.appendChild(tr);
    });
    return t;
  }
  function grid(head, rows) {
    var t = el('table'), h = el('tr');
    head.forEach(function (x) { h.appendChild(el('th', null, x)); });
    t.appendChild(h);
    rows.forEach(function (r) {
      var tr = el('tr');
      r.forEach(function (x) { tr.appendChild(el('td', null, x == null ? '' : String(x))); });
      t.appendChild(tr);
    });
    return t;
  }

  function renderPanel() {
    var body = $('p-body');
    if (!panelDetail) return;
    var d = panelDetail, i = inc(d), col = color(i);
    $('p-title').textContent = i.id + ' · ' + (i.kind === 'area' ? 'area ' + i.area : i.site);
    var frag = document.createDocumentFragment();
    var badge = el('span', 'badge c-' + col, stateWord(i.state));
    badge.setAttribute('aria-label', stateWord(i.state) + ' (' + PROGRESS[col] + ')');
    frag.appendChild(dl([
      ['state', badge], ['progress', PROGRESS[col]], ['severity', i.severity], ['site', i.site], ['area', i.area],
      ['opened', ts(i.opened_at)], ['owner', i.owner],
      ['escalation', i.escalation_level == null ? 'none' : LEVELS[i.escalation_level] || i.escalation_level],
      ['response score', i.response_score], ['resolution', i.resolution_grade],
      ['flags', [i.planned && 'planned' + (i.planned_reason ? ' (' + i.planned_reason + ')' : ''), i.flapping && 'flapping', i.chronic && 'chronic'].filter(Boolean).join(', ') || 'none']
    ]));
    frag.appendChild(el('h3', null, 'Root cause'));
    var rc = i.root_cause;
    frag.appendChild(el('p', null, rc ? rc.alarm + ' on ' + rc.device + ', raised ' + ts(rc.raised_at) :
      i.kind === 'area' ? 'area storm: ' + (i.links_total || (i.links || []).length) + ' sites' :
      i.complaint ? 'complaint from ' + i.complaint.customer + ' (taken by ' + i.complaint.actor + '): ' + i.complaint.text : '-'));
    if (i.kind === 'area' && (i.links || []).length) {
      var ul = el('p');
      i.links.forEach(function (l, k) {
        if (k) ul.appendChild(document.createTextNode(' '));
        var a = el('a', null, l);
        a.href = '/incident/' + encodeURIComponent(l) + location.search;
        a.dataset.open = l;
        ul.appendChild(a);
      });
      frag.appendChild(ul);
    }
    frag.appendChild(el('h3', null, 'Alarms'));
    frag.appendChild(grid(['device', 'alarm', 'severity', 'raised', 'cleared', 'cycles'],
      (i.alarms || []).map(function (a) { return [a.device, a.code, a.severity, ts(a.raised_at), a.cleared_at ? ts(a.cleared_at) : (a.active ? 'active' : '-'), a.cycles]; })));
    frag.appendChild(el('h3', null, 'Customers'));
    frag.appendChild(grid(['customer', 'tier'], (i.customers || []).map(function (c) { return [c.id, c.tier]; })));
    frag.appendChild(el('h3', null, 'Clocks'));
    var cl = el('table', 'pclocks');
    ['ack', 'arrive', 'resolve'].forEach(function (n) {
      var c = (i.clocks || {})[n], info = clockInfo(i, n), tr = el('tr');
      tr.appendChild(el('th', null, n));
      var bar = el('div', 'bar ' + info.cls), f = el('i');
      f.style.width = Math.round(info.frac * 100) + '%';
      bar.appendChild(f);
      bar.setAttribute('role', 'img');
      bar.setAttribute('aria-label', info.text);
      var td = el('td');
      td.appendChild(bar);
      tr.appendChild(td);
      tr.appendChild(el('td', null, info.text.replace(n + ': ', '')));
      tr.appendChild(el('td', null, c && c.deadline ? 'due ' + ts(c.deadline) : ''));
      cl.appendChild(tr);
    });
    frag.appendChild(cl);
    frag.appendChild(el('h3', null, 'Timeline' + (d.timeline_complete === false ? ' (partial: tocsind restarted mid-incident)' : '')));
    frag.appendChild(grid(['at', 'actor', 'action', 'note'], (d.timeline || []).map(function (s) { return [ts(s.at), s.actor, s.action, s.note]; })));
    body.replaceChildren(frag);
    $('p-plan-where').textContent = i.kind === 'area' ? 'area ' + i.area : 'site ' + i.site;
  }

  async function loadPanel(id) {
    try {
      var r = await fetchJSON('/api/v1/incidents/' + encodeURIComponent(id));
      if (panelId !== id) return;
      if (r.status === 200) { panelDetail = r.body; renderPanel(); }
      else if (r.status === 404) {
        panelMsg(id + ' is not open (closed, or never was)', false);
        $('p-title').textContent = id;
        if (!panelDetail) $('p-body').replaceChildren();
      }
    } catch (e) { panelMsg('tocsind cannot be reached', false); }
  }
  var panelTimer = null;
  function refreshPanelSoon() {
    if (!panelId || panelTimer) return;
    panelTimer = setTimeout(function () { panelTimer = null; if (panelId) loadPanel(panelId); }, 150);
  }

  function localInput(t) {
    var d = new Date(t - new Date(t).getTimezoneOffset() * 60000);
    return d.toISOString().slice(0, 16);
  }

  function openPanel(id, push) {
    if (document.body.classList.contains('wall')) return;
    panelId = id;
    panelDetail = null;
    selected = id;
    panelMsg('', false);
    $('p-body').replaceChildren(el('p', 'muted', 'loading ' + id + '...'));
    $('p-title').textContent = id;
    $('panel').hidden = false;
    $('pl-start').value = localInput(Date.now());
    $('pl-end').value = localInput(Date.now() + 2 * 3600 * 1000);
    var path = '/incident/' + encodeURIComponent(id);
    if (push && location.pathname !== path) history.pushState({ id: id }, '', path + location.search);
    loadPanel(id);
    queueRender();
  }
  function closePanel(push) {
    panelId = null;
    panelDetail = null;
    $('panel').hidden = true;
    if (push && location.pathname !== '/') history.pushState({}, '', '/' + location.search);
  }
  function routeFromPath() {
    var m = /^\/incident\/([^/]+)$/.exec(location.pathname);
    if (m) openPanel(decodeURIComponent(m[1]), false); else if (panelId) closePanel(false);
  }

  /* ---- token dialog ---- */

  function openToken() {
    if (document.body.classList.contains('wall')) return;
    $('t-token').value = '';
    $('t-actor').value = load('localStorage', 'tocsin.actor') || '';
    if (!$('tokendlg').open) $('tokendlg').showModal();
  }

  /* ---- theme, wall ---- */

  function applyTheme(t) {
    document.documentElement.setAttribute('data-theme', t);
  }
  function initialTheme() {
    var p = params().get('theme');
    if (p === 'dark' || p === 'light') return p;
    var s = load('localStorage', 'tocsin.theme');
    if (s === 'dark' || s === 'light') return s;
    return window.matchMedia && matchMedia('(prefers-color-scheme: light)').matches ? 'light' : 'dark';
  }
  function toggleTheme() {
    var t = document.documentElement.getAttribute('data-theme') === 'light' ? 'dark' : 'light';
    applyTheme(t);
    store('localStorage', 'tocsin.theme', t);
    if (params().get('theme')) setParam('theme', t);
  }

  /* ---- keys ---- */

  function moveSel(d) {
    if (!order.length) return;
    var k = order.indexOf(selected);
    k = k < 0 ? 0 : Math.max(0, Math.min(order.length - 1, k + d));
    selected = order[k];
    render();
    var tr = document.querySelector('tr.row[data-id="' + CSS.escape(selected) + '"]');
    if (tr) tr.scrollIntoView({ block: 'nearest' });
  }
  function toggleExpand(id) {
    if (!id) return;
    if (expanded.has(id)) expanded.delete(id); else expanded.add(id);
    render();
  }

  function onKey(e) {
    var t = e.target, typing = t && (t.tagName === 'INPUT' || t.tagName === 'SELECT' || t.tagName === 'TEXTAREA');
    unlockAudio();
    if (e.key === 'Escape') {
      if ($('help').open) $('help').close();
      else if (typing) t.blur();
      else if (panelId) closePanel(true);
      return;
    }
    if (typing || e.ctrlKey || e.metaKey || e.altKey) return;
    switch (e.key) {
    case '/': e.preventDefault(); $('f-q').focus(); $('f-q').select(); break;
    case '?': e.preventDefault(); if (!$('help').open) $('help').showModal(); break;
    case 'j': case 'ArrowDown': e.preventDefault(); moveSel(1); break;
    case 'k': case 'ArrowUp': e.preventDefault(); moveSel(-1); break;
    case 'Enter': if (selected) openPanel(selected, true); break;
    case ' ': case 'x': e.preventDefault(); toggleExpand(selected); break;
    case 'a': act(selected, 'ack'); break;
    case 'd': act(selected, 'dispatch'); break;
    case 'm': setMute(!muted()); break;
    case 't': toggleTheme(); break;
    case 'g': {
      var gs = ['', 'area', 'site', 'customer'], f = filters();
      setParam('group', gs[(gs.indexOf(f.group) + 1) % gs.length]);
      queueRender();
      break;
    }
    default: break;
    }
  }

  /* ---- start ---- */

  function init() {
    var p = params();
    if (p.get('wall') === '1') document.body.classList.add('wall');
    applyTheme(initialTheme());
    setMute(muted());
    showTokenState();

    FILTERS.forEach(function (k) {
      var input = $('f-' + k);
      input.addEventListener(k === 'q' ? 'input' : 'change', function () {
        setParam(k, input.value.trim());
        queueRender();
      });
    });
    $('filters').addEventListener('submit', function (e) { e.preventDefault(); });
    $('f-clear').addEventListener('click', function () {
      FILTERS.forEach(function (k) { setParam(k, ''); });
      queueRender();
    });
    $('rows').addEventListener('click', function (e) {
      var x = e.target.closest('[data-expand]');
      if (x) { e.stopPropagation(); selected = x.dataset.expand; toggleExpand(x.dataset.expand); return; }
      var tr = e.target.closest('tr.row');
      if (tr) openPanel(tr.dataset.id, true);
    });
    $('p-body').addEventListener('click', function (e) {
      var a = e.target.closest('a[data-open]');
      if (a) { e.preventDefault(); openPanel(a.dataset.open, true); }
    });
    $('p-close').addEventListener('click', function () { closePanel(true); });
    $('p-actions').addEventListener('click', function (e) {
      var b = e.target.closest('button[data-act]');
      if (b) act(panelId, b.dataset.act);
    });
    $('pl-go').addEventListener('click', planWork);
    $('mute').addEventListener('click', function () { unlockAudio(); setMute(!muted()); });
    $('theme').addEventListener('click', toggleTheme);
    $('helpbtn').addEventListener('click', function () { $('help').showModal(); });
    $('tokenbtn').addEventListener('click', openToken);
    $('tokendlg').addEventListener('close', function () {
      var v = $('tokendlg').returnValue;
      if (v === 'save') {
        var tk = $('t-token').value.trim();
        if (tk) store('sessionStorage', 'tocsin.token', tk);
        store('localStorage', 'tocsin.actor', $('t-actor').value.trim() || null);
      } else if (v === 'forget') store('sessionStorage', 'tocsin.token', null);
      $('t-token').value = '';
      showTokenState();
    });
    document.addEventListener('keydown', onKey);
    /* on click, not pointerdown: the header's sound label changes, and a
     * layout change between press and release would lose the click */
    document.addEventListener('click', unlockAudio, { once: true, capture: true });
    window.addEventListener('popstate', function () { syncFilterInputs(); routeFromPath(); queueRender(); });

    routeFromPath();
    syncFilterInputs();
    snapshot().then(function (ok) { if (!ok && S.conn !== 'live') setConn('lost'); });
    connect();
    setInterval(function () {
      tickHeader();
      remind();
      watchdog();
      if (!renderQueued) render();
      if (panelDetail) renderPanelClocks();
    }, 1000);
    tickHeader();
  }

  /* the panel's countdowns move with the board's, without a refetch */
  function renderPanelClocks() {
    var latest = incidents.get(panelId);
    if (latest && panelDetail && latest.seq > panelDetail.seq) refreshPanelSoon();
    var rows = document.querySelectorAll('#p-body table.pclocks tr');
    var i = inc(panelDetail);
    ['ack', 'arrive', 'resolve'].forEach(function (n, k) {
      var tr = rows[k];
      if (!tr) return;
      var info = clockInfo(i, n), bar = tr.querySelector('.bar');
      bar.className = 'bar ' + info.cls;
      bar.firstChild.style.width = Math.round(info.frac * 100) + '%';
      bar.setAttribute('aria-label', info.text);
      tr.children[2].textContent = info.text.replace(n + ': ', '');
    });
  }

  /* what the browser tests read (tests/browser/noc.mjs) */
  window.__noc = {
    conn: function () { return S.conn; },
    ids: function () { return Array.from(incidents.keys()).sort(); },
    snapshots: function () { return S.snapshots; },
    beeps: function () { return S.beeps; },
    announced: function () { return Array.from(announced).sort(); },
    muted: muted,
    seq: function (id) { var ev = incidents.get(id); return ev ? ev.seq : null; },
    /* an event as if the stream had sent it (the seq-gap check) */
    inject: function (json) { onEvent({ data: json, lastEventId: '' }); },
    lastEventId: function () { return S.lastId; }
  };

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init); else init();
})();
