"""`make dev` (`python -m app dev`) in a copy of the project: an edit to a controller, a
model, a Server module or a template is served within 2 s, errors show the debugger,
start-up is quiet, and only 127.0.0.1 is listened on."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys

import pytest
import requests
import yaml

from flask_keel.testing import edit, free_port, scratch_copy, served_within, wait_until
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.integration

RELOAD_BUDGET = 2.0  # seconds from saving a file to the change being served


@pytest.fixture
def dev_server(tmp_path):
    root = scratch_copy(REPO_ROOT, tmp_path / "project")
    port = free_port()
    config = tmp_path / "dev.yml"
    config.write_text(yaml.safe_dump({
        "SERVER_ENV": {"INSTANCE_PATH": str(tmp_path / "instance"), "BIND": {"PORT": port}},
        "DATABASE": {"main": {"driver": "sqlite", "database": str(tmp_path / "dev.sqlite3")}},
        "SERVICES": {"filesystem": {"PATH": str(tmp_path / "sessions")}},
    }))
    log = tmp_path / "dev.log"
    process = subprocess.Popen([sys.executable, "-m", "app", "dev"], cwd=root, stdout=log.open("wb"),
                               stderr=subprocess.STDOUT, start_new_session=True,
                               env={**os.environ, "APP_CONFIG": str(config), "APP_ROOT": str(root)})
    url = f"http://127.0.0.1:{port}"
    assert served_within(url + "/healthz", lambda r: r.status_code == 200, 30) is not None, log.read_text()
    yield root, url, log
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(timeout=20)


def test_edits_are_served_within_two_seconds_without_a_restart_by_hand(dev_server):
    root, url, log = dev_server
    assert requests.get(url + "/ws/info", timeout=5).json()["name"] == "Flask"

    edit(root / "Controllers" / "core.py", 'return jsonify(name=current_app.config["APP_NAME"],',
         'return jsonify(edited=True, name=current_app.config["APP_NAME"],')
    took = served_within(url + "/ws/info", lambda r: r.ok and r.json().get("edited") is True, 10)
    print(f"served after {took}s")
    assert took is not None and took <= RELOAD_BUDGET, took

    edit(root / "template" / "home.html", "is running</h1>", "is running, edited</h1>")
    took = served_within(url + "/", lambda r: "is running, edited" in r.text, 10)
    print(f"served after {took}s")
    assert took is not None and took <= RELOAD_BUDGET, took

    edit(root / "Server" / "WS.py", "server.register_blueprint(core.api)", "server.register_blueprint(core.api)\n"
         "        server.add_url_rule('/ws/wired', 'wired', lambda: {'wired': True})")
    took = served_within(url + "/ws/wired", lambda r: r.ok and r.json() == {"wired": True}, 10)
    print(f"served after {took}s")
    assert took is not None and took <= RELOAD_BUDGET, took

    edit(root / "Models" / "Persistent" / "accounts.py", '__tablename__ = "users"',
         '__tablename__ = "users"\n    EDITED = "a model change"')
    edit(root / "Controllers" / "core.py", "return jsonify(edited=True,",
         "from Models.Persistent.accounts import User\n    return jsonify(edited=User.EDITED,")
    took = served_within(url + "/ws/info", lambda r: r.ok and r.json().get("edited") == "a model change", 10)
    print(f"served after {took}s")
    assert took is not None and took <= RELOAD_BUDGET, took

    # An error shows the debugger's traceback page, not the production error page.
    edit(root / "Controllers" / "core.py", "return jsonify(edited=User.EDITED,", "raise ValueError('boom')\n"
         "    return jsonify(edited=User.EDITED,")
    took = served_within(url + "/ws/info", lambda r: r.status_code == 500 and "Traceback" in r.text, 10)
    assert took is not None, log.read_text()[-2000:]
    assert "ValueError: boom" in requests.get(url + "/ws/info", timeout=5).text


def test_start_up_is_quiet_and_only_loopback_is_listened_on(dev_server):
    root, url, log = dev_server
    text = log.read_text()
    assert "schema: applied" in text and "alembic" not in text and "Running upgrade" not in text
    assert "debugger on" in text
    port = int(url.rsplit(":", 1)[1])
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.2", port), timeout=2).close()  # another local address: nobody there
    assert wait_until(lambda: requests.get(url + "/healthz", timeout=2).ok)
    # Jobs run here as under `make run`: a consumer beside the server (JOBS.CONSUMER auto, SQLite storage).
    assert wait_until(lambda: "jobs: consumer" in log.read_text() and "runs in this process" in log.read_text(),
                      timeout=10), log.read_text()[-2000:]
