/**
 * The dashboard's one page: plain HTML, inline CSS, inline JS and SVG charts, so weft serves it
 * as it is (no build step, no CDN, no framework). It opens /events and draws every snapshot;
 * the buttons POST to /api/* with the cookie the token set. Everything from the cluster is put
 * in the page as text (textContent), never as markup: task names and errors are not trusted.
 */

export function renderPage(nonce: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>weft dashboard</title>
<style nonce="${nonce}">${CSS}</style>
</head>
<body>
<header>
  <h1>weft</h1><span id="source"></span>
  <span id="live" class="pill">connecting…</span>
</header>
<main>
  <section class="cards" id="totals"></section>
  <section class="charts">
    <figure><figcaption>throughput <b id="rate-now"></b></figcaption><svg id="chart-rate" viewBox="0 0 300 80" preserveAspectRatio="none"></svg></figure>
    <figure><figcaption>failures <b id="fail-now"></b></figcaption><svg id="chart-fail" viewBox="0 0 300 80" preserveAspectRatio="none"></svg></figure>
  </section>
  <section><h2>Workers</h2><p class="note" id="drain-note"></p><table id="workers"></table></section>
  <section><h2>Queues</h2><table id="queues"></table></section>
  <section><h2>Running tasks</h2><p class="note" id="tasks-note"></p><p class="note" id="revoke-note"></p><table id="running"></table></section>
  <section><h2>Recent tasks</h2><table id="recent"></table></section>
  <section><h2>Dead letters</h2><p class="note" id="retry-note"></p><table id="dead"></table></section>
</main>
<div id="toast" role="status"></div>
<script nonce="${nonce}">${SCRIPT}</script>
</body>
</html>`;
}

const CSS = `
:root { --bg: #f6f7f9; --card: #fff; --ink: #1d2330; --muted: #6b7385; --line: #e3e6eb; --ok: #1f9d55; --bad: #d64545; --accent: #3867d6; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; background: var(--bg); color: var(--ink); }
header { display: flex; align-items: center; gap: 12px; padding: 10px 20px; background: var(--ink); color: #fff; }
header h1 { font-size: 18px; margin: 0; letter-spacing: .5px; }
#source { color: #c5cbd8; font-family: ui-monospace, monospace; font-size: 12px; flex: 1; }
.pill { padding: 2px 10px; border-radius: 10px; background: #555; font-size: 12px; }
.pill.live { background: var(--ok); } .pill.down { background: var(--bad); }
main { padding: 16px 20px; display: grid; gap: 16px; }
section { background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: 12px 14px; overflow-x: auto; }
section.cards, section.charts { background: none; border: 0; padding: 0; display: grid; gap: 12px; }
section.cards { grid-template-columns: repeat(auto-fit, minmax(120px, 1fr)); }
section.charts { grid-template-columns: repeat(auto-fit, minmax(280px, 1fr)); }
.card, figure { background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: 10px 14px; margin: 0; }
.card .v { font-size: 22px; font-weight: 600; } .card .k { color: var(--muted); font-size: 12px; }
figcaption { color: var(--muted); font-size: 12px; margin-bottom: 4px; } figcaption b { color: var(--ink); }
svg { width: 100%; height: 80px; display: block; }
h2 { font-size: 14px; margin: 0 0 8px; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th { text-align: left; color: var(--muted); font-weight: 500; border-bottom: 1px solid var(--line); padding: 4px 8px; white-space: nowrap; }
td { border-bottom: 1px solid var(--line); padding: 4px 8px; vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.mono, td.err { font-family: ui-monospace, monospace; font-size: 12px; }
td.err { color: var(--bad); max-width: 520px; word-break: break-word; }
.empty { color: var(--muted); font-style: italic; }
.note { color: var(--muted); font-size: 12px; margin: 0 0 6px; } .note:empty { display: none; }
.state-ready, .state-done { color: var(--ok); } .state-draining, .state-running { color: var(--accent); } .state-unresponsive, .state-failed { color: var(--bad); }
button { font: inherit; font-size: 12px; padding: 2px 10px; border: 1px solid var(--accent); background: #fff; color: var(--accent); border-radius: 4px; cursor: pointer; }
button:hover { background: var(--accent); color: #fff; } button:disabled { opacity: .5; cursor: default; }
button.danger { border-color: var(--bad); color: var(--bad); } button.danger:hover { background: var(--bad); color: #fff; }
.bar { display: inline-block; width: 80px; height: 8px; background: var(--line); border-radius: 4px; margin-right: 6px; vertical-align: middle; overflow: hidden; }
.bar i { display: block; height: 100%; background: var(--accent); }
#toast { position: fixed; right: 16px; bottom: 16px; background: var(--ink); color: #fff; padding: 8px 14px; border-radius: 6px; opacity: 0; transition: opacity .2s; max-width: 480px; }
#toast.show { opacity: .95; }
`;

// Plain ES2017 for any browser; no template literals (this whole script sits inside one).
const SCRIPT = `
(function () {
  'use strict';
  var $ = function (id) { return document.getElementById(id); };
  function h(tag, attrs) {
    var el = document.createElement(tag);
    for (var k in attrs || {}) {
      if (k === 'text') el.textContent = attrs[k];
      else if (k === 'onclick') el.addEventListener('click', attrs[k]);
      else if (k === 'width') el.style.width = attrs[k]; // CSSOM: the CSP refuses style attributes
      else if (attrs[k] !== undefined && attrs[k] !== null) el.setAttribute(k, attrs[k]);
    }
    for (var i = 2; i < arguments.length; i++) if (arguments[i] != null) el.appendChild(typeof arguments[i] === 'string' ? document.createTextNode(arguments[i]) : arguments[i]);
    return el;
  }
  function ago(ms) { return ms < 0 ? 'now' : secs(ms) + ' ago'; }
  function secs(ms) { return ms < 1000 ? ms + ' ms' : (ms / 1000).toFixed(ms < 10000 ? 1 : 0) + ' s'; }
  function num(n) { return n === undefined || n === null ? '?' : String(n); }
  function progressText(p) {
    if (p === undefined) return '';
    if (typeof p === 'string') return p;
    try { return JSON.stringify(p); } catch (e) { return String(p); }
  }
  function fraction(p) {
    if (typeof p === 'number' && p >= 0 && p <= 1) return p;
    if (p && typeof p === 'object' && typeof p.done === 'number' && typeof p.total === 'number' && p.total > 0) return Math.min(1, p.done / p.total);
    return undefined;
  }
  function table(id, head, rows, empty) {
    var t = $(id);
    t.textContent = '';
    var tr = h('tr');
    head.forEach(function (c) { tr.appendChild(h('th', { text: c })); });
    t.appendChild(h('thead', null, tr));
    var body = h('tbody');
    if (rows.length === 0) body.appendChild(h('tr', null, h('td', { colspan: head.length, class: 'empty', text: empty })));
    rows.forEach(function (r) { body.appendChild(r); });
    t.appendChild(body);
  }
  function td(text, cls) { return h('td', { class: cls, text: text }); }
  function cell(node) { return h('td', null, node); }
  function toast(text) {
    var t = $('toast'); t.textContent = text; t.className = 'show';
    clearTimeout(toast.timer); toast.timer = setTimeout(function () { t.className = ''; }, 4000);
  }
  function act(path, body, button) {
    button.disabled = true;
    fetch('/api/' + path, { method: 'POST', credentials: 'same-origin', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
      .then(function (r) { return r.json().then(function (j) { return { ok: r.ok, body: j }; }); })
      .then(function (r) { toast(r.ok ? path + ': done' : path + ' failed: ' + r.body.error); if (!r.ok) button.disabled = false; })
      .catch(function (e) { toast(path + ' failed: ' + e.message); button.disabled = false; });
  }
  function note(id, capability, what) { $(id).textContent = capability === true ? '' : what + ' is not offered: ' + capability; }

  function chart(id, points, key, color, from, to) {
    var svg = $(id), ns = 'http://www.w3.org/2000/svg';
    svg.textContent = '';
    var max = 0;
    points.forEach(function (p) { if (p[key] > max) max = p[key]; });
    max = max > 0 ? max * 1.15 : 1;
    var x = function (t) { return ((t - from) / (to - from)) * 300; };
    var y = function (v) { return 78 - (v / max) * 74; };
    for (var g = 1; g < 4; g++) {
      var line = document.createElementNS(ns, 'line');
      line.setAttribute('x1', 0); line.setAttribute('x2', 300); line.setAttribute('y1', g * 20); line.setAttribute('y2', g * 20);
      line.setAttribute('stroke', '#e3e6eb'); line.setAttribute('stroke-width', '0.5');
      svg.appendChild(line);
    }
    if (points.length === 0) return 0;
    var path = points.map(function (p) { return x(p.t).toFixed(1) + ',' + y(p[key]).toFixed(1); });
    var area = document.createElementNS(ns, 'polygon');
    area.setAttribute('points', x(points[0].t).toFixed(1) + ',78 ' + path.join(' ') + ' ' + x(points[points.length - 1].t).toFixed(1) + ',78');
    area.setAttribute('fill', color); area.setAttribute('fill-opacity', '0.15');
    svg.appendChild(area);
    var poly = document.createElementNS(ns, 'polyline');
    poly.setAttribute('points', path.join(' '));
    poly.setAttribute('fill', 'none'); poly.setAttribute('stroke', color); poly.setAttribute('stroke-width', '1.5');
    poly.setAttribute('vector-effect', 'non-scaling-stroke');
    svg.appendChild(poly);
    return max / 1.15;
  }

  function render(s) {
    var now = s.at;
    $('source').textContent = s.source + (s.error ? '  (last read failed: ' + s.error + ')' : '');
    var totals = $('totals'); totals.textContent = '';
    [['workers', s.workers.length], ['queued', s.totals.queued], ['running', s.totals.running], ['completed', s.totals.completed], ['failed', s.totals.failed], ['dead letters', s.totals.dead]]
      .forEach(function (c) { totals.appendChild(h('div', { class: 'card', 'data-total': c[0] }, h('div', { class: 'v', text: String(c[1]) }), h('div', { class: 'k', text: c[0] }))); });

    // The last five minutes, or since the dashboard started when that is shorter (at least 30 s).
    var recent = s.rates.filter(function (p) { return p.t >= now - 5 * 60000; });
    var from = Math.min(now - 30000, recent.length ? recent[0].t : now);
    var peak = chart('chart-rate', recent, 'completed', '#1f9d55', from, now);
    var peakFail = chart('chart-fail', recent, 'failed', '#d64545', from, now);
    var lastMinute = s.rates.filter(function (p) { return p.t >= now - 60000; });
    var done = 0, failed = 0;
    lastMinute.forEach(function (p) { done += p.completed; failed += p.failed; });
    var n = lastMinute.length || 1;
    $('rate-now').textContent = (done / n).toFixed(1) + '/s over the last minute, peak ' + peak.toFixed(1) + '/s';
    $('fail-now').textContent = (failed / n).toFixed(2) + '/s over the last minute (' + (done + failed > 0 ? (100 * failed / (done + failed)).toFixed(1) : '0.0') + '% of tasks), peak ' + peakFail.toFixed(1) + '/s';

    var caps = s.capabilities;
    note('drain-note', caps.drain, 'drain');
    note('tasks-note', caps.tasks, 'the task list');
    note('revoke-note', caps.tasks === true ? caps.revoke : true, 'revoke');
    note('retry-note', caps.retry, 'retry');

    table('workers', ['name', 'host', 'pid', 'pool', 'in flight', 'completed', 'failed', 'heartbeat', 'state', 'queues', ''], s.workers.map(function (w) {
      var drain = caps.drain === true && w.state === 'ready' ? h('button', { class: 'drain', onclick: function (e) { act('drain', { worker: w.key }, e.target); } }, 'drain') : null;
      return h('tr', { 'data-worker': w.name }, td(w.name, 'mono'), td(w.host), td(String(w.pid), 'num'), td(w.pool), td(w.inFlight + ' / ' + w.capacity, 'num'),
        td(String(w.completed), 'num'), td(String(w.failed), 'num'), td(ago(now - w.lastHeartbeat)), td(w.state, 'state-' + w.state), td(w.queues.join(' ')), cell(drain));
    }), 'no worker answered');

    table('queues', ['queue', 'waiting', 'running', 'dead', 'consumers'], s.queues.map(function (q) {
      return h('tr', { 'data-queue': q.queue }, td(q.queue, 'mono'), td(num(q.waiting), 'num'), td(num(q.running), 'num'), td(num(q.dead), 'num'), td(num(q.consumers), 'num'));
    }), 'no queue');

    table('running', ['id', 'task', 'attempt', 'worker', 'running for', 'progress', ''], s.running.map(function (t) {
      var f = fraction(t.progress);
      var progress = h('td', { class: 'progress' }, f === undefined ? null : h('span', { class: 'bar' }, h('i', { width: Math.round(f * 100) + '%' })), progressText(t.progress));
      var revoke = caps.revoke === true ? h('button', { class: 'revoke danger', onclick: function (e) { act('revoke', { id: t.id }, e.target); } }, 'revoke') : null;
      return h('tr', { 'data-task': t.id }, td(t.id, 'mono'), td(t.task), td(String(t.attempt), 'num'), td(t.worker, 'mono'), td(secs(Math.max(0, now - t.startedAt)), 'num'), progress, cell(revoke));
    }), caps.tasks === true ? 'nothing running' : 'not reported');

    table('recent', ['id', 'task', 'attempt', 'worker', 'finished', 'took', 'state', 'error'], s.recent.slice(0, 15).map(function (t) {
      return h('tr', { 'data-recent': t.id, 'data-state': t.state }, td(t.id, 'mono'), td(t.task), td(String(t.attempt), 'num'), td(t.worker, 'mono'),
        td(ago(now - t.finishedAt)), td(secs(t.finishedAt - t.startedAt), 'num'), td(t.state, 'state-' + t.state), td(t.error || '', 'err'));
    }), caps.tasks === true ? 'none yet' : 'not reported');

    table('dead', ['id', 'task', 'queue', 'attempts', 'failed', 'error', ''], s.deadLetters.map(function (d) {
      var retry = caps.retry === true && d.id !== null ? h('button', { class: 'retry', onclick: function (e) { act('retry', { id: d.id, queue: d.queue }, e.target); } }, 'retry') : null;
      return h('tr', { 'data-dead': d.id === null ? '' : d.id }, td(d.id === null ? '(not a task)' : d.id, 'mono'), td(d.task || ''), td(d.queue, 'mono'), td(String(d.attempts), 'num'),
        td(ago(now - d.failedAt)), td(d.error, 'err'), cell(retry));
    }), 'none');
  }

  var live = $('live');
  var events = new EventSource('/events');
  events.addEventListener('snapshot', function (e) {
    live.textContent = 'live'; live.className = 'pill live';
    render(JSON.parse(e.data));
    document.body.setAttribute('data-updated', String(Date.now()));
  });
  events.onerror = function () { live.textContent = 'reconnecting…'; live.className = 'pill down'; };
})();
`;
