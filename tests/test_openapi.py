"""The API description (docs/api.md): the committed OpenAPI and AsyncAPI documents are the
ones the code gives, valid, with every JSON endpoint described; and the API a real
gunicorn serves keeps to its document under Schemathesis, anonymously and signed in.

The documents follow the project as it is: `python -m app feature remove NAME` writes
them again without the feature, and the roles below are the ones its endpoints offer
(a teacher and a student while the school demo is there).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from openapi_spec_validator import validate

from flask_keel.testing import scratch_copy, signed_up
from tests.conftest import REPO_ROOT

OPENAPI = REPO_ROOT / "docs" / "openapi.json"
ASYNCAPI = REPO_ROOT / "docs" / "asyncapi.json"
PARSER = REPO_ROOT / "scripts" / "asyncapi"
REGENERATE = "python -m app openapi -o docs/openapi.json --asyncapi docs/asyncapi.json"


def app_command(*args: str, cwd: Path = REPO_ROOT) -> subprocess.CompletedProcess:
    """`python -m app ...` on the project's own config (APP_CONFIG of the tests left out)."""
    env = {key: value for key, value in os.environ.items() if key != "APP_CONFIG"}
    return subprocess.run([sys.executable, "-m", "app", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120, env={**env, "APP_ROOT": str(cwd)})


def test_the_committed_documents_are_the_ones_the_code_gives(tmp_path):
    openapi, asyncapi = tmp_path / "openapi.json", tmp_path / "asyncapi.json"
    generated = app_command("openapi", "-o", str(openapi), "--asyncapi", str(asyncapi))
    assert generated.returncode == 0, generated.stderr
    assert openapi.read_text() == OPENAPI.read_text(), f"docs/openapi.json is out of date: run `{REGENERATE}`"
    assert asyncapi.read_text() == ASYNCAPI.read_text(), f"docs/asyncapi.json is out of date: run `{REGENERATE}`"


def test_every_json_endpoint_has_a_description():
    checked = app_command("openapi", "--check", "-o", os.devnull)
    assert checked.returncode == 0, checked.stderr


ROOMS = '''
import msgspec
from flask import Blueprint, jsonify

from flask_keel.auth import login_required
from flask_keel.payloads import json_body

api = Blueprint("rooms_api", __name__, url_prefix="/ws")


class RoomIn(msgspec.Struct):
    name: str


@api.post("/rooms")
@login_required
def add_room():
    """Add a room."""
    return jsonify(name=json_body(RoomIn).name), 201
'''


def test_removing_a_feature_writes_the_documents_again(tmp_path):
    root = scratch_copy(REPO_ROOT, tmp_path / "project")
    (root / "Controllers" / "rooms.py").write_text(ROOMS)
    ws = root / "Server" / "WS.py"
    text = re.sub(r"^(\s*from Controllers import .*)$", r"\1, rooms", ws.read_text(), count=1, flags=re.M)
    last = max(match.end() for match in re.finditer(r"^.*register_blueprint.*$", text, flags=re.M))
    ws.write_text(text[:last] + "\n        server.register_blueprint(rooms.api)" + text[last:])
    assert app_command("openapi", "-o", "docs/openapi.json", "--asyncapi", "docs/asyncapi.json",
                       cwd=root).returncode == 0
    assert "/ws/rooms" in json.loads((root / "docs" / "openapi.json").read_text())["paths"]

    removed = app_command("feature", "remove", "rooms", cwd=root)
    assert removed.returncode == 0, removed.stderr
    assert "regenerated: docs/openapi.json" in removed.stdout
    assert "/ws/rooms" not in json.loads((root / "docs" / "openapi.json").read_text())["paths"]
    again = app_command("openapi", "-o", str(tmp_path / "openapi.json"), cwd=root)
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "openapi.json").read_text() == (root / "docs" / "openapi.json").read_text()


def test_the_openapi_document_is_valid_and_describes_errors_and_security():
    document = json.loads(OPENAPI.read_text())
    validate(document)
    me = document["paths"]["/ws/me"]["get"]
    assert me["security"] == [{"session": []}]
    assert me["responses"]["401"] == {"$ref": "#/components/responses/Error401"}
    login = document["paths"]["/ws/login"]["post"]
    assert login["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/LoginIn"}
    assert {"400", "401", "413", "429", "503"} <= set(login["responses"])


def asyncapi_parser() -> list[str]:
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        pytest.fail("node and npm are required to validate the AsyncAPI document (Node 18 or later)", pytrace=False)
    if not (PARSER / "node_modules" / ".package-lock.json").exists():
        installed = subprocess.run([npm, "ci", "--silent", "--no-audit", "--no-fund"], cwd=PARSER,
                                   capture_output=True, text=True, timeout=300)
        assert installed.returncode == 0, installed.stderr
    return [node, str(PARSER / "validate.mjs")]


