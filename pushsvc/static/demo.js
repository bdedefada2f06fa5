// pushsvc demo page: the classic Flask-SocketIO test page's forms, without jQuery.
// Connects to its own origin (io() with no URL). Replies arrive as the reply event
// (default nuke_response) with {data}; refused input arrives as 'error'
// {event, code, reason}; 'server_shutdown' means reconnect (the client does it).
// 'pushsvc_info' {pod} follows every connect: the page shows which pod it is on, and a
// reconnect (possibly to another pod) updates it. After each reconnect the page says whether
// the session was "recovered" (connection state recovery: same sid, missed messages replayed
// before the connect event) or is a "new session".
(function () {
  "use strict";
  var replyEvent = document.body.dataset.replyEvent || "nuke_response";
  var socket = io();
  var log = document.getElementById("log");
  var statusEl = document.getElementById("status");
  var transportEl = document.getElementById("transport");
  var sidEl = document.getElementById("sid");
  var podEl = document.getElementById("pod");
  var sessionEl = document.getElementById("session");
  var connectedBefore = false;

  function append(text, cls) {
    var line = document.createElement("div");
    if (cls) line.className = cls;
    line.textContent = text;
    log.appendChild(line);
  }

  function setStatus(state) {
    statusEl.textContent = state;
    statusEl.className = state;
    var transport = socket.io.engine && socket.connected ? socket.io.engine.transport.name : "none";
    transportEl.textContent = transport;
    sidEl.textContent = socket.connected ? socket.id : "-";
  }

  socket.on("connect", function () {
    setStatus("connected");
    var session = connectedBefore && socket.recovered ? "recovered" : "new session";
    sessionEl.textContent = session;
    sessionEl.className = socket.recovered ? "recovered" : "new";
    if (connectedBefore) append("Reconnected: " + session, "notice");
    connectedBefore = true;
    // The transport may upgrade from polling to websocket after connecting.
    socket.io.engine.on("upgrade", function () { setStatus("connected"); });
  });
  socket.on("pushsvc_info", function (info) {
    var pod = info && info.pod ? String(info.pod) : "?";
    if (podEl.textContent !== pod) append("Connected to pod " + pod, "notice");
    podEl.textContent = pod;
  });
  socket.on("disconnect", function (reason) {
    setStatus("disconnected");
    podEl.textContent = "-";
    append("Disconnected (" + reason + ")", "notice");
  });
  socket.on("connect_error", function (err) {
    setStatus("disconnected");
    append("Connection error: " + err.message, "error");
  });
  socket.on(replyEvent, function (msg) {
    append("Received: " + (msg && msg.data !== undefined ? msg.data : JSON.stringify(msg)));
  });
  socket.on("error", function (err) {
    append("Error from server (" + err.event + "): " + err.reason, "error");
  });
  socket.on("server_shutdown", function () {
    append("Server is shutting down; reconnecting elsewhere", "notice");
  });

  function onSubmit(id, handler) {
    document.getElementById(id).addEventListener("submit", function (ev) {
      ev.preventDefault();
      handler();
    });
  }
  function value(id) { return document.getElementById(id).value; }

  onSubmit("emit", function () { socket.emit("my_event", {data: value("emit_data")}); });
  onSubmit("broadcast", function () {
    socket.emit("my_broadcast_event", {data: value("broadcast_data")});
  });
  onSubmit("join", function () { socket.emit("join", {room: value("join_room")}); });
  onSubmit("leave", function () { socket.emit("leave", {room: value("leave_room")}); });
  onSubmit("send_room", function () {
    socket.emit("my_room_event", {room: value("room_name"), data: value("room_data")});
  });
  onSubmit("close", function () { socket.emit("close_room", {room: value("close_room")}); });
  onSubmit("disconnect", function () { socket.emit("disconnect_request"); });
  onSubmit("reconnect", function () { if (!socket.connected) socket.connect(); });
})();
