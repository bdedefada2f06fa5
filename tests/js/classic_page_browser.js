// Opens the classic static test page (served from another origin) in headless Chromium.
// Usage: node tests/js/classic_page_browser.js PAGE_URL EXPECT ARTIFACT_DIR
//   EXPECT=refused: the page must never connect; EXPECT=works: it must connect, echo,
//   join a room and get a room message. Prints one JSON line; exit 0 = as expected.
"use strict";

const path = require("path");
const fs = require("fs");
const { launch } = require("../support/browser");

const [pageUrl, expect, artifactDir] = process.argv.slice(2);
const TIMEOUT_MS = 15000;
const wait = { timeout: TIMEOUT_MS, polling: 50 };

async function seen(page, text) {
  await page.waitForFunction(
    (t) => Array.from(document.querySelectorAll("#log div")).some((d) => d.textContent === t),
    text, wait);
}

async function main() {
  const browser = await launch();
  try {
    const page = await (await browser.newContext()).newPage();
    await page.goto(pageUrl);
    let status;
    if (expect === "refused") {
      // socket.io-client 3.0.3 reports a refused polling handshake silently (no connect_error
      // event on every version): give it a few seconds of retries and require it never connected.
      await page.waitForTimeout(4000);
      status = await page.$eval("#status", (el) => el.textContent);
      const log = await page.$eval("#log", (el) => el.textContent);
      if (status === "connected" || log.includes("Received")) {
        throw new Error("connected although the origin is not allowed");
      }
    } else {
      await page.waitForFunction(
        () => document.getElementById("status").textContent === "connected", null, wait);
      await seen(page, "Received: I'm connected!");
      await page.fill("#emit_data", "from the classic page");
      await page.click("form#emit input[type=submit]");
      await seen(page, "Received: from the classic page");
      await page.fill("#join_room", "classic");
      await page.click("form#join input[type=submit]");
      await seen(page, "Received: In rooms: classic");
      await page.fill("#room_name", "classic");
      await page.fill("#room_data", "room hello");
      await page.click("form#send_room input[type=submit]");
      await seen(page, "Received: room hello");
      status = await page.$eval("#status", (el) => el.textContent);
    }
    fs.mkdirSync(artifactDir, { recursive: true });
    await page.screenshot({ path: path.join(artifactDir, `classic-page-${expect}.png`), fullPage: true });
    return status;
  } finally {
    await browser.close();
  }
}

const overall = setTimeout(() => finish(new Error("overall timeout (60 s)")), 60000);
function finish(err, status) {
  clearTimeout(overall);
  process.stdout.write(JSON.stringify({ ok: !err, expect, status, error: err ? String(err) : null }) + "\n");
  process.exit(err ? 1 : 0);
}
main().then((s) => finish(null, s), (e) => finish(e));
