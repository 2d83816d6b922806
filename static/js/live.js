// The dashboard's live panel: server pushes over Socket.IO, shown without a reload.
// The socket rides the page's session; the CSRF token from the meta tag proves
// the page itself opened it.
(function () {
  "use strict";
  var events = document.getElementById("live-events");
  var status = document.getElementById("live-status");
  var meta = document.querySelector('meta[name="csrf-token"]');
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

  function addStudent(courseId, name) {
    var cell = document.querySelector('tr[data-course-id="' + courseId + '"] .enrolled-students');
    if (!cell) {
      return;
    }
    var empty = cell.querySelector(".muted");
    if (empty) {
      cell.textContent = name;
    } else {
      cell.textContent = cell.textContent.trim() + ", " + name;
    }
  }

  var socket = io({ auth: { csrf_token: meta.content } });
  socket.on("connect", function () {
    status.textContent = "Connected: new enrolments appear here.";
  });
  socket.on("disconnect", function () {
    status.textContent = "Disconnected; reconnecting…";
  });
  socket.on("connect_error", function (error) {
    status.textContent = "Cannot connect (" + error.message + "); retrying…";
  });
  socket.on("enrolled", function (data) {
    show(data.message);
    addStudent(data.course.id, data.student.name);
  });
})();
