// Exercises pushsvc's demo page in headless Chromium with two pages (playwright-core).
// Usage: node tests/js/demo_page_browser.js URL ARTIFACT_DIR
// Every form is used; messages are checked in the page that should (and should not) see them.
// Prints one JSON line; exit 0 = every step passed. Screenshots go to ARTIFACT_DIR.
"use strict";

const path = require("path");
const fs = require("fs");
const { launch } = require("../support/browser");

const [url, artifactDir] = process.argv.slice(2);
const TIMEOUT_MS = 15000;
const steps = [];
const consoleErrors = [];

async function openPage(context, name) {
  const page = await context.newPage();
  page.on("console", (msg) => {
    // Chromium asks for /favicon.ico: that 404 is expected.
    const where = (msg.location() && msg.location().url) || "";
    if (msg.type() === "error" && !/favicon/.test(msg.text() + where)) {
      consoleErrors.push(`${name}: ${msg.text()} ${where}`);
    }
  });
  page.on("pageerror", (err) => consoleErrors.push(`${name}: ${err}`));
  await page.goto(url);
  await page.waitForFunction(() => document.getElementById("status").textContent === "connected",
    null, { timeout: TIMEOUT_MS, polling: 50 });
  return page;
}

const logText = (page) => page.$eval("#log", (el) => el.textContent);

async function seen(page, text) {
  await page.waitForFunction(
    (t) => Array.from(document.querySelectorAll("#log div")).some((d) => d.textContent === t),
    text, { timeout: TIMEOUT_MS, polling: 50 });
}

async function notSeen(page, text) {
  if ((await logText(page)).includes(text)) throw new Error(`unexpected "${text}" in a page`);
}

async function submit(page, formId, values) {
  for (const [id, value] of Object.entries(values || {})) await page.fill(`#${id}`, value);
  await page.click(`form#${formId} input[type=submit]`);
}

const t0 = Date.now();
async function step(name, fn) {
  await fn();
  steps.push(name);
  if (process.env.STEP_TIMES) process.stderr.write(`${Date.now() - t0} ms: ${name}\n`);
}

async function main() {
  // launch() gives Chromium a fresh temporary --user-data-dir of its own.
  const browser = await launch();
  // One context (own window) per page, so neither page is a throttled background tab.
  const contextA = await browser.newContext();
  const contextB = await browser.newContext();
  try {
    const a = await openPage(contextA, "A");
    const b = await openPage(contextB, "B");
    let transport;
    await step("status shows connected and the transport", async () => {
      // The page connects with long-polling and shows the upgrade to WebSocket.
      await a.waitForFunction(() => document.getElementById("transport").textContent === "websocket",
        null, { timeout: TIMEOUT_MS, polling: 50 });
      transport = await a.$eval("#transport", (el) => el.textContent);
      await seen(a, "Received: Connected");
    });
    await step("echo", async () => {
      await submit(a, "emit", { emit_data: "echo from A" });
      await seen(a, "Received: echo from A");
    });
    await step("broadcast", async () => {
      await submit(b, "broadcast", { broadcast_data: "B to everyone" });
      await seen(a, "Received: B to everyone");
      await seen(b, "Received: B to everyone");
      await notSeen(b, "echo from A");
    });
    await step("join", async () => {
      await submit(a, "join", { join_room: "lobby" });
      await seen(a, "Received: In rooms: lobby");
    });
    await step("send to room", async () => {
      // B is not in the lobby and sends to it anyway (the classic semantics).
      await submit(b, "send_room", { room_name: "lobby", room_data: "B outside the lobby" });
      await seen(a, "Received: B outside the lobby");
      await submit(a, "send_room", { room_name: "lobby", room_data: "A to the lobby" });
      await seen(a, "Received: A to the lobby");
      // An echo after it proves B's page had its chance to see the room messages.
      await submit(b, "emit", { emit_data: "B marker" });
      await seen(b, "Received: B marker");
      await notSeen(b, "A to the lobby");
      await notSeen(b, "B outside the lobby");
    });
    await step("close room", async () => {
      // B, not in the lobby, closes it: A gets the notice and no later lobby message.
      await submit(b, "close", { close_room: "lobby" });
      await seen(a, "Received: Room lobby is closing.");
      await submit(b, "send_room", { room_name: "lobby", room_data: "after the close" });
      await submit(b, "broadcast", { broadcast_data: "B marker 2" });
      await seen(a, "Received: B marker 2");
      await notSeen(a, "after the close");
      await notSeen(b, "Room lobby is closing.");
    });
    await step("leave", async () => {
      await submit(a, "join", { join_room: "second" });
      await seen(a, "Received: In rooms: second");
      await submit(a, "leave", { leave_room: "second" });
      await seen(a, "Received: In rooms: (none)");
    });
    await step("bad input shows the server's error", async () => {
      await submit(a, "join", { join_room: "" });
      await seen(a, "Error from server (join): 'room' must not be empty");
    });
    await step("disconnect", async () => {
      await submit(a, "disconnect");
      await seen(a, "Received: Disconnected!");
      await a.waitForFunction(() => document.getElementById("status").textContent === "disconnected",
        null, { timeout: TIMEOUT_MS, polling: 50 });
      await submit(b, "emit", { emit_data: "B after A left" });
      await seen(b, "Received: B after A left");
    });
    await step("reconnect", async () => {
      await a.waitForFunction(() => document.getElementById("pod").textContent === "-",
        null, { timeout: TIMEOUT_MS, polling: 50 });
      await submit(a, "reconnect");
      await a.waitForFunction(() => document.getElementById("status").textContent === "connected",
        null, { timeout: TIMEOUT_MS, polling: 50 });
      // The server names its pod after every connect: the page shows it again.
      await a.waitForFunction(() => !["-", ""].includes(document.getElementById("pod").textContent),
        null, { timeout: TIMEOUT_MS, polling: 50 });
    });
    fs.mkdirSync(artifactDir, { recursive: true });
    await a.screenshot({ path: path.join(artifactDir, "demo-page-A.png"), fullPage: true });
    await b.screenshot({ path: path.join(artifactDir, "demo-page-B.png"), fullPage: true });
    if (consoleErrors.length) throw new Error(`console errors: ${consoleErrors.join("; ")}`);
    return transport;
  } finally {
    await browser.close();
  }
}

const overall = setTimeout(() => finish(new Error("overall timeout (90 s)")), 90000);
function finish(err, transport) {
  clearTimeout(overall);
  process.stdout.write(JSON.stringify({ ok: !err, steps, transport, error: err ? String(err) : null }) + "\n");
  process.exit(err ? 1 : 0);
}
main().then((t) => finish(null, t), (e) => finish(e));
