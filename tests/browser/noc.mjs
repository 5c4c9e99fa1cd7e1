/*
 * noc.mjs - the NOC page in headless Chromium against a real tocsind
 * (issue 14, "How it is checked").  Run by tests/integration/
 * test_noc_page.c, which owns the processes:
 *
 *     node tests/browser/noc.mjs CONFIG.json
 *
 * CONFIG: {base, token, artefacts, ctl, devsimLog, pollMs, chromium}.
 * The C test and this script talk through files in ctl/:
 *   loaded     (this script) the page is up (informative)
 *   kill       (this script) kill -9 tocsind now
 *   stale      (this script) the rows are marked stale: restart tocsind
 *   restarted  (the C test)  tocsind runs again on the same port
 *   result.json (this script) {checks: [{name, status: ok|fail|skip, detail}]}
 * Every wait is bounded; the whole run is bounded by the C test too.
 *
 * The scenario (test_noc_page.c): T1 (north, premium) and T2 (south)
 * lose mains a second apart, then E1-E3 (east) within a second: an area
 * storm (correlation.storm sites: 3).
 */
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import path from 'node:path';

const cfg = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const checks = [];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const ctl = (name) => path.join(cfg.ctl, name);
const t0 = Date.now();
let noEvents = false;		/* this tocsind has no GET /api/v1/events */

function log(s) { process.stdout.write(`noc.mjs +${((Date.now() - t0) / 1000).toFixed(1)}s ${s}\n`); }
function check(name, status, detail) {
  checks.push({ name, status, detail: String(detail ?? '') });
  log(`check ${name} ${status}${detail ? ': ' + detail : ''}`);
}
function save() {
  fs.writeFileSync(ctl('result.json.tmp'), JSON.stringify({ checks }, null, 1));
  fs.renameSync(ctl('result.json.tmp'), ctl('result.json'));
}
async function until(fn, ms, step = 50) {
  const end = Date.now() + ms;
  for (;;) {
    let v;
    try { v = await fn(); } catch (e) { v = undefined; }
    if (v) return v;
    if (Date.now() >= end) return null;
    await sleep(step);
  }
}
async function api(p, opts) {
  const r = await fetch(cfg.base + p, opts);
  let body = null;
  try { body = await r.json(); } catch (e) { body = null; }
  return { status: r.status, body };
}
async function apiIds() {
  const ids = [];
  let cursor = null;
  do {
    const r = await api('/api/v1/incidents?limit=1000' + (cursor ? '&cursor=' + encodeURIComponent(cursor) : ''));
    if (r.status !== 200) throw new Error('list ' + r.status);
    r.body.incidents.forEach((e) => ids.push(e.incident.id));
    cursor = r.body.next_cursor;
  } while (cursor);
  return ids.sort();
}
/* 1 when this tocsind has no GET /api/v1/events route (404 from routing);
 * a stream's headers arrive at once, and the request is then dropped. */
async function eventsMissing() {
  const ac = new AbortController(), t = setTimeout(() => ac.abort(), 3000);
  try {
    const r = await fetch(cfg.base + '/api/v1/events', { signal: ac.signal });
    const missing = r.status === 404 && /no such resource/.test(await r.text());
    ac.abort();
    return missing;
  } catch (e) {
    return false;
  } finally { clearTimeout(t); }
}

async function shot(page, name) {
  try { await page.screenshot({ path: path.join(cfg.artefacts, `noc-${name}.png`), fullPage: true }); } catch (e) { log('screenshot ' + name + ': ' + e.message); }
}

/* The rows as the page shows them, top to bottom. */
function rows(page) {
  return page.$$eval('#rows tr.row', (trs) => trs.map((tr) => ({
    id: tr.dataset.id, site: tr.dataset.site, area: tr.dataset.area, kind: tr.dataset.kind,
    color: tr.dataset.color, state: tr.dataset.state, tier: tr.dataset.tier, sev: tr.dataset.sev,
    deadline: tr.dataset.deadline ? Number(tr.dataset.deadline) : null,
    child: tr.classList.contains('child'), label: tr.getAttribute('aria-label') || '',
    badge: (tr.querySelector('.badge') || {}).textContent || ''
  })));
}

/* Time to breach order of the top-level rows: running deadlines first
 * (by the second), ties by tier then severity, then no deadline. */
