// Two headless Chromium browsers on the pushsvc demo page through HAProxy, on different
// pods: echo, a room message crossing pods, a notifier Job's message reaching both, and
// the pod each page shows (also after A reconnects to B's pod).
// usage: node browser_demo.js CONFIG_JSON
//   {url, chromium, otherCookie: {<cookie of A>: <cookie value for B>}, notify: {cmd, env},
//    shots: dir}
// Prints one JSON line with what each page saw; exit status 0 when the flow completed.
const { execFileSync } = require('child_process');
const path = require('path');
const { collectErrors, runReporting } = require('../support/browser');

const cfg = JSON.parse(process.argv[2]);
const TIMEOUT = 20000;
const JOB_TEXT = 'hello from a Kubernetes Job';

async function serverCookie(context) {
  const cookie = (await context.cookies(cfg.url)).find((c) => c.name === 'SERVERID');
  return cookie ? cookie.value : null;
}

async function open(context, label, errors) {
  const page = await context.newPage();
  collectErrors(page, label, errors);
  // The response handler reports failed loads (and ignores Chromium's /favicon.ico request).
  page.on('response', (resp) => {
    if (resp.status() >= 400 && !/favicon/.test(resp.url())) {
      errors.push(`${label}: HTTP ${resp.status()} ${resp.url()}`);
    }
  });
  await page.goto(cfg.url + '/');
  await page.waitForFunction(() =>
    document.getElementById('status').textContent === 'connected' &&
    document.getElementById('transport').textContent === 'websocket', null, { timeout: TIMEOUT });
  return page;
}

async function submit(page, form, fields) {
  for (const [id, value] of Object.entries(fields)) await page.fill(`#${id}`, value);
  await page.click(`#${form} input[type=submit]`);
}

async function waitLog(page, text) {
  await page.waitForFunction((t) => document.getElementById('log').textContent.includes(t),
    text, { timeout: TIMEOUT });
}

const logText = (page) => page.$eval('#log', (el) => el.textContent);

async function shownPod(page, notThis) {
  await page.waitForFunction((p) => !['-', p].includes(document.getElementById('pod').textContent),
    notThis, { timeout: TIMEOUT });
  return page.$eval('#pod', (el) => el.textContent);
}

(async () => {
  const errors = [];
  const result = { errors };
  await runReporting(cfg.chromium, result, async (browser) => {
    const ctxA = await browser.newContext();
    const a = await open(ctxA, 'A', errors);
    result.cookieA = await serverCookie(ctxA);
    result.podA = await shownPod(a, '-');
    // Every browser here comes from 127.0.0.1, so `balance source` alone would put B on
    // A's pod. B arrives holding another pod's cookie, as a browser assigned earlier would.
    const ctxB = await browser.newContext();
    const u = new URL(cfg.url);
    await ctxB.addCookies([{ name: 'SERVERID', value: cfg.otherCookie[result.cookieA],
      domain: u.hostname, path: '/' }]);
    const b = await open(ctxB, 'B', errors);
    result.cookieB = await serverCookie(ctxB);
    result.podB = await shownPod(b, '-');

    await submit(a, 'emit', { emit_data: 'echo from A' });
    await waitLog(a, 'Received: echo from A');

    await submit(b, 'join', { join_room: 'demo-room' });
    await waitLog(b, 'demo-room');
    // A, on another pod and not in the room, sends to it (the classic semantics).
    await submit(a, 'send_room', { room_name: 'demo-room', room_data: 'room message from A' });
    await waitLog(b, 'Received: room message from A');

    execFileSync(cfg.notify.cmd[0], cfg.notify.cmd.slice(1),
      { env: cfg.notify.env, stdio: ['ignore', 'pipe', 'pipe'], timeout: 60000 });
    await waitLog(a, `Received: ${JOB_TEXT}`);
    await waitLog(b, `Received: ${JOB_TEXT}`);

    await a.screenshot({ path: path.join(cfg.shots, 'demo-browser-a.png'), fullPage: true });
    await b.screenshot({ path: path.join(cfg.shots, 'demo-browser-b.png'), fullPage: true });
    result.logA = await logText(a);
    result.logB = await logText(b);
    result.cookieAAfter = await serverCookie(ctxA);
    result.cookieBAfter = await serverCookie(ctxB);

    // A disconnects and reconnects holding B's cookie: the page follows it to B's pod.
    await submit(a, 'disconnect', {});
    await a.waitForFunction(() => document.getElementById('pod').textContent === '-', null,
      { timeout: TIMEOUT });
    await ctxA.clearCookies();
    await ctxA.addCookies([{ name: 'SERVERID', value: result.cookieB, domain: u.hostname,
      path: '/' }]);
    await submit(a, 'reconnect', {});
    result.podAReconnected = await shownPod(a, '-');
  });
})();