def test_the_asyncapi_document_is_valid_for_the_asyncapi_parser(tmp_path):
    parser = asyncapi_parser()
    checked = subprocess.run([*parser, str(ASYNCAPI)], capture_output=True, text=True, timeout=120)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    document = json.loads(ASYNCAPI.read_text())
    for event in ("rpc.ping", "rpc.echo", "job.progress", "job.done", "job.failed"):
        assert event in document["components"]["messages"], event
    # The parser does refuse a broken document (a dangling reference).
    broken = {**document, "operations": {"x": {"action": "send", "channel": {"$ref": "#/channels/none"}}}}
    (tmp_path / "broken.json").write_text(json.dumps(broken))
    refused = subprocess.run([*parser, str(tmp_path / "broken.json")], capture_output=True, text=True, timeout=120)
    assert refused.returncode == 1 and "invalid-ref" in refused.stdout


# -- Schemathesis against a real gunicorn ---------------------------------------------------

# Per role; each run is bounded in cases and time, the whole test well under 3 minutes.
MAX_EXAMPLES = 8
SECONDS_PER_ROLE = 20
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"
# Signed-in runs leave out what would end or replace their session (signing out, in, up,
# deleting the account); the anonymous run covers those.
SESSION_ENDING = r"^/ws/(login|logout|signup|account)"


def roles(document: dict) -> list[str]:
    found = ["anonymous", "user"]
    if "/ws/teachers" in document["paths"] and "/ws/students" in document["paths"]:
        found += ["teacher", "student"]
    return found


def session_of(url: str, role: str) -> requests.Session:
    if role == "anonymous":
        browser = requests.Session()
        browser.headers["X-CSRFToken"] = browser.get(url + "/ws/csrf", timeout=10).json()["csrf_token"]
        return browser
    browser = signed_up(url, f"{role}{time.monotonic_ns() % 10**9}")
    if role in ("teacher", "student"):
        profile = {"teacher": {"name": "Ada", "department": "Maths"},
                   "student": {"name": "Bob", "birth_date": "2008-04-01"}}[role]
        made = browser.post(f"{url}/ws/{role}s", json=profile, timeout=10)
        assert made.status_code == 201, made.text
    return browser


@pytest.mark.integration
@pytest.mark.parametrize("role", roles(json.loads(OPENAPI.read_text())))
def test_the_served_api_keeps_to_its_document(live_server, tmp_path, role):
    server = live_server(migrate=True, FLASK={"CONFIG": {"LOGIN_RATE_LIMIT": "1000 per minute"}})
    browser = session_of(server.url, role)
    if role == "teacher":  # something of its own to read, change and delete
        browser.post(server.url + "/ws/courses", json={"course_name": "Algebra", "course_code": "ALG1"}, timeout=10)
    cookie = "; ".join(f"{name}={value}" for name, value in browser.cookies.items())
    command = [sys.executable, "-m", "schemathesis.cli", "run", server.url + "/ws/openapi.json",
               "--url", server.url, "--checks", CHECKS, "--max-examples", str(MAX_EXAMPLES),
               "--max-time", str(SECONDS_PER_ROLE), "--seed", "27", "--workers", "1", "--no-shrink",
               "--phases", "examples,coverage,fuzzing", "--generation-with-security-parameters", "false",
               "--generation-database", "none", "--request-timeout", "10", "--no-color",
               "-H", f"X-CSRFToken: {browser.headers['X-CSRFToken']}",
               "--report", "junit", "--report-junit-path", str(tmp_path / "junit.xml")]
    if cookie:
        command += ["-H", f"Cookie: {cookie}"]
    if role != "anonymous":
        command += ["--exclude-path-regex", SESSION_ENDING]
    started = time.monotonic()
    run = subprocess.run(command, capture_output=True, text=True, timeout=SECONDS_PER_ROLE + 60, cwd=tmp_path)
    took = time.monotonic() - started
    assert run.returncode == 0, run.stdout[-8000:] + run.stderr[-2000:] + server.log()[-3000:]
    print(run.stdout[-1500:])  # the summary: operations, phases, cases generated (pytest -s shows it)
    if role != "anonymous":  # signed in, the operations that need a login were reached past their 401
        assert "Authentication failed" not in run.stdout, run.stdout[-8000:]
    # No view failed (a 500 is logged as "unhandled exception" before it is answered).
    assert "unhandled exception" not in server.log(), server.log()[-5000:]
    assert took < SECONDS_PER_ROLE + 30
