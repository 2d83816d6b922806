"""`python -m bench.dev_reload [PROJECT]`: how soon `make dev` serves a saved controller edit.

Runs `python -m app dev` in a copy of the project (SQLite, file sessions, loopback),
saves an edit to Controllers/core.py ROUNDS times and times each from the save to the
first answer that shows it. Prints every time and the median; exits 1 when the median
passes the README's 2 s. Run it on a quiet machine: it measures, the tests only check.
"""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from flask_keel.testing import edit, free_port, scratch_copy, served_within

PROJECT = Path(__file__).resolve().parents[3]  # the template's checkout: bench/ is in packages/flask-keel
ROUNDS = 5
BUDGET = 2.0  # seconds, as the README says


def main() -> int:
    project = Path(sys.argv[1]) if len(sys.argv) > 1 else PROJECT  # another checkout: a run before a change
    with tempfile.TemporaryDirectory(prefix="dev-reload-") as scratch:
        tmp = Path(scratch)
        root = scratch_copy(project, tmp / "project")
        port = free_port()
        config = tmp / "dev.yml"
        config.write_text(yaml.safe_dump({
            "SERVER_ENV": {"INSTANCE_PATH": str(tmp / "instance"), "BIND": {"PORT": port}},
            "DATABASE": {"main": {"driver": "sqlite", "database": str(tmp / "dev.sqlite3")}},
            "SERVICES": {"filesystem": {"PATH": str(tmp / "sessions")}},
        }))
        log = tmp / "dev.log"
        process = subprocess.Popen([sys.executable, "-m", "app", "dev"], cwd=root, stdout=log.open("wb"),
                                   stderr=subprocess.STDOUT, start_new_session=True,
                                   env={**os.environ, "APP_CONFIG": str(config), "APP_ROOT": str(root)})
        url = f"http://127.0.0.1:{port}/ws/info"
        try:
            if served_within(url, lambda r: r.ok, 60) is None:
                print(log.read_text()[-3000:], file=sys.stderr)
                return 2
            times = []
            marker = 'return jsonify(name=current_app.config["APP_NAME"],'
            for round_ in range(1, ROUNDS + 1):
                time.sleep(1.0)  # past the reloader's poll and the file system's mtime granularity
                edited = f'return jsonify(round={round_}, name=current_app.config["APP_NAME"],'
                edit(root / "Controllers" / "core.py", marker, edited)
                took = served_within(url, lambda r, n=round_: r.ok and r.json().get("round") == n, 30)
                if took is None:
                    print(log.read_text()[-3000:], file=sys.stderr)
                    return 2
                times.append(took)
                marker = edited
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=20)
    median = statistics.median(times)
    print("controller edit served after: " + ", ".join(f"{took:.2f}" for took in times) + " s")
    print(f"median {median:.2f} s (budget {BUDGET:.1f} s, {os.cpu_count()} cores)")
    return 0 if median <= BUDGET else 1


if __name__ == "__main__":
    sys.exit(main())
