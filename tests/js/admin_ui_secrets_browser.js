// Logs in to pushsvc's Socket.IO Admin UI in headless Chromium (playwright-core), then shows
// one client's socket page (its handshake) and the events page, and reports everything the
// UI received and showed: every WebSocket frame, the pages' text, localStorage.
// Usage: node tests/js/admin_ui_secrets_browser.js URL USERNAME PASSWORD ARTIFACT_DIR
// Protocol: prints {"ready": true} once logged in, then waits for one line on stdin
// "SID EVENT" (the client's sid, once it has done its part; an event name to wait for on the
// events page), then prints one JSON line with the report. Exit 0 = the pages were seen.
"use strict";

const path = require("path");
const readline = require("readline");
const { launch } = require("../support/browser");

const [url, username, password, artifactDir] = process.argv.slice(2);
const TIMEOUT_MS = 20000;

function nextLine() {
  const rl = readline.createInterface({ input: process.stdin });
  return new Promise((resolve) => rl.once("line", (line) => { rl.close(); resolve(line); }));
}

async function main() {
  const browser = await launch();
  const report = { ok: false, frames: [], texts: [] };
  let page = null;
  try {
    page = await (await browser.newContext()).newPage();
    page.on("websocket", (ws) => {
      ws.on("framereceived", (frame) => report.frames.push(String(frame.payload)));
    });
    await page.goto(`${url}/admin/`);
    await page.getByLabel("Username").waitFor({ timeout: TIMEOUT_MS });
    await page.getByLabel("Username").fill(username);
    await page.getByLabel("Password").fill(password);
    await page.getByRole("button", { name: "Connect" }).click();
    await page.getByText("connected", { exact: true }).first().waitFor({ timeout: TIMEOUT_MS });
    process.stdout.write(JSON.stringify({ ready: true }) + "\n");

    const [sid, eventName] = (await nextLine()).trim().split(" ");
    await page.evaluate(() => { window.location.hash = "#/sockets/"; });
    await page.getByText(sid, { exact: true }).first().click({ timeout: TIMEOUT_MS });
    // The socket's page shows its handshake: the headers and the query.
    await page.getByText("authorization", { exact: false }).first().waitFor({ timeout: TIMEOUT_MS });
    report.texts.push(await page.locator("body").innerText());
    await page.screenshot({ path: path.join(artifactDir, "admin-ui-socket.png"), fullPage: true });

    await page.evaluate(() => { window.location.hash = "#/events/"; });
    await page.getByText(eventName, { exact: false }).first().waitFor({ timeout: TIMEOUT_MS });
    // Open every event row shown, so its arguments are on the page too.
    for (const icon of await page.locator("button.v-data-table__expand-icon").all()) {
      await icon.click({ timeout: 2000 }).catch(() => {});
    }
    report.texts.push(await page.locator("body").innerText());
    await page.screenshot({ path: path.join(artifactDir, "admin-ui-events.png"), fullPage: true });
    report.localStorage = await page.evaluate(() => JSON.stringify(window.localStorage));
    report.ok = true;
  } catch (err) {
    report.error = String(err);
    if (page) report.texts.push(await page.locator("body").innerText().catch(() => ""));
  } finally {
    await browser.close();
  }
  process.stdout.write(JSON.stringify(report) + "\n");
  process.exit(report.ok ? 0 : 1);
}

main();
