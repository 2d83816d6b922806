"""One teacher's big imports must not hold up another's small one: on `make run`'s
embedded defaults, with two imports of 10,000 rows of one teacher queued, another
teacher's one-row import starts within 2 s."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.school.test_csv_import import TeacherClient, csv_of, seed_students

pytestmark = pytest.mark.integration

START_WITHIN_S = 2.0


def test_another_teachers_small_import_starts_beside_two_big_ones(live_server, tmp_path: Path):
    server = live_server(migrate=True)
    names = seed_students(tmp_path / "app.sqlite3", 10_000)
    big = csv_of(names, name_width=79)
    tina, ulla = TeacherClient(server.url, "tina", "BIG1"), TeacherClient(server.url, "ulla", "SMALL1")
    try:
        first, second = (tina.upload(big).json()["id"] for _ in range(2))
        asked = time.monotonic()  # both of tina's are queued (or the first has just started)
        small = ulla.upload(csv_of(names[:1]))
        assert small.status_code == 202, small.text
        small_id = small.json()["id"]
        event, outcome = ulla.outcome(small_id, timeout=60)
        assert event == "job.done" and outcome["result"]["enrolled"] == 1, outcome
        started = min(at for _, at in ulla.pushed(small_id, "job.progress") + ulla.pushed(small_id, "job.done"))
        waited = started - asked
        print(f"the one-row import started {waited:.2f} s after it was uploaded")
        assert waited < START_WITHIN_S, f"{waited:.1f} s"
        # Both big imports still complete, one after the other.
        assert tina.outcome(first, timeout=120)[0] == "job.done"
        assert tina.outcome(second, timeout=120)[1]["result"] == {
            "message": "Import into Course BIG1: 0 enrolled, 10000 already were.", "course_id": tina.course_id,
            "enrolled": 0, "already": 10_000}
    finally:
        tina.close()
        ulla.close()

