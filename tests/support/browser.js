// What the headless-Chromium drivers of tests/js and tests/deploy share: Debian's chromium
// launched the way recipes.md says (a fresh temporary profile, nothing from the network but
// the pages under test), and a page's script and console errors collected into a list the
// test asserts is empty.
'use strict';

const { chromium } = require('playwright-core');

const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--no-first-run'];

/** Chromium at executablePath, headless, with a fresh temporary --user-data-dir. */
function launch(executablePath = '/usr/bin/chromium') {
  return chromium.launch({ executablePath, headless: true, args: ARGS });
}

/** Push "<label>: <message>" to errors for each script error and console error of page.
 * "Failed to load resource" lines carry no URL: a driver that cares reports responses. */
function collectErrors(page, label, errors) {
  page.on('pageerror', (err) => errors.push(`${label}: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error' && !/Failed to load resource/.test(msg.text())) {
      errors.push(`${label}: ${msg.text()}`);
    }
  });
}

/** Launch Chromium, run body(browser), print result as one JSON line — result.ok true when
 * body returned, result.failure (the stack) when it threw — close the browser, exit 0 / 1. */
async function runReporting(executablePath, result, body) {
  result.ok = false;
  const browser = await launch(executablePath);
  try {
    await body(browser);
    result.ok = true;
  } catch (err) {
    result.failure = String(err && err.stack || err);
  } finally {
    await browser.close();
  }
  console.log(JSON.stringify(result));
  process.exit(result.ok ? 0 : 1);
}

module.exports = { launch, collectErrors, runReporting };
