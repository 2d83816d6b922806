// The school demo's part of the live dashboard: an enrolment pushed to a teacher
// adds the student's name to that course's row (the message itself is shown by
// static/js/live.js).
(function () {
  "use strict";
  document.addEventListener("live:enrolled", function (event) {
    var data = event.detail;
    var cell = document.querySelector('tr[data-course-id="' + data.course.id + '"] .enrolled-students');
    if (!cell) {
      return;
    }
    var empty = cell.querySelector(".muted");
    if (empty) {
      cell.textContent = data.student.name;
    } else {
      cell.textContent = cell.textContent.trim() + ", " + data.student.name;
    }
  });
})();

// The CSV import: the file is sent without leaving the page, and the job's pushes
// (static/js/live.js dispatches them as "live:job.*" events) fill the progress bar,
// then show its result or the row that stopped it.
(function () {
  "use strict";
  var form = document.getElementById("import-form");
  var box = document.getElementById("import-status");
  if (!form || !box || !window.fetch) {
    return;
  }
  var bar = document.getElementById("import-progress");
  var text = document.getElementById("import-text");
  var jobId = null;
  // A fast job can push before the upload's answer names it: its last pushes are kept here.
  var early = {};

  function show(message, state) {
    box.hidden = false;
    box.dataset.state = state;
    text.textContent = message;
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    bar.value = 0;
    jobId = null;
    show("Uploading…", "uploading");
    fetch(form.action, { method: "POST", body: new FormData(form), headers: { Accept: "application/json" },
                         credentials: "same-origin" })
      .then(function (response) {
        return response.json().then(function (body) { return { ok: response.ok, body: body }; });
      })
      .then(function (answer) {
        if (!answer.ok) {
          show(answer.body.error || "The file was refused.", "refused");
          return;
        }
        jobId = answer.body.id;
        show("Queued…", "queued");
        (early[jobId] || []).forEach(function (pushed) { handlers[pushed.type](pushed); });
        early = {};
      })
      .catch(function () { show("The upload failed; try again.", "refused"); });
  });

  function ours(event) {
    if (!event.detail || !event.detail.id) {
      return false;
    }
    if (jobId === null) {
      (early[event.detail.id] = early[event.detail.id] || []).push(event);
      return false;
    }
    return event.detail.id === jobId;
  }
  var handlers = {};
  handlers["live:job.progress"] = function (event) {
    if (ours(event)) {
      bar.value = event.detail.percent;
      show(event.detail.text, "running");
    }
  };
  handlers["live:job.done"] = function (event) {
    if (ours(event)) {
      bar.value = 100;
      show(event.detail.result.message, "done");
      var result = event.detail.result;
      if (result.enrolled) {
        // The course's row lists students as rendered; a reload shows the new ones.
        var row = document.querySelector('tr[data-course-id="' + result.course_id + '"] .enrolled-students');
        if (row) {
          row.dataset.imported = String(result.enrolled);
        }
      }
    }
  };
  handlers["live:job.failed"] = function (event) {
    if (ours(event)) {
      show(event.detail.error, "failed");
    }
  };
  Object.keys(handlers).forEach(function (type) {
    document.addEventListener(type, handlers[type]);
  });
})();
