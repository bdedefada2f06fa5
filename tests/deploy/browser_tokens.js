// Headless Chromium tabs on the demo page through HAProxy with demo tokens on: alice in two
// tabs on two pods, bob in a third; each tab mints its own token (the page's User field,
// from ?user=) and shows its user and pod; the notifier's message for alice reaches alice's
// tabs only; a pasted expired token is refused with token_expired.
// usage: node browser_tokens.js CONFIG_JSON
//   {url, chromium, tabs: [{user, cookie}], notifyUser: {cmd, env}, notifyAll: {cmd, env},
//    expiredToken, shots}
// Prints one JSON line {ok, tabs: [{user, pod, log}], expiredLog, errors}; exit 0 when done.
const { execFileSync } = require('child_process');
const path = require('path');
const { collectErrors, runReporting } = require('../support/browser');

const cfg = JSON.parse(process.argv[2]);
const TIMEOUT = 20000;

async function open(browser, tab, label, errors) {
  const context = await browser.newContext();
  const u = new URL(cfg.url);
  await context.addCookies([{ name: 'SERVERID', value: tab.cookie, domain: u.hostname, path: '/' }]);
  const page = await context.newPage();
  collectErrors(page, label, errors);
  await page.goto(`${cfg.url}/?user=${encodeURIComponent(tab.user)}${tab.ttl ? `&ttl=${tab.ttl}` : ''}`);
  await page.waitForFunction(() =>
    document.getElementById('status').textContent === 'connected' &&
    !['-', ''].includes(document.getElementById('pod').textContent), null, { timeout: TIMEOUT });
  return page;
}

const waitLog = (page, text) => page.waitForFunction(
  (t) => document.getElementById('log').textContent.includes(t), text, { timeout: TIMEOUT });
const logText = (page) => page.$eval('#log', (el) => el.textContent);
const run = (c) => execFileSync(c.cmd[0], c.cmd.slice(1),
  { env: c.env, stdio: ['ignore', 'pipe', 'pipe'], timeout: 60000 });

(async () => {
  const errors = [];
  const result = { errors, tabs: [] };
  await runReporting(cfg.chromium, result, async (browser) => {
    const pages = [];
    for (const [i, tab] of cfg.tabs.entries()) pages.push(await open(browser, tab, `tab${i}`, errors));
    run(cfg.notifyUser);
    run(cfg.notifyAll);
    for (const [i, page] of pages.entries()) {
      await waitLog(page, 'to every tab');
      if (cfg.tabs[i].user === 'alice') await waitLog(page, 'for alice only');
      await page.screenshot({ path: path.join(cfg.shots, `token-tab-${i}.png`), fullPage: true });
      result.tabs.push({
        user: await page.$eval('#user', (el) => el.textContent),
        pod: await page.$eval('#pod', (el) => el.textContent),
        token: await page.$eval('#token', (el) => el.value),
        log: await logText(page),
      });
    }
    // A tab whose token lives 4 s refreshes it halfway, again and again: still connected
    // after the first token (and the second) expired.
    const short = await open(browser, { user: 'carol', cookie: 's2', ttl: 4 }, 'short', errors);
    await short.waitForFunction(() => (document.getElementById('log').textContent
      .match(/Token refreshed/g) || []).length >= 3, null, { timeout: TIMEOUT });
    await short.fill('#emit_data', 'after the refreshes');
    await short.click('#emit input[type=submit]');
    await waitLog(short, 'Received: after the refreshes');
    result.shortLog = await logText(short);
    result.shortStatus = await short.$eval('#status', (el) => el.textContent);
    // A pasted token that has expired: the connect is refused with its reason.
    const last = pages[pages.length - 1];
    await last.fill('#user_name', '');
    await last.fill('#token', cfg.expiredToken);
    await last.click('#identity input[type=submit]');
    await waitLog(last, 'Connection error: token_expired');
    result.expiredLog = await logText(last);
  });
})();
