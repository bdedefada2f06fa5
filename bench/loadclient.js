// Why this exists: the benchmark needs tens of thousands of Socket.IO
// WebSocket clients from a 2-core machine. One socket.io-client per
// connection costs several times the memory and CPU of a bare `ws` socket,
// so this speaks Engine.IO 4 / Socket.IO 5 directly: open -> "40" connect ->
// optional "420[join]" with an ack -> answer pings ("2" -> "3") -> record
// every pushed message whose data is "bseq=N bt=EPOCH_MS".
//
// Driven by bench/loadclient.py over stdin/stdout, one JSON object a line:
//   {"cmd":"connect","n":K,"deadlineSeconds":S}  hold K more clients (cumulative), within S s
//   {"cmd":"expect","maxSeq":M}        reset the receive records
//   {"cmd":"send","seq0":S,"count":C,"rate":R,"event":E,"room":ROOM}
//                                      client 0 emits C messages at R/s (0 = all at once)
//   {"cmd":"stats"}                    report counts, per-seq times; latencies to rawOut
//   {"cmd":"quit"}
// Config is argv[2] (JSON): url, sources (list of 127.0.0.x), concurrency,
// room (joined after connect, or null), connectTimeoutMs, rawOut.
'use strict';

const WebSocket = require('ws');
const readline = require('readline');
const fs = require('fs');
const { performance } = require('perf_hooks');

const cfg = JSON.parse(process.argv[2]);
const wsUrl = cfg.url.replace(/^http/, 'ws') + '/socket.io/?EIO=4&transport=websocket';
const sources = cfg.sources && cfg.sources.length ? cfg.sources : [null];
const concurrency = cfg.concurrency || 200;
const connectTimeoutMs = cfg.connectTimeoutMs || 120000;
// Messages carry "bseq=N bt=EPOCH_MS" as their data string (pushsvc accepts only
// strings and numbers from clients); a JSON object {"bseq":N,"bt":T} matches too.
const SEQ_RE = /bseq"?[=:]\s*(\d+)[,\s]+"?bt"?[=:]\s*([0-9.]+)/;

const now = () => performance.timeOrigin + performance.now();
const out = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');

const clients = [];
let failed = 0;
let disconnected = 0;
let nextSource = 0;

// receive records, reset by "expect"
let maxSeq = 0;
let firstRecv = new Float64Array(1);
let lastRecv = new Float64Array(1);
let recvCount = new Uint32Array(1);
let sentAt = new Float64Array(1);
let latencies = new Float64Array(1 << 16);
let nLat = 0;
let dups = 0;
let outOfRange = 0;
let received = 0;

function resetRecords(m) {
  maxSeq = m;
  firstRecv = new Float64Array(m + 1);
  lastRecv = new Float64Array(m + 1);
  recvCount = new Uint32Array(m + 1);
  sentAt = new Float64Array(m + 1);
  latencies = new Float64Array(1 << 16);
  nLat = 0;
  dups = 0;
  outOfRange = 0;
  received = 0;
  for (const c of clients) c.seen = null;
}

function record(c, text) {
  const m = SEQ_RE.exec(text);
  if (!m) return;
  const t = now();
  const seq = +m[1];
  received++;
  if (seq > maxSeq) { outOfRange++; return; }
  if (c.seen === null) c.seen = new Uint8Array(maxSeq + 1);
  if (c.seen[seq]) { dups++; return; }
  c.seen[seq] = 1;
  const bt = +m[2];
  const lat = t - bt;
  sentAt[seq] = bt;
  if (nLat === latencies.length) {
    const bigger = new Float64Array(latencies.length * 2);
    bigger.set(latencies);
    latencies = bigger;
  }
  latencies[nLat++] = lat;
  if (recvCount[seq] === 0 || t < firstRecv[seq]) firstRecv[seq] = t;
  if (t > lastRecv[seq]) lastRecv[seq] = t;
  recvCount[seq]++;
}

