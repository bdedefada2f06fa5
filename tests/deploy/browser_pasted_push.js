// Headless Chromium on the pushsvc demo page: once the page is connected, the command that
// `pushsvc demo` printed is run in a shell as a user would paste it, and the page must show
// the pushed event with its name and data.
// usage: node browser_pasted_push.js CONFIG_JSON
//   {url, chromium, command: <shell command>, expect: <log line>, env: {...}, shots: dir}
// Prints one JSON line with the page's log; exit status 0 when the event appeared.
const { execFileSync } = require('child_process');
const path = require('path');
const { collectErrors, runReporting } = require('../support/browser');

const cfg = JSON.parse(process.argv[2]);
const TIMEOUT = 30000;

(async () => {
  const errors = [];
  const result = { errors };
  await runReporting(cfg.chromium, result, async (browser) => {
    const page = await (await browser.newContext()).newPage();
    collectErrors(page, 'page', errors);
    await page.goto(cfg.url + '/');
    await page.waitForFunction(() => document.getElementById('status').textContent === 'connected',
      null, { timeout: TIMEOUT });
    result.commandOutput = execFileSync('/bin/sh', ['-c', cfg.command],
      { env: cfg.env, stdio: ['ignore', 'pipe', 'pipe'], timeout: 60000 }).toString();
    await page.waitForFunction(
      (t) => Array.from(document.querySelectorAll('#log div')).some((d) => d.textContent === t),
      cfg.expect, { timeout: TIMEOUT, polling: 100 });
    result.log = await page.$$eval('#log div', (divs) => divs.map((d) => d.textContent));
    await page.screenshot({ path: path.join(cfg.shots, 'demo-pasted-push.png'), fullPage: true });
  });
})();
