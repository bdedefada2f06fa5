// Why this exists: `python -m bench rolling` needs a few thousand clients that speak
// Socket.IO connection state recovery exactly as socket.io-client >= 4.6 does, from a
// 2-core machine. One socket.io-client per connection costs several times a bare `ws`
// socket, so this speaks Engine.IO 4 / Socket.IO 5 over WebSocket itself: "40" (or
// "40{pid,offset}" after a drop) -> CONNECT {sid,pid}; the last string argument of each
// EVENT is the offset; pings answered; on any close it reconnects after a short delay.
// Each client records every "bseq=N bt=EPOCH_MS" it gets (duplicates, latency of live ones).
//
// With rooms K > 0, client i joins room "bench-<i % K>" (a "join" with an ack) on its first
// CONNECT and on any new session, and expects only the notifications N with N % K == i % K.
//
// Config argv[2] (JSON): url, n, sources (127.0.0.x list), maxSeq, delayMs (socket.io-client's
// reconnectionDelay), rooms.
// stdin, one JSON object a line: {"cmd":"stats"} -> one JSON line; {"cmd":"quit"}.
// stdout: {"t":"up","connected":K} once all n first connected.
'use strict';

const WebSocket = require('ws');
const readline = require('readline');

const cfg = JSON.parse(process.argv[2]);
const wsUrl = cfg.url.replace(/^http/, 'ws') + '/socket.io/?EIO=4&transport=websocket';
const sources = cfg.sources && cfg.sources.length ? cfg.sources : [null];
const rooms = cfg.rooms || 0;
const SEQ_RE = /bseq=(\d+) bt=([0-9.]+)/;
const OFFSET_RE = /,"(\d+-\d+)"\]$/; // the last argument: the offset
const out = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');

const clients = [];
let firstUp = 0;
let announced = false;
const liveLatencies = [];
let replayed = 0;
let dups = 0;
let recovered = 0;
let newSessions = 0;
let refused = 0;
const backTimes = []; // ms from a drop to the next CONNECT
// Where a reconnect's time goes, ms: drop -> WebSocket open (the retry delay, HAProxy, the
// upgrade), open -> Engine.IO OPEN, OPEN -> Socket.IO CONNECT (the connect handler, recovery).
const phases = { toOpen: [], toEio: [], toConnect: [] };
let attempts = 0; // connection attempts after a drop that did not reach CONNECT

function connect(c) {
  const opts = c.source ? { localAddress: c.source } : {};
  const ws = new WebSocket(wsUrl, opts);
  c.ws = ws;
  c.connected = false;
  c.openAt = c.eioAt = null;
  if (c.downAt !== null) attempts++;
  ws.on('open', () => { c.openAt = Date.now(); });
  ws.on('message', (raw) => onMessage(c, raw.toString()));
  ws.on('close', () => onClose(c, ws));
  ws.on('error', () => {});
}

// socket.io-client's reconnection delay (engine.io-client's Backoff): reconnectionDelay
// (delayMs, 1000 by default) doubled per failed attempt up to reconnectionDelayMax (5000),
// +-50 % at random (randomizationFactor 0.5): the first attempt 0.5-1.5 s after the drop.
function backoff(attempt) {
  let ms = Math.min(cfg.delayMs * 2 ** attempt, 5000);
  const rand = Math.random();
  const deviation = Math.floor(rand * 0.5 * ms);
  ms = (Math.floor(rand * 10) & 1) === 0 ? ms - deviation : ms + deviation;
  return Math.min(ms, 5000);
}

function onClose(c, ws) {
  if (c.ws !== ws) return;
  if (c.downAt === null) c.downAt = Date.now();
  c.connected = false;
  setTimeout(() => connect(c), backoff(c.failures++));
}