function openOne() {
  return new Promise((resolve) => {
    const localAddress = sources[nextSource++ % sources.length];
    const opts = { perMessageDeflate: false, handshakeTimeout: connectTimeoutMs };
    if (localAddress) opts.localAddress = localAddress;
    const ws = new WebSocket(wsUrl, opts);
    const c = { ws, ready: false, seen: null };
    let settled = false;
    const settle = (ok) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (ok) { c.ready = true; clients.push(c); } else { failed++; ws.terminate(); }
      resolve(ok);
    };
    const timer = setTimeout(() => settle(false), connectTimeoutMs);
    ws.on('message', (data) => {
      const text = data.toString();
      const t0 = text.charCodeAt(0);
      if (t0 === 50) { ws.send('3'); return; }          // "2" ping
      if (t0 === 48) { ws.send('40'); return; }         // "0" Engine.IO open
      if (t0 !== 52) return;                            // not "4" message
      const t1 = text.charCodeAt(1);
      if (t1 === 50) { record(c, text); return; }       // "42" event
      if (t1 === 48) {                                  // "40" namespace connected
        if (cfg.room) ws.send('420' + JSON.stringify(['join', { room: cfg.room }]));
        else settle(true);
        return;
      }
      if (t1 === 51) { settle(true); return; }          // "43" ack (of join)
      if (t1 === 52) settle(false);                     // "44" connect error
    });
    ws.on('error', () => settle(false));
    ws.on('close', () => { if (c.ready) disconnected++; settle(false); });
  });
}

async function connectMore(n, deadlineSeconds) {
  const t0 = now();
  const before = clients.length;
  const failedBefore = failed;
  let started = 0;
  // A step never runs longer than deadlineSeconds: a slow server ends it short, not hung.
  const deadline = t0 + (deadlineSeconds || 300) * 1000;
  const worker = async () => {
    while (started < n && now() < deadline) {
      started++;
      await openOne();
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
  out({
    ev: 'connected', total: clients.length, added: clients.length - before,
    failed: failed - failedBefore, seconds: (now() - t0) / 1000,
  });
}

function sendMessages(cmd) {
  const c = clients[0];
  if (!c) { out({ ev: 'sent', count: 0, error: 'no client' }); return Promise.resolve(); }
  const event = cmd.event || 'my_room_event';
  const frame = (seq) => {
    const data = `bseq=${seq} bt=${now().toFixed(3)}`;
    const payload = cmd.room ? { room: cmd.room, data } : { data };
    return '42' + JSON.stringify([event, payload]);
  };
  const t0 = now();
  return new Promise((resolve) => {
    let i = 0;
    const done = () => {
      out({ ev: 'sent', count: i, seconds: (now() - t0) / 1000 });
      resolve();
    };
    if (!cmd.rate) {
      for (; i < cmd.count; i++) c.ws.send(frame(cmd.seq0 + i));
      done();
      return;
    }
    const tick = () => {
      const due = Math.min(cmd.count, Math.floor(((now() - t0) / 1000) * cmd.rate) + 1);
      for (; i < due; i++) c.ws.send(frame(cmd.seq0 + i));
      if (i >= cmd.count) done(); else setTimeout(tick, 1);
    };
    tick();
  });
}

function stats() {
  const perSeq = {};
  for (let s = 0; s <= maxSeq; s++) {
    if (recvCount[s]) perSeq[s] = [recvCount[s], firstRecv[s], lastRecv[s], sentAt[s]];
  }
  if (cfg.rawOut) fs.writeFileSync(cfg.rawOut, Buffer.from(latencies.buffer, 0, nLat * 8));
  out({
    ev: 'stats', clients: clients.length, failed, disconnected, received,
    dups, outOfRange, latencies: nLat, perSeq, rss: process.memoryUsage().rss,
    cpu: process.cpuUsage(),
  });
}

const rl = readline.createInterface({ input: process.stdin });
let queue = Promise.resolve();
rl.on('line', (line) => {
  if (!line.trim()) return;
  const cmd = JSON.parse(line);
  queue = queue.then(async () => {
    if (cmd.cmd === 'connect') await connectMore(cmd.n, cmd.deadlineSeconds);
    else if (cmd.cmd === 'expect') { resetRecords(cmd.maxSeq); out({ ev: 'expecting' }); }
    else if (cmd.cmd === 'send') await sendMessages(cmd);
    else if (cmd.cmd === 'stats') stats();
    else if (cmd.cmd === 'quit') {
      for (const c of clients) c.ws.terminate();
      out({ ev: 'bye' });
      process.exit(0);
    }
  });
});
rl.on('close', () => process.exit(0));
// A hard upper bound on the client's life, whatever the driver does.
setTimeout(() => process.exit(3), (cfg.maxLifeSeconds || 900) * 1000).unref();
