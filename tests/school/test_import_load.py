"""A big import under `make run`'s embedded defaults (SQLite, the jobs consumer inside the
web server's one gevent worker) must not stop the site: /healthz keeps answering fast
while a 1 MiB file of 10,000 students is imported beside it."""

from __future__ import annotations

import math
import statistics
import threading
import time
from pathlib import Path

import pytest
import requests

from tests.school.test_csv_import import TeacherClient, csv_of, seed_students

pytestmark = pytest.mark.integration

ROWS = 10_000  # IMPORT_MAX_ROWS' default: the largest import a teacher may start
HEALTHZ_P99_MS = 100


@pytest.mark.timing
def test_healthz_stays_fast_while_a_1_mib_import_runs(live_server, tmp_path: Path):
    server = live_server(migrate=True)
    names = seed_students(tmp_path / "app.sqlite3", ROWS)
    data = csv_of(names, name_width=79)  # 104 bytes a row
    assert 1_000_000 < len(data) <= 1024 * 1024
    teacher = TeacherClient(server.url, "tina")
    latencies: list[float] = []
    stop = threading.Event()

    def probe() -> None:
        with requests.Session() as session:
            while not stop.is_set() and len(latencies) < 3000:
                started = time.perf_counter()
                assert session.get(server.url + "/healthz", timeout=60).status_code == 200
                latencies.append((time.perf_counter() - started) * 1000)
                time.sleep(0.002)

    prober = threading.Thread(target=probe)
    try:
        prober.start()  # from the upload (its checks run in the web worker too) to the job's end
        upload = teacher.upload(data)
        assert upload.status_code == 202, upload.text
        job_id = upload.json()["id"]
        try:
            assert wait_for_start(teacher, job_id), "the import did not start within 10 s"
            event, outcome = teacher.outcome(job_id, timeout=120)
        finally:
            stop.set()
            prober.join(60)
        assert event == "job.done", outcome
        assert outcome["result"]["enrolled"] == ROWS
        pushes = [at for name, data, at in teacher.pushes if data.get("id") == job_id]
        during = sorted(latencies)
        p99 = during[math.ceil(len(during) * 0.99) - 1]  # with fewer than 100 probes: the slowest
        print(f"import of {ROWS} rows: {pushes[-1] - pushes[0]:.2f} s from first push to done; healthz: "
              f"{len(during)} probes, median {statistics.median(during):.1f} ms, p99 {p99:.1f} ms, "
              f"max {during[-1]:.1f} ms")
        assert len(during) >= 5, during
        assert p99 < HEALTHZ_P99_MS, f"p99 {p99:.1f} ms over {len(during)} probes (max {during[-1]:.1f} ms)"
    finally:
        teacher.close()


def wait_for_start(teacher: TeacherClient, job_id: str) -> bool:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if teacher.pushed(job_id, "job.progress") or teacher.pushed(job_id, "job.done"):
            return True
        time.sleep(0.02)
    return False
