/* The customer-service console at /agent: sign in, the queue, claim, transcript, reply, notes,
 * hand back, close. Plain JS served by the product (no CDN, no framework).
 *
 * Safety rule (B46): every text that comes from the server — a person's words, an agent's reply,
 * a name, a catalog string — goes into the page with textContent / append(string). Nothing is
 * ever assigned to innerHTML, so `<img src=x onerror=...>` typed by a person is shown as text.
 *
 * Live updates: the WebSocket /agent/ws only says *what* changed ({"type", "handoff"}); the page
 * then refetches the queue or the open transcript. While the socket is down the page polls, and
 * reconnects with a growing delay.
 */
(function () {
  'use strict';

  const API = '/agent/api';
  const CSRF = {'X-Requested-With': 'creditbot-console'};
  const LANGS = ['zh', 'en'];
  const LANG_KEY = 'creditbot.console.lang';
  const POLL_MS = 3000;
  const BACKOFF_MS = [500, 1000, 2000, 4000, 8000, 15000];

  const S = {
    lang: 'zh', catalogs: {}, me: null,
    queue: [], queueLoaded: false,
    openId: null, open: null, lines: new Map(), loadedFor: null,
    canned: {}, cannedLang: null,
    ws: null, wsTries: 0, wsTimer: null, pollTimer: null, tickTimer: null,
    signedIn: false,
    // A reply typed but not sent when the session ended: {agentId, handoffId, text}. Memory only;
    // it goes back into the reply box when the same agent signs in again.
    draft: null,
  };

  const $ = (id) => document.getElementById(id);

  // -- texts -----------------------------------------------------------------------------------

  function t(key, params) {
    const texts = S.catalogs[S.lang] || {};
    let text = texts[key];
    if (text === undefined) text = (S.catalogs.zh || {})[key];
    if (text === undefined) return key;
    return text.replace(/\{(\w+)\}/g, (m, name) => (params && name in params ? String(params[name]) : m));
  }

  function has(key) {
    return key in (S.catalogs[S.lang] || {});
  }

  async function loadCatalogs() {
    await Promise.all(LANGS.map(async (lang) => {
      if (S.catalogs[lang]) return;
      const res = await fetch(`${API}/i18n/${lang}`, {credentials: 'same-origin'});
      S.catalogs[lang] = res.ok ? await res.json() : {};
    }));
  }

  function applyTexts() {
    document.documentElement.lang = S.lang === 'en' ? 'en' : 'zh-CN';
    for (const node of document.querySelectorAll('[data-i18n]')) node.textContent = t(node.dataset.i18n);
    for (const node of document.querySelectorAll('[data-i18n-aria-label]')) {
      node.setAttribute('aria-label', t(node.dataset.i18nAriaLabel));
    }
    const other = S.lang === 'zh' ? 'en' : 'zh';
    $('cc-lang').textContent = (S.catalogs[other] || {})['console.lang.self'] || other;
    $('cc-lang').setAttribute('lang', other === 'en' ? 'en' : 'zh-CN');
    $('cc-connection').textContent = t(`console.connection.${$('cc').dataset.connection}`);
    const notice = $('cc-signin-notice');
    if (notice.dataset.key) notice.textContent = t(notice.dataset.key);
    updateTitle();
  }

  function updateTitle() {
    const waiting = S.queue.filter((h) => h.status === 'waiting').length;
    document.title = S.signedIn && waiting ? t('console.page_title_waiting', {count: waiting}) : t('console.title');
  }

  async function setLang(lang) {
    S.lang = LANGS.includes(lang) ? lang : 'zh';
    try { localStorage.setItem(LANG_KEY, S.lang); } catch (e) { /* private mode: not remembered */ }
    applyTexts();
    if (S.signedIn) {
      renderWho();
      renderQueue();
      renderDetail(true);
    }
  }

  function duration(seconds) {
    const s = Math.max(0, Math.floor(seconds));
    if (s < 60) return t('console.time.seconds', {s});
    if (s < 3600) return t('console.time.minutes', {m: Math.floor(s / 60), s: s % 60});
    return t('console.time.hours', {h: Math.floor(s / 3600), m: Math.floor((s % 3600) / 60)});
  }

  function clock(iso) {
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return '';
    return d.toLocaleTimeString(S.lang === 'en' ? 'en-GB' : 'zh-CN', {hour12: false});
  }

  const label = (prefix, value, fallback) =>
    (value === null || value === undefined || value === '') ? t(fallback)
      : has(`${prefix}.${value}`) ? t(`${prefix}.${value}`) : String(value);

  // -- building nodes (text only) ---------------------------------------------------------------

  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === 'class') node.className = value;
      else if (key === 'text') node.textContent = value;
      else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? '' : String(value));
    }
    for (const child of children) if (child !== null && child !== undefined) node.append(child);
    return node;
  }

  function show(node, visible) {
    node.hidden = !visible;
  }

  function announce(text) {
    const region = $('cc-announce');
    region.textContent = '';
    // A fresh text node after a tick, so screen readers announce repeats too.
    setTimeout(() => { region.textContent = text; }, 50);
  }

  // -- the API ---------------------------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, message, code) {
      super(message || String(status));
      this.status = status;
      this.code = code || '';
    }
  }

  async function api(method, path, body) {
    const options = {method, credentials: 'same-origin', headers: {...CSRF, Accept: 'application/json'}};
    if (body !== undefined) {
      options.headers['Content-Type'] = 'application/json';
      options.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(API + path, options);
    } catch (e) {
      throw new ApiError(0, 'network');
    }
    let data = null;
    try { data = await res.json(); } catch (e) { data = null; }
    if (res.status === 401 && path !== '/login') {
      sessionEnded('console.signin.expired');
      throw new ApiError(401, 'signed out');
    }
    if (!res.ok) throw new ApiError(res.status, data && data.error, data && data.code);
    return data || {};
  }

  function errorText(err, context) {
    if (!(err instanceof ApiError) || err.status === 0) return t('console.error.network');
    if (err.status === 409 && context === 'claim') return t('console.claim.taken');
    if (err.code === 'not_claimed') return t('console.error.not_claimed');
    if (err.status === 403) return t('console.error.not_yours');
    if (err.status === 404) return t('console.error.not_found');
    if (err.status === 409) return t('console.error.not_open');
    if (err.status === 400) return t('console.error.bad_input');
    if (err.status === 429) return t('console.error.rate_limited');
    return t('console.error.failed', {status: err.status});
  }

  // -- sign in / out ---------------------------------------------------------------------------

  function setView(view) {
    $('cc').dataset.view = view;
    show($('cc-signin'), view === 'signin');
    show($('cc-console'), view === 'console');
    show($('cc-signout'), view === 'console');
    show($('cc-who'), view === 'console');
    show($('cc-connection'), view === 'console');
  }

  function showSignIn(noticeKey) {
    setView('signin');
    const notice = $('cc-signin-notice');
    notice.textContent = noticeKey ? t(noticeKey) : '';
    notice.dataset.key = noticeKey || '';
    show(notice, Boolean(noticeKey));
    show($('cc-signin-draft'), Boolean(S.draft));
    show($('cc-signin-error'), false);
    $('cc-password').value = '';
    $('cc-username').focus();
  }

  async function signIn(event) {
    event.preventDefault();
    const username = $('cc-username').value.trim();
    const password = $('cc-password').value;
    const error = $('cc-signin-error');
    if (!username || !password) {
      error.textContent = t('console.signin.error.missing');
      show(error, true);
      return;
    }
    const submit = $('cc-signin-submit');
    submit.disabled = true;
    submit.textContent = t('console.signin.busy');
    try {
      const data = await api('POST', '/login', {username, password});
      $('cc-password').value = '';
      show($('cc-signin-notice'), false);
      show($('cc-signin-draft'), false);
      await startConsole(data.agent);
    } catch (err) {
      error.textContent = err.status === 401 ? t('console.signin.error.wrong')
        : err.status === 429 ? t('console.signin.error.rate_limited') : errorText(err);
      show(error, true);
      $('cc-password').value = '';
      $('cc-password').focus();
    } finally {
      submit.disabled = false;
      submit.textContent = t('console.signin.submit');
    }
  }

  async function signOut() {
    try { await api('POST', '/logout'); } catch (e) { /* signed out either way */ }
    sessionEnded('console.signin.signed_out');
  }

  function sessionEnded(noticeKey) {
    if (!S.signedIn && $('cc').dataset.view === 'signin') return;
    const unsent = $('cc-reply').value;
    S.draft = S.me && S.openId !== null && unsent.trim() && noticeKey !== 'console.signin.signed_out'
      ? {agentId: S.me.id, handoffId: S.openId, text: unsent} : null;
    S.signedIn = false;
    S.me = null;
    stopLive();
    // Nothing of the conversations stays in the page once the session is gone.
    S.queue = [];
    S.queueLoaded = false;
    closeDetail();
    renderQueue();
    $('cc-reply').value = '';
    $('cc-note').value = '';
    S.canned = {};
    S.cannedLang = null;
    $('cc-canned').replaceChildren();
    showSignIn(noticeKey);
  }

  async function startConsole(agent) {
    S.me = agent;
    S.signedIn = true;
    setView('console');
    renderWho();
    await refreshQueue();
    connect();
    S.tickTimer = setInterval(tick, 1000);
    const first = $('cc-queue-list').querySelector('button');
    (first || $('cc-queue-heading')).focus();
    await restoreDraft();
  }

  /* After the session ended mid-reply: the same agent gets the conversation back with the reply
     in the box; if it is no longer theirs, the text is shown so it is not lost. Another agent
     signing in on this browser never sees it. */
  async function restoreDraft() {
    const draft = S.draft;
    S.draft = null;
    if (!draft || !S.me || S.me.id !== draft.agentId) return;
    await openHandoff(draft.handoffId);
    if (S.openId !== draft.handoffId) return;
    if (!$('cc-work').hidden) {
      const box = $('cc-reply');
      box.value = draft.text;
      showInfo(t('console.draft.restored'));
      box.focus();
      box.setSelectionRange(box.value.length, box.value.length);
    } else {
      showInfo(t('console.draft.not_sent', {text: draft.text}));
    }
  }

  function renderWho() {
    if (S.me) $('cc-who').textContent = t('console.signed_in_as', {name: S.me.display_name || S.me.username});
  }

  // -- live updates ----------------------------------------------------------------------------

  function setConnection(state) {
    $('cc').dataset.connection = state;
    const node = $('cc-connection');
    node.textContent = t(`console.connection.${state}`);
    node.className = `cc-connection cc-connection-${state}`;
  }

  function connect() {
    if (!S.signedIn) return;
    clearTimeout(S.wsTimer);
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    let ws;
    try {
      ws = new WebSocket(`${scheme}//${location.host}/agent/ws`);
    } catch (e) {
      scheduleReconnect();
      return;
    }
    S.ws = ws;
    setConnection(S.wsTries ? 'reconnecting' : 'connecting');
    ws.onopen = () => {
      S.wsTries = 0;
      setConnection('online');
      stopPolling();
      refreshAll(); // whatever happened while the socket was down
    };
    ws.onmessage = (event) => {
      let msg;
      try { msg = JSON.parse(event.data); } catch (e) { return; }
      onEvent(msg);
    };
    ws.onclose = (event) => {
      if (S.ws !== ws) return;
      S.ws = null;
      if (!S.signedIn) return;
      if (event.code === 4401) {
        // The server says the session is over; /me confirms (and sends us to sign-in).
        api('GET', '/me').then(() => scheduleReconnect(), () => {});
        return;
      }
      scheduleReconnect();
    };
  }

  function scheduleReconnect() {
    if (!S.signedIn) return;
    setConnection('offline');
    if (!S.pollTimer) refreshAll(); // at once: catch up, and find out if the session is over
    startPolling();
    const delay = BACKOFF_MS[Math.min(S.wsTries, BACKOFF_MS.length - 1)];
    S.wsTries += 1;
    clearTimeout(S.wsTimer);
    S.wsTimer = setTimeout(connect, delay);
  }

  function startPolling() {
    if (S.pollTimer) return;
    S.pollTimer = setInterval(refreshAll, POLL_MS);
  }

  function stopPolling() {
    clearInterval(S.pollTimer);
    S.pollTimer = null;
  }

  function stopLive() {
    stopPolling();
    clearTimeout(S.wsTimer);
    clearInterval(S.tickTimer);
    S.tickTimer = null;
    S.wsTries = 0;
    if (S.ws) {
      const ws = S.ws;
      S.ws = null;
      ws.close();
    }
    setConnection('offline');
  }

  function onEvent(msg) {
    const id = Number(msg.handoff);
    if (msg.type === 'queue' || msg.type === 'status') {
      refreshQueue();
      if (id === S.openId) refreshDetail();
    } else if (msg.type === 'entry' && id === S.openId) {
      refreshDetail();
    }
  }

  function refreshAll() {
    refreshQueue();
    if (S.openId !== null) refreshDetail();
  }

  // Coalesces overlapping refreshes: one in flight; calls meanwhile make it run once more after,
  // and every caller's promise settles when the data is at least as new as its call.
  function single(run) {
    let running = null;
    let again = false;
    return function () {
      if (running) { again = true; return running; }
      running = (async () => {
        try {
          do { again = false; await run(); } while (again);
        } finally {
          running = null;
        }
      })();
      return running;
    };
  }

  // -- the queue -------------------------------------------------------------------------------

  const refreshQueue = single(async () => {
    if (!S.signedIn) return;
    let data;
    try {
      data = await api('GET', '/queue');
    } catch (err) {
      return;
    }
    if (!S.signedIn) return;
    const before = new Set(S.queue.filter((h) => h.status === 'waiting').map((h) => h.id));
    const at = Date.now();
    S.queue = (Array.isArray(data.handoffs) ? data.handoffs : []).map((h) => ({...h, fetchedAt: at}));
    if (data.me) S.me = {...S.me, ...data.me};
    const fresh = S.queue.filter((h) => h.status === 'waiting' && !before.has(h.id));
    if (fresh.length && S.queueLoaded) announce(t('console.announce.new_waiting'));
    S.queueLoaded = true;
    renderQueue();
  });

  function waitedNow(h) {
    const extra = h.status === 'waiting' && h.fetchedAt ? (Date.now() - h.fetchedAt) / 1000 : 0;
    return (Number(h.waiting_seconds) || 0) + extra;
  }

  function queueItem(h) {
    const mine = S.me && h.agent_id === S.me.id;
    const waiting = h.status === 'waiting';
    const held = waiting ? t('console.queue.position', {position: h.position || ''})
      : mine ? t('console.queue.mine') : t('console.queue.held_by', {agent: h.agent || '?'});
    const flow = label('console.flow', h.flow, 'console.flow.none');
    const button = el('button', {type: 'button', class: 'cc-queue-item', 'data-handoff-id': h.id,
      'data-status': h.status, 'aria-current': h.id === S.openId ? 'true' : null,
      onclick: () => openHandoff(h.id)},
    el('span', {class: 'cc-q-top'},
      el('span', {class: 'cc-q-id', text: `#${h.id}`}),
      el('span', {class: `cc-badge cc-badge-${waiting ? 'waiting' : mine ? 'mine' : 'active'}`, text: held}),
      el('span', {class: 'cc-q-wait', 'data-wait-for': h.id, text: waitText(h)})),
    el('span', {class: 'cc-q-meta'},
      el('span', {text: label('console.channel', h.channel, 'console.unknown')}),
      el('span', {text: label('console.lang', h.lang, 'console.unknown')}),
      el('span', {text: h.step ? `${flow} · ${label('console.step', h.step, 'console.step.none')}` : flow}),
      el('span', {text: t('console.queue.level', {level: levelText(h)})})));
    return el('li', {class: 'cc-queue-row'}, button);
  }

  function levelText(h) {
    if (!h.logged_in) return t('console.level.none');
    return label('console.level', h.level, 'console.unknown');
  }

  function waitText(h) {
    return h.status === 'waiting' ? t('console.queue.waiting_for', {time: duration(waitedNow(h))})
      : t('console.queue.waited', {time: duration(waitedNow(h))});
  }

  function renderQueue() {
    const list = $('cc-queue-list');
    const focused = document.activeElement && document.activeElement.closest('.cc-queue-item');
    const focusId = focused ? focused.dataset.handoffId : null;
    list.replaceChildren(...S.queue.map(queueItem));
    const waiting = S.queue.filter((h) => h.status === 'waiting').length;
    $('cc-queue-count').textContent = t('console.queue.count', {waiting, total: S.queue.length});
    show($('cc-queue-empty'), S.queue.length === 0);
    if (focusId) {
      const again = list.querySelector(`.cc-queue-item[data-handoff-id="${CSS.escape(focusId)}"]`);
      if (again) again.focus();
    }
    updateTitle();
  }

  function tick() {
    for (const h of S.queue) {
      if (h.status !== 'waiting') continue;
      const node = document.querySelector(`[data-wait-for="${Number(h.id)}"]`);
      if (node) node.textContent = waitText(h);
    }
    if (S.open && S.open.status === 'waiting') renderStatusLine();
  }

  // -- one conversation ------------------------------------------------------------------------

  function openHandoff(id) {
    if (S.openId !== id) {
      S.openId = id;
      S.open = null;
      S.lines = new Map();
      S.loadedFor = null;
      $('cc-transcript').replaceChildren();
      $('cc-reply').value = '';
      $('cc-note').value = '';
      showDetailError('');
      showInfo('');
    }
    for (const node of document.querySelectorAll('.cc-queue-item')) {
      if (Number(node.dataset.handoffId) === id) node.setAttribute('aria-current', 'true');
      else node.removeAttribute('aria-current');
    }
    return refreshDetail().then(() => {
      const heading = $('cc-detail-heading');
      if (!$('cc-detail-body').hidden) {
        heading.focus();
        if (window.matchMedia('(max-width: 760px)').matches) heading.scrollIntoView({block: 'start'});
      }
    });
  }

  function closeDetail() {
    S.openId = null;
    S.open = null;
    S.lines = new Map();
    S.loadedFor = null;
    $('cc-transcript').replaceChildren();
    renderDetail(true);
  }

  const refreshDetail = single(async () => {
    const id = S.openId;
    if (id === null || !S.signedIn) return;
    let data;
    try {
      data = await api('GET', `/handoffs/${id}`);
    } catch (err) {
      if (id !== S.openId || err.status === 401) return;
      if (err.status === 403 || err.status === 404) {
        // Someone else has it now (or it is gone): nothing of it stays on this screen.
        S.open = null;
        S.lines = new Map();
        S.loadedFor = null;
        $('cc-transcript').replaceChildren();
        renderDetail(false);
        // A claim that just lost the race keeps its own, clearer message.
        if ($('cc-detail-error').hidden) showDetailError(errorText(err));
        $('cc-detail').dataset.status = err.status === 403 ? 'taken' : 'gone';
      } else {
        showDetailError(errorText(err));
      }
      return;
    }
    if (id !== S.openId) return;
    S.open = {...data.handoff, fetchedAt: Date.now()};
    mergeLines(Array.isArray(data.transcript) ? data.transcript : []);
    renderDetail(false);
    keepAtBottom();  // now that the transcript is shown, it has a height to scroll
    loadCanned(S.open.lang);
  });

  function mergeLines(lines) {
    const list = $('cc-transcript');
    const initial = S.loadedFor !== S.openId;
    const added = [];
    for (const line of lines) {
      if (!S.lines.has(line.id)) added.push(line);
      S.lines.set(line.id, line);
    }
    if (!added.length && !initial) return;
    const ordered = [...S.lines.values()].sort((a, b) => a.id - b.id);
    const shown = [...list.children].map((n) => Number(n.dataset.id));
    const lastShown = shown.length ? shown[shown.length - 1] : -Infinity;
    if (initial) S.stick = true;  // a conversation opens at its newest line
    list.setAttribute('aria-busy', initial ? 'true' : 'false');
    if (added.every((line) => line.id > lastShown)) {
      for (const line of added.sort((a, b) => a.id - b.id)) list.append(lineNode(line));
    } else {
      list.replaceChildren(...ordered.map(lineNode));
    }
    list.setAttribute('aria-busy', 'false');
    S.loadedFor = S.openId;
    keepAtBottom();
    if (!initial) {
      const fromPerson = added.filter((line) => line.author === 'user');
      for (const line of fromPerson) announce(t('console.announce.new_message', {text: line.text}));
    }
  }

  /* The transcript stays at its newest line while the agent has not scrolled up. Its size changes
     too (it is hidden until the first load ends, the window is resized): then it is set again. */
  function keepAtBottom() {
    const list = $('cc-transcript');
    if (S.stick) list.scrollTop = list.scrollHeight;
  }
  $('cc-transcript').addEventListener('scroll', () => {
    const list = $('cc-transcript');
    if (list.clientHeight) S.stick = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  });
  if (window.ResizeObserver) new ResizeObserver(keepAtBottom).observe($('cc-transcript'));

  function lineNode(line) {
    const author = ['user', 'bot', 'agent', 'system', 'note'].includes(line.author) ? line.author : 'system';
    const who = author === 'agent' ? t('console.author.agent', {name: line.agent || '?'})
      : author === 'note' ? t('console.author.note', {name: line.agent || '?'})
      : t(`console.author.${author}`);
    return el('li', {class: `cc-line cc-line-${author}`, 'data-id': line.id, 'data-author': author},
      el('span', {class: 'cc-line-head'},
        el('span', {class: 'cc-line-who', text: who}),
        el('time', {class: 'cc-line-time', datetime: line.at, text: clock(line.at)})),
      el('span', {class: 'cc-line-text', text: String(line.text ?? '')}));
  }

  function showDetailError(text) {
    const node = $('cc-detail-error');
    node.textContent = text;
    show(node, Boolean(text));
  }

  function showInfo(text) {
    const node = $('cc-detail-info');
    node.textContent = text;
    show(node, Boolean(text));
  }

  function renderStatusLine() {
    const h = S.open;
    if (!h) return;
    const mine = S.me && h.agent_id === S.me.id;
    let text;
    if (h.status === 'waiting') {
      text = t('console.detail.waiting', {position: h.position || '', time: duration(waitedNow(h))});
    } else if (h.status === 'active') {
      text = mine ? t('console.detail.mine') : t('console.queue.held_by', {agent: h.agent || '?'});
    } else if (h.status === 'returned' && h.ended_by === 'person') {
      text = t('console.status.left_by_person');  // not "handed back": nobody here did it
    } else {
      text = label('console.status', h.status, 'console.unknown');
    }
    $('cc-detail-status').textContent = text;
  }

  function contextRows(h) {
    const rows = [
      ['console.field.channel', label('console.channel', h.channel, 'console.unknown')],
      ['console.field.lang', label('console.lang', h.lang, 'console.unknown')],
      ['console.field.flow', label('console.flow', h.flow, 'console.flow.none')],
      ['console.field.step', label('console.step', h.step, 'console.step.none')],
      ['console.field.level', levelText(h)],
      ['console.field.requested', clock(h.requested_at)],
    ];
    return rows.flatMap(([key, value]) => [el('dt', {text: t(key)}), el('dd', {text: value})]);
  }

  /* `relabel`: the language changed, so the lines are built again with the new author labels. */
  function renderDetail(relabel) {
    const h = S.open;
    const detail = $('cc-detail');
    show($('cc-detail-empty'), S.openId === null);
    show($('cc-detail-body'), S.openId !== null);
    const mine = Boolean(h && S.me && h.status === 'active' && h.agent_id === S.me.id);
    detail.dataset.handoffId = S.openId === null ? '' : String(S.openId);
    detail.dataset.status = h ? h.status : '';
    detail.dataset.endedBy = h && h.ended_by ? h.ended_by : '';
    detail.dataset.mine = String(mine);
    $('cc-detail-heading').textContent = S.openId === null ? '' : t('console.detail.heading', {id: S.openId});
    $('cc-detail-status').textContent = '';
    $('cc-context').replaceChildren(...(h ? contextRows(h) : []));
    $('cc-transcript-heading').textContent = !h ? ''
      : t(h.status === 'waiting' ? 'console.transcript.preview' : 'console.transcript.heading');
    const download = $('cc-download');
    if (h) download.href = `${API}/handoffs/${encodeURIComponent(h.id)}/transcript.txt`;
    download.setAttribute('download', h ? `handoff-${Number(h.id)}.txt` : '');
    show(download, Boolean(h));
    show($('cc-claim-bar'), Boolean(h && h.status === 'waiting'));
    show($('cc-work'), mine);
    if (h) renderStatusLine();
    if (h && !['waiting', 'active'].includes(h.status) && $('cc-detail-info').hidden) {
      showInfo(t('console.detail.ended'));
    }
    if (relabel && S.lines.size) {
      $('cc-transcript').replaceChildren(...[...S.lines.values()].sort((a, b) => a.id - b.id).map(lineNode));
    }
    renderCanned();
  }

  // -- actions ---------------------------------------------------------------------------------

  async function act(button, path, body, context) {
    const id = S.openId;
    if (id === null) return null;
    showDetailError('');
    button.disabled = true;
    try {
      return await api('POST', `/handoffs/${id}/${path}`, body);
    } catch (err) {
      if (err.status !== 401) showDetailError(errorText(err, context));
      if (err.status === 403 || err.status === 409) { refreshQueue(); refreshDetail(); }
      return null;
    } finally {
      button.disabled = false;
    }
  }

  async function claim() {
    const data = await act($('cc-claim'), 'claim', undefined, 'claim');
    if (!data) return;
    if (data.delivered === false) showInfo(t('console.reply.not_delivered'));
    await refreshDetail();
    refreshQueue();
    if (!$('cc-work').hidden) $('cc-reply').focus();
  }

  async function sendReply(event) {
    if (event) event.preventDefault();
    const box = $('cc-reply');
    const text = box.value.trim();
    if (!text) return;
    const data = await act($('cc-reply-send'), 'reply', {text});
    if (!data) return;
    box.value = '';
    showInfo(data.delivered === false ? t('console.reply.not_delivered') : '');
    if (data.entry) mergeLines([data.entry]);
    box.focus();
  }

  async function addNote(event) {
    event.preventDefault();
    const box = $('cc-note');
    const text = box.value.trim();
    if (!text) return;
    const data = await act($('cc-note-add'), 'note', {text});
    if (!data) return;
    box.value = '';
    if (data.entry) mergeLines([data.entry]);
    box.focus();
  }

  function confirmThen(questionKey, yesKey) {
    const dialog = $('cc-confirm');
    $('cc-confirm-text').textContent = t(questionKey);
    $('cc-confirm-yes').textContent = t(yesKey);
    return new Promise((resolve) => {
      dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), {once: true});
      dialog.returnValue = '';
      dialog.showModal();
      $('cc-confirm-no').focus();
    });
  }

  async function finish(how) {
    const ok = await confirmThen(`console.confirm.${how}`, `console.confirm.${how}_yes`);
    if (!ok) return;
    const data = await act($(how === 'handback' ? 'cc-handback' : 'cc-close'), how);
    if (!data) return;
    showInfo(t(how === 'handback' ? 'console.done.returned' : 'console.done.closed'));
    if (data.delivered === false) showDetailError(t('console.reply.not_delivered'));
    await refreshDetail();
    refreshQueue();
    $('cc-detail-heading').focus();
  }

  // -- canned replies (in the conversation's language) ------------------------------------------

  async function loadCanned(lang) {
    const key = LANGS.includes(lang) ? lang : 'zh';
    if (!S.canned[key]) {
      S.canned[key] = [];
      try {
        const data = await api('GET', `/canned?lang=${encodeURIComponent(key)}`);
        S.canned[key] = Array.isArray(data.canned) ? data.canned : [];
      } catch (err) {
        delete S.canned[key];
        return;
      }
    }
    if (S.cannedLang !== key) {
      S.cannedLang = key;
      renderCanned();
    }
  }

  function renderCanned() {
    const select = $('cc-canned');
    const items = S.canned[S.cannedLang] || [];
    const chosen = select.value;
    select.replaceChildren(el('option', {value: '', text: t('console.canned.placeholder')}),
      ...items.map((c) => el('option', {value: c.key, text: c.text})));
    if (items.some((c) => c.key === chosen)) select.value = chosen;
  }

  function useCanned() {
    const key = $('cc-canned').value;
    const item = (S.canned[S.cannedLang] || []).find((c) => c.key === key);
    if (!item) return;
    const box = $('cc-reply');
    box.value = box.value.trim() ? `${box.value.trimEnd()}\n${item.text}` : item.text;
    box.focus();
    box.setSelectionRange(box.value.length, box.value.length);
  }

  // -- wiring ----------------------------------------------------------------------------------

  function onReplyKey(event) {
    // Enter sends; Shift+Enter is a new line; Enter that confirms an IME composition is not a send.
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
      event.preventDefault();
      sendReply();
    }
  }

  function bind() {
    $('cc-signin-form').addEventListener('submit', signIn);
    $('cc-signout').addEventListener('click', signOut);
    $('cc-lang').addEventListener('click', () => setLang(S.lang === 'zh' ? 'en' : 'zh'));
    $('cc-claim').addEventListener('click', claim);
    $('cc-reply-form').addEventListener('submit', sendReply);
    $('cc-reply').addEventListener('keydown', onReplyKey);
    $('cc-note-form').addEventListener('submit', addNote);
    $('cc-canned-use').addEventListener('click', useCanned);
    $('cc-canned').addEventListener('keydown', (event) => {
      if (event.key === 'Enter') { event.preventDefault(); useCanned(); }
    });
    $('cc-handback').addEventListener('click', () => finish('handback'));
    $('cc-close').addEventListener('click', () => finish('close'));
    window.addEventListener('online', () => { if (S.signedIn && !S.ws) connect(); });
  }

  async function boot() {
    let saved = null;
    try { saved = localStorage.getItem(LANG_KEY); } catch (e) { /* not remembered */ }
    S.lang = LANGS.includes(saved) ? saved : 'zh';
    bind();
    try {
      await loadCatalogs();
    } catch (e) {
      S.catalogs = {zh: {}, en: {}};
    }
    applyTexts();
    let me = null;
    try {
      const res = await fetch(`${API}/me`, {credentials: 'same-origin', headers: CSRF});
      if (res.ok) me = (await res.json()).agent;
    } catch (e) { /* offline: sign-in form */ }
    if (me) await startConsole(me);
    else showSignIn(null);
    $('cc').dataset.ready = 'true';
  }

  window.CreditbotConsole = {
    // For tests and support: the socket drops as if the network had.
    drop() { if (S.ws) S.ws.close(); },
  };

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', boot);
  else boot();
}());