function onMessage(c, text) {
  const type = text[0];
  if (type === '0') {
    c.eioAt = Date.now();
    const auth = c.pid ? JSON.stringify(c.offset ? { pid: c.pid, offset: c.offset } : { pid: c.pid }) : '';
    c.ws.send('40' + auth);
  } else if (type === '2') {
    c.ws.send('3');
  } else if (text.startsWith('40')) {
    const data = JSON.parse(text.slice(2) || '{}');
    if (c.pid) {
      if (data.pid === c.pid) recovered++; else { newSessions++; c.offset = null; }
    }
    const fresh = data.pid !== c.pid;
    c.pid = data.pid || null;
    c.connected = true;
    c.failures = 0;
    if (rooms && fresh) { c.joined = false; c.ws.send('420["join",{"room":"bench-' + c.room + '"}]'); }
    if (c.downAt !== null) {
      const now = Date.now();
      backTimes.push(now - c.downAt);
      attempts--;
      if (c.openAt !== null && c.eioAt !== null) {
        phases.toOpen.push(c.openAt - c.downAt);
        phases.toEio.push(c.eioAt - c.openAt);
        phases.toConnect.push(now - c.eioAt);
      }
      c.downAt = null;
    }
    if (!rooms) joined(c);
  } else if (text.startsWith('430')) {
    joined(c);
  } else if (text.startsWith('44')) {
    refused++;
    c.ws.close();
  } else if (text.startsWith('42')) {
    // Regexes, not JSON.parse: at tens of thousands of messages/s this client must stay
    // cheaper than the servers it measures.
    const off = OFFSET_RE.exec(text);
    if (off) c.offset = off[1];
    if (!text.startsWith('42["nuke_response"')) return;
    const m = SEQ_RE.exec(text);
    if (!m) return;
    const seq = Number(m[1]);
    if (seq < 1 || seq > cfg.maxSeq) return;
    if (c.seen[seq]) { dups++; return; }
    c.seen[seq] = 1;
    if (c.connected) liveLatencies.push(Date.now() - Number(m[2])); else replayed++;
  }
}

function joined(c) {
  c.joined = true;
  if (!c.up) {
    c.up = true;
    firstUp++;
    if (firstUp === clients.length && !announced) { announced = true; out({ t: 'up', connected: firstUp }); }
  }
}

for (let i = 0; i < cfg.n; i++) {
  const c = { source: sources[i % sources.length], room: rooms ? i % rooms : 0, pid: null, offset: null, failures: 0, seen: new Uint8Array(cfg.maxSeq + 1), downAt: null, up: false, joined: false };
  clients.push(c);
  setTimeout(() => connect(c), Math.floor(i / 50) * 20); // 50 every 20 ms
}

readline.createInterface({ input: process.stdin }).on('line', (line) => {
  const cmd = JSON.parse(line);
  if (cmd.cmd === 'stats') {
    const upto = cmd.upto;
    let lost = 0;
    let clientsMissing = 0;
    for (const c of clients) {
      let missing = 0;
      for (let s = 1; s <= upto; s++) if (!c.seen[s] && (!rooms || s % rooms === c.room)) missing++;
      lost += missing;
      if (missing) clientsMissing++;
    }
    const pct = (xs, p) => xs.length ? xs[Math.min(xs.length - 1, Math.ceil(p / 100 * xs.length) - 1)] : null;
    for (const xs of [liveLatencies, backTimes, ...Object.values(phases)]) xs.sort((a, b) => a - b);
    const q = (p) => pct(liveLatencies, p);
    const phase = {};
    for (const [name, xs] of Object.entries(phases)) phase[name] = { p50: pct(xs, 50), p99: pct(xs, 99), max: pct(xs, 100) };
    out({
      t: 'stats', clients: clients.length, connected: clients.filter((c) => c.connected).length,
      lost, clientsMissing, dups, replayed, recovered, newSessions, refused,
      drops: backTimes.length, backMaxMs: backTimes.length ? backTimes[backTimes.length - 1] : null,
      backP99Ms: backTimes.length ? backTimes[Math.min(backTimes.length - 1, Math.ceil(0.99 * backTimes.length) - 1)] : null,
      phases: phase, failedAttempts: attempts,
      liveP50Ms: q(50), liveP99Ms: q(99), liveMaxMs: liveLatencies.length ? liveLatencies[liveLatencies.length - 1] : null,
    });
  } else if (cmd.cmd === 'drop') {
    // As a network cut: every connection closed by the client, each then reconnects.
    for (const c of clients) if (c.ws) c.ws.terminate();
  } else if (cmd.cmd === 'quit') {
    for (const c of clients) { c.ws.removeAllListeners('close'); c.ws.terminate(); }
    process.exit(0);
  }
});
