"""`python -m bench` (or `make bench`): the template against bare baselines, in one run.

Starts every server itself on 127.0.0.1 (gunicorn, gevent): the template and the
conventional build (bench/conventional_app.py: the same libraries without the
template), each with one worker and with two; bare Flask (JSON, and a PyMySQL
read) as the floor; FastAPI on uvicorn (the MariaDB read, the stretch row); and a
bare Flask-SocketIO app. Loads them with wrk (one thread), measures Socket.IO with
the Python client, and writes bench/results/latest.md and latest.png. Needs
MariaDB (BENCH_DB_* or 127.0.0.1:3306 as root), Redis (127.0.0.1:6379) and wrk.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pymysql
import redis
import requests
import yaml

from bench import load, report, servers
from flask_keel.client import Client

RESULTS = Path(__file__).resolve().parent / "results"


def create_database(env: dict[str, str]) -> None:
    connection = pymysql.connect(host=env["BENCH_DB_HOST"], port=int(env["BENCH_DB_PORT"]), user=env["BENCH_DB_USER"],
                                 password=env["BENCH_DB_PASSWORD"], autocommit=True)
    with connection.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS `{env['BENCH_DB_NAME']}`")
        cursor.execute(f"CREATE DATABASE `{env['BENCH_DB_NAME']}` CHARACTER SET utf8mb4")
    connection.close()


def template_config(workdir: Path, env: dict[str, str], app_name: str, processes: int = 1) -> Path:
    config = {
        "SERVER_ENV": {"APP_NAME": app_name, "APP_KEY": "bench-" + "k" * 40, "ENV": "UAT", "SESSION": "redis",
                       "INSTANCE_PATH": str(workdir / "instance"), "LOG": {"LEVEL": "INFO"},
                       "PROCESSES": processes,
                       # wrk and the socket clients all connect from 127.0.0.1: no per-address bound.
                       "CLIENT_CONNECTIONS": 0},
        "DATABASE": {"main": {"driver": "mysql+pymysql", "address": env["BENCH_DB_HOST"],
                              "port": int(env["BENCH_DB_PORT"]), "user": env["BENCH_DB_USER"],
                              "password": env["BENCH_DB_PASSWORD"], "database": env["BENCH_DB_NAME"]}},
        "SERVICES": {"redis": {"HOST": env["BENCH_REDIS_HOST"], "PORT": int(env["BENCH_REDIS_PORT"])}},
        # The fan-out holds 500 sockets on one login (a login costs a slow hash each), and each
        # RPC client calls in a loop past the per-socket message budget: the cap is off and the
        # budget stays on but out of reach, so its cost is measured and not its limit.
        "FLASK": {"CONFIG": {"SOCKETS_PER_USER": 0, "SOCKET_MESSAGES_PER_SECOND": 100_000}},
    }
    path = workdir / f"config-{processes}.yml"
    path.write_text(yaml.safe_dump(config))
    return path


def boot_time(config: Path) -> float:
    """Seconds for `from flask_keel import create_app; create_app()` in a fresh interpreter (median of 3)."""
    code = ("import time; t = time.perf_counter(); from flask_keel import create_app; create_app(); "
            "print(time.perf_counter() - t)")
    runs = [float(subprocess.run([sys.executable, "-c", code], env={**os.environ, "APP_CONFIG": str(config)},
                                 capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1])
            for _ in range(3)]
    return statistics.median(runs)


def socket_measures(url: str, channel: str, redis_url: str, args: argparse.Namespace, plain: bool = False) -> dict:
    """RPC rate and fan-out from bench.socket_clients, a gevent-patched process of its own."""
    output = subprocess.run([sys.executable, "-m", "bench.socket_clients", url, channel, redis_url,
                             "--rpc-clients", str(args.rpc_clients), "--fanout-clients", str(args.fanout_clients),
                             "--seconds", str(args.seconds), "--broadcasts", str(args.broadcasts),
                             *(["--plain"] if plain else [])],
                            capture_output=True, text=True, check=True, timeout=600).stdout
    return json.loads(output.strip().splitlines()[-1])


def session_keys(env: dict[str, str], app_name: str) -> int:
    client = redis.Redis(host=env["BENCH_REDIS_HOST"], port=int(env["BENCH_REDIS_PORT"]))
    try:
        return sum(1 for _ in client.scan_iter(match=f"{app_name}:session:*", count=1000))
    finally:
        client.close()


def paired(run_a, run_b, rounds: int) -> tuple:
    """The median of `rounds` back-to-back (a, b) pairs, by a/b: on a shared 2-core machine
    throughput drifts 10-20% between runs, much less within a pair."""
    pairs = sorted(((run_a(), run_b()) for _ in range(rounds)),
                   key=lambda pair: pair[0].requests_per_second / pair[1].requests_per_second)
    errors = sum(a.non_2xx + a.socket_errors + b.non_2xx + b.socket_errors for a, b in pairs)
    return pairs[len(pairs) // 2], errors


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--seconds", type=int, default=8, help="wrk duration per run")
    parser.add_argument("--rounds", type=int, default=3, help="template/baseline pairs per scenario (median)")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--fanout-clients", type=int, default=500)
    parser.add_argument("--rpc-clients", type=int, default=50)
    parser.add_argument("--broadcasts", type=int, default=20, help="broadcasts per Socket.IO measure")
    args = parser.parse_args()

    env = {
        "BENCH_DB_HOST": os.environ.get("BENCH_DB_HOST", "127.0.0.1"),
        "BENCH_DB_PORT": os.environ.get("BENCH_DB_PORT", os.environ.get("TEST_MYSQL_PORT", "3306")),
        "BENCH_DB_USER": os.environ.get("BENCH_DB_USER", "root"),
        "BENCH_DB_PASSWORD": os.environ.get("BENCH_DB_PASSWORD", ""),
        "BENCH_DB_NAME": os.environ.get("BENCH_DB_NAME", "template_bench"),
        "BENCH_REDIS_HOST": os.environ.get("BENCH_REDIS_HOST", "127.0.0.1"),
        "BENCH_REDIS_PORT": os.environ.get("BENCH_REDIS_PORT", os.environ.get("TEST_REDIS_PORT", "6379")),
    }
    redis_url = f"redis://{env['BENCH_REDIS_HOST']}:{env['BENCH_REDIS_PORT']}/0"
    create_database(env)
    workdir = Path(tempfile.mkdtemp(prefix="bench-"))
    app_name = f"bench{uuid.uuid4().hex[:6]}"
    one_worker = template_config(workdir, env, app_name, processes=1)
    two_workers = template_config(workdir, env, app_name, processes=2)
    servers.migrate(one_worker)
    conventional_env = {**env, "BENCH_APP_NAME": app_name, "BENCH_APP_ENV": "UAT"}
    started = [template := servers.start_template(workdir, one_worker),
               bare := servers.start_bare(workdir, env),
               conventional := servers.start_conventional(workdir, conventional_env)]
    try:
        # Data: a teacher with a few courses (the dashboard page), found by code (the read).
        teacher = Client(template.url, realtime=False)
        teacher.signup("bench_teacher", "a long password", "t@bench.test")
        teacher.post("/ws/teachers", {"name": "Bench Teacher", "department": "Perf"})
        for index in range(5):
            teacher.post("/ws/courses", {"course_name": f"Course {index}", "course_code": f"B{index}"})
        cookie = {"Cookie": f"session={teacher.http.cookies.get('session')}"}
        # The same teacher signed in to the conventional build (its own sessions, same Redis).
        conventional_teacher = Client(conventional.url, realtime=False)
        conventional_teacher.login("bench_teacher", "a long password")
        conventional_cookie = {"Cookie": f"session={conventional_teacher.http.cookies.get('session')}"}
        seconds, connections, rounds = args.seconds, args.connections, args.rounds

        def run(server, path, headers=None):
            return lambda: load.wrk(server.url + path, connections, seconds, headers=headers)

        def against_conventional(template_server, conventional_server, workers: int) -> list[dict]:
            """The five scenarios, template / conventional build, on `workers` workers each."""
            rows = []
            for name, path, signed_in in (("WS JSON /ws/info", "/ws/info", False),
                                          ("anonymous home page /", "/", False),
                                          ("signed-in page /, Redis session", "/", True),
                                          ("DB read on MariaDB", "/ws/catalog/B3", False),
                                          ("dashboard (2 queries, 4 forms)", "/dashboard", True)):
                (result, base), errors = paired(run(template_server, path, cookie if signed_in else None),
                                                run(conventional_server, path,
                                                    conventional_cookie if signed_in else None), rounds)
                ratio = result.requests_per_second / base.requests_per_second
                rows.append({"name": f"{name}, {workers} worker{'s' if workers > 1 else ''}", "template": result,
                             "baseline": base, "ratio": ratio, "budget": 0.90, "baseline_name": "conventional build",
                             "ok": ratio >= 0.90 and errors == 0})
            return rows

        # An anonymous page must neither store a session nor send a cookie.
        anonymous = requests.get(template.url + "/", timeout=10)
        sessions_before = session_keys(env, app_name)

        rows = against_conventional(template, conventional, 1)
        # The floor: what the libraries cost, the conventional build against bare Flask and
        # bare PyMySQL (no budget: the template answers to the conventional build).
        for name, path, base_path, baseline in (("WS JSON", "/ws/info", "/json", "bare Flask JSON"),
                                                ("DB read on MariaDB", "/ws/catalog/B3", "/db/B3", "bare PyMySQL")):
            (result, base), errors = paired(run(conventional, path), run(bare, base_path), rounds)
            rows.append({"name": f"floor, {name}: conventional build / {baseline}", "server_name": "conventional",
                         "template": result, "baseline": base, "ratio": result.requests_per_second /
                         base.requests_per_second, "budget": None, "baseline_name": baseline, "ok": errors == 0})
        sessions_after = session_keys(env, app_name)
        heavy = load.wrk(template.url + "/ws/info", 256, seconds)
        # Each worker's resident memory after its loads above, in the same venv.
        rss, conventional_rss = template.worker_rss_mb(), conventional.worker_rss_mb()
        boot = boot_time(one_worker)
        bare.stop()  # their last use was above; their pools' MariaDB connections go with them
        conventional.stop()

        # Two workers each: the template against the conventional build, then the
        # template's scaling (two workers against one), pair by pair.
        scaled = servers.start_template(workdir, two_workers, "template-2-workers")
        started.append(scaled)
        conventional_scaled = servers.start_conventional(workdir, conventional_env, 2, "conventional-2-workers")
        started.append(conventional_scaled)
        rows += against_conventional(scaled, conventional_scaled, 2)
        conventional_scaled.stop()
        scaling = []
        for name, path in (("WS JSON /ws/info", "/ws/info"), ("DB read on MariaDB", "/ws/catalog/B3")):
            (two, one), errors = paired(run(scaled, path), run(template, path), rounds)
            ratio = two.requests_per_second / one.requests_per_second
            scaling.append({"name": f"2 workers / 1 worker: {name}", "template": two, "baseline": one,
                            "ratio": ratio, "budget": 1.5, "baseline_name": "the template, 1 worker",
                            "ok": ratio >= 1.5 and errors == 0})
        # The stretch row: the same read on FastAPI's sync endpoint, uvicorn with 2 workers.
        fastapi = servers.start_fastapi(workdir, env, 2)
        started.append(fastapi)
        (two, other), errors = paired(run(scaled, "/ws/catalog/B3"), run(fastapi, "/ws/catalog/B3"), rounds)
        stretch = [{"name": "stretch, DB read on MariaDB, 2 workers: template / FastAPI (sync def, uvicorn)",
                    "template": two, "baseline": other, "ratio": two.requests_per_second / other.requests_per_second,
                    "budget": None, "budget_text": "stretch, none", "baseline_name": "FastAPI on uvicorn",
                    "ok": errors == 0}]
        fastapi.stop()
        scaled.stop()

        # Socket.IO against a bare Flask-SocketIO app, pair by pair like the rows above: each
        # measure is a fresh process of clients (RPC for --seconds, then --broadcasts broadcasts).
        channel = f"bench-bare-{uuid.uuid4().hex[:6]}"
        bare_socketio = servers.start_bare_socketio(workdir, redis_url, channel)
        started.append(bare_socketio)
        socket_pairs = [(socket_measures(template.url, f"{app_name}:socketio", redis_url, args),
                         socket_measures(bare_socketio.url, channel, redis_url, args, plain=True))
                        for _ in range(rounds)]
        bare_socketio.stop()
        template.stop()

        def median_pair(key: str) -> tuple[dict, dict, float]:
            ordered = sorted(socket_pairs, key=lambda pair: pair[0][key] / pair[1][key])
            fan, bare_fan = ordered[len(ordered) // 2]
            return fan, bare_fan, fan[key] / bare_fan[key]

        fan, bare_fan, rpc_ratio = median_pair("rpc_per_second")
        fan_p99, bare_fan_p99, p99_ratio = median_pair("p99_ms")
        all_delivered = all(measure["delivered"] == measure["expected"] for pair in socket_pairs for measure in pair)
        rpc_failures = sum(measure["rpc_failures"] for pair in socket_pairs for measure in pair)
        no_session = "Set-Cookie" not in anonymous.headers and sessions_after == sessions_before
        extras = [
            ("anonymous home page: Set-Cookie, sessions stored by its load",
             f"{'Set-Cookie sent' if 'Set-Cookie' in anonymous.headers else 'no Set-Cookie'}, "
             f"{sessions_after - sessions_before} new sessions", "none", no_session),
            ("zero errors at 256 connections (/ws/info)",
             f"{heavy.non_2xx} non-2xx, {heavy.socket_errors} socket errors, {heavy.requests_per_second:,.0f} req/s",
             "0", heavy.non_2xx == 0 and heavy.socket_errors == 0),
            (f"Socket.IO RPC, {args.rpc_clients} clients: template / bare Flask-SocketIO (median of {rounds} pairs)",
             f"{fan['rpc_per_second']:,.0f} / {bare_fan['rpc_per_second']:,.0f} calls/s = {rpc_ratio:.2f}x "
             f"({rpc_failures} failures in all)", ">= 0.80x", rpc_ratio >= 0.80 and rpc_failures == 0),
            (f"broadcast to {args.fanout_clients} clients, p99 of {args.broadcasts} broadcasts: template / bare "
             f"Flask-SocketIO (median of {rounds} pairs)",
             f"{fan_p99['p99_ms']:.0f} / {bare_fan_p99['p99_ms']:.0f} ms = {p99_ratio:.2f}x (p50 "
             f"{fan_p99['p50_ms']:.0f} / {bare_fan_p99['p50_ms']:.0f} ms; every one of "
             f"{sum(m['expected'] for pair in socket_pairs for m in pair):,} deliveries "
             f"{'arrived' if all_delivered else 'NOT arrived'})", "<= 1.5x", p99_ratio <= 1.5 and all_delivered),
            ("boot: create_app() in a fresh interpreter", f"{boot:.2f} s", "< 1.0 s", boot < 1.0),
            ("worker RSS after its loads: template / conventional build", f"{rss:.0f} / {conventional_rss:.0f} MB",
             "<= conventional + 10 MB", rss <= conventional_rss + 10),
            ("load generator: wrk's own CPU during the 2-worker runs",
             f"{max(row['template'].wrk_cores for row in scaling):.2f} cores of {os.cpu_count()}", "", True),
        ]
        header = (f"# Benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n\n"
                  f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python "
                  f"{platform.python_version()}; gunicorn with gevent workers (1 unless said); wrk 1 thread, "
                  f"{connections} connections, {seconds} s per run; each ratio is the median of {rounds} "
                  "back-to-back pairs; MariaDB and Redis on 127.0.0.1.")
        # Background jobs: a process of its own (it builds a throw-away project).
        jobs_table = subprocess.run([sys.executable, "-m", "bench.jobs"], capture_output=True, text=True, check=True,
                                    timeout=600, env={**os.environ, **env}).stdout.strip()
        table = report.markdown(rows + scaling + stretch, extras, header)
        text = table + "\n## Background jobs\n\n" + jobs_table + "\n"
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "latest.md").write_text(text)
        report.chart(rows + scaling + stretch, RESULTS / "latest.png")
        print(text)
        if not all(row["ok"] for row in rows + scaling) or not all(ok for *_, ok in extras):
            print("some budgets are not met (rows marked NO)", file=sys.stderr)
    finally:
        for server in started:
            server.stop()


if __name__ == "__main__":
    main()
