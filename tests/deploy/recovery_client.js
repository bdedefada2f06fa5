// One socket.io-client connection that reports on stdout, one JSON line per thing it sees,
// and reconnects only when told to on stdin (so a test decides when the client is away):
//   {"t":"connect","sid","pid","recovered","pod"}   {"t":"disconnect","reason"}
//   {"t":"msg","data","args","connected"}      {"t":"connect_error","message"}
// stdin lines: "reconnect"; "drop" (close the connection, keep the session, as a network
// cut does); "forget-offset" (as if it had received no message); "pid <value>" (a guessed
// private session id: a hijack attempt); "token <value>" (the auth sent at each connect);
// "url <base url>" (connect to that server from now on, e.g. another pod directly);
// "join <room>" (the demo protocol's join; prints {"t":"joined"} on its ack); "disconnect"
// (socket.disconnect(): a Socket.IO DISCONNECT, the client's own goodbye); "close".
// usage: node recovery_client.js PACKAGE URL TRANSPORT auto|manual
const readline = require('readline');
const [pkg, url, transport, start] = process.argv.slice(2);
const { io } = require(pkg);
const out = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');
let pod = null;
const socket = io(url, {
  transports: transport === 'websocket' ? ['websocket'] : ['polling'],
  reconnection: false,
  withCredentials: true, // polling: keep HAProxy's SERVERID cookie (stickiness)
  autoConnect: start !== 'manual',
});
socket.on('connect', () => out({ t: 'connect', sid: socket.id, pid: socket._pid, recovered: socket.recovered, pod }));
socket.on('disconnect', (reason) => out({ t: 'disconnect', reason }));
socket.on('connect_error', (err) => out({ t: 'connect_error', message: err.message }));
socket.on('pushsvc_info', (info) => { pod = info && info.pod; out({ t: 'pod', pod }); });
socket.on('nuke_response', (msg, ...rest) => {
  out({ t: 'msg', data: msg && msg.data, args: rest.length, connected: socket.connected });
});
readline.createInterface({ input: process.stdin }).on('line', (line) => {
  if (line === 'reconnect') socket.connect();
  else if (line === 'drop') socket.io.engine.close();
  else if (line === 'disconnect') socket.disconnect();
  else if (line === 'forget-offset') socket._lastOffset = undefined;
  else if (line === 'close') { socket.close(); process.exit(0); }
  else if (line.startsWith('pid ')) socket._pid = line.slice(4);
  else if (line.startsWith('token ')) socket.auth = { token: line.slice(6) };
  else if (line.startsWith('url ')) socket.io.uri = line.slice(4);
  else if (line.startsWith('join ')) {
    const room = line.slice(5);
    socket.emit('join', { room }, (ack) => out({ t: 'joined', room, ok: !!(ack && ack.ok) }));
  }
});
