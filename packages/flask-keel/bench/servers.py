"""Starting the servers under test: each a gunicorn with gevent workers on 127.0.0.1."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import requests

# The bench runs the template project this package sits in (its demo's pages), and
# imports its own baselines from the package folder.
PACKAGE = Path(__file__).resolve().parents[1]
ROOT = Path(os.environ.get("BENCH_PROJECT") or PACKAGE.parents[1]).resolve()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    name: str
    process: subprocess.Popen
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def worker_pids(self) -> list[int]:
        return [int(pid) for pid in
                Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text().split()]

    def worker_pid(self) -> int:
        return self.worker_pids()[0]

    def worker_rss_mb(self) -> float:
        for line in Path(f"/proc/{self.worker_pid()}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmRSS")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()


def _wait(server: Server, path: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"{server.name} exited:\n{server.log.read_text()}")
        try:
            if requests.get(server.url + path, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            time.sleep(0.1)
    raise RuntimeError(f"{server.name} did not start:\n{server.log.read_text()}")


# The same gunicorn settings for every server: gevent, one worker, as the template's default.
GUNICORN = ["--worker-class", "gevent", "--workers", "1", "--worker-connections", "1000",
            "--timeout", "60", "--graceful-timeout", "5", "--no-control-socket"]


def start_bare(workdir: Path, env: dict[str, str]) -> Server:
    port = free_port()
    log = workdir / "bare.log"
    process = subprocess.Popen([sys.executable, "-m", "gunicorn", *GUNICORN, "--bind", f"127.0.0.1:{port}",
                                "bench.bare_app:app"], cwd=PACKAGE, env={**os.environ, **env},
                               stdout=log.open("wb"), stderr=subprocess.STDOUT)
    server = Server("bare", process, port, log)
    _wait(server, "/json")
    return server


# gunicorn's own access log for the conventional build, with the request id it sets
# (the template writes its access log itself).
ACCESS_LOG = ["--access-logfile", "-", "--access-logformat", '%(h)s "%(r)s" %(s)s %(M)sms %({x-request-id}o)s']


def start_conventional(workdir: Path, env: dict[str, str], workers: int = 1, name: str = "conventional") -> Server:
    """bench/conventional_app.py, the same libraries without the template, on `workers` workers."""
    port = free_port()
    log = workdir / f"{name}.log"
    gunicorn = list(GUNICORN)
    gunicorn[gunicorn.index("--workers") + 1] = str(workers)
    process = subprocess.Popen([sys.executable, "-m", "gunicorn", *gunicorn, *ACCESS_LOG, "--bind",
                                f"127.0.0.1:{port}", "bench.conventional_app:app"], cwd=PACKAGE,
                               env={**os.environ, **env, "BENCH_WORKERS": str(workers), "BENCH_PROJECT": str(ROOT)},
                               stdout=log.open("wb"), stderr=subprocess.STDOUT)
    server = Server(name, process, port, log)
    _wait(server, "/ws/info")
    return server


def start_bare_socketio(workdir: Path, redis_url: str, channel: str) -> Server:
    port = free_port()
    log = workdir / "bare-socketio.log"
    env = {**os.environ, "BENCH_SOCKETIO_REDIS": redis_url, "BENCH_SOCKETIO_CHANNEL": channel}
    process = subprocess.Popen([sys.executable, "-m", "gunicorn", *GUNICORN, "--bind", f"127.0.0.1:{port}",
                                "bench.bare_socketio:app"], cwd=PACKAGE, env=env,
                               stdout=log.open("wb"), stderr=subprocess.STDOUT)
    server = Server("bare Flask-SocketIO", process, port, log)
    _wait(server, "/json")
    return server


def start_fastapi(workdir: Path, env: dict[str, str], workers: int = 2) -> Server:
    """bench/fastapi_app.py on uvicorn with `workers` workers (the stretch row)."""
    port = free_port()
    log = workdir / "fastapi.log"
    process = subprocess.Popen([sys.executable, "-m", "uvicorn", "bench.fastapi_app:app", "--host", "127.0.0.1",
                                "--port", str(port), "--workers", str(workers), "--no-access-log",
                                "--log-level", "warning"], cwd=PACKAGE,
                               env={**os.environ, **env, "BENCH_WORKERS": str(workers)},
                               stdout=log.open("wb"), stderr=subprocess.STDOUT)
    server = Server(f"FastAPI on uvicorn, {workers} workers", process, port, log)
    _wait(server, "/ws/catalog/B3")
    return server


def migrate(config: Path) -> None:
    subprocess.run([sys.executable, "-m", "app", "db", "upgrade"], cwd=ROOT,
                   env={**os.environ, "APP_CONFIG": str(config)}, check=True, capture_output=True)


def start_template(workdir: Path, config: Path, name: str = "template") -> Server:
    """`python -m app serve` on `config` (its SERVER_ENV.PROCESSES says how many workers)."""
    port = free_port()
    log = workdir / f"{name}.log"
    env = {**os.environ, "APP_CONFIG": str(config)}
    process = subprocess.Popen([sys.executable, "-m", "app", "serve", "--bind", f"127.0.0.1:{port}"], cwd=ROOT,
                               env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    server = Server(name, process, port, log)
    _wait(server, "/healthz")
    return server
