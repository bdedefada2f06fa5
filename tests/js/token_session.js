// A JWT session with an official Node socket.io-client: a join the token allows and one it
// does not, a refresh before expiry that keeps the connection, and a second client whose
// token runs out and is disconnected with token_expired.
// Usage: node tests/js/token_session.js URL PACKAGE TRANSPORT TOKENS_JSON
//   TOKENS_JSON: {"short": <token of alice, expires soon>, "fresh": <alice, long>,
//                 "lapsing": <bob, expires soon>, "expiresAt": <unix s of the short ones>}
// Prints one JSON line {version, steps, ok, error}; exit 0 = every step passed.
"use strict";

const [url, pkg, transport, tokensJson] = process.argv.slice(2);
const io = require(pkg);
const version = require(`${pkg}/package.json`).version;
const tokens = JSON.parse(tokensJson);
const REPLY = "nuke_response";
const steps = [];
const overall = setTimeout(() => finish(new Error("overall timeout (60 s)")), 60000);

function connect(token) {
  const socket = io(url, {transports: [transport], upgrade: false, forceNew: true,
    reconnection: false, auth: {token}});
  socket.replies = [];
  socket.errors = [];
  socket.on(REPLY, (msg) => socket.replies.push(msg.data));
  socket.on("error", (err) => socket.errors.push(err));
  return socket;
}

function until(what, predicate, ms = 15000) {
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + ms;
    const tick = () => {
      if (predicate()) return resolve();
      if (Date.now() > deadline) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(tick, 20);
    };
    tick();
  });
}

function ack(socket, event, payload) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ack for ${event}`)), 10000);
    socket.emit(event, payload, (answer) => { clearTimeout(timer); resolve(answer); });
  });
}

async function main() {
  const alice = connect(tokens.short);
  const bob = connect(tokens.lapsing);
  await until("both connected", () => alice.replies.includes("Connected") &&
    bob.replies.includes("Connected"));
  steps.push("connected");
  const allowed = await ack(alice, "join", {room: "job-1"});
  const refused = await ack(alice, "join", {room: "finance"});
  if (!allowed.ok || refused.ok !== false || refused.code !== "forbidden") {
    throw new Error(`joins answered ${JSON.stringify([allowed, refused])}`);
  }
  steps.push("join by claims");
  const refreshed = await ack(alice, "pushsvc_refresh", {token: tokens.fresh});
  if (!refreshed.ok) throw new Error(`refresh answered ${JSON.stringify(refreshed)}`);
  steps.push("refreshed");
  let bobReason = null;
  bob.on("disconnect", (reason) => { bobReason = reason; });
  await until("bob's expiry", () => bobReason !== null &&
    bob.errors.some((e) => e.code === "token_expired"));
  steps.push("expired disconnects");
  // bob's token expired no earlier than alice's first one: alice must still be here.
  if (Date.now() / 1000 < tokens.expiresAt) throw new Error("bob left before the expiry");
  alice.emit("my_event", {data: "still connected"});
  await until("alice's echo", () => alice.replies.includes("still connected"));
  if (!alice.connected) throw new Error("alice was disconnected");
  steps.push("refreshed connection kept");
  alice.close();
}

function finish(err) {
  clearTimeout(overall);
  process.stdout.write(JSON.stringify({version, steps, ok: !err, error: err ? String(err) : null}) + "\n");
  process.exit(err ? 1 : 0);
}

main().then(() => finish(null), finish);
