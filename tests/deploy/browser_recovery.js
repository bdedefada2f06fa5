// Headless Chromium on the demo page through HAProxy, with connection state recovery on:
// the page's pod is SIGKILLed, 100 numbered notifications go out while the page is cut off,
// the page reconnects by itself to another pod and must show "recovered" with every one of
// the 100 in its log, in order, once each.
// usage: node browser_recovery.js CONFIG_JSON
//   {url, chromium, pids: {<pod name>: <process id>}, notify: {cmd, env}, shots: dir}
// Prints one JSON line with what the page saw; exit status 0 when the flow completed.
const { execFileSync } = require('child_process');
const path = require('path');
const { runReporting } = require('../support/browser');

const cfg = JSON.parse(process.argv[2]);
const TIMEOUT = 30000;
const COUNT = 100;

function notify(prefix) {
  const lines = [];
  for (let i = 1; i <= COUNT; i++) {
    lines.push(JSON.stringify({ event: 'nuke_response', data: { data: `${prefix} #${i}` } }));
  }
  execFileSync(cfg.notify.cmd, ['--stdin'], { env: cfg.notify.env, input: lines.join('\n') + '\n' });
}

const text = (page, id) => page.$eval(`#${id}`, (el) => el.textContent);

(async () => {
  const result = {};
  await runReporting(cfg.chromium, result, async (browser) => {
    const page = await (await browser.newContext()).newPage();
    await page.goto(cfg.url + '/');
    await page.waitForFunction(() => document.getElementById('status').textContent === 'connected'
      && document.getElementById('pod').textContent !== '-', null, { timeout: TIMEOUT });
    result.sidBefore = await text(page, 'sid');
    result.podBefore = await text(page, 'pod');
    result.sessionBefore = await text(page, 'session');
    process.kill(cfg.pids[result.podBefore], 'SIGKILL');
    await page.waitForFunction(() => document.getElementById('status').textContent !== 'connected',
      null, { timeout: TIMEOUT });
    notify('browser missed');
    await page.waitForFunction((pod) => document.getElementById('status').textContent === 'connected'
      && !['-', pod].includes(document.getElementById('pod').textContent),
    result.podBefore, { timeout: TIMEOUT });
    await page.waitForFunction((n) => [...document.querySelectorAll('#log div')]
      .filter((d) => d.textContent.startsWith('Received: browser missed')).length >= n,
    COUNT, { timeout: TIMEOUT });
    await page.waitForTimeout(300); // a duplicate would arrive right behind
    result.sidAfter = await text(page, 'sid');
    result.podAfter = await text(page, 'pod');
    result.sessionAfter = await text(page, 'session');
    result.missed = await page.$$eval('#log div', (divs) => divs.map((d) => d.textContent)
      .filter((t) => t.startsWith('Received: browser missed'))
      .map((t) => t.slice('Received: '.length)));
    result.notices = await page.$$eval('#log div.notice', (divs) => divs.map((d) => d.textContent));
    await page.screenshot({ path: path.join(cfg.shots, 'demo-recovered.png'), fullPage: true });
  });
})();
