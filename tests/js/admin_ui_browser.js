// Logs in to pushsvc's Socket.IO Admin UI in headless Chromium (playwright-core) and reads the
// sockets and rooms it shows.
// Usage: node tests/js/admin_ui_browser.js URL USERNAME PASSWORD SID,SID ROOM ARTIFACT_DIR
// The page must come from URL alone: any request to another host fails the run (no CDN).
// Prints one JSON line; exit 0 = every expected socket and the room were seen.
"use strict";

const path = require("path");
const { launch } = require("../support/browser");

const [url, username, password, sidList, room, artifactDir] = process.argv.slice(2);
const sids = sidList.split(",");
const TIMEOUT_MS = 20000;
const foreign = [];
const pageErrors = [];

async function main() {
  const browser = await launch();
  const own = new URL(url).host;
  const report = { ok: false };
  try {
    const context = await browser.newContext();
    await context.route("**/*", (route) => {
      const target = new URL(route.request().url());
      if (target.host !== own && target.protocol !== "data:") {
        foreign.push(target.href);
        return route.abort();
      }
      return route.continue();
    });
    const page = await context.newPage();
    page.on("pageerror", (err) => pageErrors.push(String(err)));
    await page.goto(`${url}/admin/`);
    // The connection dialog opens with the server URL preset to the page's own origin.
    const serverUrl = page.getByLabel("Server URL");
    await serverUrl.waitFor({ timeout: TIMEOUT_MS });
    report.presetServerUrl = await serverUrl.inputValue();
    await page.getByLabel("Username").fill(username);
    await page.getByLabel("Password").fill(password);
    await page.getByRole("button", { name: "Connect" }).click();
    await page.getByText("connected", { exact: true }).first().waitFor({ timeout: TIMEOUT_MS });

    await page.evaluate(() => { window.location.hash = "#/sockets/"; });
    for (const sid of sids) {
      await page.getByText(sid, { exact: true }).first().waitFor({ timeout: TIMEOUT_MS });
    }
    report.socketsSeen = sids;
    await page.screenshot({ path: path.join(artifactDir, "admin-ui-sockets.png"), fullPage: true });

    await page.evaluate(() => { window.location.hash = "#/rooms/"; });
    await page.getByText(room, { exact: true }).first().waitFor({ timeout: TIMEOUT_MS });
    report.roomSeen = room;
    // The room's page lists its members.
    await page.getByText(room, { exact: true }).first().click();
    for (const sid of sids) {
      await page.getByText(sid, { exact: true }).first().waitFor({ timeout: TIMEOUT_MS });
    }
    report.roomMembersSeen = sids;
    await page.screenshot({ path: path.join(artifactDir, "admin-ui-room.png"), fullPage: true });
    report.ok = foreign.length === 0 && pageErrors.length === 0;
  } catch (err) {
    report.error = String(err);
  } finally {
    report.foreignRequests = foreign;
    report.pageErrors = pageErrors;
    await browser.close();
  }
  process.stdout.write(JSON.stringify(report) + "\n");
  process.exit(report.ok ? 0 : 1);
}

main();
