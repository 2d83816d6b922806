"""The server runs without the Python client's dependencies (requests, websocket-client):
they are the `client` extra, which the production image does not install.

A fresh interpreter, in which both are made uninstalled as in the image, builds the app
and serves pages; neither is loaded, and nothing of flask-keel tries to import them.
The one module that looks is python-engineio's client (through `import socketio`), and
it carries on without them. Statically: no server-side module of flask_keel imports them.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import flask_keel

CLIENT_DEPENDENCIES = {"requests", "websocket"}
# Modules that use them, and are not loaded by the server.
CLIENT_SIDE = ("client", "testing")
# Third-party modules that import them if they are there and carry on if not.
OPTIONAL_IMPORTERS = {"engineio.client"}

WITHOUT_CLIENT_DEPENDENCIES = """
import importlib.abc, json, sys

BLOCKED = {blocked!r}
attempts = []


class Uninstalled(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] not in BLOCKED:
            return None
        frame = sys._getframe(1)
        while frame is not None and "importlib" in frame.f_globals.get("__name__", "importlib"):
            frame = frame.f_back
        attempts.append([name, frame.f_globals.get("__name__") if frame else None])
        raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)


sys.meta_path.insert(0, Uninstalled())
import flask_keel.gunicorn_worker
from flask_keel import create_app

client = create_app().test_client()
statuses = [client.get(path).status_code for path in ("/", "/ws/info", "/healthz")]
print(json.dumps({{"statuses": statuses, "attempts": attempts,
                  "loaded": sorted(m for m in sys.modules if m.partition(".")[0] in BLOCKED)}}))
"""


@pytest.fixture
def config(shipped_project, isolated_config):
    return isolated_config()


def test_the_app_builds_and_serves_without_the_client_dependencies(config):
    code = WITHOUT_CLIENT_DEPENDENCIES.format(blocked=CLIENT_DEPENDENCIES)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["statuses"] == [200, 200, 200]
    assert result["loaded"] == []
    importers = {importer for _, importer in result["attempts"]}
    assert importers <= OPTIONAL_IMPORTERS, result["attempts"]


def test_no_server_side_module_imports_them():
    package = Path(flask_keel.__file__).parent
    found = []
    for path in package.rglob("*.py"):
        if path.relative_to(package).parts[0] in CLIENT_SIDE:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
            found += [f"{path.relative_to(package)}: {name}" for name in names
                      if name.partition(".")[0] in CLIENT_DEPENDENCIES]
    assert found == []
