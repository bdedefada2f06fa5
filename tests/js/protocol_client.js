// Drives pushsvc's demo protocol with an official Node socket.io-client.
// Usage: node tests/js/protocol_client.js URL PACKAGE TRANSPORT
//   PACKAGE: socket.io-client (4.x) or socket.io-client-3 (3.0.3); TRANSPORT: websocket|polling
// Two clients A and B: echo, broadcast, join, a room event and close_room from B, which is
// not in the room (the classic semantics), leave, a bad input
// (error event + ack), disconnect_request. Prints one JSON line; exit 0 = every step passed.
"use strict";

const [url, pkg, transport] = process.argv.slice(2);
const io = require(pkg);
const version = require(`${pkg}/package.json`).version;
const REPLY = process.env.REPLY_EVENT || "nuke_response";
const STEP_TIMEOUT_MS = 10000;
const steps = [];

const overall = setTimeout(() => finish(new Error("overall timeout (60 s)")), 60000);

function connect(name) {
  const socket = io(url, {
    transports: [transport], upgrade: false, forceNew: true, reconnection: false,
  });
  socket.received = [];
  socket.errors = [];
  socket.waiters = [];
  socket.on(REPLY, (msg) => { socket.received.push(msg.data); check(socket); });
  socket.on("error", (err) => { socket.errors.push(err); check(socket); });
  socket.name = name;
  return socket;
}

function check(socket) {
  socket.waiters = socket.waiters.filter((w) => !w());
}

function waitFor(socket, what, predicate) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${socket.name}: timed out waiting for ${what}`)),
      STEP_TIMEOUT_MS);
    const attempt = () => {
      if (predicate()) { clearTimeout(timer); resolve(); return true; }
      return false;
    };
    if (!attempt()) socket.waiters.push(attempt);
  });
}

const reply = (socket, data) => waitFor(socket, JSON.stringify(data),
  () => socket.received.includes(data));

function once(socket, event) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${socket.name}: no ${event}`)), STEP_TIMEOUT_MS);
    socket.once(event, (arg) => { clearTimeout(timer); resolve(arg); });
  });
}

function ack(socket, event, payload) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${socket.name}: no ack for ${event}`)),
      STEP_TIMEOUT_MS);
    socket.emit(event, payload, (answer) => { clearTimeout(timer); resolve(answer); });
  });
}

async function step(name, fn) {
  await fn();
  steps.push(name);
}

async function main() {
  const a = connect("A");
  const b = connect("B");
  await Promise.all([once(a, "connect"), once(b, "connect")]);
  const used = a.io.engine.transport.name;
  if (used !== transport) throw new Error(`transport is ${used}, wanted ${transport}`);
  await step("connect reply", () => Promise.all([reply(a, "Connected"), reply(b, "Connected")]));
  await step("echo", async () => {
    a.emit("my_event", {data: "echo from node"});
    await reply(a, "echo from node");
  });
  await step("broadcast", async () => {
    b.emit("my_broadcast_event", {data: "to everyone"});
    await Promise.all([reply(a, "to everyone"), reply(b, "to everyone")]);
  });
  await step("join", async () => {
    a.emit("join", {room: "node-room"});
    await reply(a, "In rooms: node-room");
  });
  await step("room event from a non-member", async () => {
    // As in Flask-SocketIO's example app: B sends to a room it never joined.
    b.emit("my_room_event", {room: "node-room", data: "to the room"});
    await reply(a, "to the room");
  });
  await step("leave", async () => {
    a.emit("leave", {room: "node-room"});
    await reply(a, "In rooms: (none)");
  });
  await step("close_room from a non-member", async () => {
    a.emit("join", {room: "closing"});
    await reply(a, "In rooms: closing");
    b.emit("close_room", {room: "closing"});
    await reply(a, "Room closing is closing.");
    // The room is empty now: a later room message reaches nobody; the marker comes after it.
    b.emit("my_room_event", {room: "closing", data: "after the close"});
    b.emit("my_broadcast_event", {data: "marker after the close"});
    await reply(a, "marker after the close");
    for (const [who, text] of [[a, "after the close"], [b, "to the room"],
                               [b, "Room closing is closing."]]) {
      if (who.received.includes(text)) throw new Error(`${who.name} got ${JSON.stringify(text)}`);
    }
  });
  await step("bad input", async () => {
    const answer = await ack(a, "join", {room: ""});
    if (answer.ok !== false || answer.code !== "bad_room") {
      throw new Error(`unexpected ack ${JSON.stringify(answer)}`);
    }
    await waitFor(a, "error event", () => a.errors.some((e) => e.code === "bad_room"));
    const ok = await ack(a, "my_event", {data: "still working"});
    if (ok.ok !== true) throw new Error(`unexpected ack ${JSON.stringify(ok)}`);
  });
  await step("disconnect_request", async () => {
    const gone = once(a, "disconnect");
    a.emit("disconnect_request");
    await reply(a, "Disconnected!");
    const reason = await gone;
    if (reason !== "io server disconnect") throw new Error(`disconnect reason ${reason}`);
  });
  await step("other client unaffected", async () => {
    b.emit("my_event", {data: "b still here"});
    await reply(b, "b still here");
  });
  b.close();
}

function finish(err) {
  clearTimeout(overall);
  const result = {pkg, version, transport, steps, ok: !err, error: err ? String(err) : null};
  process.stdout.write(JSON.stringify(result) + "\n");
  process.exit(err ? 1 : 0);
}

main().then(() => finish(null), finish);
