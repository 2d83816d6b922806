"""Background jobs: enqueue-to-start latency and jobs per second, one worker, Redis storage.

    .venv/bin/python -m bench.jobs [--jobs 2000 --samples 200]

Starts one `python -m app jobs worker` (one thread) on a throw-away project whose
tasks are a no-op and a stamp (the time it started), on Redis (BENCH_REDIS_HOST,
BENCH_REDIS_PORT; default 127.0.0.1:6379) under a key prefix of its own, then:

1. latency: `--samples` jobs enqueued one at a time with the worker idle, each
   stamping how long after its enqueue it started (p50, p99);
2. throughput: `--jobs` no-op jobs enqueued at once, timed from the first to the
   moment the queue and the worker's claims are empty.

Prints a markdown table. The worker writes its stamps to Redis, so only
enqueue, BLMOVE, the JSON decode, the run and the ack are measured.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from pathlib import Path

import yaml

# The bench runs the template project this package sits in (its demo's pages), and
# imports its own baselines from the package folder.
PACKAGE = Path(__file__).resolve().parents[1]
ROOT = Path(os.environ.get("BENCH_PROJECT") or PACKAGE.parents[1]).resolve()
REDIS = (os.environ.get("BENCH_REDIS_HOST", "127.0.0.1"), int(os.environ.get("BENCH_REDIS_PORT", "6379")))

TASKS = '''
import time

from flask_keel.jobs import task
from flask_keel.services import redis_client
from flask import current_app


@task()
def noop():
    pass


@task()
def stamp(enqueued_at):
    client = current_app.extensions["bench.redis"] = current_app.extensions.get("bench.redis") or \\
        redis_client(current_app.extensions["app.settings"])
    client.rpush(current_app.config["APP_NAME"] + ":latency", repr(time.time() - enqueued_at))
'''


def project(folder: Path, name: str) -> Path:
    for path, text in {
        "Server/__init__.py": "",
        "Server/Web.py": ("class Route:\n    def __init__(self, server):\n"
                          "        from Controllers import bench_jobs  # noqa: F401\n"),
        "Controllers/__init__.py": "",
        "Controllers/bench_jobs.py": TASKS,
        "Models/__init__.py": "",
        "Models/Persistent/__init__.py": "",
    }.items():
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_text(textwrap.dedent(text))
    for empty in ("template", "static"):
        (folder / empty).mkdir(exist_ok=True)
    config = folder / "config.yml"
    config.write_text(yaml.safe_dump({
        "SERVER_ENV": {"APP_NAME": name, "INSTANCE_PATH": str(folder / "instance"), "APP_KEY": "bench-key-" * 5,
                       "LOG": {"LEVEL": "WARNING"}, "JOBS": {"STORAGE": "redis", "CONCURRENCY": 1}},
        "DATABASE": {"main": {"driver": "sqlite", "database": str(folder / "app.sqlite3"), "models": []}},
        "SERVICES": {"redis": {"HOST": REDIS[0], "PORT": REDIS[1]}, "filesystem": {"PATH": str(folder / "s")}},
    }))
    return config


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--samples", type=int, default=200)
    options = parser.parse_args()
    name = f"bench{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory(prefix="bench-jobs-") as temp:
        folder = Path(temp)
        config = project(folder, name)
        environ = {**os.environ, "APP_CONFIG": str(config), "APP_ROOT": str(folder)}
        sys.path.insert(0, str(folder))
        os.environ.update({"APP_CONFIG": str(config), "APP_ROOT": str(folder)})
        from flask_keel import create_app
        from flask_keel.jobs import jobs_of
        from flask_keel.services import redis_client

        app = create_app(config)
        queue = jobs_of(app)
        client = redis_client(app.extensions["app.settings"])
        from Controllers import bench_jobs

        worker = subprocess.Popen([sys.executable, "-m", "app", "jobs", "worker"], cwd=ROOT, env=environ,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            with app.app_context():
                latencies = measure_latency(bench_jobs, client, name, options.samples)
                rate = measure_throughput(bench_jobs, queue, options.jobs)
        finally:
            worker.terminate()
            worker.wait(30)
            for key in client.scan_iter(f"*{name}*"):
                client.delete(key)
    print("| jobs, one worker (1 thread), Redis storage | value |")
    print("| --- | ---: |")
    print(f"| enqueue-to-start latency p50 ({options.samples} jobs, worker idle) | {latencies[0] * 1000:.2f} ms |")
    print(f"| enqueue-to-start latency p99 | {latencies[1] * 1000:.2f} ms |")
    print(f"| no-op jobs per second ({options.jobs} queued at once) | {rate:,.0f} |")


def measure_latency(tasks, client, name: str, samples: int) -> tuple[float, float]:
    key = f"{name}:latency"
    tasks.stamp.enqueue_for(None, time.time())  # the worker is up when the first one lands
    deadline = time.monotonic() + 60
    while client.llen(key) < 1:
        if time.monotonic() > deadline:
            raise SystemExit("the worker did not start a job within 60 s")
        time.sleep(0.05)
    client.delete(key)
    for done in range(1, samples + 1):
        tasks.stamp.enqueue_for(None, time.time())
        while client.llen(key) < done:
            time.sleep(0.0005)
    values = [float(value) for value in client.lrange(key, 0, -1)]
    return statistics.median(values), percentile(values, 0.99)


def measure_throughput(tasks, queue, jobs: int) -> float:
    start = time.perf_counter()
    for _ in range(jobs):
        tasks.noop.enqueue_for(None)
    while queue.storage.queue_size() or queue.storage.claimed_items():
        time.sleep(0.005)
    return jobs / (time.perf_counter() - start)


if __name__ == "__main__":
    main()
