// OrleansWorker jobs dashboard: one page over the job API, no dependencies, no build step.
// Every URL is relative (the page is served at <dashboard>/), so it works under a path base and behind a proxy.
// Live: the current view is re-read every POLL_MS (see docs/dashboard.md for why polling).
'use strict';
(() => {
  const POLL_MS = 2000;
  const PAGE_SIZE = 50;
  const CHART_POINTS = 90;
  const STATES = ['Queued', 'Scheduled', 'Running', 'Waiting', 'Succeeded', 'DeadLettered', 'Cancelled'];
  const CANCELLABLE = ['Queued', 'Scheduled', 'Waiting', 'Running'];
  const RETRYABLE = ['DeadLettered', 'Cancelled'];
  const FINISHED = ['Succeeded', 'DeadLettered', 'Cancelled'];

  let session = null;
  let view = null;
  let busy = false;
  const main = document.getElementById('main');
  const optional = { queues: null, schedules: null };
  // Per silo: its last cumulative counters and report time, and the rate derived from the last two reports.
  const chart = { samples: new Map(), rates: new Map(), points: [] };

  // ---- DOM and formatting ------------------------------------------------------------------------------------
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k === 'text') el.textContent = v;
      else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else if (k === 'checked' || k === 'disabled' || k === 'value' || k === 'open') el[k] = v;
      else el.setAttribute(k, v === true ? '' : v);
    }
    for (const c of children.flat(Infinity)) {
      if (c === null || c === undefined || c === false) continue;
      el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
  }
  const $ = (sel, root = document) => root.querySelector(sel);
  // Replaces the page's content; absent parts (null) are left out rather than printed.
  const show = (...parts) => main.replaceChildren(...parts.flat(Infinity).filter(p => p !== null && p !== undefined && p !== false));
  const fmtNum = n => (n ?? 0).toLocaleString('en-US');
  const badge = state => h('span', { class: `badge state-${state}`, 'data-state': state, text: state });
  const jobLink = id => h('a', { href: `#/jobs/${encodeURIComponent(id)}`, text: id });
  const json = v => (v === null || v === undefined) ? '—' : JSON.stringify(v, null, 2);

  function fmtTime(iso) {
    if (!iso) return '—';
    const d = new Date(iso);
    const sameDay = d.toDateString() === new Date().toDateString();
    const text = sameDay ? d.toLocaleTimeString('en-GB') : d.toLocaleString('en-GB');
    return h('time', { datetime: iso, title: iso, text });
  }
  function fmtDuration(ms) {
    if (ms === null || ms === undefined || isNaN(ms)) return '—';
    if (ms < 1000) return `${Math.round(ms)} ms`;
    if (ms < 60000) return `${(ms / 1000).toFixed(1)} s`;
    const m = Math.floor(ms / 60000);
    return m < 60 ? `${m} min ${Math.round((ms % 60000) / 1000)} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
  }

  function notify(text, ok = false) {
    const n = document.getElementById('notice');
    n.textContent = text || '';
    n.classList.toggle('hidden', !text);
    n.classList.toggle('ok', ok);
  }

  // ---- API ----------------------------------------------------------------------------------------------------
  function toSignIn() {
    location.href = 'signin?returnUrl=' + encodeURIComponent('./' + location.hash);
  }

  async function loadSession() {
    const r = await fetch('session', { headers: { Accept: 'application/json' }, cache: 'no-store', credentials: 'same-origin' });
    if (r.status === 401) { toSignIn(); throw new Error('sign-in required'); }
    if (!r.ok) throw new Error(`session: HTTP ${r.status}`);
    session = await r.json();
    document.getElementById('read-only').classList.toggle('hidden', !session.readOnly);
    document.getElementById('signout').classList.toggle('hidden', !session.signedIn);
  }

  // Calls the job API; state-changing calls carry the anti-forgery token (a token refused once is renewed and retried:
  // the server may have restarted with a new key ring).
  async function api(path, { method = 'GET', body, retried = false } = {}) {
    const headers = { Accept: 'application/json' };
    if (method !== 'GET') headers[session.antiforgeryHeader] = session.antiforgeryToken;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const r = await fetch(session.apiBase + path, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store', credentials: 'same-origin',
    });
    if (r.status === 401) { toSignIn(); throw new Error('sign-in required'); }
    const type = r.headers.get('content-type') || '';
    const data = type.includes('json') ? await r.json().catch(() => null) : null;
    if (r.status === 400 && !retried && data && /anti-forgery/i.test(data.title || '')) {
      await loadSession();
      return api(path, { method, body, retried: true });
    }
    return { ok: r.ok, status: r.status, data };
  }
  const problem = r => (r.data && (r.data.detail || r.data.title)) || `HTTP ${r.status}`;

  // An optional endpoint (another part of the API may not exist on this server yet): false when it answers 404.
  async function probe(name) {
    try {
      const r = await api(name);
      optional[name] = r.status !== 404;
    } catch { optional[name] = null; }
    const link = $(`#nav [data-nav="${name}"]`);
    if (link) link.hidden = !optional[name];
  }

  async function command(id, action) {
    const r = action === 'delete'
      ? await api(`jobs/${encodeURIComponent(id)}`, { method: 'DELETE' })
      : await api(`jobs/${encodeURIComponent(id)}/${action}`, { method: 'POST' });
    return r;
  }

  const verbs = { cancel: ['Cancel', 'Cancelled'], retry: ['Retry', 'Requeued'], delete: ['Delete', 'Deleted'] };

  async function runCommand(ids, action, { confirmText } = {}) {
    if (confirmText && !confirm(confirmText)) return;
    let done = 0;
    const failures = [];
    for (const id of ids) {
      const r = await command(id, action);
      if (r.ok) done++; else failures.push(`${id}: ${problem(r)}`);
    }
    notify(`${verbs[action][1]} ${done} of ${ids.length}.${failures.length ? ' ' + failures.slice(0, 3).join(' ') : ''}`, failures.length === 0);
    await refresh(true);
  }

  function actionButtons(job, { compact = false } = {}) {
    if (session.readOnly) return null;
    const id = job.id;
    const buttons = [];
    if (CANCELLABLE.includes(job.state) && !job.cancelRequested) {
      buttons.push(h('button', { type: 'button', 'data-action': 'cancel', onclick: () => runCommand([id], 'cancel', { confirmText: `Cancel job ${id}?` }), text: 'Cancel' }));
    }
    if (RETRYABLE.includes(job.state)) {
      buttons.push(h('button', { type: 'button', 'data-action': 'retry', class: compact ? null : 'primary', onclick: () => runCommand([id], 'retry'), text: 'Retry' }));
    }
    if (FINISHED.includes(job.state)) {
      buttons.push(h('button', { type: 'button', 'data-action': 'delete', class: 'danger', onclick: () => runCommand([id], 'delete', { confirmText: `Delete job ${id}? This cannot be undone.` }), text: 'Delete' }));
    }
    return h('div', { class: 'actions' }, buttons);
  }

  // ---- Overview -----------------------------------------------------------------------------------------------
  function sample(stats) {
    const serverNow = Date.parse(stats.at);
    const seen = new Set();
    for (const silo of stats.silos) {
      seen.add(silo.address);
      const at = Date.parse(silo.at);
      const prev = chart.samples.get(silo.address);
      if (prev && at > prev.at) {
        const seconds = (at - prev.at) / 1000;
        let ds = silo.succeeded - prev.s, df = silo.failed - prev.f;
        // Counters that went down: the silo restarted under the same address; what it counts now happened since then.
        if (ds < 0 || df < 0) { ds = silo.succeeded; df = silo.failed; }
        chart.rates.set(silo.address, { s: ds / seconds, f: df / seconds });
      }
      if (!prev || at > prev.at) chart.samples.set(silo.address, { s: silo.succeeded, f: silo.failed, at });
      // A silo that stopped reporting does not keep its last rate.
      if (serverNow - at > 4 * POLL_MS) chart.rates.delete(silo.address);
    }
    for (const address of [...chart.samples.keys()]) {
      if (!seen.has(address)) { chart.samples.delete(address); chart.rates.delete(address); }
    }
    let s = 0, f = 0;
    for (const r of chart.rates.values()) { s += r.s; f += r.f; }
    chart.points.push({ t: Date.now(), s: Math.round(s * 100) / 100, f: Math.round(f * 100) / 100 });
    if (chart.points.length > CHART_POINTS) chart.points.splice(0, chart.points.length - CHART_POINTS);
  }

  function drawChart(canvas) {
    const ratio = window.devicePixelRatio || 1;
    const width = canvas.clientWidth || 800, height = canvas.clientHeight || 200;
    canvas.width = width * ratio; canvas.height = height * ratio;
    const g = canvas.getContext('2d');
    g.setTransform(ratio, 0, 0, ratio, 0, 0);
    g.clearRect(0, 0, width, height);
    const pts = chart.points;
    const max = Math.max(1, ...pts.map(p => Math.max(p.s, p.f)));
    const top = niceCeil(max);
    const left = 44, bottom = height - 18, plotW = width - left - 8, plotH = bottom - 8;
    g.font = '11px system-ui, sans-serif'; g.fillStyle = '#667085'; g.strokeStyle = '#e3e6eb'; g.lineWidth = 1;
    for (let i = 0; i <= 4; i++) {
      const y = bottom - (plotH * i) / 4;
      g.beginPath(); g.moveTo(left, y); g.lineTo(left + plotW, y); g.stroke();
      g.fillText(`${+(top * i / 4).toFixed(1)}/s`, 2, y + 4);
    }
    g.fillText(`last ${Math.round(CHART_POINTS * POLL_MS / 60000)} min`, left, height - 4);
    const x = i => left + plotW * (i + CHART_POINTS - pts.length) / (CHART_POINTS - 1);
    const line = (key, color) => {
      if (pts.length < 2) return;
      g.strokeStyle = color; g.lineWidth = 2; g.beginPath();
      pts.forEach((p, i) => { const y = bottom - plotH * p[key] / top; i ? g.lineTo(x(i), y) : g.moveTo(x(i), y); });
      g.stroke();
    };
    line('s', '#23915a');
    line('f', '#c8372d');
    canvas.dataset.series = JSON.stringify(pts.map(p => ({ t: p.t, s: p.s, f: p.f })));
    const last = pts[pts.length - 1] || { s: 0, f: 0 };
    const caption = canvas.parentElement.querySelector('figcaption');
    caption.replaceChildren(
      h('span', { class: 'legend-s', 'data-rate': 'succeeded', text: `${last.s.toFixed(1)}` }), ' succeeded/s · ',
      h('span', { class: 'legend-f', 'data-rate': 'failed', text: `${last.f.toFixed(1)}` }), ' failed/s (summed over silos, from their counters)');
  }
  function niceCeil(v) {
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    return [1, 2, 2.5, 5, 10].map(m => m * p).find(c => c >= v);
  }

  function overviewView() {
    const cards = h('section', { class: 'cards', id: 'state-counts', 'aria-label': 'Jobs by state' });
    const canvas = h('canvas', { id: 'throughput', 'aria-label': 'Succeeded and failed attempts per second' });
    const silos = h('tbody');
    const queues = h('tbody');
    const at = h('span', { class: 'muted small' });
    main.replaceChildren(
      h('h1', {}, 'Overview ', at),
      cards,
      h('section', { class: 'panel' }, h('h2', { text: 'Throughput' }), h('figure', { class: 'chart' }, canvas, h('figcaption'))),
      h('section', { class: 'panel' }, h('h2', { text: 'Silos' }),
        h('table', { id: 'silos' }, h('thead', {}, h('tr', {}, ['Silo', 'Running / capacity', 'Queues', 'Succeeded', 'Failed', 'Reported', 'Running jobs']
          .map((t, i) => h('th', { class: i === 3 || i === 4 ? 'num' : null, text: t })))), silos)),
      h('section', { class: 'panel' }, h('h2', { text: 'Queues' }),
        h('table', { id: 'queue-counts' }, h('thead', {}, h('tr', {}, h('th', { text: 'Queue' }), STATES.map(s => h('th', { class: 'num', text: s })))), queues)));
    drawChart(canvas);

    return {
      async refresh() {
        const [stats, running] = await Promise.all([api('stats'), api(`jobs?state=Running&limit=100`)]);
        if (!stats.ok) throw new Error(problem(stats));
        const s = stats.data;
        sample(s);
        drawChart(canvas);
        at.replaceChildren('as of ', fmtTime(s.at));
        cards.replaceChildren(...STATES.map(state => h('a', { class: `card state-${state}`, href: `#/jobs?state=${state}`, 'data-state': state },
          h('span', { class: 'n', 'data-count': s.states[state] ?? 0, text: fmtNum(s.states[state]) }), h('span', { class: 'label', text: state }))));
        const bySilo = new Map();
        for (const job of (running.ok ? running.data.items : [])) {
          if (!bySilo.has(job.silo)) bySilo.set(job.silo, []);
          bySilo.get(job.silo).push(job.id);
        }
        silos.replaceChildren(...(s.silos.length ? s.silos.map(silo => {
          const ids = bySilo.get(silo.address) || [];
          const pct = silo.capacity ? Math.min(100, 100 * silo.running / silo.capacity) : 0;
          const fill = h('span');
          fill.style.width = `${pct}%`;
          return h('tr', { 'data-silo': silo.address },
            h('td', {}, h('code', { text: silo.address })),
            h('td', { 'data-field': 'running' }, h('span', { class: 'bar' }, fill), `${silo.running} / ${silo.capacity}`),
            h('td', { text: silo.queues.length ? silo.queues.join(', ') : 'all' }),
            h('td', { class: 'num', text: fmtNum(silo.succeeded) }),
            h('td', { class: 'num', text: fmtNum(silo.failed) }),
            h('td', {}, fmtTime(silo.at)),
            h('td', {}, ids.slice(0, 5).flatMap((id, i) => [i ? ', ' : '', jobLink(id)]),
              ids.length > 5 ? [' ', h('a', { href: '#/jobs?state=Running', text: `+${ids.length - 5} more` })] : null));
        }) : [h('tr', {}, h('td', { colspan: 7, class: 'muted', text: 'No silo reported in the last minute.' }))]));
        queues.replaceChildren(...(s.queues.length ? s.queues.map(q => h('tr', { 'data-queue': q.name },
          h('td', {}, h('a', { href: `#/jobs?queue=${encodeURIComponent(q.name)}`, text: q.name })),
          STATES.map(state => h('td', { class: 'num', 'data-state': state, 'data-count': q.states[state] ?? 0 },
            q.states[state] ? h('a', { href: `#/jobs?state=${state}&queue=${encodeURIComponent(q.name)}`, text: fmtNum(q.states[state]) }) : '0'))))
          : [h('tr', {}, h('td', { colspan: STATES.length + 1, class: 'muted', text: 'No jobs.' }))]));
      },
    };
  }

  // ---- Job lists (and dead letters) ---------------------------------------------------------------------------
  function listView(params, { dead = false } = {}) {
    const filter = { state: dead ? 'DeadLettered' : (params.get('state') || ''), queue: params.get('queue') || '', type: params.get('type') || '' };
    const cursors = [null];
    let page = 0;
    let items = [];
    let next = null;
    const selected = new Set();

    const stateSelect = h('select', { name: 'state', 'aria-label': 'State' }, h('option', { value: '', text: 'Any state' }),
      STATES.map(s => h('option', { value: s, text: s })));
    stateSelect.value = filter.state;
    const queueInput = h('input', { name: 'queue', placeholder: 'queue', value: filter.queue, 'aria-label': 'Queue' });
    const typeInput = h('input', { name: 'type', placeholder: 'type', value: filter.type, 'aria-label': 'Type' });
    const form = h('form', { class: 'filters', onsubmit: e => {
      e.preventDefault();
      const q = new URLSearchParams();
      if (!dead && stateSelect.value) q.set('state', stateSelect.value);
      if (queueInput.value.trim()) q.set('queue', queueInput.value.trim());
      if (typeInput.value.trim()) q.set('type', typeInput.value.trim());
      location.hash = `#/${dead ? 'dead' : 'jobs'}${q.toString() ? '?' + q : ''}`;
    } }, dead ? null : stateSelect, queueInput, typeInput, h('button', { type: 'submit', text: 'Filter' }));

    const selectAll = h('input', { type: 'checkbox', id: 'select-all', onchange: () => {
      for (const job of items) { if (selectAll.checked) selected.add(job.id); else selected.delete(job.id); }
      render();
    } });
    const count = h('span', { class: 'muted', id: 'selected-count' });
    const bulk = (action, label, eligible, cls) => h('button', { type: 'button', class: cls, 'data-bulk': action, onclick: () => {
      const ids = items.filter(j => selected.has(j.id) && eligible.includes(j.state)).map(j => j.id);
      if (!ids.length) { notify(`None of the selected jobs can be ${verbs[action][1].toLowerCase()}.`); return; }
      if (!confirm(`${verbs[action][0]} ${ids.length} job${ids.length > 1 ? 's' : ''}?`)) return;
      selected.clear();
      runCommand(ids, action);
    }, text: label });
    const bulkBar = session.readOnly ? null : h('div', { class: 'bulk' },
      h('label', {}, selectAll, ' Select all on this page'), count,
      bulk('retry', 'Retry selected', RETRYABLE, 'primary'),
      dead ? null : bulk('cancel', 'Cancel selected', CANCELLABLE),
      bulk('delete', 'Delete selected', FINISHED, 'danger'));

    const body = h('tbody');
    const pageInfo = h('span', { class: 'muted' });
    const first = h('button', { type: 'button', text: 'First', onclick: () => go(0) });
    const prev = h('button', { type: 'button', text: 'Previous', onclick: () => go(page - 1) });
    const nextBtn = h('button', { type: 'button', 'data-page': 'next', text: 'Next', onclick: () => { cursors[page + 1] = next; go(page + 1); } });
    const title = dead ? 'Dead letters' : 'Jobs';
    const heads = [session.readOnly ? null : '', 'Id', 'Type', 'Queue', 'State', 'Attempt', 'Created', dead ? 'Dead-lettered' : 'Finished', dead ? 'Last error' : null, ''];
    main.replaceChildren(
      h('h1', { text: title }),
      h('section', { class: 'panel' }, form, bulkBar,
        h('table', { class: 'jobs', id: 'jobs' }, h('thead', {}, h('tr', {}, heads.filter(x => x !== null).map(t => h('th', { text: t })))), body),
        h('div', { class: 'pager' }, first, prev, pageInfo, nextBtn)));

    function go(p) { page = Math.max(0, p); selected.clear(); refresh(true); }

    function render() {
      body.replaceChildren(...(items.length ? items.map(job => h('tr', { 'data-id': job.id },
        session.readOnly ? null : h('td', {}, h('input', { type: 'checkbox', 'aria-label': `Select ${job.id}`, checked: selected.has(job.id),
          onchange: e => { if (e.target.checked) selected.add(job.id); else selected.delete(job.id); render(); } })),
        h('td', { class: 'ellipsis' }, jobLink(job.id)),
        h('td', { text: job.type }),
        h('td', {}, h('a', { href: `#/${dead ? 'dead' : 'jobs'}?queue=${encodeURIComponent(job.queue)}`, text: job.queue })),
        h('td', {}, badge(job.state), job.cancelRequested ? h('span', { class: 'muted small', text: ' cancelling' }) : null),
        h('td', { class: 'num', text: `${job.attempt} / ${job.maxAttempts}` }),
        h('td', {}, fmtTime(job.createdAt)),
        h('td', {}, FINISHED.includes(job.state) ? fmtTime(job.finishedAt) : (job.state === 'Scheduled' ? ['runs ', fmtTime(job.runAt)] : '—')),
        dead ? h('td', { class: 'ellipsis', title: job.lastError ? job.lastError.message : '', text: job.lastError ? `${job.lastError.type}: ${job.lastError.message}` : '—' }) : null,
        h('td', {}, actionButtons(job, { compact: true }))))
        : [h('tr', {}, h('td', { colspan: 10, class: 'muted', text: dead ? 'No dead letters.' : 'No jobs match.' }))]));
      const onPage = items.filter(j => selected.has(j.id)).length;
      selectAll.checked = items.length > 0 && onPage === items.length;
      count.textContent = `${onPage} selected`;
      pageInfo.textContent = `page ${page + 1}${items.length ? ` · ${items.length} job${items.length > 1 ? 's' : ''}` : ''}`;
      first.disabled = prev.disabled = page === 0;
      nextBtn.disabled = !next;
    }

    return {
      async refresh() {
        const q = new URLSearchParams({ limit: PAGE_SIZE });
        if (filter.state) q.set('state', filter.state);
        if (filter.queue) q.set('queue', filter.queue);
        if (filter.type) q.set('type', filter.type);
        if (cursors[page]) q.set('cursor', cursors[page]);
        const r = await api(`jobs?${q}`);
        if (!r.ok) throw new Error(problem(r));
        items = r.data.items;
        next = r.data.nextCursor;
        for (const id of [...selected]) if (!items.some(j => j.id === id)) selected.delete(id);
        render();
      },
    };
  }

  // ---- Job detail ---------------------------------------------------------------------------------------------
  function detailView(id) {
    const openStacks = new Set();
    let last = '';
    main.replaceChildren(h('p', { class: 'muted', text: 'Loading…' }));
    return {
      async refresh() {
        const r = await api(`jobs/${encodeURIComponent(id)}`);
        if (r.status === 404) {
          main.replaceChildren(h('h1', {}, 'Job ', h('code', { text: id })), h('p', { id: 'job-missing', text: `No job has the id '${id}' (deleted, expired, or never submitted).` }));
          last = '';
          return;
        }
        if (!r.ok) throw new Error(problem(r));
        const text = JSON.stringify(r.data);
        if (text === last) return;
        last = text;
        render(r.data);
      },
    };

    function render(job) {
      const trace = job.traceId && session.traceUrlTemplate
        ? h('a', { id: 'trace-link', href: session.traceUrlTemplate.split('{traceId}').join(encodeURIComponent(job.traceId)), target: '_blank', rel: 'noopener noreferrer', text: 'open trace' })
        : null;
      const facts = [
        ['Type', job.type], ['Queue', h('a', { href: `#/jobs?queue=${encodeURIComponent(job.queue)}`, text: job.queue })], ['Priority', job.priority],
        ['Attempt', `${job.attempt} of ${job.maxAttempts}` + (job.interruptions ? ` (${job.interruptions} of ${job.maxInterruptions} interruptions)` : '')],
        ['Timeout', fmtDuration(job.timeoutSeconds * 1000)], ['Created', fmtTime(job.createdAt)],
        ['Runs at', job.runAt ? fmtTime(job.runAt) : null], ['Started', job.startedAt ? fmtTime(job.startedAt) : null],
        ['Finished', job.finishedAt ? fmtTime(job.finishedAt) : null], ['Silo', job.silo ? h('code', { text: job.silo }) : null],
        ['Trace', job.traceId ? [h('code', { id: 'trace-id', text: job.traceId }), trace ? [' · ', trace] : null] : null],
        ['Cancel', job.cancelRequested ? 'requested; the attempt is being stopped' : null],
        ['Schedule', job.scheduleId ? h('a', { href: '#/schedules', text: job.scheduleId }) : null],
        ['Batch', job.batchId ? h('a', { href: `#/batches/${encodeURIComponent(job.batchId)}`, text: job.batchId }) : null],
        ['Depends on', job.dependsOn && job.dependsOn.length ? job.dependsOn.flatMap((d, i) => [i ? ', ' : '', jobLink(d)]) : null],
        ['Unique key', job.uniqueKey ? h('code', { text: job.uniqueKey }) : null],
      ].filter(([, v]) => v !== null && v !== undefined);
      const progress = job.state === 'Running' && job.progress
        ? h('section', { class: 'panel', id: 'progress' }, h('h2', { text: 'Progress' }),
          h('progress', { max: 100, value: job.progress.percent }), ` ${job.progress.percent}% `, h('span', { class: 'muted', text: job.progress.message || '' }))
        : null;
      // The history holds ended attempts; the one running now is shown from the job itself.
      const history = (job.attempts || []).slice();
      if (job.state === 'Running' && job.startedAt && !history.some(a => a.number === job.attempt && !a.endedAt)) {
        history.push({ number: job.attempt, silo: job.silo, startedAt: job.startedAt, endedAt: null, outcome: null, error: null });
      }
      const attempts = history.reverse();
      show(
        h('h1', {}, 'Job ', h('code', { text: job.id }), h('span', { id: 'job-state' }, badge(job.state))),
        actionButtons(job),
        h('section', { class: 'panel' }, h('dl', { class: 'facts' }, facts.map(([k, v]) => [h('dt', { text: k }), h('dd', {}, v)]))),
        progress,
        h('section', { class: 'panel' }, h('h2', { text: 'Payload' }), h('pre', { id: 'payload', text: json(job.payload) })),
        job.result !== null && job.result !== undefined ? h('section', { class: 'panel' }, h('h2', { text: 'Result' }), h('pre', { id: 'result', text: json(job.result) })) : null,
        job.lastError ? h('section', { class: 'panel' }, h('h2', { text: 'Last error' }), h('pre', { id: 'last-error', text: `${job.lastError.type}: ${job.lastError.message}` })) : null,
        h('section', { class: 'panel' }, h('h2', { text: `Attempts (${attempts.length})` }),
          h('table', { id: 'attempts' }, h('thead', {}, h('tr', {}, ['#', 'Silo', 'Started', 'Duration', 'Outcome', 'Error'].map(t => h('th', { text: t })))),
            h('tbody', {}, attempts.length ? attempts.map(a => h('tr', { 'data-attempt': a.number },
              h('td', { text: a.number }),
              h('td', {}, a.silo ? h('code', { text: a.silo }) : '—'),
              h('td', {}, fmtTime(a.startedAt)),
              h('td', { text: a.endedAt ? fmtDuration(Date.parse(a.endedAt) - Date.parse(a.startedAt)) : 'running' }),
              h('td', { 'data-outcome': a.endedAt ? a.outcome : 'Running', text: a.endedAt ? a.outcome : 'running' }),
              h('td', {}, a.error ? [h('div', { text: `${a.error.type}: ${a.error.message}` }),
                a.error.stackTrace ? h('details', { open: openStacks.has(a.number), ontoggle: e => { if (e.target.open) openStacks.add(a.number); else openStacks.delete(a.number); } },
                  h('summary', { text: 'Stack trace' }), h('pre', { text: a.error.stackTrace })) : null] : '—')))
              : h('tr', {}, h('td', { colspan: 6, class: 'muted', text: 'No attempt yet.' }))))));
    }
  }

  // ---- Queues, schedules, batches (endpoints that may not exist on this server yet) ----------------------------
  function missing(title, what) {
    main.replaceChildren(h('h1', { text: title }), h('p', { class: 'muted', text: `This server has no ${what} endpoint yet.` }));
  }

  function simpleView(title, path, render) {
    let last = '';
    main.replaceChildren(h('h1', { text: title }), h('p', { class: 'muted', text: 'Loading…' }));
    return {
      async refresh() {
        const r = await api(path);
        if (r.status === 404) { missing(title, path.split('/')[0]); last = ''; return; }
        if (!r.ok) throw new Error(problem(r));
        const text = JSON.stringify(r.data);
        if (text === last) return;
        last = text;
        main.replaceChildren(h('h1', { text: title }), render(r.data));
      },
    };
  }

  async function post(path, done) {
    const r = await api(path, { method: 'POST' });
    notify(r.ok ? done : problem(r), r.ok);
    await refresh(true);
  }

  const queuesView = () => simpleView('Queues', 'queues', queues => h('section', { class: 'panel' },
    h('table', { id: 'queues' }, h('thead', {}, h('tr', {}, ['Queue', 'Paused', 'Max concurrency', 'Rate limit', 'Jobs', ''].map(t => h('th', { text: t })))),
      h('tbody', {}, queues.length ? queues.map(q => h('tr', { 'data-queue': q.name },
        h('td', {}, h('a', { href: `#/jobs?queue=${encodeURIComponent(q.name)}`, text: q.name })),
        h('td', {}, q.paused ? ['yes', q.pausedUntil ? [' until ', fmtTime(q.pausedUntil)] : null] : 'no'),
        h('td', { text: q.maxConcurrency ?? 'none' }),
        h('td', { text: q.rateLimit ? `${q.rateLimit.limit} per ${q.rateLimit.periodSeconds} s` : 'none' }),
        h('td', { text: Object.entries(q.states || {}).filter(([, n]) => n).map(([s, n]) => `${s} ${n}`).join(' · ') || '—' }),
        h('td', {}, session.readOnly ? null : h('div', { class: 'actions' }, q.paused
          ? h('button', { type: 'button', onclick: () => post(`queues/${encodeURIComponent(q.name)}/resume`, `Queue ${q.name} resumed.`), text: 'Resume' })
          : h('button', { type: 'button', onclick: () => post(`queues/${encodeURIComponent(q.name)}/pause`, `Queue ${q.name} paused.`), text: 'Pause' })))))
        : h('tr', {}, h('td', { colspan: 6, class: 'muted', text: 'No queues.' }))))));

  const schedulesView = () => simpleView('Schedules', 'schedules', schedules => h('section', { class: 'panel' },
    h('table', { id: 'schedules' }, h('thead', {}, h('tr', {}, ['Schedule', 'Cron', 'Job', 'Paused', 'Misfire / overlap', 'Last fire', 'Next fire', ''].map(t => h('th', { text: t })))),
      h('tbody', {}, schedules.length ? schedules.map(s => {
        const at = `schedules/${encodeURIComponent(s.id)}`;
        return h('tr', { 'data-schedule': s.id },
          h('td', {}, h('code', { text: s.id })),
          h('td', {}, h('code', { text: s.cron }), s.timeZone ? h('span', { class: 'muted small', text: ` ${s.timeZone}` }) : null),
          h('td', {}, s.job ? [s.job.type, ' → ', s.job.queue || 'default'] : '—'),
          h('td', { text: s.paused ? 'yes' : 'no' }),
          h('td', { text: `${s.misfire ?? '—'} / ${s.overlap ?? '—'}` }),
          h('td', {}, s.lastFire ? [fmtTime(s.lastFire.at), ' ', s.lastFire.jobId ? jobLink(s.lastFire.jobId) : null, s.lastFire.state ? [' ', badge(s.lastFire.state)] : null] : '—'),
          h('td', {}, fmtTime(s.nextFire)),
          h('td', {}, session.readOnly ? null : h('div', { class: 'actions' },
            s.paused ? h('button', { type: 'button', onclick: () => post(`${at}/resume`, `Schedule ${s.id} resumed.`), text: 'Resume' })
              : h('button', { type: 'button', onclick: () => post(`${at}/pause`, `Schedule ${s.id} paused.`), text: 'Pause' }),
            h('button', { type: 'button', onclick: () => post(`${at}/trigger`, `Schedule ${s.id} triggered.`), text: 'Trigger now' }),
            h('button', { type: 'button', class: 'danger', onclick: async () => {
              if (!confirm(`Delete schedule ${s.id}?`)) return;
              const r = await api(at, { method: 'DELETE' });
              notify(r.ok ? `Schedule ${s.id} deleted.` : problem(r), r.ok);
              await refresh(true);
            }, text: 'Delete' }))));
      }) : h('tr', {}, h('td', { colspan: 8, class: 'muted', text: 'No schedules.' }))))));

  const batchView = id => simpleView(`Batch ${id}`, `batches/${encodeURIComponent(id)}`, b => h('section', { class: 'panel' },
    h('dl', { class: 'facts' },
      h('dt', { text: 'Jobs' }), h('dd', { text: fmtNum(b.total) }),
      h('dt', { text: 'Pending' }), h('dd', { text: fmtNum(b.pending) }),
      h('dt', { text: 'Finished' }), h('dd', { text: b.finished ? 'yes' : 'no' }),
      h('dt', { text: 'Created' }), h('dd', {}, fmtTime(b.createdAt)),
      h('dt', { text: 'By state' }), h('dd', { text: Object.entries(b.states || {}).filter(([, n]) => n).map(([s, n]) => `${s} ${n}`).join(' · ') || '—' }),
      h('dt', { text: 'Completion job' }), h('dd', {}, b.completionJobId ? jobLink(b.completionJobId) : '—'))));

  // ---- Routing and the live loop ------------------------------------------------------------------------------
  function route() {
    const [path, query] = (location.hash.replace(/^#/, '') || '/').split('?');
    const params = new URLSearchParams(query || '');
    const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
    const section = parts[0] || 'overview';
    for (const a of document.querySelectorAll('#nav a')) a.classList.toggle('active', a.dataset.nav === section);
    notify('');
    if (section === 'overview') view = overviewView();
    else if (section === 'jobs' && parts[1]) view = detailView(parts[1]);
    else if (section === 'jobs') view = listView(params);
    else if (section === 'dead') view = listView(params, { dead: true });
    else if (section === 'queues') view = queuesView();
    else if (section === 'schedules') view = schedulesView();
    else if (section === 'batches' && parts[1]) view = batchView(parts[1]);
    else { view = null; main.replaceChildren(h('h1', { text: 'Not found' }), h('p', {}, h('a', { href: '#/', text: 'Overview' }))); }
    refresh(true);
  }

  async function refresh(force = false) {
    if (!view || (busy && !force) || (document.hidden && !force)) return;
    const current = view;
    busy = true;
    const live = document.getElementById('live');
    try {
      await current.refresh();
      live.classList.remove('stale');
      live.textContent = 'live';
      live.title = `Refreshed ${new Date().toLocaleTimeString('en-GB')}; every ${POLL_MS / 1000} s`;
    } catch (e) {
      live.classList.add('stale');
      live.textContent = 'stale';
      live.title = String(e.message || e);
      if (current === view) notify(`Could not refresh: ${e.message || e}`);
    } finally {
      busy = false;
    }
  }

  document.getElementById('search').addEventListener('submit', async e => {
    e.preventDefault();
    const id = document.getElementById('search-id').value.trim();
    if (!id) return;
    const job = await api(`jobs/${encodeURIComponent(id)}`);
    if (job.ok) { location.hash = `#/jobs/${encodeURIComponent(id)}`; return; }
    const batch = job.status === 404 ? await api(`batches/${encodeURIComponent(id)}`) : job;
    if (batch.ok) { location.hash = `#/batches/${encodeURIComponent(id)}`; return; }
    notify(job.status === 404 ? `No job or batch has the id '${id}'.` : problem(job));
  });

  document.getElementById('signout').addEventListener('click', async () => {
    await fetch('signout', { method: 'POST', headers: { [session.antiforgeryHeader]: session.antiforgeryToken }, credentials: 'same-origin' });
    location.href = 'signin';
  });

  window.addEventListener('hashchange', route);
  document.addEventListener('visibilitychange', () => { if (!document.hidden) refresh(); });

  (async () => {
    try {
      await loadSession();
    } catch (e) {
      notify(`Could not start: ${e.message || e}`);
      return;
    }
    await Promise.all([probe('queues'), probe('schedules')]);
    route();
    setInterval(refresh, POLL_MS);
  })();
})();