function orderProblem(rs) {
  const TIER = { premium: 0, standard: 1 }, SEV = { critical: 0, major: 1, minor: 2, warning: 3 };
  const top = rs.filter((r) => !r.child);
  for (let k = 1; k < top.length; k++) {
    const a = top[k - 1], b = top[k];
    if (a.deadline == null && b.deadline != null) return `${b.id} (deadline) after ${a.id} (none)`;
    if (a.deadline != null && b.deadline != null) {
      const sa = Math.floor(a.deadline / 1000), sb = Math.floor(b.deadline / 1000);
      if (sa > sb) return `${a.id} (due ${new Date(a.deadline).toISOString()}) before ${b.id} (due ${new Date(b.deadline).toISOString()})`;
      if (sa === sb) {
        const ta = TIER[a.tier] ?? 2, tb = TIER[b.tier] ?? 2;
        if (ta > tb) return `${a.id} ${a.tier} before ${b.id} ${b.tier} at the same deadline`;
        if (ta === tb && (SEV[a.sev] ?? 4) > (SEV[b.sev] ?? 4)) return `${a.id} ${a.sev} before ${b.id} ${b.sev} at the same deadline`;
      }
    }
  }
  return null;
}

async function main() {
  fs.mkdirSync(cfg.artefacts, { recursive: true });
  const browser = await chromium.launch({ executablePath: cfg.chromium, args: ['--no-sandbox', '--disable-gpu'] });
  const ctxA = await browser.newContext({ viewport: { width: 1400, height: 800 }, colorScheme: 'dark' });
  const ctxB = await browser.newContext({ viewport: { width: 1400, height: 800 }, colorScheme: 'light' });
  const A = await ctxA.newPage();
  const errors = [];
  let loading = true;
  A.on('console', (m) => { if (m.type() === 'error' && loading) errors.push({ text: m.text(), url: (m.location() || {}).url || '' }); });
  A.on('pageerror', (e) => errors.push({ text: 'pageerror: ' + e.message, url: '' }));

  /* 1. the page loads, no console error */
  await A.goto(cfg.base + '/');
  const up = await until(() => A.evaluate(() => window.__noc && window.__noc.snapshots() > 0), 10000);
  await sleep(1500);
  loading = false;
  const title = await A.title();
  const csp = (await (await fetch(cfg.base + '/')).headers.get('content-security-policy')) || '';
  /* before the SSE route lands, the page's EventSource gets a 404 (and
   * falls back to polling): that one error is the missing API's */
  noEvents = await eventsMissing();
  const real = errors.filter((e) => !(noEvents && /\/api\/v1\/events/.test(e.url)));
  if (!up) check('load', 'fail', 'no snapshot in 10 s');
  else if (real.length) check('load', 'fail', 'console errors: ' + real.map((e) => e.text + ' ' + e.url).join(' | '));
  else if (!/default-src 'none'/.test(csp)) check('load', 'fail', 'no CSP: ' + csp);
  else check('load', 'ok', `"${title}", connection ${await A.evaluate(() => window.__noc.conn())}` +
    (noEvents ? ` (GET /api/v1/events not served yet: its ${errors.length} 404 console errors ignored, the page polls)` : ''));
  await shot(A, 'load');
  fs.writeFileSync(ctl('loaded'), '1');

  /* 2. the scenario's first fault is a red row within the poll interval + 1 s */
  const seen = await until(() => {
    const t = fs.existsSync(cfg.devsimLog) ? fs.readFileSync(cfg.devsimLog, 'utf8') : '';
    return /devsim scenario line=1 .*target=T1/.test(t) ? Date.now() : 0;
  }, 20000, 20);
  if (!seen) check('red_row', 'fail', 'devsim never applied the T1 fault (20 s)');
  else {
    const row = await until(async () => (await rows(A)).find((r) => r.site === 'T1' && r.color === 'red'), 10000, 20);
    const took = Date.now() - seen;
    if (!row) check('red_row', 'fail', 'no red T1 row 10 s after the fault');
    else if (took > cfg.pollMs + 1000) check('red_row', 'fail', `T1 red after ${took} ms > poll ${cfg.pollMs} ms + 1 s`);
    else if (!/open/.test(row.badge.toLowerCase()) || !/waiting/.test(row.label)) check('red_row', 'fail', `state not in words: "${row.badge}" / "${row.label}"`);
    else check('red_row', 'ok', `T1 red ${took} ms after devsim's fault (bound ${cfg.pollMs + 1000} ms): "${row.label}"`);
  }

  /* the header: "live", the last event and its age */
  {
    const read = () => A.evaluate(() => ({ conn: document.getElementById('conn').textContent, last: document.getElementById('lastev').textContent }));
    const h = (await until(async () => { const x = await read(); return /^last event/.test(x.last) ? x : null; }, 2000)) || await read();
    if (noEvents) check('header', 'skip', `GET /api/v1/events not served by this tocsind: the header says "${h.conn}", no stream event to show`);
    else check('header', h.conn === 'live' && /^last event \S+ \S+ · \d+s ago$/.test(h.last) ? 'ok' : 'fail', `"${h.conn}", "${h.last}"`);
  }

  /* the whole scenario is listed */
  const all = await until(async () => { const ids = await apiIds(); return ids.length >= 6 ? ids : null; }, 30000, 200);
  if (!all) log('fewer than 6 incidents after 30 s: ' + JSON.stringify(await apiIds()));
  await until(async () => (await A.evaluate(() => window.__noc.ids().length)) >= (all || []).length, 5000);

  /* the sound: once per new customer-impacting incident (all six are:
   * every site has tenants, the storm names them all), muted by m */
  {
    const ann = await A.evaluate(() => window.__noc.announced());
    const beeps = await A.evaluate(() => window.__noc.beeps());
    const want = (all || []).slice().sort();
    await A.click('h1');
    await A.keyboard.press('m');
    const muted = await A.evaluate(() => window.__noc.muted());
    await A.keyboard.press('m');
    const ok = ann.join() === want.join() && beeps >= ann.length && beeps <= ann.length + 2 && muted;
    check('sound', ok ? 'ok' : 'fail', `beeped for ${ann} (${beeps} beeps; new incidents ${want}); m mutes: ${muted}`);
  }

  /* 3. time-to-breach order, now and as the clock runs */
  {
    let bad = null, n = 0;
    for (let k = 0; k < 3 && !bad; k++) {
      const rs = await rows(A);
      n = rs.length;
      bad = orderProblem(rs);
      if (!bad && rs.filter((r) => r.deadline != null).length < 2) bad = 'fewer than 2 rows with a running deadline';
      await sleep(1500);
    }
    check('order', bad ? 'fail' : 'ok', bad || `${n} rows in time-to-breach order, three times 1.5 s apart`);
    await shot(A, 'order');
  }

  /* the clock bars change colour at the configured warnings (5 %, 10 %
   * here), as the engine's sla_warning events say, not at 50/80 %: T1's
   * premium 2 m ack bar is orange by 12 s while under half full; T2's
   * 1 h one is still plain */
  {
    const bar = (site) => A.evaluate((s) => {
      const tr = [...document.querySelectorAll('#rows tr.row')].find((r) => r.dataset.site === s);
      const b = tr && tr.querySelector('.bar');
      return b ? { cls: b.className, width: parseFloat(b.firstChild.style.width) } : null;
    }, site);
    const t1 = await until(async () => { const b = await bar('T1'); return b && /f-warn2/.test(b.cls) ? b : null; }, 20000, 100);
    const t2 = await bar('T2');
    const row = (await rows(A)).find((r) => r.site === 'T1');
    const ackWarnings = async () => {
      const r = row ? await api('/api/v1/incidents/' + row.id) : null;
      return r && r.body && r.body.incident ? ((r.body.incident.clocks || {}).ack || {}).warnings : undefined;
    };
    const w = (await until(async () => (await ackWarnings()) === 2 ? 2 : null, 3000, 100)) || await ackWarnings();
    if (!t1) check('bars', 'fail', `T1's ack bar not orange in 20 s: ${JSON.stringify(await bar('T1'))}`);
    else if (!(t1.width < 50)) check('bars', 'fail', `T1's ack bar orange only at ${t1.width} % full`);
    else if (!t2 || !/f-ok/.test(t2.cls)) check('bars', 'fail', `T2's ack bar: ${JSON.stringify(t2)}`);
    else if (w !== 2) check('bars', 'fail', `GET /api/v1/incidents/${row && row.id}: ack warnings ${w}`);
    else check('bars', 'ok', `T1's ack bar orange at ${t1.width} % full (warnings 5 %, 10 %; the API says ack.warnings 2), T2's plain at ${t2.width} %`);
    await shot(A, 'bars');
  }

  /* 4. the storm: one area row that expands to its sites */
  {
    const rs = await rows(A);
    const areaRows = rs.filter((r) => r.kind === 'area' && r.area === 'east');
    const eastSites = rs.filter((r) => r.kind === 'site' && r.area === 'east');
    if (areaRows.length !== 1) check('storm', 'fail', `${areaRows.length} area rows for east`);
    else if (eastSites.length) check('storm', 'fail', `east sites shown outside the storm row: ${eastSites.map((r) => r.site)}`);
    else {
      await A.click(`#rows tr.row[data-id="${areaRows[0].id}"] button.exp`);
      const kids = await until(async () => { const k = (await rows(A)).filter((r) => r.child && r.area === 'east'); return k.length >= 3 ? k : null; }, 3000);
      if (!kids) check('storm', 'fail', 'the storm row did not expand to 3 sites');
      else check('storm', 'ok', `${areaRows[0].id} expands to ${kids.map((r) => r.site).sort().join(',')}`);
      await shot(A, 'storm');
      await A.click(`#rows tr.row[data-id="${areaRows[0].id}"] button.exp`);
    }
  }

  /* 5. ack in context A, yellow in context B within a second, actor on B's timeline */
  {
    const B = await ctxB.newPage();
    B.on('pageerror', (e) => log('B pageerror: ' + e.message));
    await B.goto(cfg.base + '/');
    await until(() => B.evaluate(() => window.__noc && window.__noc.snapshots() > 0), 10000);
    const t2 = (await rows(A)).find((r) => r.site === 'T2');
    const probe = await api('/api/v1/incidents/NOPE/ack', { method: 'POST', headers: { Authorization: 'Bearer ' + cfg.token, 'Content-Type': 'application/json' }, body: '{"actor":"probe"}' });
    if (!t2) check('ack', 'fail', 'no T2 row');
    else if (probe.status === 405 || (probe.status === 404 && /no such resource/.test(JSON.stringify(probe.body)))) {
      check('ack', 'skip', `POST /api/v1/incidents/<id>/ack not served by this tocsind (${probe.status}): the writes API has not landed`);
    } else {
      await A.click('#tokenbtn');
      await A.fill('#t-token', cfg.token);
      await A.fill('#t-actor', 'alice-noc');
      await A.click('#t-save');
      await A.click(`#rows tr.row[data-id="${t2.id}"]`);
      await A.waitForSelector('#panel:not([hidden])', { timeout: 3000 });
      const url = A.url();
      const tA = Date.now();
      await A.click('#p-actions button[data-act="ack"]');
      const yellow = await until(async () => (await rows(B)).find((r) => r.id === t2.id && r.color === 'yellow'), 5000, 20);
      const took = Date.now() - tA;
      if (!yellow) check('ack', 'fail', `${t2.id} not yellow in the second context in 5 s`);
      else if (took > 1000) check('ack', 'fail', `${t2.id} yellow in the second context after ${took} ms > 1 s`);
      else {
        await B.click(`#rows tr.row[data-id="${t2.id}"]`);
        const actor = await until(() => B.$eval('#p-body', (e) => /alice-noc/.test(e.textContent) && /acknowledged/.test(e.textContent)), 5000);
        check('ack', actor ? 'ok' : 'fail', actor ? `${t2.id} yellow in context B ${took} ms after A's click; B's timeline shows alice-noc (deep link ${url})` : 'the timeline in B does not show alice-noc acknowledged');
      }
      await shot(B, 'ack-second-context');
      /* the same ack again: the server's 409 and who was first */
      await A.click('#p-actions button[data-act="ack"]');
      const msg = await until(async () => { const t = await A.$eval('#p-msg', (e) => e.hidden ? '' : e.textContent); return /refused/.test(t) ? t : null; }, 5000);
      check('conflict', msg && /alice-noc/.test(msg) ? 'ok' : 'fail', msg || 'no refusal shown for a second ack');
      await shot(A, 'conflict');
      /* planned work at this site, from the panel */
      await A.click('#p-plan summary');
      await A.fill('#pl-reason', 'rectifier swap (noc test)');
      await A.click('#pl-go');
      const planned = await until(async () => { const t = await A.$eval('#p-msg', (e) => e.hidden ? '' : e.textContent); return /planned work/.test(t) ? t : null; }, 5000);
      const listed = await api('/api/v1/maintenance');
      const win = ((listed.body || {}).windows || []).find((w) => w.site === t2.site && /noc test/.test(w.reason || ''));
      check('plan', planned && /created/.test(planned) && win ? 'ok' : 'fail', `${planned}; GET /api/v1/maintenance ${win ? 'lists it: ' + JSON.stringify(win) : 'does not list it'}`);
      await A.click('#p-close');
    }
    await B.close();
  }

  /* a seq gap (an event two past the one held) reads the list again */
  {
    const t1 = (await rows(A)).find((r) => r.site === 'T1');
    const detail = await api('/api/v1/incidents/' + encodeURIComponent(t1.id));
    const ev = Object.assign({}, detail.body);
    delete ev.timeline;
    delete ev.timeline_complete;
    const before = await A.evaluate(() => window.__noc.snapshots());
    ev.seq = detail.body.seq + 2;
    ev.incident = Object.assign({}, ev.incident, { state: 'resolved' });
    await A.evaluate((j) => window.__noc.inject(j), JSON.stringify(ev));
    const again = await until(async () => (await A.evaluate(() => window.__noc.snapshots())) > before, 3000);
    const held = await until(async () => (await A.evaluate((id) => window.__noc.seq(id), t1.id)) === (await api('/api/v1/incidents/' + encodeURIComponent(t1.id))).body.seq, 3000);
    const conn = await A.evaluate(() => window.__noc.conn());
    check('seq_gap', again && held ? 'ok' : 'fail', `(${conn}${conn === 'polling' ? ': the page reads the list each second anyway' : ''}) ${t1.id} seq ${detail.body.seq} then ${ev.seq}: ${again ? 'the list was read again' : 'no new read'}, ${held ? 'the page holds the server\'s seq again' : 'the page kept the gapped event'}`);
  }

  /* a dead sink (Redis on a port where nothing listens) never blanks the
   * board: /healthz says so, the rows are there */
  {
    const h = await api('/healthz');
    const n = (await rows(A)).length;
    const redisDown = h.status === 503 && /redis/.test(JSON.stringify(h.body));
    check('dead_sink', redisDown && n > 0 ? 'ok' : 'fail', `/healthz ${h.status} ${redisDown ? '(Redis unreachable)' : JSON.stringify(h.body)}, ${n} rows on the board`);
  }

  /* keys: ? help, Esc, j/k selection, / filter */
  {
    await A.keyboard.press('Escape');
    await A.click('h1');
    await A.keyboard.press('?');
    const help = await until(() => A.$eval('#help', (d) => d.open), 2000);
    await A.keyboard.press('Escape');
    const closed = await until(() => A.$eval('#help', (d) => !d.open), 2000);
    for (let k = 0; k < 12; k++) await A.keyboard.press('k');
    await A.keyboard.press('j');
    await A.keyboard.press('k');
    const sel = await A.$eval('#rows tr.row.sel', (tr) => tr.dataset.id).catch(() => null);
    const first = (await rows(A))[0];
    await A.keyboard.press('/');
    const focus = await A.evaluate(() => document.activeElement && document.activeElement.id);
    await A.keyboard.press('Escape');
    const ok = help && closed && sel && first && sel === first.id && focus === 'f-q';
    check('keys', ok ? 'ok' : 'fail', `? help ${!!help}, Esc ${!!closed}, k... j k selects ${sel} (first row ${first && first.id}), / focuses ${focus}`);
  }

  /* a deep link opens the incident's panel, read only, with its timeline */
  {
    const t1 = (await rows(A)).find((r) => r.site === 'T1');
    const D = await ctxA.newPage();
    await D.goto(cfg.base + '/incident/' + encodeURIComponent(t1.id));
    const shown = await until(() => D.$eval('#p-body', (e) => /Timeline/.test(e.textContent) && /MAINS_FAIL/.test(e.textContent) && /cucc/.test(e.textContent) ? e.textContent.length : 0), 5000);
    const title = await D.$eval('#p-title', (e) => e.textContent);
    check('deep_link', shown && title.indexOf(t1.id) === 0 ? 'ok' : 'fail', `/incident/${t1.id}: panel "${title}"`);
    await shot(D, 'panel');
    await D.close();
  }

  /* a customer's complaint (POST /api/v1/complaints) is a row of its own */
  {
    const r = await api('/api/v1/complaints', { method: 'POST', headers: { Authorization: 'Bearer ' + cfg.token, 'Content-Type': 'application/json' },
      body: JSON.stringify({ customer: 'cmcc', site: 'T1', text: 'calls drop every evening', actor: 'desk-7' }) });
    if (r.status === 404 || r.status === 405) check('complaint', 'skip', `POST /api/v1/complaints not served by this tocsind (${r.status})`);
    else if (r.status !== 201) check('complaint', 'fail', `POST /api/v1/complaints: ${r.status} ${JSON.stringify(r.body)}`);
    else {
      const id = r.body.incident;
      const row = await until(async () => (await rows(A)).find((x) => x.id === id), 3000, 50);
      const text = row ? await A.$eval(`#rows tr.row[data-id="${id}"]`, (tr) => tr.textContent) : '';
      check('complaint', row && row.color === 'red' && /complaint from cmcc: calls drop/.test(text) ? 'ok' : 'fail', row ? `${id}: "${row.label}"` : `${id} not on the board in 3 s`);
    }
  }

  /* 6. a filter survives a reload through the URL */
  {
    await A.selectOption('#f-area', 'north');
    await sleep(300);
    const u = new URL(A.url());
    await A.reload();
    await until(() => A.evaluate(() => window.__noc && window.__noc.snapshots() > 0), 10000);
    await sleep(300);
    const v = await A.$eval('#f-area', (s) => s.value);
    const rs = await rows(A);
    const ok = u.searchParams.get('area') === 'north' && v === 'north' && rs.length > 0 && rs.every((r) => r.area === 'north');
    check('filter_reload', ok ? 'ok' : 'fail', `URL ${u.search}, after reload area=${v}, rows ${rs.map((r) => r.area).join(',')}`);
    await shot(A, 'filter');
    await A.click('#f-clear');
  }

  /* wall screen, dark: a picture for the artefacts */
  {
    const W = await ctxA.newPage();
    await W.goto(cfg.base + '/?wall=1&theme=dark');
    await until(() => W.evaluate(() => window.__noc && window.__noc.snapshots() > 0), 10000);
    await sleep(500);
    await shot(W, 'wall');
    await W.close();
  }

  /* 7. kill -9, stale within 5 s, restart, the rows equal the API's */
  {
    const before = await A.evaluate(() => window.__noc.conn());
    fs.writeFileSync(ctl('kill'), '1');
    const tk = Date.now();
    const stale = await until(() => A.$eval('#board', (t) => t.classList.contains('stale')), 8000);
    const staleMs = Date.now() - tk;
    const rowsLeft = (await rows(A)).length;
    await shot(A, 'stale');
    fs.writeFileSync(ctl('stale'), '1');
    check('stale', stale && staleMs <= 5000 && rowsLeft > 0 ? 'ok' : 'fail',
      stale ? `rows marked stale ${staleMs} ms after the kill, ${rowsLeft} rows kept` : 'never marked stale');
    const restarted = await until(() => fs.existsSync(ctl('restarted')), 40000, 100);
    if (!restarted) check('restart', 'fail', 'tocsind was not restarted');
    else {
      let last = '';
      const same = await until(async () => {
        const conn = await A.evaluate(() => window.__noc.conn());
        /* the stream when tocsind serves it, else the page's polling */
        if (conn !== 'live' && (conn !== 'polling' || !noEvents)) { last = 'connection ' + conn; return false; }
        const want = await apiIds();
        const model = await A.evaluate(() => window.__noc.ids());
        const dom = await rows(A);
        const domIds = new Set(dom.map((r) => r.id));
        const ghost = dom.filter((r) => want.indexOf(r.id) < 0).map((r) => r.id);
        last = `api ${want} page ${model} ghosts ${ghost} conn ${conn}`;
        if (ghost.length || model.join() !== want.join()) return false;
        /* every open incident is a row, or a site under a collapsed storm row */
        return want.every((id) => domIds.has(id) || dom.some((r) => r.kind === 'area')) ? conn : false;
      }, 30000, 250);
      check('restart', same ? 'ok' : 'fail', same ? `reconnected (${same}, was ${before}); rows equal /api/v1/incidents` : last);
      await shot(A, 'restarted');
    }
  }
  await browser.close();
}

try {
  await main();
} catch (e) {
  check('run', 'fail', e.stack || e.message);
}
save();
process.exit(0);
