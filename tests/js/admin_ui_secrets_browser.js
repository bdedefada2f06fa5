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
    // The socket's own page (the sockets list shows one namespace, not always "/").
    await page.evaluate((id) => {
      window.location.hash = `#/n/${encodeURIComponent("/")}/sockets/${id}`;
    }, sid);
    // The socket's page shows its handshake: the headers and the query.
    await page.getByText("authorization", { exact: false }).first().waitFor({ timeout: TIMEOUT_MS });
    report.texts.push(await page.locator("body").innerText());
    await page.screenshot({ path: path.join(artifactDir, "admin-ui-socket.png"), fullPage: true });

    await page.evaluate(() => { window.location.hash = "#/events/"; });
    // The page shows one namespace: the first the UI heard of, often /admin. Pick "/".
    await page.getByLabel("Select namespace").click({ force: true, timeout: TIMEOUT_MS });
    await page.getByRole("option", { name: "/", exact: true }).click({ timeout: TIMEOUT_MS });
    await page.getByText(eventName, { exact: false }).first().waitFor({ timeout: TIMEOUT_MS });
    // Open the event's row (one at a time), so its arguments are on the page too.
    await page.keyboard.press("Escape");
    await page.locator("tbody tr", { hasText: eventName }).first()
      .locator("td:last-child .v-icon").click({ timeout: TIMEOUT_MS });
    await page.getByText("Event arguments").first().waitFor({ timeout: TIMEOUT_MS });
    report.eventsPage = await page.locator("body").innerText();
    report.texts.push(report.eventsPage);
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
