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
// Presence: every few seconds the page asks pushsvc_presence about its rooms (its user room
// "user:<sub>" in JWT mode, and the rooms joined with the form, at most MAX_ROOMS) and shows
// each room's count, its listed members (user@pod) and the answer's age (the oldest pod
// summary it used). Jobs: each pushsvc_job event updates one line per Job with its phase
// (an older transition arriving late never overwrites a newer one); the log shows it too.
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
  var jobEvent = document.body.dataset.jobEvent || "pushsvc_job";
  var presenceEl = document.getElementById("presence");
  var jobsEl = document.getElementById("jobs");
  var PRESENCE_EVERY_MS = 5000;
  // Presence questions are rate limited per client (1/s, bursts of 5): a few rooms per round.
  var MAX_ROOMS = 4;
  var joinedRooms = [];

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

  // -- presence -------------------------------------------------------------------------
  function presenceRooms() {
    var c = claims(tokenEl.value);
    var rooms = c && c.sub ? ["user:" + c.sub] : [];
    joinedRooms.forEach(function (room) { if (rooms.indexOf(room) < 0) rooms.push(room); });
    return rooms.slice(0, MAX_ROOMS);
  }

  function roomLine(room) {
    var line = Array.from(presenceEl.children).filter(function (d) {
      return d.dataset.room === room;
    })[0];
    if (!line) {
      line = document.createElement("div");
      line.dataset.room = room;
      presenceEl.appendChild(line);
    }
    return line;
  }

  function showPresence(room, answer) {
    var line = roomLine(room);
    if (!answer || !answer.ok) {
      line.className = "error";
      line.dataset.count = "";
      line.textContent = room + ": " + (answer ? answer.code + " (" + answer.reason + ")" : "no answer");
      return;
    }
    var members = (answer.members || []).map(function (m) { return m.user + "@" + m.pod; });
    var ages = Object.keys(answer.pods || {}).map(function (pod) { return answer.pods[pod]; });
    var age = ages.length ? Math.max.apply(null, ages) : 0;
    line.className = "";
    line.dataset.count = String(answer.count);
    line.textContent = room + ": " + answer.count + (answer.truncated ? "+" : "") +
      (answer.count === 1 ? " connection" : " connections") +
      (members.length ? " \u2014 " + members.join(", ") : "");
    var ageEl = document.createElement("span");
    ageEl.className = "age";
    ageEl.textContent = " (as of " + new Date().toLocaleTimeString() + ", pod summaries up to " +
      age.toFixed(1) + " s old)";
    line.appendChild(ageEl);
  }

  function askPresence(only) {
    if (!socket.connected) return;
    var rooms = presenceRooms();
    Array.from(presenceEl.children).forEach(function (d) {
      if (rooms.indexOf(d.dataset.room) < 0) presenceEl.removeChild(d);
    });
    rooms.filter(function (room) { return !only || room === only; }).forEach(function (room) {
      socket.emit("pushsvc_presence", {room: room}, function (answer) {
        showPresence(room, answer);
      });
    });
  }
  setInterval(function () { askPresence(); }, PRESENCE_EVERY_MS);
  socket.on("connect", function () { setTimeout(function () { askPresence(); }, 500); });

  // -- jobs ---------------------------------------------------------------------------
  var PHASE_RANK = {created: 0, running: 1, retrying: 2, succeeded: 3, failed: 3};
  function jobRank(job) { return (job.attempt || 1) * 10 + (PHASE_RANK[job.phase] || 0); }
  socket.on(jobEvent, function (job) {
    if (!job || !job.name) return;
    var key = (job.uid || job.namespace + "/" + job.name);
    var line = Array.from(jobsEl.children).filter(function (d) {
      return d.dataset.job === key;
    })[0];
    if (!line) {
      Array.from(jobsEl.querySelectorAll(".notice")).forEach(function (d) { jobsEl.removeChild(d); });
      line = document.createElement("div");
      line.dataset.job = key;
      jobsEl.appendChild(line);
    } else if (Number(line.dataset.rank) > jobRank(job)) {
      return;  // a late, older transition
    }
    line.dataset.rank = String(jobRank(job));
    line.dataset.phase = job.phase;
    line.className = job.phase;
    line.textContent = job.namespace + "/" + job.name + ": " + job.phase + " (attempt " +
      job.attempt + ")" + (job.reason ? " " + job.reason : "") +
      (job.message ? ": " + job.message : "");
  });
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
  onSubmit("join", function () {
    var room = value("join_room");
    socket.emit("join", {room: room});
    if (room && joinedRooms.indexOf(room) < 0) {
      joinedRooms.push(room);
      setTimeout(function () { askPresence(room); }, 500);  // its first answer, not a round
    }
  });
  onSubmit("leave", function () {
    var room = value("leave_room");
    socket.emit("leave", {room: room});
    joinedRooms = joinedRooms.filter(function (r) { return r !== room; });
  });
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
