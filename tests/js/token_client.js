// Connects an official Node socket.io-client with JWTs and reports what the server answered.
// Usage: node tests/js/token_client.js URL PACKAGE TRANSPORT CASES_JSON
//   PACKAGE: socket.io-client (4.x) or socket.io-client-3 (3.0.3)
//   CASES_JSON: [{"token": "...", "via": "auth"|"query"|"none"}, ...]
// Prints one JSON line: {version, results: [{connected, message, code, reply}]}; exit 0.
"use strict";

const [url, pkg, transport, casesJson] = process.argv.slice(2);
const io = require(pkg);
const version = require(`${pkg}/package.json`).version;
const REPLY = process.env.REPLY_EVENT || "nuke_response";
const cases = JSON.parse(casesJson);
const overall = setTimeout(() => { process.stdout.write('{"error": "overall timeout"}\n'); process.exit(1); }, 60000);

function attempt({token, via}) {
  return new Promise((resolve) => {
    const options = {transports: [transport], upgrade: false, forceNew: true, reconnection: false};
    if (via === "auth") options.auth = {token};
    if (via === "query") options.query = {token};
    const socket = io(url, options);
    const timer = setTimeout(() => { socket.close(); resolve({connected: false, message: "timeout"}); }, 10000);
    socket.on(REPLY, (msg) => {
      if (msg && msg.data === "Connected") {
        clearTimeout(timer);
        socket.close();
        resolve({connected: true, reply: msg.data});
      }
    });
    socket.on("connect_error", (err) => {
      clearTimeout(timer);
      socket.close();
      resolve({connected: false, message: err.message, code: err.data ? err.data.code : null});
    });
  });
}

(async () => {
  const results = [];
  for (const c of cases) results.push(await attempt(c));
  clearTimeout(overall);
  process.stdout.write(JSON.stringify({version, results}) + "\n");
  process.exit(0);
})();
