// One headless Chromium page on a pushsvc page: it connects and an echo comes back.
// usage: node browser_page_connects.js CONFIG_JSON   {url, chromium, text}
// Prints one JSON line (the status shown, the script URLs that failed); exit 0 when the page
// connected and showed the echo of `text`.
const { collectErrors, runReporting } = require('../support/browser');

const cfg = JSON.parse(process.argv[2]);
const TIMEOUT = 20000;

(async () => {
  const errors = [];
  const result = { errors };
  await runReporting(cfg.chromium, result, async (browser) => {
    const page = await (await browser.newContext()).newPage();
    collectErrors(page, 'page', errors);
    page.on('response', (resp) => {
      if (resp.status() >= 400 && !/favicon/.test(resp.url())) {
        errors.push(`HTTP ${resp.status()} ${resp.url()}`);
      }
    });
    await page.goto(cfg.url + '/');
    await page.waitForFunction(() => document.getElementById('status').textContent ===
      'connected', null, { timeout: TIMEOUT });
    result.status = 'connected';
    await page.fill('#emit_data', cfg.text);
    await page.click('#emit input[type=submit]');
    await page.waitForFunction((t) => document.getElementById('log').textContent.includes(t),
      cfg.text, { timeout: TIMEOUT });
    result.echo = true;
  });
})();
