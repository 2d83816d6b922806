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
