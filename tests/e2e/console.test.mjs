// End-to-end tests of the web console: the real ctid binary, headless Debian Chromium driven
// by playwright-core. Timings are waited on, never slept.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const binary = process.env.CTID_BIN || join(root, 'target', 'debug', 'ctid');
const ADMIN = 'admin-e2e-secret';
const dir = mkdtempSync(join(tmpdir(), 'ctid-e2e-'));
const database = `sqlite://${join(dir, 'ctid.db')}`;

let server = null;
let address = null;
let browser = null;
/** Configuration ids of the users, by username. */
const ids = {};

function startServer(listen) {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, ['serve', '--listen', listen, '--database', database, '--server-name', 'e2e'], {
      env: { ...process.env, CTID_ADMIN_PASSWORD: ADMIN, CTID_LOG: 'warn' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`ctid did not start: ${seen}`)), 30000);
    child.stderr.on('data', (chunk) => {
      seen += chunk.toString();
      // Only a whole line: stderr may arrive cut in the middle of the address.
      const match = /listening on (\S+) \(https?\)\n/.exec(seen);
      if (match && timer) {
        clearTimeout(timer);
        resolve({ child, address: match[1] });
      }
    });
    child.on('exit', (code) => reject(new Error(`ctid exited with ${code}: ${seen}`)));
  });
}

function stopServer() {
  return new Promise((resolve) => {
    if (!server || server.exitCode !== null) return resolve();
    server.once('exit', () => resolve());
    server.kill('SIGTERM');
  });
}

const url = (path) => `http://${address}${path}`;

async function admin(method, path, body) {
  const response = await fetch(url(path), {
    method,
    headers: { Authorization: `Basic ${Buffer.from(`admin:${ADMIN}`).toString('base64')}` },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, json: text ? JSON.parse(text) : null };
}

async function presenceUser(username, firstname, profile) {
  const created = await admin('POST', '/1.1/users', { firstname, lastname: 'Example', username, password: `${username}-pass` });
  assert.equal(created.status, 201, JSON.stringify(created.json));
  const associated = await admin('POST', `/1.1/users/${created.json.id}/cti_profile`, { cti_profile_id: profile });
  assert.equal(associated.status, 201);
  ids[username] = created.json.id;
}

/** An ICWS session of the test itself ("another session" than the page's). */
async function icws(username) {
  const response = await fetch(url('/icws/connection'), {
    method: 'POST',
    body: JSON.stringify({ userID: username, password: `${username}-pass` }),
  });
  const raw = await response.text();
  assert.equal(response.status, 201, raw);
  const body = JSON.parse(raw);
  const cookie = response.headers.get('set-cookie').split(';')[0];
  const call = async (method, path, payload) => {
    const reply = await fetch(url(`/icws/${body.sessionId}${path}`), {
      method,
      headers: { 'ININ-ICWS-CSRF-Token': body.csrfToken, Cookie: cookie },
      body: payload === undefined ? undefined : JSON.stringify(payload),
    });
    const text = await reply.text();
    return { status: reply.status, json: text ? JSON.parse(text) : null };
  };
  return { call };
}

async function openPage(username) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  await page.goto(url('/'));
  await page.fill('#login-user', username);
  await page.fill('#login-password', `${username}-pass`);
  await page.click('#login-form button[type=submit]');
  await page.waitForSelector('#board-view:not([hidden])', { timeout: 10000 });
  await page.waitForSelector('li.card', { timeout: 10000 });
  return page;
}

const statusText = (page, user) => page.locator(`li.card[data-user="${user}"] .status-text`);

async function waitForStatus(page, user, text, timeout = 2000) {
  await page.waitForFunction(
    ([u, t]) => document.querySelector(`li.card[data-user="${u}"] .status-text`)?.textContent === t,
    [user, text],
    { timeout },
  );
}

