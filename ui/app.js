// Warren's dashboard: plain JavaScript, no libraries, only the public HTTP API.
// Everything shown is built with DOM calls and text nodes (never innerHTML): job args, results,
// errors and logs are user data. The page's Content-Security-Policy forbids inline script.
'use strict';

const TOKEN_KEY = 'warren.token';
const CHART_MINUTES = 15;
const FINISHED = new Set(['succeeded', 'dead', 'cancelled', 'expired']);
const RETRYABLE = new Set(['dead', 'failed', 'cancelled', 'expired']);
const STATES = ['scheduled', 'queued', 'running', 'succeeded', 'failed', 'dead', 'cancelled', 'expired'];

// --- DOM helpers ------------------------------------------------------------------------------

// h('td', {class: 'id'}, 'text', child): strings become text nodes, so nothing is parsed as HTML.
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}
function append(el, children) {
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}
function svg(tag, attrs, ...children) {
  const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  for (const c of children) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}
function view(...children) {
  const main = document.getElementById('view');
  main.replaceChildren();
  append(main, children);
  return main;
}
function badge(state) { return h('span', {class: 'badge ' + state, 'data-state': state}, state); }
function ago(iso) {
  if (!iso) return '';
  const s = Math.round((Date.now() - Date.parse(iso)) / 1000);
  if (s < 60) return `${Math.max(s, 0)}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}
function when(iso) { return iso ? h('span', {title: iso}, ago(iso)) : h('span', {class: 'muted'}, '—'); }
function json(value) { return value === undefined || value === null ? 'null' : JSON.stringify(value, null, 2); }

let noticeTimer = null;
function notice(text, isError) {
  const el = document.getElementById('notice');
  el.textContent = text;
  el.className = isError ? 'notice error' : 'notice';
  el.hidden = false;
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => { el.hidden = true; }, 6000);
}

// --- the API, with the token --------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, code, message) { super(message); this.status = status; this.code = code; }
}

let tokenWaiters = [];
function token() { return sessionStorage.getItem(TOKEN_KEY) || ''; }
function authHeaders(extra) {
  const headers = Object.assign({}, extra || {});
  if (token()) headers.Authorization = 'Bearer ' + token();
  return headers;
}
// Shows the token form and resolves once a token was entered.
function askToken(message) {
  const form = document.getElementById('token-form');
  form.hidden = false;
  if (message) notice(message, true);
  document.getElementById('token-input').focus();
  return new Promise((resolve) => tokenWaiters.push(resolve));
}
function tokenEntered(value) {
  sessionStorage.setItem(TOKEN_KEY, value);
  document.getElementById('token-form').hidden = true;
  document.getElementById('notice').hidden = true;
  const waiters = tokenWaiters;
  tokenWaiters = [];
  for (const w of waiters) w();
}

async function api(method, path, body) {
  for (;;) {
    const init = {method, headers: authHeaders(body === undefined ? {} : {'Content-Type': 'application/json'})};
    if (body !== undefined) init.body = JSON.stringify(body);
    const resp = await fetch(path, init);
    if (resp.status === 401) {
      await askToken(token() ? 'That token was refused.' : 'This server needs a token.');
      continue;
    }
    const text = await resp.text();
    let doc = null;
    try { doc = text ? JSON.parse(text) : null; } catch (e) { doc = null; }
    if (!resp.ok) {
      const err = doc && doc.error ? doc.error : {code: 'http_' + resp.status, message: text.slice(0, 200)};
      throw new ApiError(resp.status, err.code, `${err.code}: ${err.message}`);
    }
    return doc;
  }
}

// --- live events: /v1/events read with fetch, so the Authorization header goes along ----------

const listeners = new Set();
function onChange(fn) { listeners.add(fn); return () => listeners.delete(fn); }

function setLive(online) {
  const el = document.getElementById('live-status');
  el.textContent = online ? 'live' : 'offline';
  el.className = 'live ' + (online ? 'online' : 'offline');
}

async function streamEvents() {
  let lastId = null;
  for (;;) {
    try {
      const headers = authHeaders({Accept: 'text/event-stream'});
      if (lastId) headers['Last-Event-ID'] = lastId;
      const resp = await fetch('/v1/events', {headers, cache: 'no-store'});
      if (resp.status === 401) {
        await askToken();
        continue;
      }
      if (!resp.ok || !resp.body) throw new Error('events: HTTP ' + resp.status);
      setLive(true);
      const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      let event = {type: 'message', data: [], id: null};
      for (;;) {
        const {value, done} = await reader.read();
        if (done) break;
        buffer += value;
        let nl;
        while ((nl = buffer.indexOf('\n')) >= 0) {
          const line = buffer.slice(0, nl).replace(/\r$/, '');
          buffer = buffer.slice(nl + 1);
          if (line === '') {
            if (event.data.length) dispatch(event);
            event = {type: 'message', data: [], id: null};
            continue;
          }
          if (line.startsWith(':')) continue;
          const colon = line.indexOf(':');
          const field = colon < 0 ? line : line.slice(0, colon);
          const val = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
          if (field === 'event') event.type = val;
          else if (field === 'data') event.data.push(val);
          else if (field === 'id') { event.id = val; lastId = val; }
        }
      }
    } catch (e) {
      // fall through: reconnect
    }
    setLive(false);
    await new Promise((r) => setTimeout(r, 2000));
  }
}

function dispatch(event) {
  let data = null;
  try { data = JSON.parse(event.data.join('\n')); } catch (e) { return; }
  if (event.type === 'reset') data = {reset: true};
  for (const fn of listeners) {
    try { fn(event.type, data); } catch (e) { console.error(e); }
  }
}

// --- overview ------------------------------------------------------------------------------------

// Per-minute counts of finished attempts, seeded from recent jobs and kept up by the event stream.
const chart = {buckets: new Map(), seeded: false};
function minuteOf(iso) { return Math.floor(Date.parse(iso) / 60000); }
function count(iso, ok) {
  const m = minuteOf(iso);
  if (!Number.isFinite(m)) return;
  const b = chart.buckets.get(m) || {ok: 0, bad: 0};
  if (ok) b.ok++; else b.bad++;
  chart.buckets.set(m, b);
}
async function seedChart() {
  if (chart.seeded) return;
  chart.seeded = true;
  const since = Date.now() - CHART_MINUTES * 60000;
  const page = await api('GET', '/v1/jobs?limit=1000');
  for (const job of page.jobs) {
    for (const a of job.attempts || []) {
      if (a.finished_at && Date.parse(a.finished_at) >= since && a.outcome !== 'running') {
        count(a.finished_at, a.outcome === 'succeeded');
      }
    }
  }
}
onChange((kind, data) => {
  if (!data || data.reset) return;
  if (kind === 'succeeded') count(data.at, true);
  else if (kind === 'failed' || kind === 'retrying' || (kind === 'dead' && data.event_attempt > 0)) count(data.at, false);
});

function throughputChart() {
  const now = Math.floor(Date.now() / 60000);
  const minutes = [];
  for (let m = now - CHART_MINUTES + 1; m <= now; m++) minutes.push({m, ...(chart.buckets.get(m) || {ok: 0, bad: 0})});
  const W = 600, H = 160, pad = 24;
  const max = Math.max(1, ...minutes.map((b) => b.ok + b.bad));
  const bw = (W - pad) / minutes.length;
  const bars = svg('svg', {class: 'chart', viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': 'finished attempts per minute', id: 'throughput-chart'});
  bars.append(svg('line', {class: 'grid', x1: pad, y1: H - pad, x2: W, y2: H - pad}));
  bars.append(svg('text', {x: 0, y: 10}, String(max)));
  const rate = svg('svg', {class: 'chart', viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': 'failure rate per minute', id: 'failure-chart'});
  rate.append(svg('line', {class: 'grid', x1: pad, y1: H - pad, x2: W, y2: H - pad}));
  rate.append(svg('line', {class: 'grid', x1: pad, y1: 8, x2: W, y2: 8}));
  rate.append(svg('text', {x: 0, y: 12}, '100%'));
  rate.append(svg('text', {x: 0, y: H - pad}, '0%'));
  const points = [];
  minutes.forEach((b, i) => {
    const x = pad + i * bw + 2;
    const okH = ((H - pad - 8) * b.ok) / max;
    const badH = ((H - pad - 8) * b.bad) / max;
    const title = `${new Date(b.m * 60000).toLocaleTimeString()}: ${b.ok} succeeded, ${b.bad} failed`;
    bars.append(svg('rect', {class: 'ok', x, y: H - pad - okH, width: bw - 4, height: okH}, svg('title', {}, title)));
    bars.append(svg('rect', {class: 'bad', x, y: H - pad - okH - badH, width: bw - 4, height: badH}, svg('title', {}, title)));
    const total = b.ok + b.bad;
    const r = total ? b.bad / total : 0;
    points.push(`${x + (bw - 4) / 2},${H - pad - r * (H - pad - 8)}`);
    if (i % 5 === 0 || i === minutes.length - 1) {
      const label = new Date(b.m * 60000).toLocaleTimeString([], {hour: '2-digit', minute: '2-digit'});
      bars.append(svg('text', {x, y: H - 6}, label));
      rate.append(svg('text', {x, y: H - 6}, label));
    }
  });
  rate.append(svg('polyline', {class: 'rate', points: points.join(' ')}));
  return {bars, rate};
}

async function overview(ctx) {
  const cards = h('div', {class: 'cards'});
  const charts = h('div', {class: 'grid'});
  const queues = h('tbody');
  const workers = h('tbody');
  view(h('h1', {}, 'Overview'), cards, charts,
    h('div', {class: 'grid'},
      h('section', {class: 'panel'}, h('h2', {}, 'Queues'),
        h('table', {id: 'queues-table'}, h('thead', {}, h('tr', {}, h('th', {}, 'queue'), h('th', {}, 'ready'), h('th', {}, 'unacked'), h('th', {}, 'consumers'), h('th', {}, ''))), queues)),
      h('section', {class: 'panel'}, h('h2', {}, 'Workers'),
        h('table', {id: 'workers-table'}, h('thead', {}, h('tr', {}, h('th', {}, 'worker'), h('th', {}, 'state'), h('th', {}, 'busy'), h('th', {}, 'done'), h('th', {}, 'seen'))), workers))));

  function drawCharts() {
    const {bars, rate} = throughputChart();
    charts.replaceChildren(
      h('section', {class: 'panel'}, h('h2', {}, `Throughput (attempts finished per minute, last ${CHART_MINUTES} min)`), bars,
        h('div', {class: 'legend'}, h('span', {}, h('span', {class: 'sw ok'}), 'succeeded'), h('span', {}, h('span', {class: 'sw bad'}), 'failed'))),
      h('section', {class: 'panel'}, h('h2', {}, 'Failure rate (failed / finished attempts)'), rate));
  }

  async function refresh() {
    const [q, w] = await Promise.all([api('GET', '/v1/queues'), api('GET', '/v1/workers')]);
    if (ctx.stale()) return;
    let ready = 0, unacked = 0, dead = 0;
    queues.replaceChildren(...q.queues.map((queue) => {
      // warren.dead and warren.unrouted are Warren's own: not jobs waiting for a worker, no retry button.
      const own = queue.name.startsWith('warren.');
      if (!own) {
        ready += queue.ready || 0;
        unacked += queue.unacked || 0;
      }
      if (queue.name === 'warren.dead') dead = queue.ready || 0;
      return h('tr', {'data-queue': queue.name},
        h('td', {}, h('a', {href: '#/jobs?queue=' + encodeURIComponent(queue.name)}, queue.name)),
        h('td', {}, queue.ready ?? '—'), h('td', {}, queue.unacked ?? '—'), h('td', {}, queue.consumers ?? '—'),
        h('td', {}, own ? '' : h('button', {type: 'button', class: 'quiet retry-dead', title: 'retry every dead job of this queue', onclick: () => retryDead(queue.name)}, 'Retry dead')));
    }));
    const live = w.workers.filter((x) => x.state !== 'gone');
    workers.replaceChildren(...(w.workers.length ? w.workers.map((wk) => h('tr', {},
      h('td', {class: 'mono'}, wk.id), h('td', {}, badge(wk.state)), h('td', {}, `${wk.busy}/${wk.concurrency}`),
      h('td', {}, wk.jobs_done), h('td', {}, when(wk.last_seen)))) : [h('tr', {}, h('td', {colspan: 5, class: 'muted'}, 'no workers have announced themselves'))]));
    const busy = live.reduce((n, x) => n + (x.busy || 0), 0);
    const slots = live.reduce((n, x) => n + (x.concurrency || 0), 0);
    cards.replaceChildren(
      h('div', {class: 'card'}, h('div', {class: 'n', id: 'card-ready'}, ready), h('div', {class: 'l'}, 'jobs waiting')),
      h('div', {class: 'card'}, h('div', {class: 'n'}, unacked), h('div', {class: 'l'}, 'jobs handed out')),
      h('div', {class: 'card'}, h('div', {class: 'n'}, dead), h('div', {class: 'l'}, 'in warren.dead')),
      h('div', {class: 'card'}, h('div', {class: 'n'}, live.length), h('div', {class: 'l'}, 'workers')),
      h('div', {class: 'card'}, h('div', {class: 'n'}, `${busy}/${slots}`), h('div', {class: 'l'}, 'busy slots')));
  }

  await seedChart();
  drawCharts();
  await refresh();
  ctx.every(5000, refresh);
  ctx.every(10000, drawCharts);
  let pending = false;
  ctx.on(() => {
    if (pending) return;
    pending = true;
    setTimeout(() => { pending = false; if (!ctx.stale()) drawCharts(); }, 1000);
  });
}

async function retryDead(queue) {
  if (!confirm(`Retry every dead job of queue ${queue}?`)) return;
  let total = 0;
  try {
    for (;;) {
      const r = await api('POST', `/v1/queues/${encodeURIComponent(queue)}/retry-dead`);
      total += r.retried;
      if (!r.more || r.retried === 0) break;
    }
    notice(`${total} dead job(s) of ${queue} queued again`);
  } catch (e) {
    notice(e.message, true);
  }
}

// --- jobs table ---------------------------------------------------------------------------------

async function jobs(ctx, params) {
  const state = params.get('state') || '';
  const type = params.get('type') || '';
  const queue = params.get('queue') || '';
  const cursor = params.get('cursor') || '';
  const back = params.getAll('back');  // cursors of the pages before this one, for "Newer"

  const go = (next) => {
    const p = new URLSearchParams();
    for (const [k, v] of Object.entries(next)) {
      if (Array.isArray(v)) v.forEach((x) => p.append(k, x));
      else if (v) p.set(k, v);
    }
    location.hash = '#/jobs' + (p.toString() ? '?' + p : '');
  };
  const stateSelect = h('select', {name: 'state', id: 'filter-state'}, h('option', {value: ''}, 'any'),
    STATES.map((s) => h('option', {value: s, selected: s === state}, s)));
  const typeInput = h('input', {name: 'type', id: 'filter-type', value: type, placeholder: 'any type'});
  const queueInput = h('input', {name: 'queue', id: 'filter-queue', value: queue, placeholder: 'any queue'});
  const idInput = h('input', {name: 'id', id: 'search-id', placeholder: 'job id', size: 38});
  const filters = h('form', {class: 'filters', id: 'filters', onsubmit: (e) => {
    e.preventDefault();
    go({state: stateSelect.value, type: typeInput.value.trim(), queue: queueInput.value.trim()});
  }}, h('label', {}, 'state', stateSelect), h('label', {}, 'type', typeInput), h('label', {}, 'queue', queueInput),
  h('button', {type: 'submit'}, 'Filter'));
  stateSelect.addEventListener('change', () => filters.requestSubmit());
  const search = h('form', {class: 'filters', id: 'search', onsubmit: (e) => {
    e.preventDefault();
    const id = idInput.value.trim();
    if (id) location.hash = '#/jobs/' + encodeURIComponent(id);
  }}, h('label', {}, 'find a job by id', idInput), h('button', {type: 'submit'}, 'Open'));
  const body = h('tbody');
  const pager = h('div', {class: 'pager'});
  view(h('h1', {}, 'Jobs'), h('div', {class: 'panel'}, filters, search,
    h('table', {id: 'jobs-table'}, h('thead', {}, h('tr', {}, ['id', 'type', 'queue', 'state', 'attempt', 'created', 'updated'].map((c) => h('th', {}, c)))), body), pager));

  const rows = new Map();
  function row(job) {
    const tr = h('tr', {'data-id': job.id, 'data-state': job.state},
      h('td', {class: 'id'}, h('a', {href: '#/jobs/' + job.id}, job.id)),
      h('td', {}, job.type), h('td', {}, job.queue), h('td', {class: 'state'}, badge(job.state)),
      h('td', {}, `${job.attempt}/${job.max_attempts}`), h('td', {}, when(job.created_at)), h('td', {class: 'updated'}, when(job.updated_at)));
    rows.set(job.id, tr);
    return tr;
  }
  async function load() {
    const q = new URLSearchParams({limit: '25'});
    if (state) q.set('state', state);
    if (type) q.set('type', type);
    if (queue) q.set('queue', queue);
    if (cursor) q.set('cursor', cursor);
    let page;
    try {
      page = await api('GET', '/v1/jobs?' + q);
    } catch (e) {
      body.replaceChildren(h('tr', {}, h('td', {colspan: 7, class: 'muted'}, e.message)));
      return;
    }
    if (ctx.stale()) return;
    rows.clear();
    body.replaceChildren(...(page.jobs.length ? page.jobs.map(row) : [h('tr', {}, h('td', {colspan: 7, class: 'muted'}, 'no jobs match'))]));
    pager.replaceChildren(
      h('button', {type: 'button', class: 'quiet', id: 'newer', disabled: !cursor, onclick: () => go({state, type, queue, cursor: back[back.length - 1] || '', back: back.slice(0, -1)})}, '← Newer'),
      h('button', {type: 'button', class: 'quiet', id: 'older', disabled: !page.next_cursor, onclick: () => go({state, type, queue, cursor: page.next_cursor, back: [...back, cursor]})}, 'Older →'),
      h('span', {class: 'muted'}, `${page.jobs.length} shown`));
  }
  await load();
  // Live: a job on this page changes in place; new jobs appear on the first page (debounced).
  let reload = null;
  ctx.on((kind, data) => {
    if (!data || data.reset) { load(); return; }
    const tr = rows.get(data.job_id);
    if (tr && data.state) {
      const matches = !state || state === data.state;
      tr.setAttribute('data-state', data.state);
      tr.querySelector('td.state').replaceChildren(badge(data.state));
      tr.querySelector('td.updated').replaceChildren(when(data.at || data.updated_at));
      tr.classList.remove('flash'); void tr.offsetWidth; tr.classList.add('flash');
      if (!matches) tr.classList.add('muted');
    } else if (!cursor && (!state || data.state === state) && (!type || data.type === type) && (!queue || data.queue === queue)) {
      clearTimeout(reload);
      reload = setTimeout(() => { if (!ctx.stale()) load(); }, 800);
    }
  });
}

// --- job detail ---------------------------------------------------------------------------------

async function jobDetail(ctx, id) {
  let job;
  try {
    job = await api('GET', '/v1/jobs/' + encodeURIComponent(id));
  } catch (e) {
    view(h('h1', {}, 'Job'), h('p', {class: 'muted', id: 'job-error'}, e.status === 404 ? `No job ${id}.` : e.message));
    return;
  }
  if (ctx.stale()) return;
  const head = h('div');
  const fields = h('dl', {class: 'fields'});
  const actions = h('div', {class: 'actions'});
  const progress = h('div');
  const timeline = h('ol', {class: 'timeline', id: 'timeline'});
  const args = h('pre', {id: 'job-args'});
  const result = h('pre', {id: 'job-result'});
  const error = h('pre', {id: 'job-error-text'});
  const logs = h('pre', {class: 'logs', id: 'job-logs'});
  view(head, actions,
    h('div', {class: 'grid'},
      h('section', {class: 'panel'}, h('h2', {}, 'Job'), fields, progress),
      h('section', {class: 'panel'}, h('h2', {}, 'Attempts'), timeline)),
    h('div', {class: 'grid'},
      h('section', {class: 'panel'}, h('h2', {}, 'Args'), args),
      h('section', {class: 'panel'}, h('h2', {}, 'Result'), result, h('h2', {}, 'Error'), error)),
    h('section', {class: 'panel'}, h('h2', {}, 'Logs'), logs));

  function render() {
    head.replaceChildren(h('h1', {}, `${job.type} `, h('span', {id: 'job-state'}, badge(job.state))), h('p', {class: 'mono muted'}, job.id));
    const items = [['queue', job.queue], ['attempt', `${job.attempt} of ${job.max_attempts}`], ['priority', job.priority],
      ['created', when(job.created_at)], ['started', when(job.started_at)], ['finished', when(job.finished_at)],
      ['updated', when(job.updated_at)], ['run at', job.run_at ? when(job.run_at) : '—'], ['deadline', job.deadline || '—'],
      ['timeout', job.timeout ? `${job.timeout}s` : '—'], ['idempotency key', job.idempotency_key || '—'], ['tags', (job.tags || []).join(', ') || '—']];
    fields.replaceChildren(...items.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
    const p = job.progress;
    progress.replaceChildren(...(p ? [h('h2', {}, 'Progress'), h('progress', {max: 100, value: p.percent, id: 'job-progress'}), h('div', {class: 'muted'}, `${p.percent}% ${p.note || ''}`)] : []));
    const attempts = job.attempts || [];
    const t0 = Math.min(...attempts.map((a) => Date.parse(a.started_at || a.finished_at || job.created_at)).filter(Number.isFinite), Date.parse(job.created_at));
    const t1 = Math.max(Date.now(), ...attempts.map((a) => Date.parse(a.finished_at || 0)));
    const span = Math.max(1, t1 - t0);
    timeline.replaceChildren(...(attempts.length ? attempts.map((a) => {
      const s = Date.parse(a.started_at || a.finished_at || job.created_at);
      const e = a.finished_at ? Date.parse(a.finished_at) : Date.now();
      const bar = h('div', {class: 'bar ' + a.outcome, title: `${a.started_at || '?'} → ${a.finished_at || 'now'}`});
      bar.style.marginLeft = `${(100 * (s - t0)) / span}%`;
      bar.style.width = `${Math.max(1.5, (100 * (e - s)) / span)}%`;
      return h('li', {'data-attempt': a.number, 'data-outcome': a.outcome},
        h('span', {}, `#${a.number}`), badge(a.outcome), h('div', {}, bar),
        a.error ? h('div', {class: 'err'}, a.error) : null, a.worker ? h('div', {class: 'err muted'}, a.worker) : null);
    }) : [h('li', {class: 'muted'}, 'not started yet')]));
    args.textContent = json(job.args);
    result.textContent = json(job.result);
    error.textContent = job.error || '—';
    actions.replaceChildren(
      h('button', {type: 'button', id: 'retry-button', disabled: !RETRYABLE.has(job.state), onclick: () => act('retry')}, 'Retry'),
      h('button', {type: 'button', id: 'cancel-button', class: 'danger', disabled: FINISHED.has(job.state), onclick: () => act('cancel')}, 'Cancel'),
      h('a', {href: '#/jobs?type=' + encodeURIComponent(job.type)}, `more ${job.type} jobs`));
  }

  async function act(what) {
    try {
      job = await api('POST', `/v1/jobs/${encodeURIComponent(job.id)}/${what}`);
      render();
      notice(what === 'retry' ? 'Queued again.' : 'Cancel requested.');
    } catch (e) {
      notice(e.message, true);
    }
  }

  let after = '';
  async function loadLogs() {
    for (;;) {
      const q = new URLSearchParams({limit: '1000'});
      if (after) q.set('after', after);
      const page = await api('GET', `/v1/jobs/${encodeURIComponent(job.id)}/logs?${q}`);
      if (ctx.stale()) return;
      if (!after && page.lines.length === 0) logs.textContent = 'no log lines';
      else if (!after) logs.replaceChildren();
      for (const line of page.lines) {
        logs.append(h('div', {class: 'line', 'data-attempt': line.attempt}, h('span', {class: 'a'}, `#${line.attempt} ${line.at.slice(11, 23)} `), line.line));
        after = line.cursor;
      }
      if (!page.next) break;
    }
  }

  async function reload() {
    try {
      job = await api('GET', '/v1/jobs/' + encodeURIComponent(id));
      if (ctx.stale()) return;
      render();
      await loadLogs();
    } catch (e) {
      if (e.status === 404) notice(`Job ${id} was deleted.`, true);
    }
  }

  render();
  await loadLogs();
  let timer = null;
  ctx.on((kind, data) => {
    if (data && !data.reset && data.job_id !== job.id) return;
    clearTimeout(timer);
    timer = setTimeout(reload, 150);
  });
  // Log lines are not events: poll them while the job runs.
  ctx.every(2000, () => { if (job.state === 'running') loadLogs(); });
}

