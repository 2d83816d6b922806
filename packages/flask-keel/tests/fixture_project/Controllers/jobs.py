"""Tasks the job tests run (tests/integration/test_jobs.py), and a view that enqueues them.

Each leaves its trace in files under INSTANCE_PATH/jobs/, which the tests read.
"""

import time
from pathlib import Path

from flask import Blueprint, abort, current_app, jsonify, request

from flask_keel.auth import login_required
from flask_keel.jobs import periodic_task, progress, task

api = Blueprint("jobs", __name__, url_prefix="/ws")


def trace(name: str) -> Path:
    folder = Path(current_app.instance_path) / "jobs"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / name


def append(name: str, line: str) -> None:
    with trace(name).open("a") as handle:
        handle.write(line + "\n")


@task()
def noop() -> None:
    pass


@task()
def stamp(key: str, enqueued_at: float) -> None:
    """Writes how long the job waited between enqueue and start."""
    append(key, repr(time.time() - enqueued_at))


@task()
def slow_once(key: str, seconds: float) -> str:
    """Idempotent: a second run leaves the same `done` file as the first."""
    append(f"{key}.starts", str(time.time()))
    time.sleep(seconds)
    trace(f"{key}.done").write_text("done")
    return "done"


@task(retries=2)
def always_fails(key: str) -> None:
    append(f"{key}.attempts", str(time.time()))
    raise RuntimeError(f"{key} cannot work")


@task(retries=1, retry_delay=1)
def fails_once(key: str) -> str:
    """Fails its first run; the retry, a second later, passes through the schedule."""
    append(f"{key}.attempts", str(time.time()))
    if len(trace(f"{key}.attempts").read_text().splitlines()) == 1:
        raise RuntimeError(f"{key}: first run fails")
    trace(f"{key}.done").write_text("done")
    return "done"


@task()
def report(steps: int) -> dict:
    for step in range(1, steps + 1):
        progress(100 * step / steps, f"step {step} of {steps}")
        time.sleep(0.05)
    return {"message": f"{steps} steps done", "steps": steps}


@periodic_task(every=2)
def tick() -> None:
    append("ticks", str(time.time()))


ENQUEUE = {"noop": noop, "slow_once": slow_once, "always_fails": always_fails, "fails_once": fails_once,
           "report": report}


@api.post("/jobs/<name>")
@login_required
def enqueue(name: str):
    """Enqueue a task for the signed-in user: JSON body {"args": [...]}."""
    if name not in ENQUEUE:
        abort(404, f"There is no task {name!r}.")
    body = request.get_json(silent=True)
    args = body.get("args", []) if isinstance(body, dict) else None
    if not isinstance(args, list):
        abort(400, 'Send {"args": [...]}.')
    job_id = ENQUEUE[name](*args)
    return jsonify(id=job_id), 202
