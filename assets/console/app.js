// ctid web console: an ICWS client of ctid itself. It logs in, subscribes to the statuses
// of every user it may see, and lives on the server-sent event stream.

const $ = (id) => document.getElementById(id);
const state = {
  credentials: null, sid: null, token: null, me: null, rights: null,
  catalog: new Map(), order: [], users: new Map(), allowed: new Map(),
  events: null, reconnecting: false, search: '', group: '',
};

// ---- HTTP -------------------------------------------------------------------------------

async function call(method, path, body) {
  const headers = { 'Accept': 'application/json' };
  if (state.token) headers['ININ-ICWS-CSRF-Token'] = state.token;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(path, {
    method, headers, credentials: 'same-origin', body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch { json = null; }
  return { status: response.status, json };
}

const session = (method, path, body) => call(method, `/icws/${state.sid}${path}`, body);

// ---- Dates ------------------------------------------------------------------------------

function parseIcwsDate(text) {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(text || '');
  return m ? new Date(Date.UTC(+m[1], m[2] - 1, +m[3], +m[4], +m[5], +m[6])) : null;
}

function since(date) {
  if (!date) return '';
  const s = Math.max(0, Math.floor((Date.now() - date.getTime()) / 1000));
  if (s < 60) return 'just now';
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ${m % 60} min`;
  return `${Math.floor(h / 24)} days`;
}

// ---- Login and session ------------------------------------------------------------------

async function login(user, password) {
  const reply = await call('POST', '/icws/connection', {
    __type: 'urn:inin.com:connection:icAuthConnectionRequestSettings',
    applicationName: 'ctid console', userID: user, password,
  });
  if (reply.status !== 201) {
    const message = reply.json && reply.json.message ? reply.json.message : `Login failed (${reply.status})`;
    throw new Error(message);
  }
  state.sid = reply.json.sessionId;
  state.token = reply.json.csrfToken;
  state.credentials = { user, password };
}

async function start() {
  const info = await session('GET', '/ctid/session');
  if (info.status !== 200) throw new Error('session refused');
  state.me = info.json.userId;
  state.rights = info.json;
  $('me-name').textContent = info.json.userDisplayName || info.json.userId;
  $('me-profile').textContent = info.json.ctiProfile;

  const catalog = await session('GET', '/status/status-messages');
  setCatalog(catalog.json.statusMessageList);
  const directory = await session('GET', '/configuration/users');
  state.users = new Map(directory.json.items.map((item) => [
    item.configurationId.id.toLowerCase(),
    { userId: item.configurationId.id, displayName: item.configurationId.displayName, status: null },
  ]));
  const ids = [...state.users.values()].map((u) => u.userId);
  // The event stream first, so the snapshot that follows each subscription reaches it.
  openEvents();
  await session('PUT', '/messaging/subscriptions/status/status-messages');
  await session('PUT', '/messaging/subscriptions/status/status-messages-user-access', { userIds: ids });
  await session('PUT', '/messaging/subscriptions/status/user-statuses', { userIds: ids });
  $('login-view').hidden = true;
  $('board-view').hidden = false;
  $('who').hidden = false;
  $('banner').hidden = true;
  render();
}

function openEvents() {
  if (state.events) state.events.close();
  const events = new EventSource(`/icws/${state.sid}/messaging/messages`);
  state.events = events;
  events.onmessage = (event) => {
    try { handle(JSON.parse(event.data)); } catch (e) { console.error(e); }
  };
  events.onerror = () => {
    if (events.readyState === EventSource.CLOSED || !state.reconnecting) reconnect();
  };
}

// After a server restart or a network loss: a new session, new subscriptions, a full snapshot.
async function reconnect() {
  if (state.reconnecting || !state.credentials) return;
  state.reconnecting = true;
  $('banner').hidden = false;
  if (state.events) { state.events.close(); state.events = null; }
  for (let delay = 500; ; delay = Math.min(delay * 2, 5000)) {
    try {
      const alive = state.sid ? await session('GET', '/connection') : { status: 0 };
      if (alive.status !== 200) {
        await login(state.credentials.user, state.credentials.password);
      }
      await start();
      break;
    } catch (e) {
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
  state.reconnecting = false;
  $('banner').hidden = true;
}

async function logout() {
  const sid = state.sid;
  state.credentials = null;
  if (state.events) { state.events.close(); state.events = null; }
  if (sid) await session('DELETE', '/connection').catch(() => {});
  state.sid = null; state.token = null;
  $('board-view').hidden = true;
  $('who').hidden = true;
  $('login-view').hidden = false;
  $('login-password').value = '';
}

// ---- Messages ---------------------------------------------------------------------------

function handle(message) {
  switch (message.__type) {
    case 'urn:inin.com:status:userStatusMessage':
      for (const status of message.userStatusList) {
        const key = status.userId.toLowerCase();
        const user = state.users.get(key) || { userId: status.userId, displayName: status.userId, status: null };
        // The console subscribes to every member, so each entry is the whole status.
        user.status = status;
        state.users.set(key, user);
      }
      render();
      break;
    case 'urn:inin.com:status:statusMessagesMessage':
      applyCatalog(message);
      render();
      break;
    case 'urn:inin.com:status:statusMessagesUserAccessMessage':
      for (const change of message.statusMessagesUserAccessChanges || []) applyAccess(change, message.isDelta);
      renderForms();
      break;
    case 'urn:inin.com:connection:connectionStateChangeMessage':
      reconnect();
      break;
    default:
      break;
  }
}

function setCatalog(list) {
  state.catalog = new Map(list.map((s) => [s.statusId.toLowerCase(), s]));
  state.order = list.map((s) => s.statusId);
}

// A full catalog (isDelta false: everything is in statusMessagesAdded) or what changed in it.
function applyCatalog(message) {
  if (!message.isDelta) {
    setCatalog(message.statusMessagesAdded || []);
    return;
  }
  const removed = new Set((message.statusMessagesRemoved || []).map((id) => id.toLowerCase()));
  const changed = new Map((message.statusMessagesChanged || []).map((s) => [s.statusId.toLowerCase(), s]));
  const list = state.order
    .map((id) => id.toLowerCase())
    .filter((key) => !removed.has(key))
    .map((key) => changed.get(key) || state.catalog.get(key));
  setCatalog(list.concat(message.statusMessagesAdded || []));
}

// The statuses one user may select: all of them (not a delta) or those added and removed.
function applyAccess(change, isDelta) {
  const key = change.userId.toLowerCase();
  const removed = new Set(change.statusMessagesRemoved || []);
  const kept = (isDelta ? state.allowed.get(key) || [] : []).filter((id) => !removed.has(id));
  const added = (change.statusMessagesAdded || []).filter((id) => !kept.includes(id));
  state.allowed.set(key, kept.concat(added));
}

const groupClass = (tag) => `g-${String(tag || 'other').toLowerCase().replace(/[^a-z]/g, '')}`;

// ---- Rendering --------------------------------------------------------------------------

function render() {
  renderCounts();
  renderCards();
  renderForms();
}

function visibleUsers() {
  const needle = state.search.trim().toLowerCase();
  return [...state.users.values()].filter((u) => {
    if (!u.status) return false;
    const status = state.catalog.get(u.status.statusId.toLowerCase());
    if (state.group && (!status || status.groupTag !== state.group)) return false;
    if (!needle) return true;
    const text = [u.displayName, u.userId, status && status.messageText, u.status.notes].join(' ').toLowerCase();
    return text.includes(needle);
  });
}

function renderCounts() {
  const counts = new Map();
  for (const u of state.users.values()) {
    if (!u.status) continue;
    const status = state.catalog.get(u.status.statusId.toLowerCase());
    const tag = status ? status.groupTag : 'OTHER';
    counts.set(tag, (counts.get(tag) || 0) + 1);
  }
  const box = $('counts');
  box.replaceChildren(...[...counts.entries()].map(([tag, n]) => {
    const chip = document.createElement('button');
    chip.type = 'button';
    chip.className = `count ${groupClass(tag)}`;
    chip.dataset.group = tag;
    chip.textContent = `${tag.charAt(0)}${tag.slice(1).toLowerCase()} ${n}`;
    chip.setAttribute('aria-pressed', String(state.group === tag));
    chip.onclick = () => { state.group = state.group === tag ? '' : tag; $('group-filter').value = state.group; render(); };
    return chip;
  }));
  const select = $('group-filter');
  const groups = [...new Set([...state.catalog.values()].map((s) => s.groupTag))];
  if (select.options.length !== groups.length + 1) {
    select.replaceChildren(new Option('All groups', ''), ...groups.map((g) => new Option(g, g)));
    select.value = state.group;
  }
}

function renderCards() {
  const list = $('cards');
  const canChangeOthers = state.rights && state.rights.changeStatuses === 'all';
  list.replaceChildren(...visibleUsers().map((u) => {
    const s = u.status;
    const status = state.catalog.get(s.statusId.toLowerCase());
    const li = document.createElement('li');
    li.className = `card ${groupClass(status && status.groupTag)}`;
    li.dataset.user = u.userId;
    const name = document.createElement('div');
    name.className = 'name';
    name.textContent = u.displayName;
    if (s.onPhone) {
      const badge = document.createElement('span');
      badge.className = 'badge';
      badge.textContent = 'On the phone';
      name.append(badge);
    }
    const line = document.createElement('div');
    line.className = 'status';
    if (status) {
      const icon = document.createElement('img');
      icon.src = status.iconUri; icon.alt = '';
      line.append(icon);
    }
    const text = document.createElement('span');
    text.className = 'status-text';
    text.textContent = status ? status.messageText : s.statusId;
    line.append(text);
    li.append(name, line);
    const meta = [];
    if (s.notes) meta.push(['notes', s.notes]);
    const until = s.until ? parseIcwsDate(s.until.untilDateTime) : null;
    if (until) meta.push(['until', `until ${until.toLocaleString()}`]);
    if (s.forwardNumber) meta.push(['forward', `forward to ${s.forwardNumber}`]);
    if (s.stations && s.stations.length) meta.push(['stations', `station ${s.stations.join(', ')}`]);
    meta.push(['since', `for ${since(parseIcwsDate(s.statusChanged))}`]);
    for (const [kind, value] of meta) {
      const div = document.createElement('div');
      div.className = `meta ${kind}`;
      div.textContent = value;
      li.append(div);
    }
    if (canChangeOthers && u.userId.toLowerCase() !== state.me.toLowerCase()) {
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'secondary change';
      button.textContent = 'Change status';
      button.setAttribute('aria-label', `Change the status of ${u.displayName}`);
      button.onclick = () => openChange(u.userId);
      li.append(button);
    }
    return li;
  }));
}

// ---- Status forms -----------------------------------------------------------------------

function buildForm(form, userId) {
  form.dataset.user = userId;
  form.replaceChildren($('status-form-fields').content.cloneNode(true));
  form.statusId.onchange = () => { form.dataset.dirty = 'yes'; updateFields(form); };
  form.onsubmit = (event) => { event.preventDefault(); submitStatus(form); };
  fillForm(form);
}

function fillForm(form) {
  const userId = form.dataset.user;
  if (!userId) return;
  const key = userId.toLowerCase();
  const allowed = state.allowed.get(key) || [];
  const select = form.statusId;
  const current = state.users.get(key) && state.users.get(key).status;
  // Until the user picks something, the form shows the current status.
  const chosen = form.dataset.dirty ? select.value : (current && current.statusId) || select.value;
  const groups = new Map();
  for (const id of state.order) {
    if (!allowed.includes(id)) continue;
    const status = state.catalog.get(id.toLowerCase());
    if (!groups.has(status.groupTag)) groups.set(status.groupTag, []);
    groups.get(status.groupTag).push(status);
  }
  select.replaceChildren(...[...groups.entries()].map(([tag, statuses]) => {
    const group = document.createElement('optgroup');
    group.label = tag;
    group.append(...statuses.map((s) => new Option(s.messageText, s.statusId)));
    return group;
  }));
  if ([...select.options].some((o) => o.value === chosen)) select.value = chosen;
  updateFields(form);
}

function updateFields(form) {
  const status = state.catalog.get((form.statusId.value || '').toLowerCase());
  form.querySelector('.until').hidden = !(status && status.canHaveDate);
  const forward = form.querySelector('.forward');
  forward.hidden = !(status && status.canHaveForwardNumber);
  form.forwardNumber.required = Boolean(status && status.isForwardStatus);
}

function renderForms() {
  if (!state.me) return;
  const mine = $('my-form');
  if (mine.dataset.user !== state.me) buildForm(mine, state.me);
  else fillForm(mine);
  const dialogForm = $('change-form');
  if ($('change-dialog').open) fillForm(dialogForm);
}

async function submitStatus(form) {
  const error = form.querySelector('.error');
  error.textContent = '';
  const status = state.catalog.get(form.statusId.value.toLowerCase());
  const body = { statusId: form.statusId.value, notes: form.notes.value };
  if (status && status.canHaveForwardNumber) {
    const number = form.forwardNumber.value.trim();
    if (status.isForwardStatus && !number) { error.textContent = 'A forward number is required for this status.'; return; }
    if (number && !/^[0-9+*#][0-9+*#\-. ()]*$/.test(number)) { error.textContent = 'The forward number may contain only digits, +, *, #, spaces and dashes.'; return; }
    if (number) body.forwardNumber = number;
  }
  if (status && status.canHaveDate && form.until.value) {
    body.until = { untilDateTime: new Date(form.until.value).toISOString(), hasDate: true, hasTime: true };
  }
  const reply = await session('PUT', `/status/user-statuses/${encodeURIComponent(form.dataset.user)}`, body);
  if (reply.status === 202) {
    error.textContent = '';
    delete form.dataset.dirty;
    if (form.id === 'change-form') $('change-dialog').close();
  } else {
    error.textContent = reply.json && reply.json.message ? reply.json.message : `Refused (${reply.status})`;
  }
}

async function openChange(userId) {
  const form = $('change-form');
  $('change-title').textContent = `Change the status of ${state.users.get(userId.toLowerCase()).displayName}`;
  if (!state.allowed.has(userId.toLowerCase())) {
    const access = await session('GET', `/status/status-messages-user-access/${encodeURIComponent(userId)}`);
    if (access.status === 200) state.allowed.set(userId.toLowerCase(), access.json.statusMessages);
  }
  buildForm(form, userId);
  $('change-dialog').showModal();
}

// ---- Wiring -----------------------------------------------------------------------------

$('login-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  $('login-error').textContent = '';
  try {
    await login($('login-user').value.trim(), $('login-password').value);
    await start();
  } catch (e) {
    $('login-error').textContent = e.message;
  }
});
$('logout').addEventListener('click', logout);
$('search').addEventListener('input', (event) => { state.search = event.target.value; renderCards(); });
$('group-filter').addEventListener('change', (event) => { state.group = event.target.value; render(); });
$('change-close').addEventListener('click', () => $('change-dialog').close());
setInterval(() => { if (state.sid && !state.reconnecting) renderCards(); }, 30000);
