// Server pushes over Socket.IO, on any signed-in page that includes this script
// (after vendor/socket.io/socket.io.min.js): each push is dispatched on the document
// as a "live:<event>" DOM event, so that a feature's own script updates its part of
// the page (static/school/school.js). Where the page has them (the dashboard's live
// panel), #live-events lists every push with a `message` and #live-status says whether
// the socket is connected; neither is required. The socket rides the page's session;
// the CSRF token from the meta tag proves the page itself opened it.
(function () {
  "use strict";
  var events = document.getElementById("live-events");
  var status = document.getElementById("live-status");
  var meta = document.querySelector('meta[name="csrf-token"]');
  // The transports the server allows (websocket only, unless SOCKETIO_POLLING).
  var transports = (document.currentScript.dataset.transports || "websocket").split(" ");
  if (!meta || typeof io === "undefined") {
    return;  // not signed in (no token), or the Socket.IO client is not on the page
  }

  function say(text) {
    if (status) {
      status.textContent = text;
    }
  }

  function show(text) {
    if (!events) {
      return;
    }
    var item = document.createElement("li");
    var time = document.createElement("time");
    var now = new Date();
    time.dateTime = now.toISOString();
    time.textContent = now.toLocaleTimeString();
    item.appendChild(time);
    item.appendChild(document.createTextNode(" " + text));
    events.insertBefore(item, events.firstChild);
  }

  var socket = io({ transports: transports, auth: { csrf_token: meta.content } });
  socket.on("connect", function () {
    say("Connected: what happens for you appears here.");
  });
  socket.on("disconnect", function () {
    say("Disconnected; reconnecting…");
  });
  socket.on("connect_error", function (error) {
    say("Cannot connect (" + error.message + "); retrying…");
  });
  socket.onAny(function (event, data) {
    if (data && typeof data.message === "string") {
      show(data.message);
    }
    document.dispatchEvent(new CustomEvent("live:" + event, { detail: data }));
  });
})();