before(async () => {
  ({ child: server, address } = await startServer('127.0.0.1:0'));
  await presenceUser('boss', 'Beatrice', 1);
  await presenceUser('agent1', 'Albert', 2);
  await presenceUser('agent2', 'Alice', 2);
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

after(async () => {
  if (browser) await browser.close();
  await stopServer();
});

test('a supervisor logs in and sees every user on the board', async () => {
  const page = await openPage('boss');
  const users = await page.locator('li.card').evaluateAll((cards) => cards.map((c) => c.dataset.user).sort());
  assert.deepEqual(users, ['agent1', 'agent2', 'boss']);
  assert.equal(await page.textContent('#me-profile'), 'Supervisor');
  assert.match(await page.textContent('#counts'), /Available 3/);
  assert.equal(await page.inputValue('#my-form select[name=statusId]'), 'Available', 'the form shows my status');
  await page.context().close();
});

test('a change made through the API by another session appears on the board within 2 s', async () => {
  const page = await openPage('boss');
  const agent = await icws('agent1');
  const put = await agent.call('PUT', '/status/user-statuses/agent1', { statusId: 'At Lunch', notes: 'back at 2' });
  assert.equal(put.status, 202);
  await waitForStatus(page, 'agent1', 'At Lunch', 2000);
  assert.equal(await page.textContent('li.card[data-user="agent1"] .notes'), 'back at 2');
  await page.context().close();
});

test('changing my status from the page is visible through the API', async () => {
  const page = await openPage('agent2');
  await page.selectOption('#my-form select[name=statusId]', 'Do Not disturb');
  await page.fill('#my-form input[name=notes]', 'focus time');
  await page.click('#my-form button[type=submit]');
  await waitForStatus(page, 'agent2', 'Do Not disturb', 5000);
  const boss = await icws('boss');
  const status = await boss.call('GET', '/status/user-statuses/agent2');
  assert.equal(status.json.statusId, 'Do Not disturb');
  assert.equal(status.json.notes, 'focus time');
  await page.context().close();
});

test('a forward status needs a number before anything is sent', async () => {
  const page = await openPage('agent2');
  await page.selectOption('#my-form select[name=statusId]', 'Available, Forward');
  assert.equal(await page.isVisible('#my-form .forward'), true);
  await page.fill('#my-form input[name=forwardNumber]', 'not a number');
  await page.click('#my-form button[type=submit]');
  await page.waitForFunction(() => document.querySelector('#my-form .error').textContent.includes('forward number'));
  await page.context().close();
});

test('a non-supervisor cannot change others', async () => {
  const page = await openPage('agent1');
  assert.equal(await page.locator('li.card button.change').count(), 0, 'no change button for an agent');
  // The session cookie is HttpOnly: scripts on the page cannot read it.
  assert.equal(await page.evaluate(() => document.cookie), '');
  const agent = await icws('agent1');
  const put = await agent.call('PUT', '/status/user-statuses/agent2', { statusId: 'Available' });
  assert.equal(put.status, 403);
  await page.context().close();
});

test('a supervisor changes another user from the board', async () => {
  const page = await openPage('boss');
  await page.click('li.card[data-user="agent1"] button.change');
  await page.waitForSelector('#change-dialog[open]');
  await page.selectOption('#change-form select[name=statusId]', 'In a meeting');
  await page.click('#change-form button[type=submit]');
  await waitForStatus(page, 'agent1', 'In a meeting', 5000);
  const boss = await icws('boss');
  assert.equal((await boss.call('GET', '/status/user-statuses/agent1')).json.statusId, 'In a meeting');
  if (process.env.CTID_SCREENSHOTS) {
    await page.click('#change-close').catch(() => {});
    mkdirSync(join(root, 'docs'), { recursive: true });
    await page.screenshot({ path: join(root, 'docs', 'board-supervisor.png'), fullPage: true });
    const agentPage = await openPage('agent2');
    await agentPage.screenshot({ path: join(root, 'docs', 'board-agent.png'), fullPage: true });
    await agentPage.context().close();
  }
  await page.context().close();
});

/** The status ids the page offers in its own status form. */
const choices = (page) => page.locator('#my-form select[name=statusId] option').evaluateAll((o) => o.map((x) => x.value));

/** Waits until the form's choices include `includes`, exclude `excludes` and number `count` (each when given). */
async function waitForChoices(page, check) {
  await page.waitForFunction((c) => {
    const ids = [...document.querySelectorAll('#my-form select[name=statusId] option')].map((o) => o.value);
    return (c.includes === undefined || ids.includes(c.includes))
      && (c.excludes === undefined || !ids.includes(c.excludes))
      && (c.count === undefined || ids.length === c.count);
  }, check, { timeout: 5000 });
}

test('the status choices follow catalog and profile changes as they are pushed', async () => {
  const page = await openPage('agent1');
  const before = await choices(page);
  assert.equal(before.length, 13, before.join(', '));

  const created = await admin('POST', '/1.1/status_messages',
    { status_id: 'Coffee Break', message_text: 'Having a coffee', group_tag: 'BREAK' });
  assert.equal(created.status, 201);
  await waitForChoices(page, { includes: 'Coffee Break' });
  const label = await page.locator('#my-form option[value="Coffee Break"]').textContent();
  assert.equal(label, 'Having a coffee');

  const edited = await admin('PUT', '/1.1/status_messages/Coffee%20Break', { message_text: 'Tea time' });
  assert.equal(edited.status, 204);
  await page.waitForFunction(
    () => document.querySelector('#my-form option[value="Coffee Break"]')?.textContent === 'Tea time',
    null, { timeout: 5000 });

  const narrowed = await admin('PUT', '/1.1/cti_profiles/2', { allowed_statuses: ['Available', 'Coffee Break'] });
  assert.equal(narrowed.status, 204);
  await waitForChoices(page, { count: 2 });
  assert.deepEqual((await choices(page)).sort(), ['Available', 'Coffee Break']);

  const restored = await admin('PUT', '/1.1/cti_profiles/2', { allowed_statuses: null });
  assert.equal(restored.status, 204);
  await waitForChoices(page, { count: 14 });
  const deleted = await admin('DELETE', '/1.1/status_messages/Coffee%20Break');
  assert.equal(deleted.status, 204);
  await waitForChoices(page, { excludes: 'Coffee Break', count: 13 });
  assert.deepEqual((await choices(page)).sort(), [...before].sort());
  await page.context().close();
});

test('the page recovers after the server restarts', async () => {
  const page = await openPage('boss');
  const listen = address;
  await stopServer();
  await page.waitForSelector('#banner:not([hidden])', { timeout: 10000 });
  ({ child: server, address } = await startServer(listen));
  await page.waitForSelector('#banner[hidden]', { state: 'attached', timeout: 20000 });
  const agent = await icws('agent2');
  assert.equal((await agent.call('PUT', '/status/user-statuses/agent2', { statusId: 'Gone Home' })).status, 202);
  await waitForStatus(page, 'agent2', 'Gone Home', 5000);
  await page.context().close();
});

const pad = (n) => String(n).padStart(2, '0');
const hhmm = (date) => `${pad(date.getHours())}:${pad(date.getMinutes())}`;
const isToday = (date) => date.toDateString() === new Date().toDateString();

test('an until shows the return status that follows it', async () => {
  const page = await openPage('boss');
  const set = await admin('PUT', '/1.1/status_messages/Gone%20Home', { return_status_id: 'Available' });
  assert.equal(set.status, 204, JSON.stringify(set.json));
  const until = new Date(Date.now() + 3600 * 1000);
  until.setSeconds(0, 0);
  const agent = await icws('agent1');
  const changed = await agent.call('PUT', '/status/user-statuses/agent1',
    { statusId: 'Gone Home', until: { untilDateTime: until.toISOString(), hasDate: true, hasTime: true } });
  assert.equal(changed.status, 202, JSON.stringify(changed.json));
  // The date comes first only when the until is not today (an hour before midnight).
  const expected = isToday(until)
    ? `^until ${hhmm(until)}, then Available$`
    : `^until \\S.* ${hhmm(until)}, then Available$`;
  await page.waitForFunction(
    (re) => new RegExp(re).test(document.querySelector('li.card[data-user="agent1"] .meta.until')?.textContent || ''),
    expected, { timeout: 5000 });

  // The return status is part of the catalog: taking it away is pushed and redrawn.
  const cleared = await admin('PUT', '/1.1/status_messages/Gone%20Home', { return_status_id: null });
  assert.equal(cleared.status, 204);
  await page.waitForFunction(() => {
    const text = document.querySelector('li.card[data-user="agent1"] .meta.until')?.textContent || '';
    return text.startsWith('until ') && !text.includes('then');
  }, null, { timeout: 5000 });
  assert.equal((await agent.call('PUT', '/status/user-statuses/agent1', { statusId: 'Available' })).status, 202);
  await waitForStatus(page, 'agent1', 'Available', 5000);
  await page.context().close();
});

test('a supervisor sees the scheduled statuses of a user on their card', async () => {
  const start = new Date();
  start.setDate(start.getDate() + 1);
  start.setHours(14, 0, 0, 0);
  const end = new Date(start);
  end.setHours(15);
  const created = await admin('POST', `/1.1/users/${ids.agent1}/scheduled_statuses`,
    { status_id: 'In a meeting', notes: 'budget review', start: start.toISOString(), end: end.toISOString() });
  assert.equal(created.status, 201, JSON.stringify(created.json));

  const page = await openPage('boss');
  const item = page.locator('li.card[data-user="agent1"] .meta.schedule li');
  await item.first().waitFor({ timeout: 5000 });
  const text = await item.first().textContent();
  // Tomorrow: the date, the times in 24 h, the status and the notes.
  assert.match(text, /^\S.* 14:00–15:00 In a meeting — budget review$/);
  assert.ok(text.includes(String(start.getDate())), text);
  assert.equal(await item.first().getAttribute('data-state'), 'pending');
  assert.equal(await page.getAttribute('li.card[data-user="agent1"] .meta.schedule', 'aria-label'),
    'Scheduled statuses of Albert Example');
  // Nothing is shown for users without schedules.
  assert.equal(await page.locator('li.card[data-user="agent2"] .meta.schedule').count(), 0);

  // One request per user, and drawing the board again asks nothing: the lists are kept.
  const asked = () => page.evaluate(() => performance.getEntriesByType('resource')
    .map((entry) => entry.name).filter((name) => name.includes('/status/scheduled-statuses/')).sort());
  await page.waitForFunction(() => performance.getEntriesByType('resource')
    .filter((entry) => entry.name.includes('/status/scheduled-statuses/')).length >= 3);
  const first = await asked();
  assert.deepEqual(first.map((name) => name.split('/').pop()), ['agent1', 'agent2', 'boss']);
  const again = [];
  page.on('request', (request) => {
    if (request.url().includes('/status/scheduled-statuses/')) again.push(request.url());
  });
  await page.fill('#search', 'Albert');
  await page.waitForFunction(() => document.querySelectorAll('li.card').length === 1);
  await page.fill('#search', '');
  await page.waitForFunction(() => document.querySelectorAll('li.card').length === 3);
  await page.locator('li.card[data-user="agent1"] .meta.schedule li').first().waitFor();
  assert.deepEqual(again, []);
  assert.deepEqual(await asked(), first);
  await page.context().close();

  // A board whose profile views no one else shows no schedules, not even its own, and asks for
  // none (the built-in profiles all view everyone).
  const profile = await admin('POST', '/1.1/cti_profiles', { name: 'Self only', view_statuses: 'self' });
  assert.equal(profile.status, 201, JSON.stringify(profile.json));
  await presenceUser('solo', 'Sol', profile.json.id);
  const schedule = await admin('POST', `/1.1/users/${ids.solo}/scheduled_statuses`,
    { status_id: 'In a meeting', start: start.toISOString(), end: end.toISOString() });
  assert.equal(schedule.status, 201, JSON.stringify(schedule.json));
  const agentPage = await openPage('solo');
  const agentRequests = [];
  agentPage.on('request', (request) => {
    if (request.url().includes('/status/scheduled-statuses/')) agentRequests.push(request.url());
  });
  await agentPage.fill('#search', 'a');
  await agentPage.fill('#search', '');
  assert.equal(await agentPage.locator('.meta.schedule').count(), 0);
  assert.deepEqual(agentRequests, []);
  await agentPage.context().close();
});

test('a schedule starting and ending is followed on the card', async () => {
  const page = await openPage('boss');
  await page.locator('li.card[data-user="agent1"] .meta.schedule li').first().waitFor({ timeout: 5000 });
  const start = new Date(Date.now() + 2000);
  const end = new Date(start.getTime() + 3000);
  const created = await admin('POST', `/1.1/users/${ids.agent1}/scheduled_statuses`,
    { status_id: 'At a training session', start: start.toISOString(), end: end.toISOString() });
  assert.equal(created.status, 201, JSON.stringify(created.json));
  const id = String(created.json.id);

  // The start is pushed as a status change of agent1, and the card asks for the list again.
  await waitForStatus(page, 'agent1', 'At a training session', 6000);
  await page.waitForFunction((n) => {
    const li = document.querySelector(`li.card[data-user="agent1"] .meta.schedule li[data-id="${n}"]`);
    return li?.dataset.state === 'active' && li.textContent.endsWith('At a training session (now)');
  }, id, { timeout: 5000 });

  // At the end agent1 is back to what they held before, and the schedule leaves the card.
  await waitForStatus(page, 'agent1', 'Available', 8000);
  await page.waitForFunction(
    (n) => !document.querySelector(`li.card[data-user="agent1"] .meta.schedule li[data-id="${n}"]`),
    id, { timeout: 5000 });
  assert.equal(await page.locator('li.card[data-user="agent1"] .meta.schedule li').count(), 1,
    'tomorrow\'s schedule is still there');
  await page.context().close();
});

/** The window of the day as the console asks it: the local start of today to now. */
function today() {
  const start = new Date();
  start.setHours(0, 0, 0, 0);
  return new URLSearchParams({ from: start.toISOString(), to: new Date().toISOString() }).toString();
}

/** The rows of the open day's changes: time, status, notes and who, as shown. */
const dayRows = (page) => page.locator('#day-changes tbody tr').evaluateAll((rows) => rows.map((row) => ({
  time: row.querySelector('.time').textContent,
  status: row.querySelector('.status').textContent,
  notes: row.querySelector('.notes').textContent,
  actor: row.querySelector('.actor').textContent,
})));

/** Waits until the last row of the open day's changes is `expected`. */
async function waitForLastChange(page, expected) {
  await page.waitForFunction((e) => {
    const rows = document.querySelectorAll('#day-changes tbody tr');
    const last = rows[rows.length - 1];
    return Boolean(last) && !document.querySelector('#day-changes').hidden
      && last.querySelector('.status').textContent === e.status
      && last.querySelector('.notes').textContent === e.notes
      && last.querySelector('.actor').textContent === e.actor;
  }, expected, { timeout: 5000 });
}

test('a supervisor opens a user\'s day: the changes with who made them, and the time per status', async () => {
  const page = await openPage('boss');
  const agent = await icws('agent2');
  const own = await agent.call('PUT', '/status/user-statuses/agent2', { statusId: 'At Lunch', notes: 'soup <b>' });
  assert.equal(own.status, 202);
  await waitForStatus(page, 'agent2', 'At Lunch', 5000);

  await page.click('li.card[data-user="agent2"] button.day');
  await page.waitForSelector('#day-dialog[open]');
  assert.equal(await page.textContent('#day-title'), 'Today: Alice Example');
  // The status as the catalog words it, the notes as text, the actor by name.
  await waitForLastChange(page, { status: 'At Lunch', notes: 'soup <b>', actor: 'agent2' });
  assert.equal(await page.locator('#day-changes td.notes b').count(), 0, 'notes are text, not markup');

  // A change by the supervisor while the day is open is added to it.
  const boss = await icws('boss');
  const changed = await boss.call('PUT', '/status/user-statuses/agent2', { statusId: 'In a meeting', notes: 'one to one' });
  assert.equal(changed.status, 202);
  await waitForLastChange(page, { status: 'In a meeting', notes: 'one to one', actor: 'boss' });
  const rows = await dayRows(page);
  const [lunch, meeting] = rows.slice(-2);
  assert.deepEqual([lunch.status, lunch.notes, lunch.actor], ['At Lunch', 'soup <b>', 'agent2']);
  for (const row of [lunch, meeting]) assert.match(row.time, /^\d{2}:\d{2}:\d{2}$/);
  assert.ok(lunch.time <= meeting.time, `${lunch.time} then ${meeting.time}`);
  // The history the page shows is the user's status records of the day, in time order.
  const history = await boss.call('GET', `/status/status-history/agent2?${today()}`);
  assert.equal(history.status, 200, JSON.stringify(history.json));
  const statuses = history.json.items.filter((item) => item.kind === 'status');
  assert.equal(rows.length, statuses.length);
  assert.equal(statuses.at(-1).actor.name, 'boss');

  // The time per status, from GET status/time-in-status/{userId}: the figures when the server
  // has that resource, the section marked unavailable when it answers 404.
  const time = await boss.call('GET', `/status/time-in-status/agent2?${today()}`);
  if (time.status === 404) {
    await page.waitForSelector('#day-time-state[data-state="unavailable"]', { timeout: 5000 });
    assert.match(await page.textContent('#day-time-state'), /unavailable/);
    assert.equal(await page.isVisible('#day-time'), false);
  } else {
    assert.equal(time.status, 200, JSON.stringify(time.json));
    await page.waitForSelector('#day-time li[data-status="In a meeting"]', { timeout: 5000 });
    const shown = await page.locator('#day-time li[data-status]').evaluateAll((items) => items.map((li) => ({
      status: li.dataset.status, label: li.querySelector('.label').textContent,
      seconds: Number(li.dataset.seconds), text: li.querySelector('.seconds').textContent,
    })));
    assert.deepEqual(shown.map((s) => s.status).sort(), time.json.statuses.map((s) => s.statusId).sort());
    assert.ok(shown.some((s) => s.status === 'At Lunch' && s.label === 'At Lunch' && s.seconds > 0), JSON.stringify(shown));
    for (const s of shown) assert.match(s.text, /^\d+:\d{2}:\d{2}$/);
    assert.equal(await page.getAttribute('#day-time-state', 'data-state'), 'ok');
  }
  assert.equal(await page.getAttribute('#day-changes-state', 'data-state'), 'ok');

  await page.click('#day-close');
  assert.equal(await page.isVisible('#day-dialog'), false);
  await page.context().close();
});

test('a user who may not view another cannot read their history', async () => {
  const profile = await admin('POST', '/1.1/cti_profiles', { name: 'Only me', view_statuses: 'self' });
  assert.equal(profile.status, 201, JSON.stringify(profile.json));
  await presenceUser('loner', 'Lou', profile.json.id);
  const loner = await icws('loner');
  const other = await loner.call('GET', `/status/status-history/agent2?${today()}`);
  assert.equal(other.status, 403, JSON.stringify(other.json));
  assert.equal(other.json.errorId, 'error.request.accessDenied');
  // As for a user status: unknown users are refused alike.
  const status = await loner.call('GET', '/status/user-statuses/agent2');
  assert.equal(status.status, 403);
  assert.equal((await loner.call('GET', '/status/status-history/nobody')).status, 403);
  const mine = await loner.call('GET', `/status/status-history/loner?${today()}`);
  assert.equal(mine.status, 200, JSON.stringify(mine.json));
  // The time per status follows the same rights once the server has it (404 until then).
  const time = await loner.call('GET', `/status/time-in-status/agent2?${today()}`);
  assert.ok([403, 404].includes(time.status), JSON.stringify(time.json));
  // A supervisor reads an unknown user as 404.
  const boss = await icws('boss');
  assert.equal((await boss.call('GET', '/status/status-history/nobody')).status, 404);
  // Agents' boards offer no day to open.
  const page = await openPage('agent1');
  assert.equal(await page.locator('li.card button.day').count(), 0);
  await page.context().close();
});
