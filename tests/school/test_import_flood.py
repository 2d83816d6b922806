"""An upload flood must not log anyone out. Under compose, sessions and jobs share one
Redis with a memory cap (maxmemory, volatile-lru: keys with a time-to-live, such as
sessions, are evicted when it is full). One teacher sends 60 uploads of 1 MiB at once;
what the jobs keep must stay bounded, so no session is evicted: every other user is
still signed in, Redis evicted nothing, and its memory stayed far below the cap."""

from __future__ import annotations

import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import redis

from flask_keel.testing import signed_up, wait_until
from flask_keel.testing.helpers import free_port
from tests.school.test_csv_import import TeacherClient, csv_of

pytestmark = pytest.mark.integration

MAXMEMORY = 48 * 1024 * 1024  # compose's 256mb, scaled to the flood: 60 MiB would overflow it
UPLOADS = 60
USERS = 10


@pytest.fixture
def capped_redis(tmp_path: Path):
    """A redis-server of this test's own, with compose's eviction policy and a memory cap."""
    port = free_port()
    process = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                "--appendonly", "no", "--dir", str(tmp_path), "--maxmemory", str(MAXMEMORY),
                                "--maxmemory-policy", "volatile-lru"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = redis.Redis(port=port)
    try:
        assert wait_until(lambda: _answers(client), timeout=20), "redis-server did not start"
        yield port, client
    finally:
        process.kill()
        process.wait(10)


def _answers(client: redis.Redis) -> bool:
    try:
        return client.ping()
    except redis.ConnectionError:
        return False


def test_sixty_uploads_of_1_mib_log_nobody_out(live_server, capped_redis):
    port, store = capped_redis
    server = live_server(migrate=True, SERVER_ENV={"SESSION": "redis", "JOBS": {"STORAGE": "redis",
                                                                                 "CONSUMER": "app"}},
                         SERVICES={"redis": {"HOST": "127.0.0.1", "PORT": port}})
    users = [signed_up(server.url, f"user{number}") for number in range(USERS)]
    assert all(user.get(server.url + "/ws/school/me", timeout=10).status_code == 200 for user in users)
    teacher = TeacherClient(server.url, "tina")
    # Every row names nobody: each import that runs fails at line 2, as a bad file does.
    data = csv_of([f"nobody{number:05d}" for number in range(10_000)], name_width=79)
    assert len(data) > 1_000_000
    try:
        started = time.monotonic()
        with ThreadPoolExecutor(6) as pool:
            answers = list(pool.map(lambda _: teacher.upload(data, timeout=60), range(UPLOADS)))
        sent_in = time.monotonic() - started
        statuses = [answer.status_code for answer in answers]
        accepted = [answer.json()["id"] for answer in answers if answer.status_code == 202]
        assert set(statuses) <= {202, 429}, statuses
        assert 1 <= len(accepted) <= 10, statuses  # JOBS.USER_RATE: 10 per minute
        refused = next(answer for answer in answers if answer.status_code == 429)
        assert int(refused.headers["Retry-After"]) >= 1 and refused.json()["error"]
        for job_id in accepted:
            assert teacher.outcome(job_id, timeout=60)[1]["error"] == "line 2: there is no user 'nobody00000'"

        info = {**store.info("memory"), **store.info("stats")}
        signed_in = sum(user.get(server.url + "/ws/school/me", timeout=10).status_code == 200 for user in users)
        print(f"{UPLOADS} uploads in {sent_in:.1f} s: {len(accepted)} accepted; Redis peak "
              f"{info['used_memory_peak'] / 2**20:.1f} MiB of {MAXMEMORY / 2**20:.0f}, evicted "
              f"{info['evicted_keys']} keys; {USERS - signed_in} of {USERS} users logged out")
        assert signed_in == USERS
        assert info["evicted_keys"] == 0
        assert info["used_memory_peak"] < MAXMEMORY / 3
        # A failed import keeps its error, not the file.
        failed = store.hgetall(next(key for key in store.keys("huey.results.*")))
        assert len(failed) == len(accepted) and all(len(record) < 2000 for record in failed.values())
    finally:
        teacher.close()


def test_forty_uploads_do_not_grow_the_embedded_job_storage(live_server, tmp_path: Path):
    # make run's defaults: the jobs wait in instance/jobs.sqlite3.
    server = live_server(migrate=True)
    teacher = TeacherClient(server.url, "tina")
    data = csv_of([f"nobody{number:05d}" for number in range(10_000)], name_width=79)
    try:
        with ThreadPoolExecutor(4) as pool:
            statuses = [answer.status_code for answer in pool.map(lambda _: teacher.upload(data, timeout=60),
                                                                   range(40))]
        assert set(statuses) <= {202, 429} and statuses.count(202) <= 10, statuses
        time.sleep(1)
        size = sum(path.stat().st_size for path in (tmp_path / "instance").glob("jobs.sqlite3*"))
        print(f"40 uploads: {statuses.count(202)} accepted; job storage {size / 2**20:.1f} MiB")
        assert size < 16 * 2**20
    finally:
        teacher.close()
