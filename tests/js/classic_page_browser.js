// Opens the classic static test page (served from another origin) in headless Chromium.
// Usage: node tests/js/classic_page_browser.js PAGE_URL EXPECT ARTIFACT_DIR
//   EXPECT=refused: the page must never connect; EXPECT=works: it must connect, echo,
//   join a room and get a room message; EXPECT=forms: two pages, a member and an outsider
//   that never joins, use all seven forms (Echo, Broadcast, Join, Leave, Send to Room,
//   Close Room, Disconnect): the outsider's room message reaches the member, the outsider's
//   Close Room empties the room. Prints one JSON line; exit 0 = as expected.
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

const texts = (page) => page.$$eval("#log div", (divs) => divs.map((d) => d.textContent));

async function submit(page, form, fields) {
  for (const [id, value] of Object.entries(fields)) await page.fill(`#${id}`, value);
  await page.click(`form#${form} input[type=submit]`);
}

async function connected(page) {
  await page.waitForFunction(
    () => document.getElementById("status").textContent === "connected", null, wait);
  await seen(page, "Received: I'm connected!");
}

// Each marker is published by the outsider after the message that must not arrive: once the
// member shows the marker, that message had its chance (one pod, one ordered bus).
async function absent(page, text, marker) {
  await seen(page, `Received: ${marker}`);
  if ((await texts(page)).includes(`Received: ${text}`)) throw new Error(`got ${text}`);
}

async function forms(browser, steps) {
  const context = await browser.newContext();
  const member = await context.newPage();
  const outsider = await context.newPage();
  await member.goto(pageUrl);
  await outsider.goto(pageUrl);
  await Promise.all([connected(member), connected(outsider)]);
  await submit(member, "emit", { emit_data: "echo from the member" });
  await seen(member, "Received: echo from the member");
  steps.push("Echo");
  await submit(outsider, "broadcast", { broadcast_data: "broadcast from the outsider" });
  await Promise.all([seen(member, "Received: broadcast from the outsider"),
    seen(outsider, "Received: broadcast from the outsider")]);
  steps.push("Broadcast");
  await submit(member, "join", { join_room: "classic" });
  await seen(member, "Received: In rooms: classic");
  steps.push("Join Room");
  await submit(outsider, "send_room", { room_name: "classic", room_data: "from a non-member" });
  await seen(member, "Received: from a non-member");
  steps.push("Send to Room");
  await submit(member, "leave", { leave_room: "classic" });
  await seen(member, "Received: In rooms: (none)");
  await submit(outsider, "send_room", { room_name: "classic", room_data: "after the leave" });
  await submit(outsider, "broadcast", { broadcast_data: "marker 1" });
  await absent(member, "after the leave", "marker 1");
  steps.push("Leave Room");
  await submit(member, "join", { join_room: "closing" });
  await seen(member, "Received: In rooms: closing");
  await submit(outsider, "close", { close_room: "closing" });
  await seen(member, "Received: Room closing is closing.");
  await submit(outsider, "send_room", { room_name: "closing", room_data: "after the close" });
  await submit(outsider, "broadcast", { broadcast_data: "marker 2" });
  await absent(member, "after the close", "marker 2");
  await absent(outsider, "from a non-member", "marker 2");
  await absent(outsider, "Room closing is closing.", "marker 2");
  steps.push("Close Room");
  await submit(member, "disconnect", {});
  await seen(member, "Received: Disconnected!");
  await member.waitForFunction(
    () => document.getElementById("status").textContent === "disconnected", null, wait);
  steps.push("Disconnect");
  fs.mkdirSync(artifactDir, { recursive: true });
  await member.screenshot({ path: path.join(artifactDir, "classic-page-member.png"), fullPage: true });
  await outsider.screenshot({ path: path.join(artifactDir, "classic-page-outsider.png"), fullPage: true });
  return await outsider.$eval("#status", (el) => el.textContent);
}

const steps = [];

async function main() {
  const browser = await launch();
  if (expect === "forms") {
    try {
      return await forms(browser, steps);
    } finally {
      await browser.close();
    }
  }
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
  process.stdout.write(JSON.stringify({ ok: !err, expect, status, steps, error: err ? String(err) : null }) + "\n");
  process.exit(err ? 1 : 0);
}
main().then((s) => finish(null, s), (e) => finish(e));
