"""Background jobs for real: `flask jobs worker` processes on SQLite and on Redis storage,
the consumer inside `python -m app serve`, retries, SIGKILL and SIGTERM, periodic
tasks, and progress pushed to the user who enqueued, and to nobody else.

The tasks are tests/fixture_project/Controllers/jobs.py; each leaves files under
INSTANCE_PATH/jobs/ that these tests read.
"""

from __future__ import annotations

import datetime
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import yaml

from flask_keel.client import Client
from flask_keel.testing import merge, redis_entry, wait_until
from tests.conftest import FIXTURE_PROJECT, REPO_ROOT

pytestmark = [pytest.mark.integration, pytest.mark.fixture_project]

LEASE = 2  # seconds: a killed consumer's job goes back to the queue this soon


@pytest.fixture(params=["sqlite", "redis"])
def storage(request):
    return request.param


@pytest.fixture
def jobs_config(tmp_path, storage, redis_server):
    """A config for the fixture project with the storage under test; its Redis keys are the test's own."""
    sections = {
        "SERVER_ENV": {"APP_NAME": f"jobs{uuid.uuid4().hex[:8]}", "INSTANCE_PATH": f"{tmp_path}/instance",
                       "APP_KEY": "jobs-test-key-" * 4, "GRACEFUL_TIMEOUT": 10,
                       "JOBS": {"STORAGE": storage, "LEASE": LEASE}},
        "DATABASE": {"main": {"driver": "sqlite", "database": f"{tmp_path}/app.sqlite3", "models": []}},
        "SERVICES": {"filesystem": {"PATH": f"{tmp_path}/sessions"}},
    }
    if storage == "redis":
        sections["SERVICES"]["redis"] = redis_entry(redis_server)
    path = tmp_path / "jobs-config.yml"
    path.write_text(yaml.safe_dump(sections))
    return path


class Worker:
    """`python -m app jobs worker` on the fixture project."""

    def __init__(self, config: Path, log: Path):
        self.log_path = log
        self.process = subprocess.Popen(
            [sys.executable, "-m", "app", "jobs", "worker"], cwd=REPO_ROOT, stdout=log.open("ab"),
            stderr=subprocess.STDOUT, env={**os.environ, "APP_CONFIG": str(config), "APP_ROOT": str(FIXTURE_PROJECT)})

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 30) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout)
        return self.process.returncode


@pytest.fixture
def workers(tmp_path):
    started: list[Worker] = []

    def start(config: Path) -> Worker:
        worker = Worker(config, tmp_path / f"worker-{len(started)}.log")
        started.append(worker)
        return worker

    yield start
    for worker in started:
        if worker.process.poll() is None:
            worker.process.kill()
            worker.process.wait()


@pytest.fixture
def enqueue(fixture_project, jobs_config, monkeypatch):
    """Enqueue a fixture task in this process (as a CLI command would): enqueue("slow_once", key, 1)."""
    monkeypatch.setenv("APP_CONFIG", str(jobs_config))
    from flask_keel import create_app

    app = create_app(jobs_config)

    def call(name: str, *args, user=None) -> str:
        from Controllers import jobs

        with app.app_context():
            return getattr(jobs, name).enqueue_for(user, *args)

    call.app = app
    return call


def trace(tmp_path: Path, name: str) -> Path:
    return tmp_path / "instance" / "jobs" / name


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def cli(config: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app", "jobs", *args], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=60,
                          env={**os.environ, "APP_CONFIG": str(config), "APP_ROOT": str(FIXTURE_PROJECT)})


def assert_only_ticks_left(config: Path) -> None:
    # The periodic `tick` may be waiting for the next worker; nothing else may be left.
    listing = cli(config, "list").stdout.strip().splitlines()
    assert [line for line in listing if "  tick  " not in line] in ([], ["no jobs"]), listing


def test_a_worker_runs_jobs_enqueued_before_and_after_it_started(tmp_path, jobs_config, enqueue, workers):
    enqueue("slow_once", "before", 0)
    worker = workers(jobs_config)
    enqueue("slow_once", "after", 0)
    assert wait_until(lambda: trace(tmp_path, "before.done").exists() and trace(tmp_path, "after.done").exists(),
                      timeout=20), worker.log()
    assert worker.stop() == 0
    assert_only_ticks_left(jobs_config)


