"""What one user may put in the job storage, on SQLite and on Redis: JOBS.PER_USER jobs
of a task waiting or running and JOBS.USER_RATE enqueued (429 with Retry-After past
either, other users unaffected), and failed jobs deleted after JOBS.FAILED_DAYS."""

from __future__ import annotations

import time

import pytest
import yaml

from flask_keel.client import Client
from flask_keel.testing import wait_until
from tests.conftest import FIXTURE_PROJECT
from tests.integration import test_jobs
from tests.integration.test_jobs import cli, lines, trace

# test_jobs.py's fixtures, used here as they are there (storage: sqlite and redis).
storage, jobs_config, enqueue, workers = test_jobs.storage, test_jobs.jobs_config, test_jobs.enqueue, test_jobs.workers

pytestmark = [pytest.mark.integration, pytest.mark.fixture_project]


def _post(client: Client, name: str, *args):
    return client.http.post(f"{client.url}/ws/jobs/{name}", json={"args": list(args)}, timeout=10,
                            headers={"X-CSRFToken": client._token()})


def test_a_users_jobs_are_bounded_per_task_and_refused_with_429(tmp_path, jobs_config, live_server, workers):
    sections = yaml.safe_load(jobs_config.read_text())
    sections["SERVER_ENV"]["JOBS"].update(CONSUMER="worker", PER_USER=3, USER_RATE="5 per minute")
    jobs_config.write_text(yaml.safe_dump(sections))
    server = live_server(migrate=True, project=FIXTURE_PROJECT,
                         **{key: sections[key] for key in ("SERVER_ENV", "SERVICES")})
    ada, bob = Client(server.url, realtime=False), Client(server.url, realtime=False)
    ada.signup("ada", "a long password", "ada@notes.test")
    bob.signup("bob", "a long password", "bob@notes.test")

    # No consumer yet: ada's jobs wait, three at most.
    answers = [_post(ada, "slow_once", f"k{number}", 0) for number in range(4)]
    assert [answer.status_code for answer in answers] == [202, 202, 202, 429]
    assert answers[3].json()["message"] == \
        "You already have 3 of these waiting or running; wait for one to finish."
    assert int(answers[3].headers["Retry-After"]) >= 1
    assert _post(bob, "slow_once", "bob", 0).status_code == 202  # another user's own count
    assert _post(ada, "noop").status_code == 202  # another task's own count

    # Once they have run, ada may enqueue again, up to JOBS.USER_RATE (5 a minute, the 429 counted).
    worker = workers(jobs_config)
    assert wait_until(lambda: all(trace(tmp_path, f"k{number}.done").exists() for number in range(3)),
                      timeout=30), worker.log()
    assert wait_until(lambda: _post(ada, "slow_once", "k5", 0).status_code == 202, timeout=10)
    refused = _post(ada, "slow_once", "k6", 0)
    assert refused.status_code == 429 and "too many" in refused.json()["message"]
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    worker.stop()
    ada.close(), bob.close()


def test_a_failed_job_is_deleted_after_failed_days(tmp_path, jobs_config, enqueue, workers):
    from flask_keel.jobs import jobs_of

    job_id = enqueue("always_fails", "old")
    worker = workers(jobs_config)
    assert wait_until(lambda: len(lines(trace(tmp_path, "old.attempts"))) == 3, timeout=20), worker.log()
    assert wait_until(lambda: f"{job_id}  failed" in cli(jobs_config, "list").stdout, timeout=10)
    worker.stop()

    queue = jobs_of(enqueue.app)
    record = queue.get(f"failed:{job_id}", peek=True)
    assert record["message"] is not None  # a RuntimeError: kept, for `flask jobs retry`
    eight_days_ago = time.time() - 8 * 86400
    queue.put(f"failed:{job_id}", {**record, "failed_ts": eight_days_ago})
    assert job_id not in cli(jobs_config, "list").stdout  # JOBS.FAILED_DAYS: 7
    assert queue.get(f"failed:{job_id}", peek=True) is None  # deleted, not only hidden


def test_one_users_queued_jobs_do_not_hold_up_anothers(tmp_path, live_server):
    # make run's defaults: SQLite, the consumer inside the server, JOBS.CONCURRENCY 2.
    server = live_server(migrate=True, project=FIXTURE_PROJECT)
    ada, bob = Client(server.url, realtime=False), Client(server.url, realtime=False)
    ada.signup("ada", "a long password", "ada@notes.test")
    bob.signup("bob", "a long password", "bob@notes.test")
    assert [_post(ada, "slow_once", key, 3).status_code for key in ("a1", "a2")] == [202, 202]
    asked = time.time()
    assert _post(bob, "slow_once", "b1", 0).status_code == 202
    instance = tmp_path / "instance" / "jobs"
    assert wait_until(lambda: (instance / "b1.starts").exists(), timeout=10), server.log()
    waited = float(lines(instance / "b1.starts")[0]) - asked
    assert waited < 2, f"bob's job started {waited:.1f} s after it was enqueued"
    # ada's run one after the other: the second starts once the first is done.
    assert wait_until(lambda: (instance / "a2.done").exists(), timeout=20), server.log()
    first_done = (instance / "a1.done").stat().st_mtime
    assert float(lines(instance / "a2.starts")[0]) >= first_done - 0.05
    ada.close(), bob.close()
