// Long-polling socket.io-client connections, each from its own loopback source address
// (http.Agent localAddress), each doing three echo round trips. Prints one JSON line:
// {source: [echoes received] | "connect_error: ..."}; exit status 0 when all succeeded.
// usage: node node_clients.js PACKAGE URL SOURCE...
const http = require('http');
const [pkg, url, ...sources] = process.argv.slice(2);
const { io } = require(pkg);
const results = {};
let pending = sources.length;
const finish = (code) => { console.log(JSON.stringify(results)); process.exit(code); };
const timer = setTimeout(() => finish(1), 30000);
for (const ip of sources) {
  const socket = io(url, {
    transports: ['polling'],
    reconnection: false,
    agent: new http.Agent({ localAddress: ip, keepAlive: true }),
  });
  const want = [`${ip}-0`, `${ip}-1`, `${ip}-2`];
  const got = [];
  socket.on('connect', () => socket.emit('my_event', { data: want[0] }));
  socket.on('nuke_response', (msg) => {
    if (!msg || !want.includes(msg.data)) return;
    got.push(msg.data);
    if (got.length < want.length) {
      socket.emit('my_event', { data: want[got.length] });
      return;
    }
    results[ip] = got;
    socket.close();
    if (--pending === 0) { clearTimeout(timer); finish(0); }
  });
  socket.on('connect_error', (err) => { results[ip] = 'connect_error: ' + err.message; });
}
