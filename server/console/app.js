// SPDX-License-Identifier: MIT
// The midshim console: every action is one of midd's API routes, called
// with the session cookie and its CSRF token (see midd(8)).
'use strict';
(function () {
  const $ = (id) => document.getElementById(id);
  let csrf = '';
  let gen = null;
  let devices = [];
  let audit = [];
  let seen = new Set();
  let orgDisabled = false;
  let orgName = '';
  let loop = 0; // the live loop's number: a new one ends the old

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function notice(text, bad) {
    const n = $('notice');
    n.textContent = text;
    n.className = bad ? 'notice bad' : 'notice';
  }

  function show(loggedIn) {
    $('login-view').hidden = loggedIn;
    $('app-view').hidden = !loggedIn;
    $('logout').hidden = !loggedIn;
    $('live').hidden = !loggedIn;
    $('org').textContent = loggedIn ? orgName : '';
    if (loggedIn) {
      refresh();
      live();
    } else {
      csrf = '';
      $('key').focus();
    }
  }

  async function api(method, path, body) {
    const opt = { method: method, headers: {}, credentials: 'same-origin' };
    if (method !== 'GET') {
      opt.headers['x-csrf-token'] = csrf;
      opt.headers['content-type'] = 'application/json';
      opt.body = JSON.stringify(body || {});
    }
    const r = await fetch(path, opt);
    let j = {};
    try { j = await r.json(); } catch (e) { j = {}; }
    if (r.status === 401) {
      show(false);
      $('login-error').textContent = 'Your session has ended; log in again.';
    }
    return { status: r.status, json: j };
  }

  function failed(what, r) {
    notice(what + ' failed: ' + (r.json.error || r.status) + (r.json.message ? ': ' + r.json.message : ''), true);
  }

  // ---- login ----
  async function login(ev) {
    ev.preventDefault();
    const body = new URLSearchParams(new FormData($('login')));
    $('key').value = '';
    const r = await fetch('/console/login', { method: 'POST', body: body, credentials: 'same-origin' });
    let j = {};
    try { j = await r.json(); } catch (e) { j = {}; }
    if (r.status === 200) {
      csrf = j.csrf;
      orgName = j.org;
      $('login-error').textContent = '';
      show(true);
      return;
    }
    const why = {
      401: 'Wrong key.',
      403: 'The org key cannot log in: use the admin key.',
      429: 'Too many attempts: wait ' + (r.headers.get('retry-after') || 'a few') + ' s and try again.',
    };
    $('login-error').textContent = why[r.status] || ('Login failed (' + r.status + ').');
  }

  async function logout() {
    await fetch('/console/logout', { method: 'POST', headers: { 'x-csrf-token': csrf }, credentials: 'same-origin' });
    loop++;
    show(false);
  }

  // ---- confirmation ----
  function confirmDialog(text, word) {
    return new Promise((resolve) => {
      const d = $('confirm');
      $('confirm-text').textContent = text;
      $('confirm-typed').hidden = !word;
      $('confirm-word').textContent = word || '';
      $('confirm-input').value = '';
      $('confirm-ok').disabled = !!word;
      $('confirm-input').oninput = () => { $('confirm-ok').disabled = $('confirm-input').value !== word; };
      d.onclose = () => resolve(d.returnValue === 'ok');
      d.returnValue = '';
      d.showModal();
      (word ? $('confirm-input') : $('confirm-cancel')).focus();
    });
  }

  // ---- devices ----
  async function refresh() {
    const [l, u] = await Promise.all([listAll(), api('GET', '/api/v1/usage')]);
    if (l) {
      devices = l;
      renderDevices();
    }
    if (u.status === 200) renderUsage(u.json);
    await loadAudit();
  }

  // Every device, page by page (midd gives 1,000 a page); at most 20 pages.
  async function listAll() {
    let all = [];
    let after = 0;
    for (let page = 0; page < 20; page++) {
      const r = await api('GET', '/api/v1/devices/list?limit=1000&after=' + after);
      if (r.status !== 200) return null;
      all = all.concat(r.json.devices || []);
      if (r.json.next === null || r.json.next === undefined) return all;
      after = r.json.next;
    }
    return all;
  }

  function renderUsage(u) {
    const box = $('usage');
    box.replaceChildren();
    for (const k of ['devices', 'active', 'revoked', 'removed', 'validates']) {
      const s = el('span');
      s.append(el('strong', '', String(u[k])), ' ' + k);
      box.append(s);
    }
    orgDisabled = !!u.org_disabled;
    $('org-state').textContent = orgDisabled ? 'disabled' : 'enabled';
    const t = $('org-toggle');
    t.textContent = orgDisabled ? 'Enable org' : 'Disable org';
    t.className = orgDisabled ? 'ok' : 'danger';
  }

  function when(t) {
    return t ? t.replace('T', ' ').replace(/\.\d+Z$/, 'Z') : 'never';
  }

  // Rows are kept by deviceId and changed in place, so a button does not
  // move or vanish under a thumb while the live view refreshes.
  const rows = new Map();

  function button(cls, text, fn) {
    const b = el('button', cls, text);
    b.type = 'button';
    b.onclick = fn;
    return b;
  }

  function makeRow(d) {
    const li = el('li');
    li.dataset.device = d.deviceId;
    li.append(el('span', 'dev-id', d.deviceId), el('span'), el('span', 'meta'), el('span', 'acts'));
    return { li: li, state: null };
  }

  function fillRow(row, d) {
    const procs = d.processes || [];
    let meta = 'last validate ' + when(d.last_seen) + ' · ' + d.validates + ' validates';
    if (procs.length) meta += ' · ' + procs.length + ' live: ' + procs.map((p) => p.program + ' ' + p.pid).join(', ');
    const [, badge, info, acts] = row.li.children;
    if (info.textContent !== meta) info.textContent = meta;
    if (row.state === d.state) return;
    row.state = d.state;
    badge.className = 'badge ' + d.state;
    badge.textContent = d.state;
    acts.replaceChildren(d.state === 'active' ?
      button('danger revoke', 'Revoke', () => act('revoke', d.deviceId)) :
      button('ok restore', 'Restore', () => act('unrevoke', d.deviceId)));
    if (d.state !== 'removed') {
      acts.append(button('remove', 'Remove', async () => {
        if (await confirmDialog('Remove ' + d.deviceId + '? Its programs are stopped and it frees a device slot.')) act('remove', d.deviceId);
      }));
    }
  }

  function renderDevices() {
    const q = $('filter').value.trim().toLowerCase();
    const st = $('state-filter').value;
    const ul = $('devices');
    const want = [];
    for (const d of devices) {
      if (st && d.state !== st) continue;
      if (q && !d.deviceId.toLowerCase().includes(q)) continue;
      let row = rows.get(d.deviceId);
      if (!row) {
        row = makeRow(d);
        rows.set(d.deviceId, row);
      }
      fillRow(row, d);
      want.push(row.li);
    }
    if (!want.length) want.push(el('li', 'muted', devices.length ? 'No device matches.' : 'No devices yet.'));
    want.forEach((li, i) => { if (ul.children[i] !== li) ul.insertBefore(li, ul.children[i] || null); });
    while (ul.children.length > want.length) ul.lastChild.remove();
  }

  async function act(action, dev) {
    const r = await api('POST', '/api/v1/devices/' + action, { deviceId: dev });
    const done = { revoke: 'revoked', unrevoke: 'restored', remove: 'removed' }[action];
    if (r.status === 200) {
      notice(done + ' ' + dev + ' (request_id ' + r.json.request_id + ')' + (r.json.persisted === false ? ' — not yet persisted: ' + r.json.warning : ''), r.json.persisted === false);
    } else {
      failed(action + ' ' + dev, r);
    }
    refresh();
  }

  async function bulk(ev) {
    ev.preventDefault();
    const glob = $('glob').value.trim();
    if (!glob) return;
    const dry = await api('POST', '/api/v1/devices/revoke-match', { match: glob, dryRun: true });
    if (dry.status !== 200) return failed('revoke ' + glob, dry);
    const n = dry.json.matched;
    if (!n) return notice('No active device matches ' + glob + '.');
    const names = dry.json.devices.join(', ') + (n > dry.json.devices.length ? ', …' : '');
    if (!(await confirmDialog('Revoke ' + n + ' device' + (n === 1 ? '' : 's') + ' matching ' + glob + '? ' + names))) return;
    const r = await api('POST', '/api/v1/devices/revoke-match', { match: glob, expect: n });
    if (r.status === 200) notice('revoked ' + r.json.revoked + ' devices matching ' + glob + ' (request_id ' + r.json.request_id + ')');
    else failed('revoke ' + glob, r);
    refresh();
  }

  async function orgToggle() {
    if (orgDisabled) {
      if (!(await confirmDialog('Enable the organisation ' + orgName + ' again?'))) return;
    } else if (!(await confirmDialog('Disable the organisation ' + orgName + '? Every gated program of it stops at its next side effect.', orgName))) {
      return;
    }
    const path = orgDisabled ? '/api/v1/org/enable' : '/api/v1/org/disable';
    const r = await api('POST', path, {});
    if (r.status === 200) notice('organisation ' + (r.json.org_disabled ? 'disabled' : 'enabled') + ' (request_id ' + r.json.request_id + ')');
    else failed(path, r);
    refresh();
  }

  // ---- audit ----
  async function loadAudit() {
    const r = await api('GET', '/api/v1/audit?limit=200');
    if (r.status !== 200) return;
    audit = r.json.entries || [];
    renderAudit();
  }

  function renderAudit() {
    const q = $('audit-search').value.trim().toLowerCase();
    const ol = $('audit');
    const first = seen.size === 0;
    ol.replaceChildren();
    for (const a of audit) {
      const key = a.time + a.request_id + a.route + (a.deviceId || '');
      if (q && !((a.deviceId || '').toLowerCase().includes(q) || a.request_id.includes(q))) continue;
      const li = el('li');
      li.dataset.rid = a.request_id;
      li.dataset.code = a.code;
      if (a.decision === 'deny' || a.decision === 'kill') li.classList.add('deny');
      if (!first && !seen.has(key)) li.classList.add('fresh');
      li.append(el('span', '', when(a.time) + ' '));
      li.append(el('b', '', a.deviceId || '(org)'));
      li.append(' ' + a.route + ' → ' + a.decision + ' ' + a.code + ' ');
      li.append(el('span', 'rid', a.request_id));
      ol.append(li);
    }
    for (const a of audit) seen.add(a.time + a.request_id + a.route + (a.deviceId || ''));
    if (!ol.children.length) ol.append(el('li', 'muted', 'Nothing yet.'));
  }

  // ---- live: a long poll that answers when the trail grows ----
  async function live() {
    const me = ++loop;
    while (me === loop && csrf) {
      try {
        const r = await fetch('/console/wait' + (gen === null ? '' : '?gen=' + gen), { credentials: 'same-origin' });
        if (me !== loop) break;
        if (r.status === 401) { show(false); break; }
        if (r.status !== 200) { await new Promise((ok) => setTimeout(ok, 1000)); continue; }
        const j = await r.json();
        if (gen !== null && j.gen !== gen) {
          await refresh();
          // A busy trail changes every flush: look at most 3 times a second.
          await new Promise((ok) => setTimeout(ok, 300));
        }
        gen = j.gen;
        $('live').hidden = false;
      } catch (e) {
        $('live').hidden = true;
        await new Promise((ok) => setTimeout(ok, 1000));
      }
    }
  }

  async function start() {
    $('login').addEventListener('submit', login);
    $('logout').addEventListener('click', logout);
    $('bulk').addEventListener('submit', bulk);
    $('org-toggle').addEventListener('click', orgToggle);
    $('filter').addEventListener('input', renderDevices);
    $('state-filter').addEventListener('change', renderDevices);
    $('audit-search').addEventListener('input', renderAudit);
    const r = await fetch('/console/session', { credentials: 'same-origin' });
    if (r.status === 200) {
      const j = await r.json();
      csrf = j.csrf;
      orgName = j.org;
      show(true);
    } else {
      show(false);
    }
  }

  start();
})();
