// pushsvc demo page: the classic Flask-SocketIO test page's forms, without jQuery.
// Connects to its own origin (io() with no URL). Replies arrive as the reply event
// (default nuke_response) with {data}; refused input arrives as 'error'
// {event, code, reason}; 'server_shutdown' means reconnect (the client does it).
// 'pushsvc_info' {pod} follows every connect: the page shows which pod it is on, and a
// reconnect (possibly to another pod) updates it. After each reconnect the page says whether
// the session was "recovered" (connection state recovery: same sid, missed messages replayed
// before the connect event) or is a "new session".
// Every other event the page receives (a notifier's report_ready, your own app's events) is
// shown too, as "Received <event>: <data as JSON>" (onAny; with recovery on, socket.io-client
// passes the offset as a last argument, which the page leaves out).
// The token field: a signed token (JWT) sent as auth {token} on every (re)connect. With the
// dev-only demo tokens on (pushsvc demo), the page mints one for the user field (default:
// ?user= in the address, else "alice") before connecting, and refreshes it before it
// expires (pushsvc_refresh), so the connection stays.
(function () {
  "use strict";
  var replyEvent = document.body.dataset.replyEvent || "nuke_response";
  var demoTokens = document.body.dataset.demoTokens === "true";
  var tokenEl = document.getElementById("token");
  var userNameEl = document.getElementById("user_name");
  var userEl = document.getElementById("user");
  var refreshTimer = null;
  var socket = io({
    autoConnect: false,
    auth: function (cb) { cb(tokenEl.value ? {token: tokenEl.value} : {}); },
  });
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
  var shown = [replyEvent, "error", "server_shutdown", "pushsvc_info", "my_pong"];
  socket.onAny(function (event, data) {
    if (shown.indexOf(event) >= 0) return;
    var text;
    try {
      text = data === undefined ? "(no data)" : JSON.stringify(data);
    } catch (e) {
      text = String(data);
    }
    append("Received " + event + ": " + text);
  });

  function onSubmit(id, handler) {
    document.getElementById(id).addEventListener("submit", function (ev) {
      ev.preventDefault();
      handler();
    });
  }
  function value(id) { return document.getElementById(id).value; }

  // The token's claims, for display and timing only (the server verifies it).
  function claims(token) {
    try {
      var part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
      return JSON.parse(atob(part));
    } catch (e) {
      return null;
    }
  }

  var ttl = new URLSearchParams(location.search).get("ttl");  // demo: short-lived tokens

  function mint(user) {
    var query = "?sub=" + encodeURIComponent(user) + (ttl ? "&ttl=" + encodeURIComponent(ttl) : "");
    return fetch("/pushsvc-demo/token" + query, {cache: "no-store"})
      .then(function (resp) {
        if (!resp.ok) throw new Error("HTTP " + resp.status);
        return resp.json();
      })
      .then(function (body) { return body.token; });
  }

  function scheduleRefresh() {
    if (refreshTimer) clearTimeout(refreshTimer);
    var c = claims(tokenEl.value);
    if (!demoTokens || !c || !c.exp) return;
    // Halfway through the token's remaining life, at least a second from now.
    var wait = Math.max(1000, (c.exp * 1000 - Date.now()) / 2);
    refreshTimer = setTimeout(function () {
      mint(c.sub).then(function (token) {
        socket.emit("pushsvc_refresh", {token: token}, function (ack) {
          if (ack && ack.ok) {
            tokenEl.value = token;
            append("Token refreshed", "notice");
            scheduleRefresh();
          } else {
            append("Token refresh refused: " + (ack && ack.code), "error");
          }
        });
      }).catch(function (err) { append("Could not get a demo token: " + err, "error"); });
    }, wait);
  }

  function connectAs() {
    if (socket.connected) socket.disconnect();
    var start = function () {
      var c = claims(tokenEl.value);
      userEl.textContent = c && c.sub ? String(c.sub) : "-";
      socket.connect();
      scheduleRefresh();
    };
    if (demoTokens && !tokenEl.value) {
      mint(userNameEl.value || "alice").then(function (token) {
        tokenEl.value = token;
        start();
      }).catch(function (err) {
        append("Could not get a demo token: " + err, "error");
        start();
      });
    } else {
      start();
    }
  }

  onSubmit("identity", function () {
    // Demo tokens: a new user name (or no token) mints a fresh token; a pasted one is used.
    var c = claims(tokenEl.value);
    if (demoTokens && (!c || (userNameEl.value && c.sub !== userNameEl.value))) {
      tokenEl.value = "";
    }
    connectAs();
  });

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

  if (demoTokens) {
    userNameEl.value = new URLSearchParams(location.search).get("user") || "alice";
  }
  connectAs();
})();