def test_a_failing_task_is_retried_then_reported_failed_and_can_be_retried(tmp_path, jobs_config, enqueue,
                                                                              workers):
    job_id = enqueue("always_fails", "flaky")
    worker = workers(jobs_config)
    attempts = trace(tmp_path, "flaky.attempts")
    # @task(retries=2): the first run and two retries, then no more.
    assert wait_until(lambda: len(lines(attempts)) == 3, timeout=20), worker.log()
    def failed_listing():
        out = cli(jobs_config, "list").stdout
        return out if "failed" in out else None

    listing = wait_until(failed_listing, timeout=10)
    assert f"{job_id}  failed  always_fails" in listing
    assert "RuntimeError" in listing
    time.sleep(1.5)
    assert len(lines(attempts)) == 3

    retried = cli(jobs_config, "retry", job_id)
    assert retried.returncode == 0, retried.stderr
    assert wait_until(lambda: len(lines(attempts)) == 6, timeout=20), worker.log()
    unknown = cli(jobs_config, "retry", "no-such-job")
    assert unknown.returncode == 1 and "no failed job no-such-job" in unknown.stderr
    worker.stop()


def test_a_delayed_retry_moves_from_the_schedule_to_the_queue_in_one_step(tmp_path, jobs_config, enqueue, workers):
    from flask_keel.jobs import jobs_of

    storage = jobs_of(enqueue.app).storage
    now = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)  # huey's schedule is naive UTC
    storage.add_to_schedule(b'{"due": 1}', now - datetime.timedelta(seconds=1))
    storage.add_to_schedule(b'{"due": 0}', now + datetime.timedelta(hours=1))
    queued = storage.queue_size()
    # Nothing is handed back to be enqueued in a second step: it is in the queue already.
    assert storage.read_schedule(now) == []
    assert storage.queue_size() == queued + 1 and storage.schedule_size() == 1
    storage.flush_queue()
    storage.flush_schedule()

    # And for a real retry with a delay, run by a worker.
    enqueue("fails_once", "later")
    worker = workers(jobs_config)
    assert wait_until(lambda: trace(tmp_path, "later.done").exists(), timeout=20), worker.log()
    assert len(lines(trace(tmp_path, "later.attempts"))) == 2
    assert worker.stop() == 0


def test_a_worker_killed_mid_task_loses_no_job(tmp_path, jobs_config, enqueue, workers):
    enqueue("slow_once", "killed", 3)
    first = workers(jobs_config)
    starts = trace(tmp_path, "killed.starts")
    assert wait_until(lambda: lines(starts), timeout=20), first.log()
    listing = cli(jobs_config, "list").stdout
    assert "running  slow_once" in listing
    first.process.send_signal(signal.SIGKILL)
    first.process.wait(10)
    assert not trace(tmp_path, "killed.done").exists()

    # The job is still claimed by the dead consumer; the next one puts it back after the lease.
    second = workers(jobs_config)
    assert wait_until(lambda: trace(tmp_path, "killed.done").exists(), timeout=30), second.log()
    assert len(lines(starts)) == 2  # it ran again, whole (the task is idempotent)
    assert "put back 1 job(s)" in second.log()
    assert second.stop() == 0
    assert_only_ticks_left(jobs_config)


def test_sigterm_lets_the_running_task_finish(tmp_path, jobs_config, enqueue, workers):
    enqueue("slow_once", "graceful", 2)
    worker = workers(jobs_config)
    assert wait_until(lambda: lines(trace(tmp_path, "graceful.starts")), timeout=20), worker.log()
    worker.process.send_signal(signal.SIGTERM)
    assert worker.process.wait(15) == 0
    assert trace(tmp_path, "graceful.done").exists()
    assert len(lines(trace(tmp_path, "graceful.starts"))) == 1
    assert_only_ticks_left(jobs_config)


