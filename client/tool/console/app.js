/* Liaison console: the pages. Plain JavaScript, no framework, no build step.
 *
 * Everything the API returns came (or may have come) from a partner and is hostile:
 * it reaches the page only as text (el() and text() below use createTextNode /
 * textContent) or as the value of a safe attribute. Nothing here uses innerHTML.
 * The Content-Security-Policy forbids inline scripts and styles: looks are classes
 * of style.css, plots are SVG elements drawn here. */
'use strict';

const DAY_MS = 86400000;
const POLL_MS = 2000;
const BROKER_POLL_MS = 5000;

/* ---------- DOM helpers ---------- */

/* el('td', {class: 'x', data: {id: '1'}}, 'text', child...) */
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  setAttrs(e, attrs);
  append(e, children);
  return e;
}

const SAFE_ATTRS = new Set(['id', 'class', 'href', 'type', 'value', 'name', 'title',
  'for', 'colspan', 'rowspan', 'disabled', 'selected', 'role', 'rows', 'placeholder',
  'aria-label', 'scope', 'lang']);

function setAttrs(e, attrs) {
  if (!attrs) return;
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'data') {
      for (const [dk, dv] of Object.entries(v)) {
        if (dv !== null && dv !== undefined) e.dataset[dk] = String(dv);
      }
    } else if (k === 'on') {
      for (const [ev, fn] of Object.entries(v)) e.addEventListener(ev, fn);
    } else if (k === 'href') {
      /* links only inside the console's own hash routes */
      const h = String(v);
      if (h.startsWith('#/')) e.setAttribute('href', h);
    } else if (SAFE_ATTRS.has(k)) {
      e.setAttribute(k, v === true ? '' : String(v));
    }
  }
}

