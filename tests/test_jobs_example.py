"""docs/jobs.md's "Where a job's output goes", replayed in a copy of the project with the school
demo removed: the model and the controller as printed, registered in Server/Web.py, migrated,
then on a real gunicorn (the embedded defaults: SQLite, the consumer in the worker) a user asks
for the export, hears `job.done` and downloads the CSV; another user cannot."""

from __future__ import annotations

import re

import pytest
import yaml

from flask_keel.client import Client
from flask_keel.testing import scratch_copy, wait_until
from tests.conftest import REPO_ROOT
from tests.test_add_a_feature import flask_db, remove_the_demo

pytestmark = pytest.mark.integration


def example_blocks(root) -> dict[str, str]:
    section = (root / "docs" / "jobs.md").read_text().split("## Where a job's output goes", 1)[1].split("\n## ", 1)[0]
    blocks = {}
    for body in re.findall(r"```python\n(.*?)```", section, re.S):
        blocks[re.match(r"# ([\w/.]+)", body).group(1)] = body
    return blocks


def test_the_jobs_output_example_works_without_the_demo(tmp_path, live_server):
    root = scratch_copy(REPO_ROOT, tmp_path / "project")
    if (root / "Controllers" / "school").exists():
        remove_the_demo(root)
    blocks = example_blocks(root)
    assert set(blocks) == {"Models/Persistent/exports.py", "Controllers/exports.py"}, set(blocks)
    for name, body in blocks.items():
        (root / name).write_text(body)
    web = root / "Server" / "Web.py"
    text = web.read_text()
    text = re.sub(r"^(\s*from Controllers import .*)$", r"\1, exports", text, count=1, flags=re.M)
    last = max(match.end() for match in re.finditer(r"^.*register_blueprint.*$", text, flags=re.M))
    web.write_text(text[:last] + "\n        server.register_blueprint(exports.pages)" + text[last:])

    config = tmp_path / "migrate.yml"
    database = {"main": {"driver": "sqlite", "database": str(tmp_path / "exports.sqlite3")}}
    config.write_text(yaml.safe_dump({"SERVER_ENV": {"INSTANCE_PATH": str(tmp_path / "instance")},
                                      "DATABASE": database}))
    flask_db(root, config, "upgrade")
    flask_db(root, config, "migrate", "-m", "add exports")
    assert list((root / "migrations" / "versions").glob("*_add_exports.py"))

    server = live_server(project=root, migrate=True, DATABASE=database)
    ada = Client(server.url)
    ada.signup("ada", "a long password", "ada@x.io")
    done = []
    ada.on("job.done", done.append)
    started = ada.http.post(server.url + "/exports", headers={"X-CSRFToken": ada._csrf_token}, timeout=10)
    assert started.status_code == 202, started.text
    assert wait_until(lambda: done, timeout=30), "no job.done push"
    export_id = done[0]["result"]["export_id"]
    csv = ada.http.get(f"{server.url}/exports/{export_id}", timeout=10)
    assert csv.status_code == 200 and csv.headers["Content-Type"].startswith("text/csv")
    assert csv.text.splitlines() == ["username,email", "ada,ada@x.io"]

    bob = Client(server.url, realtime=False)
    bob.signup("bob", "a long password", "bob@x.io")
    assert bob.http.get(f"{server.url}/exports/{export_id}", timeout=10).status_code == 404  # not his
    ada.close()
