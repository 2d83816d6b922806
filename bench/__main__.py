"""`python -m bench` (or `make bench`): the template against bare Flask, in one run.

Starts every server itself on 127.0.0.1 (gunicorn, one gevent worker each),
loads them with wrk, measures Socket.IO with the Python client, and writes
bench/results/latest.md and latest.png. Needs MariaDB (BENCH_DB_* or
127.0.0.1:3306 as root) and Redis (127.0.0.1:6379), and wrk.
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
import yaml

from app.client import Client
from bench import load, report, servers

RESULTS = Path(__file__).resolve().parent / "results"


def create_database(env: dict[str, str]) -> None:
    connection = pymysql.connect(host=env["BENCH_DB_HOST"], port=int(env["BENCH_DB_PORT"]), user=env["BENCH_DB_USER"],
                                 password=env["BENCH_DB_PASSWORD"], autocommit=True)
    with connection.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS `{env['BENCH_DB_NAME']}`")
        cursor.execute(f"CREATE DATABASE `{env['BENCH_DB_NAME']}` CHARACTER SET utf8mb4")
    connection.close()


def template_config(workdir: Path, env: dict[str, str], app_name: str) -> Path:
    config = {
        "SERVER_ENV": {"APP_NAME": app_name, "APP_KEY": "bench-" + "k" * 40, "ENV": "UAT", "SESSION": "redis",
                       "INSTANCE_PATH": str(workdir / "instance"), "LOG": {"LEVEL": "INFO"},
                       # wrk and the socket clients all connect from 127.0.0.1: no per-address bound.
                       "CLIENT_CONNECTIONS": 0},
        "DATABASE": {"main": {"driver": "mysql+pymysql", "address": env["BENCH_DB_HOST"],
                              "port": int(env["BENCH_DB_PORT"]), "user": env["BENCH_DB_USER"],
                              "password": env["BENCH_DB_PASSWORD"], "database": env["BENCH_DB_NAME"]}},
        "SERVICES": {"redis": {"HOST": env["BENCH_REDIS_HOST"], "PORT": int(env["BENCH_REDIS_PORT"])}},
    }
    path = workdir / "config.yml"
    path.write_text(yaml.safe_dump(config))
    return path


def boot_time(config: Path) -> float:
    """Seconds for `from app import create_app; create_app()` in a fresh interpreter (median of 3)."""
    code = ("import time; t = time.perf_counter(); from app import create_app; create_app(); "
            "print(time.perf_counter() - t)")
    runs = [float(subprocess.run([sys.executable, "-c", code], env={**os.environ, "APP_CONFIG": str(config)},
                                 capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1])
            for _ in range(3)]
    return statistics.median(runs)


def socket_measures(url: str, channel: str, redis_url: str, args: argparse.Namespace) -> dict:
    """RPC rate and fan-out from bench.socket_clients, a gevent-patched process of its own."""
    output = subprocess.run([sys.executable, "-m", "bench.socket_clients", url, channel, redis_url,
                             "--rpc-clients", str(args.rpc_clients), "--fanout-clients", str(args.fanout_clients),
                             "--seconds", str(args.seconds)],
                            capture_output=True, text=True, check=True, timeout=600).stdout
    return json.loads(output.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--seconds", type=int, default=8, help="wrk duration per run")
    parser.add_argument("--rounds", type=int, default=3, help="template/baseline pairs per scenario (median)")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--fanout-clients", type=int, default=500)
    parser.add_argument("--rpc-clients", type=int, default=50)
    args = parser.parse_args()

    env = {
        "BENCH_DB_HOST": os.environ.get("BENCH_DB_HOST", "127.0.0.1"),
        "BENCH_DB_PORT": os.environ.get("BENCH_DB_PORT", "3306"),
        "BENCH_DB_USER": os.environ.get("BENCH_DB_USER", "root"),
        "BENCH_DB_PASSWORD": os.environ.get("BENCH_DB_PASSWORD", ""),
        "BENCH_DB_NAME": os.environ.get("BENCH_DB_NAME", "template_bench"),
        "BENCH_REDIS_HOST": os.environ.get("BENCH_REDIS_HOST", "127.0.0.1"),
        "BENCH_REDIS_PORT": os.environ.get("BENCH_REDIS_PORT", "6379"),
    }
    create_database(env)
    workdir = Path(tempfile.mkdtemp(prefix="bench-"))
    app_name = f"bench{uuid.uuid4().hex[:6]}"
    config = template_config(workdir, env, app_name)
    template = servers.start_template(workdir, config)
    bare = servers.start_bare(workdir, env)
    try:
        # Data: a teacher with a few courses (the dashboard page), found by code (the read).
        teacher = Client(template.url, realtime=False)
        teacher.signup("bench_teacher", "a long password", "t@bench.test")
        teacher._http("POST", "/ws/teachers", {"name": "Bench Teacher", "department": "Perf"})
        for index in range(5):
            teacher._http("POST", "/ws/courses", {"course_name": f"Course {index}", "course_code": f"B{index}"})
        cookie = {"Cookie": f"session={teacher.http.cookies.get('session')}"}
        seconds, connections = args.seconds, args.connections
        run = lambda server, path, **kw: load.wrk(server.url + path, connections, seconds, **kw)  # noqa: E731

        # Each ratio is the median of `rounds` back-to-back pairs: on a shared 2-core
        # machine throughput drifts by 10-20% between runs, much less within a pair.
        scenarios = [
            ("(2) WS JSON /ws/info", (template, "/ws/info", {}), (bare, "/json"), 0.90),
            ("(3) HTML page, logged in, Redis session", (template, "/", cookie), (bare, "/json"), 0.60),
            ("(4) DB read on MariaDB", (template, "/ws/catalog/B3", {}), (bare, "/db/B3"), 0.85),
        ]
        rows = []
        for name, (server, path, headers), (base_server, base_path), budget in scenarios:
            pairs = sorted(((run(server, path, headers=headers), run(base_server, base_path))
                            for _ in range(args.rounds)),
                           key=lambda pair: pair[0].requests_per_second / pair[1].requests_per_second)
            result, base = pairs[len(pairs) // 2]
            ratio = result.requests_per_second / base.requests_per_second
            errors = sum(each.non_2xx + each.socket_errors for each, _ in pairs)
            rows.append({"name": name, "template": result, "baseline": base, "ratio": ratio, "budget": budget,
                         "ok": ratio >= budget and errors == 0})
        baseline_json = rows[0]["baseline"]
        heavy = load.wrk(template.url + "/ws/info", 256, seconds)
        dashboard = run(template, "/dashboard", headers=cookie)

        rss = template.worker_rss_mb()
        boot = boot_time(config)

        fan = socket_measures(template.url, f"{app_name}:socketio",
                              f"redis://{env['BENCH_REDIS_HOST']}:{env['BENCH_REDIS_PORT']}/0", args)
        rpc_per_second, rpc_failures = fan["rpc_per_second"], fan["rpc_failures"]
        extras = [
            ("1) bare Flask JSON baseline", f"{baseline_json.requests_per_second:,.0f} req/s", "", True),
            ("dashboard page (5 courses; 4 queries, 4 forms)", f"{dashboard.requests_per_second:,.0f} req/s, p99 "
             f"{dashboard.latency_p99_ms:.0f} ms", "", dashboard.non_2xx == 0),
            ("zero errors at 256 connections (/ws/info)",
             f"{heavy.non_2xx} non-2xx, {heavy.socket_errors} socket errors, {heavy.requests_per_second:,.0f} req/s",
             "0", heavy.non_2xx == 0 and heavy.socket_errors == 0),
            (f"(5) Socket.IO RPC, {args.rpc_clients} clients", f"{rpc_per_second:,.0f} calls/s, "
             f"{rpc_failures} failures", "", rpc_failures == 0),
            (f"(5) broadcast fan-out to {args.fanout_clients} clients",
             f"p50 {fan['p50_ms']:.0f} ms, p99 {fan['p99_ms']:.0f} ms ({fan['delivered']}/{fan['expected']} "
             "delivered)", "p99 < 250 ms", fan["p99_ms"] < 250 and fan["delivered"] == fan["expected"]),
            ("(6) boot: create_app() in a fresh interpreter", f"{boot:.2f} s", "< 1.0 s", boot < 1.0),
            ("(6) idle worker RSS", f"{rss:.0f} MB", "< 120 MB", rss < 120),
        ]
        header = (f"# Benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n\n"
                  f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python "
                  f"{platform.python_version()}; gunicorn, 1 gevent worker per server; wrk {connections} "
                  f"connections, {seconds} s per run, ratio = median of {args.rounds} back-to-back pairs; "
                  "MariaDB and Redis on 127.0.0.1.")
        text = report.markdown(rows, extras, header)
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "latest.md").write_text(text)
        report.chart(rows, RESULTS / "latest.png")
        print(text)
    finally:
        template.stop()
        bare.stop()


if __name__ == "__main__":
    main()
