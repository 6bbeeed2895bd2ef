// ctid web console: an ICWS client of ctid itself. It logs in, subscribes to the statuses
// of every user it may see, and lives on the server-sent event stream.

const $ = (id) => document.getElementById(id);
const state = {
  credentials: null, sid: null, token: null, me: null, rights: null,
  catalog: new Map(), order: [], users: new Map(), allowed: new Map(),
  events: null, reconnecting: false, search: '', group: '',
  // Scheduled statuses per user (lower-case id) → { list, expires, stale }; see wantSchedules.
  schedules: new Map(),
  // The user whose day is open (see openDay), and a counter that drops answers to older asks.
  day: null,
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

const pad = (n) => String(n).padStart(2, '0');
const hhmm = (date) => `${pad(date.getHours())}:${pad(date.getMinutes())}`;
const sameDay = (a, b) => a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth()
  && a.getDate() === b.getDate();

function day(date) {
  const options = { day: 'numeric', month: 'short' };
  if (date.getFullYear() !== new Date().getFullYear()) options.year = 'numeric';
  return date.toLocaleDateString(undefined, options);
}

/** Local 24 h time, after the date when that is not today: "14:00", "8 Dec 14:00". */
const clock = (date) => (sameDay(date, new Date()) ? hhmm(date) : `${day(date)} ${hhmm(date)}`);

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
  // A new session (first login or after a reconnection): schedules are fetched afresh.
  state.schedules = new Map();
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
  closeDay();
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
        // A schedule's start or end reaches the console as a status change: the user's
        // schedules are fetched again when their card is next drawn (just below).
        const schedules = state.schedules.get(key);
        if (schedules) schedules.stale = true;
        if (state.day && state.day.key === key) refreshDaySoon();
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

// ---- Scheduled statuses -----------------------------------------------------------------
//
// Sessions whose profile views every user (viewStatuses "all": supervisors, and with the
// built-in profiles everyone else too) see each user's upcoming scheduled statuses on their card. There is one request per user (GET status/scheduled-statuses/{userId}), so the
// lists are fetched lazily and kept in state.schedules, never once per card on every draw:
// - a user's list is fetched when their card is first drawn (cards hidden by the search or
//   the group filter are not fetched until they show);
// - it is fetched again when a status change of that user is pushed (a schedule starting or
//   ending is one; it marks the entry stale), and when it is about five minutes old (new
//   schedules are not pushed: this is how they appear; the 30 s redraw timer notices it);
// - at most SCHEDULE_FETCHES requests are in flight; the board is redrawn once for a burst of
//   answers, and only when a list changed.
// A failed fetch counts as an empty list until the entry is next fetched.

const SCHEDULE_FETCHES = 4;
const SCHEDULE_MAX_AGE = 5 * 60 * 1000;
const scheduleQueue = [];
const scheduleQueued = new Set();
let scheduleRunning = 0;
let redrawTimer = null;

const canViewOthers = () => Boolean(state.rights && state.rights.viewStatuses === 'all');

/** Queues a fetch of the user's schedules unless their entry is fresh or already queued. */
function wantSchedules(userId) {
  const key = userId.toLowerCase();
  const entry = state.schedules.get(key);
  if (entry && !entry.stale && Date.now() < entry.expires) return;
  if (scheduleQueued.has(key)) return;
  scheduleQueued.add(key);
  scheduleQueue.push(userId);
  pumpSchedules();
}

function pumpSchedules() {
  while (scheduleRunning < SCHEDULE_FETCHES && scheduleQueue.length) {
    const userId = scheduleQueue.shift();
    scheduleRunning += 1;
    fetchSchedules(userId).finally(() => {
      scheduleRunning -= 1;
      scheduleQueued.delete(userId.toLowerCase());
      pumpSchedules();
    });
  }
}

async function fetchSchedules(userId) {
  const key = userId.toLowerCase();
  const schedules = state.schedules;
  const entry = schedules.get(key) || { list: [], expires: 0, stale: false };
  schedules.set(key, entry);
  // A change pushed while the request is out marks the entry stale again: fetched once more.
  entry.stale = false;
  let list = [];
  try {
    const reply = await session('GET', `/status/scheduled-statuses/${encodeURIComponent(userId)}`);
    if (reply.status === 200 && reply.json) list = reply.json.scheduledStatusList || [];
  } catch { /* an empty list until the entry is fetched again */ }
  // Spread over 4 to 6 minutes, so that the lists fetched together at login expire apart.
  entry.expires = Date.now() + SCHEDULE_MAX_AGE * (0.8 + 0.4 * Math.random());
  const changed = JSON.stringify(list) !== JSON.stringify(entry.list);
  entry.list = list;
  // After a reconnection the answer is dropped; the redraw asks the new session instead.
  if (changed || entry.stale || schedules !== state.schedules) redrawSoon();
}

function redrawSoon() {
  if (redrawTimer) return;
  redrawTimer = setTimeout(() => {
    redrawTimer = null;
    if (state.sid && !state.reconnecting) renderCards();
  }, 200);
}

/** "14:00–15:00 In a meeting", "9 Dec 14:00–15:00 …", "from 14:00 …"; "(now)" once started,
 * then the notes. */
function scheduleText(item) {
  const start = parseIcwsDate(item.startDateTime);
  const end = parseIcwsDate(item.endDateTime);
  const status = state.catalog.get(item.statusId.toLowerCase());
  let when = start ? clock(start) : '';
  if (end) when = `${when}–${start && sameDay(start, end) ? hhmm(end) : clock(end)}`;
  else when = `from ${when}`;
  const text = `${when} ${status ? status.messageText : item.statusId}${item.state === 'active' ? ' (now)' : ''}`;
  return item.notes ? `${text} — ${item.notes}` : text;
}

/** True when an active schedule sets this status and its until: the schedule's end, not the
 * status's return status, decides what follows (the end comes first). */
function untilFromSchedule(key, s) {
  const entry = state.schedules.get(key);
  return Boolean(entry && entry.list.some((item) => item.state === 'active'
    && item.statusId.toLowerCase() === s.statusId.toLowerCase()
    && item.endDateTime === s.until.untilDateTime));
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
    const back = status && status.returnStatusId ? state.catalog.get(status.returnStatusId.toLowerCase()) : null;
    if (until && status && status.returnStatusId && !untilFromSchedule(u.userId.toLowerCase(), s)) {
      meta.push(['until', `until ${clock(until)}, then ${back ? back.messageText : status.returnStatusId}`]);
    } else if (until) {
      meta.push(['until', `until ${until.toLocaleString()}`]);
    }
    if (s.forwardNumber) meta.push(['forward', `forward to ${s.forwardNumber}`]);
    if (s.stations && s.stations.length) meta.push(['stations', `station ${s.stations.join(', ')}`]);
    meta.push(['since', `for ${since(parseIcwsDate(s.statusChanged))}`]);
    for (const [kind, value] of meta) {
      const div = document.createElement('div');
      div.className = `meta ${kind}`;
      div.textContent = value;
      li.append(div);
    }
    if (canViewOthers()) {
      wantSchedules(u.userId);
      const schedule = scheduleList(u);
      if (schedule) li.append(schedule);
    }
    const actions = document.createElement('div');
    actions.className = 'actions';
    if (canChangeOthers) {
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'secondary day';
      button.textContent = 'Today';
      button.setAttribute('aria-label', `Today's changes of ${u.displayName}`);
      button.onclick = () => openDay(u.userId);
      actions.append(button);
    }
    if (canChangeOthers && u.userId.toLowerCase() !== state.me.toLowerCase()) {
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'secondary change';
      button.textContent = 'Change status';
      button.setAttribute('aria-label', `Change the status of ${u.displayName}`);
      button.onclick = () => openChange(u.userId);
      actions.append(button);
    }
    if (actions.childElementCount) li.append(actions);
    return li;
  }));
}

