// The dashboard's live panel: server pushes over Socket.IO, shown without a reload.
// The socket rides the page's session; the CSRF token from the meta tag proves
// the page itself opened it. Every push with a `message` is listed here, and is
// also dispatched on the document as a "live:<event>" DOM event, so that a
// feature's own script can update its part of the page (static/school/school.js).
(function () {
  "use strict";
  var events = document.getElementById("live-events");
  var status = document.getElementById("live-status");
  var meta = document.querySelector('meta[name="csrf-token"]');
  // The transports the server allows (websocket only, unless SOCKETIO_POLLING).
  var transports = (document.currentScript.dataset.transports || "websocket").split(" ");
  if (!events || !status || !meta || typeof io === "undefined") {
    return;
  }

  function show(text) {
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
    status.textContent = "Connected: what happens for you appears here.";
  });
  socket.on("disconnect", function () {
    status.textContent = "Disconnected; reconnecting…";
  });
  socket.on("connect_error", function (error) {
    status.textContent = "Cannot connect (" + error.message + "); retrying…";
  });
  socket.onAny(function (event, data) {
    if (data && typeof data.message === "string") {
      show(data.message);
    }
    document.dispatchEvent(new CustomEvent("live:" + event, { detail: data }));
  });
})();