function append(e, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    e.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

const SVG_NS = 'http://www.w3.org/2000/svg';

function svg(tag, attrs, ...children) {
  const e = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  append(e, children);
  return e;
}

function clear(e) {
  while (e.firstChild) e.removeChild(e.firstChild);
  return e;
}

function $(sel) { return document.querySelector(sel); }

/* ---------- values ---------- */

function str(v) {
  if (v === null || v === undefined || v === '') return '—';
  if (Array.isArray(v)) return v.length ? v.map(str).join(', ') : '—';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

/* An RFC 3339 UTC time as given, made easier to read: "2026-12-06 20:30:00Z". */
function when(t) {
  if (!t) return '—';
  return String(t).replace('T', ' ');
}

function timeCell(t) {
  return el('td', {class: 'time'}, when(t));
}

function parseTime(t) {
  const ms = Date.parse(t);
  return Number.isFinite(ms) ? ms : null;
}

function nowMs() {
  const s = state.session && parseTime(state.session.now);
  /* the server's clock at session load, advanced by the local clock since */
  return s ? s + (Date.now() - state.sessionLoadedAt) : Date.now();
}

function plural(n, word) {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function bytes(n) {
  if (typeof n !== 'number') return str(n);
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return i === 0 ? `${n} B` : `${v.toFixed(1)} ${units[i]}`;
}

function badge(text, cls) {
  return el('span', {class: `badge ${cls || ''}`}, text);
}

/* A deadline {due, met, met_by, late, closed, overdue, days_left} as words. */
function deadlineState(d, now) {
  if (!d) return {text: '—', cls: ''};
  if (d.met) {
    return {text: `${d.met_by || 'met'} ${when(d.met)}${d.late ? ' (late)' : ''}`,
      cls: d.late ? 'late' : 'met'};
  }
  if (d.closed) return {text: 'not needed (case closed)', cls: 'closed'};
  const due = parseTime(d.due);
  if (d.overdue) {
    const by = typeof d.days_left === 'number' ? -d.days_left
      : due !== null ? Math.floor((now - due) / DAY_MS) + 1 : null;
    return {text: by !== null ? `overdue by ${plural(by, 'day')}` : 'overdue', cls: 'overdue'};
  }
  let left = typeof d.days_left === 'number' ? d.days_left : null;
  if (left === null && due !== null) left = Math.floor((due - now) / DAY_MS);
  return {text: left !== null ? `${plural(left, 'day')} left` : 'open', cls: left !== null && left <= 7 ? 'soon' : 'open'};
}

/* ---------- tables ---------- */

/* table(id, [header...], rows, empty): rows are <tr> elements. */
function table(id, headers, rows, empty) {
  if (!rows.length) return el('p', {class: 'empty', id: id ? `${id}-empty` : null}, empty);
  return el('div', {class: 'scroll'},
    el('table', {class: 'data', id},
      el('thead', null, el('tr', null, headers.map((h) => el('th', {scope: 'col'}, h)))),
      el('tbody', null, rows)));
}

function td(v, cls) {
  const nodes = v instanceof Node || (Array.isArray(v) && v.some((x) => x instanceof Node));
  return el('td', cls ? {class: cls} : null, nodes ? v : str(v));
}

function section(title, ...children) {
  return el('section', null, el('h2', null, title), children);
}

/* ---------- state, API, errors ---------- */

const state = {
  session: null,
  sessionLoadedAt: 0,
  generation: null,
  route: null,
  page: null,          /* the current page object */
  ready: 0,
  loadStart: 0,        /* performance.now() when the current route began */
  loadRecorded: false,
  pendingRefresh: false,
  brokerTimer: null,
  firstRoute: true,
  pollFailed: false,
};

class ApiError extends Error {
  constructor(status, message, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

async function request(method, path, body) {
  const opts = {method, credentials: 'same-origin', headers: {Accept: 'application/json'}};
  if (method !== 'GET') {
    opts.headers['Content-Type'] = 'application/json';
    opts.headers['X-Liaison-CSRF'] = state.session ? state.session.csrf : '';
    opts.body = JSON.stringify(body || {});
  }
  let r;
  try {
    r = await fetch(path, opts);
  } catch (e) {
    throw new ApiError(0, 'the console cannot be reached (is it running?)');
  }
  if (r.status === 401) {
    window.location.assign('/login');
    throw new ApiError(401, 'login required');
  }
  let data = null;
  try {
    data = await r.json();
  } catch (e) {
    data = null;
  }
  if (!r.ok) {
    const why = data && typeof data.error === 'string' ? data.error : `HTTP ${r.status}`;
    throw new ApiError(r.status, why, data);
  }
  return data;
}

const api = (path) => request('GET', path);
const post = (path, body) => request('POST', path, body);

/* The error banner: present (as #error) only while there is an error. */
function showError(message) {
  const banner = $('#banner');
  clear(banner);
  banner.appendChild(el('div', {id: 'error', role: 'alert'}, message,
    el('button', {type: 'button', class: 'link', on: {click: () => clear(banner)}}, 'dismiss')));
}

function clearError() {
  clear($('#banner'));
}

/* ---------- pages ----------
 * A page: {name, title(params), load(params) -> data, render(data, params) -> Node,
 *          busy() -> bool (a form being filled: do not re-render under the user)} */

const pages = {};

/* Inbox */
pages.inbox = {
  name: 'inbox',
  title: () => 'Inbox',
  rows: [],
  next: null,
  total: 0,
  async load() {
    const limit = Math.min(500, Math.max(100, this.rows.length));
    const d = await api(`/api/inbox?limit=${limit}`);
    this.rows = d.messages || [];
    this.next = d.next || null;
    this.total = d.total || 0;
    return d;
  },
  async older() {
    const d = await api(`/api/inbox?limit=100&before=${encodeURIComponent(this.next)}`);
    this.rows = this.rows.concat(d.messages || []);
    this.next = d.next || null;
    this.total = d.total || this.total;
  },
  render() {
    const rows = this.rows.map((m) => el('tr', {data: {id: m.id}, class: m.unreadable ? 'unreadable' : null},
      timeCell(m.received || m.created),
      td(m.kind, 'kind'),
      td(m.from),
      td(m.actor),
      td(m.case ? el('a', {href: `#/mlat/${encodeURIComponent(m.case)}`}, m.case) : null),
      td(m.labels, 'labels'),
      td(m.purpose),
      td(m.unreadable ? el('span', {class: 'warn'}, `unreadable: ${m.unreadable}`) : m.summary, 'summary'),
      td(withheldList(m.withheld))));
    const out = el('div', null,
      el('p', {class: 'muted'}, `${this.rows.length} of ${plural(this.total, 'message')}, newest first`),
      table('inbox', ['Received', 'Kind', 'From', 'Actor', 'Case', 'Labels', 'Purpose', 'Content', 'Withheld'],
        rows, 'The inbox is empty: no messages yet.'));
    if (this.next) {
      out.appendChild(el('p', null, el('button', {type: 'button', id: 'inbox-older', on: {click: async (ev) => {
        ev.target.disabled = true;
        try {
          await this.older();
          rerender();
        } catch (e) {
          fail(e);
          ev.target.disabled = false;
        }
      }}}, 'Older messages')));
    }
    return out;
  },
};

function withheldList(list) {
  if (!list || !list.length) return null;
  return el('ul', {class: 'withheld'}, list.map((w) => el('li', null,
    w.notice || `portion ${w.portion} (${w.labels}) withheld`,
    w.rule && !String(w.notice || '').includes(w.rule) ? el('span', {class: 'rule'}, ` rule ${w.rule}`) : null)));
}

/* MLAT cases */
pages.mlat = {
  name: 'mlat',
  title: () => 'MLAT cases',
  load: (p) => api(`/api/mlat${asOfQuery(p)}`),
  render(d, p) {
    const now = (p.now && parseTime(p.now)) || nowMs();
    const cases = (d.cases || []).slice().sort((a, b) => (b.overdue ? 1 : 0) - (a.overdue ? 1 : 0));
    const rows = cases.map((c) => {
      const dd = c.deadlines || {};
      const dec = deadlineState(dd.decide, now);
      const exe = deadlineState(dd.execute, now);
      return el('tr', {data: {id: c.case}, class: c.overdue ? 'overdue' : null},
        td(el('span', null,
          el('a', {href: `#/mlat/${encodeURIComponent(c.case)}`}, c.case),
          c.overdue ? badge('OVERDUE', 'red') : null)),
        td(c.role), td(c.peer), td(c.treaty), td(c.offences), td(c.status, 'status'),
        timeCell(c.submitted), timeCell(c.last),
        td(el('span', {class: dec.cls}, dec.text)),
        td(el('span', {class: exe.cls}, exe.text)),
        td(`${str(c.evidence_files)} file${c.evidence_files === 1 ? '' : 's'}${c.evidence_files ? (c.evidence_complete ? ', complete' : ', incomplete') : ''}`));
    });
    return el('div', null, asOfForm('mlat', p),
      table('mlat-cases', ['Case', 'Role', 'Peer', 'Treaty', 'Offences', 'Status', 'Submitted',
        'Last', 'Decide', 'Execute', 'Evidence'], rows, 'No MLAT cases yet.'));
  },
};

/* "?now=DATE" for the API when the page is judged as of another date, else "". */
function asOfQuery(p) {
  return p && p.now ? `?now=${encodeURIComponent(p.now)}` : '';
}

/* The deadlines as of another date (YYYY-MM-DD), as `liaison mlat status --now` judges them:
 * how the cases will stand.  The page's address keeps the date (#/mlat?now=2027-01-15). */
function asOfForm(path, p) {
  const input = el('input', {type: 'date', id: 'asof-date', value: p.now || ''});
  const show = () => {
    const v = input.value;
    window.location.hash = v ? `#/${path}?now=${encodeURIComponent(v)}` : `#/${path}`;
  };
  return el('form', {class: 'asof', id: 'asof', on: {submit: (ev) => { ev.preventDefault(); show(); }}},
    el('label', {for: 'asof-date'}, 'Deadlines as of '), input, ' ',
    el('button', {type: 'submit', id: 'asof-show'}, 'Show'),
    p.now ? el('span', null, ' ', el('a', {href: `#/${path}`, id: 'asof-today'}, 'today'),
      ' ', badge(`as of ${p.now}`, 'amber')) : null);
}

/* One MLAT case */
pages.mlatCase = {
  name: 'mlat-case',
  title: (p) => `MLAT case ${p.id}`,
  confirming: false,
  exportResult: null,
  respondResult: null,
  caseId: null,
  load(p) {
    if (this.caseId !== p.id) {
      this.caseId = p.id;
      this.confirming = false;
      this.exportResult = null;
      this.respondResult = null;
    }
    return api(`/api/mlat/${encodeURIComponent(p.id)}${asOfQuery(p)}`);
  },
  busy() {
    const note = $('#respond-note');
    const grounds = $('#respond-grounds');
    return this.confirming || (note && note.value !== '') || (grounds && grounds.value !== '');
  },
  render(c) {
    const now = parseTime(c.now) || nowMs();
    const dd = c.deadlines || {};
    const out = el('div', {class: 'case'});
    out.appendChild(el('dl', {class: 'facts'},
      fact('Case', c.case),
      fact('Role', c.role === 'requesting' ? 'requesting (our request)' : c.role === 'requested' ? 'requested (incoming request)' : c.role),
      fact('Peer', c.peer), fact('Treaty', c.treaty), fact('Offences', c.offences),
      fact('Status', el('span', null, el('strong', {class: 'status'}, str(c.status)),
        c.overdue ? badge('OVERDUE', 'red') : null)),
      fact('Submitted', when(c.submitted)), fact('As of', when(c.now))));

    const drows = ['decide', 'execute'].filter((k) => dd[k]).map((k) => {
      const s = deadlineState(dd[k], now);
      return el('tr', {data: {id: k}, class: s.cls === 'overdue' ? 'overdue' : null},
        td(k), td(dd[k].days !== undefined ? plural(dd[k].days, 'day') : null),
        timeCell(dd[k].due), td(el('span', {class: s.cls}, s.text)));
    });
    out.appendChild(section('Deadlines', table('deadlines', ['Deadline', 'Within', 'Due', 'State'], drows, 'No deadlines.')));

    const trows = (c.timeline || []).map((t) => el('tr', {data: {id: t.id}, class: t.sent ? 'sent' : 'in'},
      timeCell(t.time), td(t.sent ? 'sent' : `from ${str(t.from)}`), td(t.kind, 'kind'), td(t.event),
      td(t.id, 'mono')));
    out.appendChild(section('Timeline', table('timeline', ['Time', 'Direction', 'Kind', 'Event', 'Message'], trows, 'No messages in this case yet.')));

    const erows = (c.evidence || []).map((f) => el('tr', {data: {id: f.name}, class: f.complete ? null : 'incomplete'},
      td(f.name), td(bytes(f.size), 'num'), td(f.sha256, 'mono hash'),
      td(`${str(f.chunks_seen)} / ${str(f.chunks)}`, 'num'),
      td(f.complete ? 'complete' : el('span', {class: 'warn'}, 'incomplete'))));
    out.appendChild(section('Evidence', table('evidence', ['File', 'Size', 'SHA-256', 'Chunks', 'State'], erows, 'No evidence files yet.')));

    const xrows = (c.exports || []).map((x) => el('tr', {data: {id: x.dir}},
      timeCell(x.time), td(x.dir, 'mono'),
      td(x.verified ? el('span', {class: 'ok'}, 'verified') : el('span', {class: 'failed'}, `not verified (${plural(x.problems || 0, 'problem')})`))));
    out.appendChild(section('Bundles exported', table('exports', ['Time', 'Directory', 'Verification'], xrows, 'No bundle exported from this console yet.')));

    out.appendChild(this.actions(c));
    return out;
  },
  actions(c) {
    const ro = state.session && state.session.read_only;
    const box = el('section', {class: 'actions no-print', id: 'case-actions'}, el('h2', null, 'Actions'));
    if (ro) box.appendChild(el('p', {class: 'muted'}, 'The console is read-only: no action can be taken.'));

    /* export and verify */
    const exp = el('div', {class: 'action'},
      el('h3', null, 'Export and verify the evidence bundle'),
      el('p', {class: 'muted'}, 'Writes the case, its messages, evidence and proofs into a directory of the console, then verifies it.'),
      el('button', {type: 'button', id: 'export', disabled: ro, on: {click: async (ev) => {
        ev.target.disabled = true;
        ev.target.textContent = 'Exporting…';
        try {
          this.exportResult = await post(`/api/mlat/${encodeURIComponent(c.case)}/export`, {});
        } catch (e) {
          this.exportResult = {error: e.message};
        }
        await refresh(true);
      }}}, 'Export and verify'));
    if (this.exportResult) exp.appendChild(exportReport(this.exportResult));
    box.appendChild(exp);

    /* respond with a status */
    const statuses = c.statuses || [];
    const resp = el('div', {class: 'action', id: 'respond'}, el('h3', null, 'Respond with a status'));
    if (!statuses.length) {
      resp.appendChild(el('p', {class: 'muted'}, 'No status can be sent by this side now.'));
    } else {
      const sel = el('select', {id: 'respond-status', name: 'status'},
        statuses.map((s) => el('option', {value: s}, s)));
      const note = el('textarea', {id: 'respond-note', rows: 2, placeholder: 'note (optional)'});
      const grounds = el('textarea', {id: 'respond-grounds', rows: 2, placeholder: 'grounds (for a refusal)'});
      const confirm = el('div', {id: 'respond-confirm', class: 'confirm hidden'});
      const review = el('button', {type: 'button', id: 'respond-review', disabled: ro, on: {click: () => {
        this.confirming = true;
        review.disabled = true;
        sel.disabled = true;
        clear(confirm).classList.remove('hidden');
        append(confirm, [
          el('p', null, 'Send the status ', el('strong', null, sel.value), ` to ${str(c.peer)} for case ${c.case}? `,
            'It is signed in your name and audited by the brokers; it cannot be taken back.'),
          el('button', {type: 'button', id: 'respond-confirm-send', class: 'danger', on: {click: async (ev) => {
            ev.target.disabled = true;
            const body = {status: sel.value};
            if (note.value.trim()) body.note = note.value.trim();
            if (grounds.value.trim()) body.grounds = grounds.value.trim();
            try {
              const r = await post(`/api/mlat/${encodeURIComponent(c.case)}/respond`, body);
              this.respondResult = {ok: true, text: `status ${body.status} sent: ${str(r.result)}, message ${str(r.id)}`};
            } catch (e) {
              this.respondResult = {ok: false, text: `not sent: ${e.message}`};
            }
            this.confirming = false;
            note.value = '';
            grounds.value = '';
            await refresh(true);
          }}}, 'Confirm: send'),
          el('button', {type: 'button', id: 'respond-cancel', on: {click: () => {
            this.confirming = false;
            review.disabled = false;
            sel.disabled = false;
            clear(confirm).classList.add('hidden');
          }}}, 'Cancel'),
        ]);
      }}}, 'Review…');
      append(resp, [
        el('div', {class: 'form'},
          el('label', {for: 'respond-status'}, 'Status'), sel,
          el('label', {for: 'respond-note'}, 'Note'), note,
          el('label', {for: 'respond-grounds'}, 'Grounds'), grounds),
        el('p', null, review), confirm]);
    }
    if (this.respondResult) {
      resp.appendChild(el('p', {id: 'respond-result', class: this.respondResult.ok ? 'ok' : 'failed'}, this.respondResult.text));
    }
    box.appendChild(resp);
    return box;
  },
};

function fact(k, v) {
  return [el('dt', null, k), el('dd', null, v instanceof Node ? v : str(v))];
}

/* The result of an export: {dir, verified, report:{ok, checks, warnings, failures, error}} */
function exportReport(x) {
  const box = el('div', {id: 'export-result', class: 'result'});
  if (x.error) return append(box, [el('p', {class: 'failed'}, `export failed: ${x.error}`)]);
  const rep = x.report || {};
  box.appendChild(el('p', {class: x.verified ? 'ok' : 'failed'},
    x.verified ? 'The bundle verifies.' : 'The bundle does NOT verify.', ' ', el('span', {class: 'mono'}, str(x.dir))));
  const ck = rep.checks || {};
  const checks = Object.entries(ck);
  if (checks.length) {
    box.appendChild(el('ul', {class: 'checks'}, checks.map(([k, v]) => el('li', null, `${k}: ${str(v)}`))));
  }
  if (rep.error) box.appendChild(el('p', {class: 'failed'}, str(rep.error)));
  for (const w of rep.warnings || []) box.appendChild(el('p', {class: 'warn'}, `warning: ${str(w)}`));
  const fails = rep.failures || [];
  if (fails.length) {
    box.appendChild(table('export-problems', ['File', 'Problem'],
      fails.map((f) => el('tr', null, td(f.file, 'mono'), td(f.message))), ''));
  }
  return box;
}

/* Freeze designations */
pages.freeze = {
  name: 'freeze',
  title: () => 'Freeze designations',
  confirming: null,
  result: null,
  load: () => api('/api/freeze'),
  enter() {
    this.confirming = null;
    this.result = null;
  },
  busy() { return this.confirming !== null; },
  render(d) {
    const out = el('div');
    const srows = (d.sent || []).map((s) => {
      const l = s.latest || {};
      const all = l.units || 0;
      return el('tr', {data: {id: s.designation}},
        td(el('a', {href: `#/freeze/${encodeURIComponent(s.designation)}`}, s.designation)),
        td(s.name), td(l.version, 'num'), td(l.action),
        td(progress(l.received, all, 'received')), td(progress(l.implemented, all, 'implemented')),
        timeCell(s.sent));
    });
    out.appendChild(section('Designations sent',
      table('freeze-sent', ['Designation', 'Name', 'Version', 'Action', 'Received', 'Implemented', 'Sent'], srows,
        'No designation sent yet.')));

    const agent = state.session && state.session.agent;
    const ro = state.session && state.session.read_only;
    const rrows = (d.received || []).map((r) => {
      const key = `${r.designation}/${r.version}/${r.from}`;
      const cell = el('td', {class: 'no-print'});
      if (r.ack === 'implemented' || r.implemented) {
        cell.appendChild(el('span', {class: 'ok'}, 'implemented'));
      } else if (r.implement_requested) {
        cell.appendChild(el('span', {class: 'muted'}, `requested ${when(r.implement_requested)}`));
      } else if (agent && !ro) {
        if (this.confirming === key) {
          const note = el('input', {type: 'text', class: 'note', placeholder: 'note (optional)', 'aria-label': 'note'});
          append(cell, [
            el('span', null, `Implement version ${str(r.version)} of ${str(r.designation)}? `), note,
            el('button', {type: 'button', class: 'danger implement-confirm', on: {click: async (ev) => {
              ev.target.disabled = true;
              const body = {version: r.version, from: r.from};
              if (note.value.trim()) body.note = note.value.trim();
              try {
                const x = await post(`/api/freeze/${encodeURIComponent(r.designation)}/implement`, body);
                this.result = {ok: true, text: `${r.designation} v${r.version}: ${str(x.result)}${x.message ? ` (${x.message})` : ''}`};
              } catch (e) {
                this.result = {ok: false, text: `${r.designation} v${r.version}: not implemented: ${e.message}`};
              }
              this.confirming = null;
              await refresh(true);
            }}}, 'Confirm'),
            el('button', {type: 'button', on: {click: () => { this.confirming = null; rerender(); }}}, 'Cancel')]);
        } else {
          cell.appendChild(el('button', {type: 'button', class: 'implement', on: {click: () => {
            this.confirming = key;
            rerender();
          }}}, 'Implement…'));
        }
      }
      return el('tr', {data: {id: r.designation, version: r.version}, class: r.ack === 'implemented' ? 'done' : 'pending'},
        td(r.designation, 'mono'), td(r.from), td(r.name), td(r.version, 'num'), td(r.action),
        timeCell(r.received), td(r.ack), timeCell(r.implemented), cell);
    });
    const recv = section('Designations received',
      table('freeze-received', ['Designation', 'From', 'Name', 'Version', 'Action', 'Received', 'Acknowledged', 'Implemented', ''],
        rrows, 'No designation received yet.'));
    if (!agent) recv.appendChild(el('p', {class: 'muted'}, 'This console runs without the agency\'s agent: implementing is done where the agent runs.'));
    if (this.result) recv.appendChild(el('p', {id: 'implement-result', class: this.result.ok ? 'ok' : 'failed'}, this.result.text));
    out.appendChild(recv);
    return out;
  },
};

function progress(n, all, what) {
  const v = typeof n === 'number' ? n : 0;
  const cls = all > 0 && v >= all ? 'ok' : v > 0 ? 'partial' : 'none';
  return el('span', {class: `progress ${cls}`, title: `${v} of ${all} units ${what}`}, `${v} / ${all}`);
}

/* One designation: the matrix units x versions */
pages.freezeOne = {
  name: 'freeze-matrix',
  title: (p) => `Freeze designation ${p.id}`,
  load: (p) => api(`/api/freeze/${encodeURIComponent(p.id)}`),
  render(d) {
    const out = el('div');
    const ent = d.entity;
    const name = ent && typeof ent === 'object' ? ent.name : ent;
    const l = d.latest || {};
    out.appendChild(el('dl', {class: 'facts'},
      fact('Designation', d.designation), fact('Entity', name),
      fact('Latest', `version ${str(l.version)} (${str(l.action)}): ${str(l.received)} of ${str(l.units)} units received, ${str(l.implemented)} implemented`)));
    const versions = d.versions || [];
    const head = el('tr', null, el('th', {scope: 'col'}, 'Unit'),
      versions.map((v) => el('th', {scope: 'col'}, `v${str(v.version)} ${str(v.action)}`, el('br'), el('span', {class: 'muted time'}, when(v.sent)))));
    const rows = (d.units || []).map((u) => el('tr', {data: {id: u.unit}}, el('th', {scope: 'row'}, str(u.unit)),
      (u.versions || []).map((c) => {
        const st = c.implemented ? 'implemented' : c.received ? 'received' : 'pending';
        const t = c.implemented || c.received;
        return el('td', {class: `cell ${st}`, data: {unit: u.unit, version: c.version}},
          t ? `${st} ${when(t)}` : st,
          c.delivery ? el('div', {class: 'muted'}, `delivery: ${c.delivery}`) : null,
          c.note ? el('div', {class: 'muted'}, `note: ${c.note}`) : null);
      })));
    out.appendChild(section('Units × versions', rows.length
      ? el('div', {class: 'scroll'}, el('table', {id: 'freeze-matrix', class: 'data matrix'}, el('thead', null, head), el('tbody', null, rows)))
      : el('p', {class: 'empty'}, 'No unit was sent this designation.')));
    out.appendChild(el('p', {class: 'no-print'}, el('a', {href: '#/freeze'}, '← all designations')));
    return out;
  },
};

/* Queries and their answers */
pages.queries = {
  name: 'queries',
  title: () => 'Queries',
  load: () => api('/api/queries'),
  render(d) {
    const qs = d.queries || [];
    const box = el('div', {id: 'queries'});
    if (!qs.length) return append(box, [el('p', {class: 'empty'}, 'No queries sent yet.')]);
    for (const q of qs) {
      const answers = q.answers || [];
      const arows = answers.map((a) => el('tr', {data: {id: a.id}, class: `answer ${resultClass(a.result)}`},
        td(a.from), td(a.actor), timeCell(a.received),
        td([badge(str(a.result), resultClass(a.result)), a.reason ? el('div', {class: 'warn'}, str(a.reason)) : null]),
        td((a.hits || []).length ? el('ul', {class: 'hits'}, a.hits.map((h) => el('li', {class: 'hit-item'},
          el('span', {class: 'name'}, str(h.name)), ' ',
          el('span', {class: 'ref mono'}, str(h.ref)),
          h.score !== undefined && h.score !== null ? el('span', {class: 'muted'}, ` score ${h.score}`) : null,
          h.status ? el('span', {class: 'muted'}, ` ${h.status}`) : null,
          h.details && typeof h.details === 'object' && Object.keys(h.details).length
            ? el('div', {class: 'details muted'}, Object.entries(h.details).map(([k, v]) => `${k}: ${str(v)}`).join('; '))
            : null))) : null),
        td(withheldList(a.withheld))));
      const waiting = q.waiting || [];
      box.appendChild(el('section', {class: 'query', data: {id: q.id}},
        el('h2', null, el('span', {class: 'kind'}, str(q.kind)), ' ', str(q.subject)),
        el('p', {class: 'muted'}, `sent ${when(q.sent)} to ${str(q.to)}; purpose: ${str(q.purpose)}`),
        table(null, ['From', 'Actor', 'Received', 'Result', 'Hits', 'Withheld'], arows, 'No answer yet.'),
        waiting.length ? el('p', {class: 'waiting'}, `Not answered yet: ${waiting.join(', ')}`) : null));
    }
    return box;
  },
};

function resultClass(r) {
  if (r === 'hit') return 'hit';
  if (r === 'no-hit') return 'no-hit';
  return 'other';
}

/* Recalls and consents */
pages.recalls = {
  name: 'recalls',
  title: () => 'Recalls and consents',
  async load() {
    const [recalls, consents] = await Promise.all([api('/api/recalls'), api('/api/consents')]);
    return {recalls, consents};
  },
  render(d) {
    const out = el('div');
    const r = d.recalls || {};
    const srows = (r.sent || []).map((x) => el('tr', {data: {id: x.id}},
      timeCell(x.sent), td(x.message, 'mono'), td(x.kind), td(x.reason), td(x.action),
      td(el('table', {class: 'inner'}, el('tbody', null, (x.recipients || []).map((p) => el('tr', {data: {agency: p.agency}},
        td(p.agency), td(`original ${str(p.original)}`), td(`recall ${str(p.recall)}`),
        td(p.ack ? el('span', {class: p.ack === 'deleted' ? 'ok' : 'warn'}, `${p.ack} ${when(p.acked)}`) : el('span', {class: 'muted'}, 'no ack yet')))))))));
    out.appendChild(section('Recalls sent', table('recalls-sent', ['Sent', 'Message', 'Kind', 'Reason', 'Action', 'Recipients'], srows, 'No recall sent yet.')));
    const rrows = (r.received || []).map((t) => el('tr', {data: {id: t.message}, class: 'tombstone'},
      timeCell(t.deleted), td(t.message, 'mono'), td(t.kind), td(t.from), td(t.case), td(t.reason), td(t.whole === false ? `${str(t.action)} (in part)` : t.action), td(t.records)));
    out.appendChild(section('Recalls received', table('recalls-received', ['Deleted', 'Message', 'Kind', 'From', 'Case', 'Reason', 'Action', 'Records'], rrows, 'No recall received yet.')));

    const c = d.consents || {};
    out.appendChild(section('Consent requests received', consentTable('consents-in', c.requests_in, 'No consent request received yet.')));
    out.appendChild(section('Consent requests sent', consentTable('consents-out', c.requests_out, 'No consent request sent yet.')));
    const grows = (c.grants || []).map((g) => el('tr', {data: {id: g.id || g.message}, class: g.direction === 'out' ? 'sent' : 'in'},
      timeCell(g.created), td(g.grantor), td(g.grantee), td(g.recipients), td(g.kinds), timeCell(g.until),
      td(g.content, 'mono'), td(g.conditions), td(g.id, 'mono')));
    out.appendChild(section('Grants', table('grants', ['Time', 'Grantor', 'Grantee', 'Recipients', 'Kinds', 'Until', 'Content', 'Conditions', 'Grant'], grows, 'No consent granted yet.')));
    out.appendChild(section('Denials', consentTable('denials', c.denials, 'No consent denied yet.')));
    return out;
  },
};

/* A consent request or denial: a row of `consent list --json`
 * {direction, kind, id, created, from | to, in_reply_to, body}. */
function consentTable(id, list, empty) {
  const rows = (list || []).map((x) => {
    const b = x.body && typeof x.body === 'object' ? x.body : {};
    return el('tr', {data: {id: x.id}},
      timeCell(x.created), td(x.from || x.to), td(b.content || b.request, 'mono'),
      td(b.to), td(b.kinds), timeCell(b.until), td(b.purpose || b.reason), td(x.id, 'mono'));
  });
  return table(id, ['Time', 'With', 'Content / request', 'Recipients', 'Kinds', 'Until', 'Purpose / reason', 'Message'], rows, empty);
}

/* The broker */
const SERIES = ['accepted', 'rejected', 'withheld', 'denied', 'delivered'];

pages.broker = {
  name: 'broker',
  title: () => 'Broker',
  load: () => api('/api/broker'),
  render(b) {
    const out = el('div');
    out.appendChild(el('p', {class: 'muted'}, `broker ${str(b.broker)}, started ${when(b.started)}, as of ${when(b.now)}; `,
      `${str(b.sessions && b.sessions.connected)} sessions connected`));

    const prows = (b.peers || []).map((p) => {
      const h = p.head;
      let check = el('span', {class: 'muted'}, 'no tree head yet');
      if (h) {
        check = el('span', {class: h.ok ? 'ok' : 'failed'}, `${h.ok ? 'ok' : 'FAILED'}: ${str(h.check)}`,
          el('span', {class: 'muted'}, ` checked ${when(h.checked)}`));
      }
      return el('tr', {data: {id: p.nation}, class: `${p.up ? 'up' : 'down'}${h && !h.ok ? ' failed-check' : ''}`},
        td(p.nation), td(badge(p.up ? 'up' : 'down', p.up ? 'green' : 'red')), timeCell(p.since),
        td(p.inflight, 'num'), td(h ? h.tree_size : null, 'num'), timeCell(h && h.timestamp), td(check));
    });
    out.appendChild(section('Partner brokers', table('peers', ['Nation', 'Link', 'Since', 'In flight', 'Their tree size', 'Their head', 'Consistency'], prows, 'No partner broker configured.')));

    out.appendChild(section('Queues', queueBars(b.queues || [])));

    const cs = b.counters || {};
    out.appendChild(section('Counters (since start)', el('dl', {id: 'counters', class: 'counters'},
      Object.entries(cs).map(([k, v]) => el('div', {class: 'counter'}, el('dt', null, k), el('dd', null, str(v)))))));

    const ser = b.series || {};
    const pts = ser.points || [];
    out.appendChild(section(`Per ${str(ser.interval_s)} s, last hour`, pts.length
      ? el('div', {id: 'plots', class: 'plots'}, SERIES.map((k) => plot(k, pts)))
      : el('p', {class: 'empty'}, 'No points yet.')));

    const th = b.tree_head;
    out.appendChild(section('Audit log', th
      ? el('dl', {class: 'facts', id: 'tree-head'}, fact('Tree size', th.tree_size), fact('Root', el('span', {class: 'mono hash'}, str(th.root))), fact('Signed', when(th.timestamp)))
      : el('p', {class: 'empty'}, 'No tree head yet.')));

    const rrows = (b.refusals || []).map((r, i) => el('tr', {data: {id: i}},
      timeCell(r.time), td(r.what), td(r.from), td(r.kind), td(r.code, 'mono'), td(r.rule), td(r.reason)));
    out.appendChild(section('Recent refusals', table('refusals', ['Time', 'What', 'From', 'Kind', 'Code', 'Rule', 'Reason'], rrows, 'No refusal recently.')));
    return out;
  },
};

/* Queue depths as horizontal SVG bars. */
function queueBars(queues) {
  if (!queues.length) return el('p', {class: 'empty'}, 'No queue.');
  const max = Math.max(1, ...queues.map((q) => q.depth || 0));
  const rowH = 22;
  const w = 640;
  const labelW = 190;
  const s = svg('svg', {id: 'queues', class: 'bars', viewBox: `0 0 ${w} ${queues.length * rowH + 4}`, role: 'img', 'aria-label': 'queue depths'});
  queues.forEach((q, i) => {
    const y = i * rowH + 2;
    const bw = Math.max(q.depth ? 2 : 0, ((q.depth || 0) / max) * (w - labelW - 60));
    s.appendChild(svg('text', {x: 0, y: y + 15, class: 'label'}, str(q.destination)));
    s.appendChild(svg('rect', {x: labelW, y: y + 3, width: bw.toFixed(1), height: rowH - 8, class: 'bar', 'data-destination': q.destination}));
    s.appendChild(svg('text', {x: labelW + bw + 6, y: y + 15, class: 'value'}, str(q.depth)));
  });
  return s;
}

/* One series as an SVG line plot. */
function plot(key, points) {
  const w = 320;
  const h = 120;
  const pad = {l: 34, r: 8, t: 18, b: 18};
  const vals = points.map((p) => (typeof p[key] === 'number' ? p[key] : 0));
  const max = Math.max(1, ...vals);
  const n = vals.length;
  const x = (i) => pad.l + (n > 1 ? (i / (n - 1)) * (w - pad.l - pad.r) : 0);
  const y = (v) => h - pad.b - (v / max) * (h - pad.t - pad.b);
  const line = vals.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
  const total = vals.reduce((a, b) => a + b, 0);
  return svg('svg', {class: `plot series-${key}`, id: `plot-${key}`, viewBox: `0 0 ${w} ${h}`, role: 'img', 'aria-label': `${key} per interval`},
    svg('text', {x: pad.l, y: 12, class: 'title'}, `${key} (${total} in the hour)`),
    svg('line', {x1: pad.l, y1: h - pad.b, x2: w - pad.r, y2: h - pad.b, class: 'axis'}),
    svg('line', {x1: pad.l, y1: pad.t, x2: pad.l, y2: h - pad.b, class: 'axis'}),
    svg('text', {x: pad.l - 4, y: pad.t + 4, class: 'tick end'}, String(max)),
    svg('text', {x: pad.l - 4, y: h - pad.b, class: 'tick end'}, '0'),
    svg('text', {x: pad.l, y: h - 4, class: 'tick'}, shortTime(points[0].time)),
    svg('text', {x: w - pad.r, y: h - 4, class: 'tick end'}, shortTime(points[n - 1].time)),
    n > 1 ? svg('polyline', {points: line, class: 'line'}) : svg('circle', {cx: x(0), cy: y(vals[0]), r: 2, class: 'dot'}));
}

function shortTime(t) {
  const m = /T(\d\d:\d\d)/.exec(String(t || ''));
  return m ? `${m[1]}Z` : '';
}

/* ---------- routing and refresh ---------- */

function route() {
  const h = window.location.hash.replace(/^#\/?/, '');
  const q = h.indexOf('?');
  const parts = (q >= 0 ? h.slice(0, q) : h).split('/').map((p) => {
    try { return decodeURIComponent(p); } catch (e) { return p; }
  });
  /* the one query the pages know: ?now=YYYY-MM-DD on the MLAT pages */
  const asOf = q >= 0 ? new URLSearchParams(h.slice(q + 1)).get('now') : null;
  const now = asOf && /^\d{4}-\d{2}-\d{2}$/.test(asOf) ? asOf : null;
  if (parts[0] === 'mlat' && parts[1]) return {page: pages.mlatCase, nav: 'mlat', params: {id: parts.slice(1).join('/'), now}};
  if (parts[0] === 'mlat') return {page: pages.mlat, nav: 'mlat', params: {now}};
  if (parts[0] === 'freeze' && parts[1]) return {page: pages.freezeOne, nav: 'freeze', params: {id: parts.slice(1).join('/')}};
  const p = {inbox: pages.inbox, mlat: pages.mlat, freeze: pages.freeze, queries: pages.queries,
    recalls: pages.recalls, broker: pages.broker}[parts[0]];
  return p ? {page: p, nav: parts[0], params: {}} : null;
}

let lastData = null;
let lastJson = null;
let refreshing = false;

function fail(e) {
  if (e instanceof ApiError && e.status === 401) return;
  showError(e.message || String(e));
}

/* Re-fetches the current page's data and renders it. force: even if a form is being filled. */
async function refresh(force) {
  const r = state.route;
  if (!r) return;
  if (!force && r.page.busy && r.page.busy()) {
    state.pendingRefresh = true;
    return;
  }
  if (refreshing) {
    state.pendingRefresh = true;
    return;
  }
  refreshing = true;
  try {
    const data = await r.page.load(r.params);
    if (state.route !== r) return;       /* the user moved on meanwhile */
    state.pendingRefresh = false;
    clearError();
    const json = JSON.stringify(data);
    if (force || json !== lastJson) {
      /* the same data: the page is left as it is (no flicker, elements stay) */
      lastData = data;
      lastJson = json;
      render(r, data);
    } else {
      markUpdated();
    }
  } catch (e) {
    if (state.route === r && r.page === pages.broker && e.status === 404) {
      render(r, null, 'This console has no --broker-http: the broker\'s status is not available.');
    } else if (state.route === r && r.page === pages.broker && e.status === 502) {
      showError(e.message);
      render(r, null, e.message);
    } else {
      fail(e);
    }
  } finally {
    refreshing = false;
  }
}

function rerender() {
  if (state.route && lastData !== null) render(state.route, lastData);
}

function render(r, data, emptyMessage) {
  const content = $('#content');
  const scroll = window.scrollY;
  const node = data !== null ? r.page.render(data, r.params) : el('p', {class: 'empty'}, emptyMessage);
  clear(content).appendChild(node);
  window.scrollTo(0, scroll);
  markUpdated();
  state.ready++;
  document.body.dataset.page = r.page.name;
  document.body.dataset.ready = String(state.ready);
  if (!state.loadRecorded) {
    window.liaisonLoadMs = Math.round(performance.now() - state.loadStart);
    state.loadRecorded = true;
  }
}

function markUpdated() {
  $('#updated').textContent = `updated ${new Date().toISOString().slice(11, 19)} UTC`;
}

function go() {
  const r = route();
  if (!r) {
    window.location.replace('#/inbox');
    return;
  }
  if (r.page.enter) r.page.enter(r.params);
  state.route = r;
  lastData = null;
  lastJson = null;
  /* the first page counts from the navigation's start, later ones from the hash change */
  state.loadStart = state.firstRoute ? 0 : performance.now();
  state.firstRoute = false;
  state.loadRecorded = false;
  document.body.dataset.page = '';
  $('#page-title').textContent = r.page.title(r.params);
  document.title = `${r.page.title(r.params)} · Liaison console`;
  for (const a of document.querySelectorAll('#nav a')) a.classList.toggle('current', a.dataset.nav === r.nav);
  clear($('#content')).appendChild(el('p', {class: 'muted'}, 'Loading…'));
  if (state.brokerTimer) clearInterval(state.brokerTimer);
  state.brokerTimer = r.page === pages.broker ? setInterval(() => refresh(false), BROKER_POLL_MS) : null;
  refresh(true);
}

async function poll() {
  try {
    const c = await api('/api/changes');
    if (state.pollFailed) {
      /* the console answers again: the banner goes, the page is fetched afresh */
      state.pollFailed = false;
      clearError();
      state.generation = c.generation;
      await refresh(false);
    } else if (state.generation !== c.generation) {
      state.generation = c.generation;
      await refresh(false);
    } else if (state.pendingRefresh) {
      await refresh(false);
    }
  } catch (e) {
    state.pollFailed = true;
    fail(e);
  }
}

async function startConsole() {
  try {
    state.session = await api('/api/session');
    state.sessionLoadedAt = Date.now();
  } catch (e) {
    fail(e);
    return;
  }
  const s = state.session;
  state.generation = s.generation;
  $('#agency').textContent = str(s.agency);
  $('#actor').textContent = str(s.actor);
  const mode = $('#mode');
  if (s.read_only) {
    mode.textContent = 'read-only';
    mode.classList.remove('hidden');
  }
  window.addEventListener('hashchange', go);
  go();
  setInterval(poll, POLL_MS);
}

/* The login page: says that the last attempt failed, or was refused for too many failures. */
function startLogin() {
  const nav = performance.getEntriesByType ? performance.getEntriesByType('navigation')[0] : null;
  const status = nav && typeof nav.responseStatus === 'number' ? nav.responseStatus : 0;
  /* the console marks the page it answers a failed login with: <body data-failed> */
  const failed = 'failed' in document.body.dataset || status === 401 ||
    /(^|[?&])failed/.test(window.location.search);
  if (status === 429) $('#login-throttled').classList.remove('hidden');
  else if (failed) $('#login-failed').classList.remove('hidden');
  document.body.dataset.ready = '1';
}

if (document.body.dataset.page === 'login') startLogin();
else startConsole();