const SCHEDULES_SHOWN = 3;

/** The user's upcoming scheduled statuses, or null when there are none (or not yet known). */
function scheduleList(u) {
  const entry = state.schedules.get(u.userId.toLowerCase());
  if (!entry || !entry.list.length) return null;
  const list = document.createElement('ul');
  list.className = 'meta schedule';
  list.setAttribute('aria-label', `Scheduled statuses of ${u.displayName}`);
  const items = entry.list.slice(0, SCHEDULES_SHOWN).map((item) => {
    const li = document.createElement('li');
    li.dataset.id = String(item.id);
    li.dataset.state = item.state;
    li.textContent = scheduleText(item);
    return li;
  });
  if (entry.list.length > SCHEDULES_SHOWN) {
    const more = document.createElement('li');
    more.className = 'more';
    more.textContent = `and ${entry.list.length - SCHEDULES_SHOWN} more`;
    items.push(more);
  }
  list.append(...items);
  return list;
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

// ---- A user's day -----------------------------------------------------------------------
//
// Supervisors open a user's day from their card: the user's status changes since the local
// start of the day, with who made each (GET status/status-history/{userId}), and the time
// spent in each status (GET status/time-in-status/{userId}). Both are asked when the dialog
// opens and again when a status change of that user is pushed while it is open. A server
// without the time-in-status resource answers 404: that section then says it is unavailable.

const ACTORS = { pbx: 'PBX', schedule: 'schedule', system: 'system', admin: 'admin' };
const hhmmss = (date) => `${hhmm(date)}:${pad(date.getSeconds())}`;
let dayTimer = null;

/** "0:05:12": hours, minutes and seconds of a number of seconds. */
function duration(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  return `${Math.floor(s / 3600)}:${pad(Math.floor(s / 60) % 60)}:${pad(s % 60)}`;
}

/** Who made a change, as the card says it. */
function actorText(actor) {
  if (!actor) return '';
  if (actor.type === 'user') return actor.name || 'user';
  return ACTORS[actor.type] || actor.type;
}

const statusLabel = (statusId) => {
  const status = state.catalog.get(String(statusId).toLowerCase());
  return status ? status.messageText : statusId;
};

/** The window of the day: the local start of today to now, as RFC 3339. */
function dayWindow() {
  const start = new Date();
  start.setHours(0, 0, 0, 0);
  const query = new URLSearchParams({ from: start.toISOString(), to: new Date().toISOString() });
  return query.toString();
}

function openDay(userId) {
  const key = userId.toLowerCase();
  const user = state.users.get(key);
  state.day = { key, userId, ask: 0 };
  $('day-title').textContent = `Today: ${user ? user.displayName : userId}`;
  $('day-changes').hidden = true;
  $('day-time').hidden = true;
  $('day-changes-state').textContent = 'Loading…';
  $('day-time-state').textContent = 'Loading…';
  $('day-dialog').dataset.user = userId;
  if (!$('day-dialog').open) $('day-dialog').showModal();
  loadDay();
}

function closeDay() {
  state.day = null;
  if (dayTimer) { clearTimeout(dayTimer); dayTimer = null; }
  delete $('day-dialog').dataset.user;
  if ($('day-dialog').open) $('day-dialog').close();
}

/** Asks again shortly: a burst of changes is one request. */
function refreshDaySoon() {
  if (dayTimer) return;
  dayTimer = setTimeout(() => { dayTimer = null; if (state.day) loadDay(); }, 300);
}

async function loadDay() {
  const day = state.day;
  day.ask += 1;
  const ask = day.ask;
  const current = () => state.day === day && day.ask === ask;
  const user = encodeURIComponent(day.userId);
  const range = dayWindow();
  const [history, time] = await Promise.all([
    session('GET', `/status/status-history/${user}?${range}`).catch(() => ({ status: 0, json: null })),
    session('GET', `/status/time-in-status/${user}?${range}`).catch(() => ({ status: 0, json: null })),
  ]);
  if (!current()) return;
  renderDayChanges(history);
  renderDayTime(time);
}

/** Why a read failed, in words. */
function failure(reply, what) {
  if (reply.status === 403) return `You may not see ${what} of this user.`;
  const message = reply.json && reply.json.message ? `: ${reply.json.message}` : '';
  return `${what.charAt(0).toUpperCase()}${what.slice(1)} could not be read (${reply.status || 'no answer'})${message}`;
}

function renderDayChanges(reply) {
  const stateLine = $('day-changes-state');
  const table = $('day-changes');
  if (reply.status !== 200 || !reply.json) {
    table.hidden = true;
    stateLine.dataset.state = 'error';
    stateLine.textContent = failure(reply, 'the changes');
    return;
  }
  const items = (reply.json.items || []).filter((item) => item.kind === 'status');
  const rows = items.map((item) => {
    const tr = document.createElement('tr');
    tr.dataset.id = String(item.id);
    const status = state.catalog.get(String(item.statusId).toLowerCase());
    const at = new Date(item.at);
    const until = item.until ? new Date(item.until) : null;
    const cells = [
      ['time', Number.isNaN(at.getTime()) ? item.at : hhmmss(at)],
      ['status', until ? `${statusLabel(item.statusId)} (until ${clock(until)})` : statusLabel(item.statusId)],
      ['notes', item.notes || ''],
      ['actor', actorText(item.actor)],
    ];
    for (const [name, text] of cells) {
      const td = document.createElement('td');
      td.className = name;
      td.textContent = text;
      if (name === 'status') td.classList.add(groupClass(status && status.groupTag));
      tr.append(td);
    }
    return tr;
  });
  table.tBodies[0].replaceChildren(...rows);
  table.hidden = rows.length === 0;
  stateLine.dataset.state = reply.json.truncated ? 'truncated' : 'ok';
  if (!rows.length) stateLine.textContent = 'No change today.';
  else if (reply.json.truncated) stateLine.textContent = 'Only the first changes of the day are shown.';
  else stateLine.textContent = '';
}

function renderDayTime(reply) {
  const stateLine = $('day-time-state');
  const list = $('day-time');
  if (reply.status === 404) {
    list.hidden = true;
    stateLine.dataset.state = 'unavailable';
    stateLine.textContent = 'Time per status is unavailable on this server.';
    return;
  }
  if (reply.status !== 200 || !reply.json) {
    list.hidden = true;
    stateLine.dataset.state = 'error';
    stateLine.textContent = failure(reply, 'the time per status');
    return;
  }
  const line = (className, label, seconds, dataset) => {
    const li = document.createElement('li');
    li.className = className;
    Object.assign(li.dataset, dataset, { seconds: String(seconds) });
    const name = document.createElement('span');
    name.className = 'label';
    name.textContent = label;
    const value = document.createElement('span');
    value.className = 'seconds';
    value.textContent = duration(seconds);
    li.append(name, value);
    return li;
  };
  const statuses = [...(reply.json.statuses || [])].sort((a, b) => b.seconds - a.seconds);
  const items = statuses.map((s) => line(groupClass(s.groupTag), statusLabel(s.statusId), s.seconds,
    { status: s.statusId }));
  if (reply.json.onPhoneSeconds) {
    items.push(line('phone', 'On the phone', reply.json.onPhoneSeconds, {}));
  }
  list.replaceChildren(...items);
  list.hidden = items.length === 0;
  stateLine.dataset.state = 'ok';
  stateLine.textContent = items.length ? '' : 'No time recorded today.';
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
$('day-close').addEventListener('click', closeDay);
$('day-dialog').addEventListener('close', () => { if (state.day) closeDay(); });
setInterval(() => { if (state.sid && !state.reconnecting) renderCards(); }, 30000);
