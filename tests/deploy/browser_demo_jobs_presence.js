// Headless Chromium: two pages of the pushsvc demo in two browser contexts, each with
// HAProxy's SERVERID cookie of another pod (cfg.cookies), both the demo user. Each must show the presence of its user room
// with count 2 (both tabs, from every pod's summary), and so must a room both join with the
// page's form (cfg.shared). Then the kubectl commands `pushsvc demo`
// printed run one at a time in a shell as a user would paste them, and after each the first
// page's Jobs list must show the Job's next phase.
// usage: node browser_demo_jobs_presence.js CONFIG_JSON
//   {url, chromium, room, shared, cookies: [<SERVERID of page 1>, <of page 2>], commands: [<shell command>], phases: [<Jobs line after each>],
//    env: {...}, shots: dir}
// Prints one JSON line: {ok, presence: [[lines of page 1], [page 2]], jobs: [[...], [...]],
//   phasesSeen, log, errors, failure?}; exit status 0 when everything appeared.
const { execFileSync } = require('child_process');
const path = require('path');
const { collectErrors, runReporting } = require('../support/browser');

const cfg = JSON.parse(process.argv[2]);
const TIMEOUT = 40000;

async function lines(page, selector) {
  return page.$$eval(selector, (divs) => divs.map((d) => d.textContent));
}

(async () => {
  const errors = [];
  const result = { errors, phasesSeen: [] };
  await runReporting(cfg.chromium, result, async (browser) => {
    const pages = [];
    for (const [i, label] of ['page1', 'page2'].entries()) {
      const context = await browser.newContext();
      await context.addCookies([{ name: 'SERVERID', value: cfg.cookies[i], url: cfg.url }]);
      const page = await context.newPage();
      collectErrors(page, label, errors);
      await page.goto(cfg.url + '/');
      await page.waitForFunction(() => document.getElementById('status').textContent === 'connected',
        null, { timeout: TIMEOUT });
      pages.push(page);
    }
    try {
      const countTwo = (room) => Array.from(document.querySelectorAll('#presence div'))
        .some((d) => d.dataset.room === room && d.dataset.count === '2');
      for (const page of pages) {
        await page.waitForFunction(countTwo, cfg.room, { timeout: TIMEOUT, polling: 200 });
      }
      for (const page of pages) {
        await page.fill('#join_room', cfg.shared);
        await page.click('#join input[type=submit]');
      }
      for (const page of pages) {
        await page.waitForFunction(countTwo, cfg.shared, { timeout: TIMEOUT, polling: 200 });
      }
      for (let i = 0; i < cfg.commands.length; i += 1) {
        execFileSync('/bin/sh', ['-c', cfg.commands[i]],
          { env: cfg.env, stdio: ['ignore', 'pipe', 'pipe'], timeout: 60000 });
        await pages[0].waitForFunction(
          (t) => Array.from(document.querySelectorAll('#jobs div')).some((d) => d.textContent === t),
          cfg.phases[i], { timeout: TIMEOUT, polling: 100 });
        result.phasesSeen.push(cfg.phases[i]);
      }
      const last = cfg.phases[cfg.phases.length - 1];
      await pages[1].waitForFunction(
        (t) => Array.from(document.querySelectorAll('#jobs div')).some((d) => d.textContent === t),
        last, { timeout: TIMEOUT, polling: 100 });
    } finally {
      result.pods = await Promise.all(pages.map((p) => p.textContent('#pod')));
      result.presence = await Promise.all(pages.map((p) => lines(p, '#presence div')));
      result.jobs = await Promise.all(pages.map((p) => lines(p, '#jobs div')));
      result.log = await lines(pages[0], '#log div');
      await pages[0].screenshot({ path: path.join(cfg.shots, 'demo-jobs-presence.png'),
        fullPage: true });
    }
  });
})();