// --- router ---------------------------------------------------------------------------------------

let current = null;
function route() {
  if (current) current.close();
  const ctx = {
    closed: false, timers: [], offs: [],
    stale() { return this.closed; },
    every(ms, fn) { this.timers.push(setInterval(() => { if (!this.closed) Promise.resolve(fn()).catch(() => {}); }, ms)); },
    on(fn) { this.offs.push(onChange(fn)); },
    close() { this.closed = true; this.timers.forEach(clearInterval); this.offs.forEach((off) => off()); },
  };
  current = ctx;
  const hash = location.hash.replace(/^#/, '') || '/';
  const [path, query] = hash.split('?');
  const params = new URLSearchParams(query || '');
  const parts = path.split('/').filter(Boolean);
  document.querySelectorAll('header nav a').forEach((a) => a.classList.toggle('active', a.dataset.nav === (parts[0] === 'jobs' ? 'jobs' : 'overview')));
  let page;
  if (parts[0] === 'jobs' && parts[1]) page = jobDetail(ctx, decodeURIComponent(parts[1]));
  else if (parts[0] === 'jobs') page = jobs(ctx, params);
  else page = overview(ctx);
  page.catch((e) => { if (!ctx.stale()) view(h('p', {class: 'muted'}, e.message || String(e))); });
}

document.addEventListener('DOMContentLoaded', () => {
  document.getElementById('token-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const input = document.getElementById('token-input');
    const value = input.value.trim();
    input.value = '';
    if (value) tokenEntered(value);
  });
  document.getElementById('token-button').addEventListener('click', () => {
    const form = document.getElementById('token-form');
    form.hidden = !form.hidden;
  });
  window.addEventListener('hashchange', route);
  route();
  streamEvents();
});