def test_a_periodic_task_runs_on_schedule_once_per_period_across_workers(tmp_path, jobs_config, workers):
    # Controllers/jobs.py: @periodic_task(every=2). Two consumers check every second.
    first, second = workers(jobs_config), workers(jobs_config)
    ticks = trace(tmp_path, "ticks")
    assert wait_until(lambda: len(lines(ticks)) >= 5, timeout=30), first.log() + second.log()
    first.stop(), second.stop()
    # The first tick may be the period the consumers started in, claimed late in it (the
    # next period's run can then follow within a fraction of a second): from the second
    # on, each period is run by the first check after it begins, 1 to 3 s apart.
    times = [float(line) for line in lines(ticks)][1:]
    gaps = [later - earlier for earlier, later in zip(times, times[1:], strict=False)]
    # A period enqueued by both consumers would run at both their checks inside it: less
    # than a second apart (by how far apart their phases are).
    assert all(gap > 0.8 for gap in gaps), gaps
    assert 1.5 < sum(gaps) / len(gaps) < 2.5, gaps


@pytest.mark.parametrize("storage", ["redis"], indirect=True)
def test_progress_reaches_only_the_enqueuing_users_sockets(tmp_path, jobs_config, live_server, workers):
    sections = yaml.safe_load(jobs_config.read_text())
    server = live_server(migrate=True, project=FIXTURE_PROJECT,
                         **{key: sections[key] for key in ("SERVER_ENV", "SERVICES")})
    workers(jobs_config)
    # The web app and the worker share storage and the Socket.IO message queue (Redis).
    assert sections["SERVER_ENV"]["APP_NAME"] in server.get("/ws/info").text
    _assert_pushes_reach_only_the_owner(server.url)


def test_the_served_app_runs_jobs_itself_on_the_embedded_defaults(live_server):
    # No Redis, no worker process: the consumer inside the gunicorn worker runs the job
    # and pushes straight to the sockets of that process.
    server = live_server(migrate=True, project=FIXTURE_PROJECT, SERVER_ENV={"JOBS": {"LEASE": LEASE}})
    _assert_pushes_reach_only_the_owner(server.url)
    assert "consumer" in server.log() and "runs in this process" in server.log()


def _assert_pushes_reach_only_the_owner(url: str) -> None:
    ada, bob = Client(url), Client(url)
    ada.signup("ada", "a long password", "ada@notes.test")
    bob.signup("bob", "a long password", "bob@notes.test")
    seen: dict[str, list] = {"ada": [], "bob": []}
    for name, client in (("ada", ada), ("bob", bob)):
        for event in ("job.progress", "job.done", "job.failed"):
            client.on(event, lambda data, name=name, event=event: seen[name].append((event, data)))
    job_id = ada.post("/ws/jobs/report", {"args": [3]})["id"]
    assert wait_until(lambda: any(event == "job.done" for event, _ in seen["ada"]), timeout=20), seen
    progress = [data for event, data in seen["ada"] if event == "job.progress"]
    assert [round(data["percent"]) for data in progress] == [33, 67, 100]
    assert all(data["id"] == job_id and data["task"] == "report" for data in progress)
    done = next(data for event, data in seen["ada"] if event == "job.done")
    assert done == {"id": job_id, "task": "report", "result": {"message": "3 steps done", "steps": 3},
                    "message": "3 steps done"}

    failed_id = ada.post("/ws/jobs/always_fails", {"args": ["pushed"]})["id"]
    assert wait_until(lambda: any(event == "job.failed" for event, _ in seen["ada"]), timeout=20), seen
    failed = next(data for event, data in seen["ada"] if event == "job.failed")
    assert failed["id"] == failed_id and "RuntimeError" in failed["error"]
    time.sleep(0.5)
    assert seen["bob"] == []  # nothing of ada's jobs reached bob
    ada.close(), bob.close()


def test_a_redis_storage_without_redis_is_a_config_error_naming_the_key(tmp_path):
    config = tmp_path / "bad.yml"
    config.write_text(yaml.safe_dump(merge({"SERVER_ENV": {"INSTANCE_PATH": str(tmp_path)}},
                                           {"SERVER_ENV": {"JOBS": {"STORAGE": "redis"}}})))
    checked = subprocess.run([sys.executable, "-m", "app", "config", "check"], cwd=REPO_ROOT, capture_output=True,
                             text=True, timeout=60, env={**os.environ, "APP_CONFIG": str(config)})
    assert checked.returncode != 0
    assert f"{config}: SERVER_ENV.JOBS.STORAGE: is 'redis' but SERVICES.redis has no HOST or URL" in checked.stderr
