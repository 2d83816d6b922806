"""The documents flask_keel.openapi builds for the fixture project pass the reference
validators: openapi-spec-validator for OpenAPI 3.1, `@asyncapi/parser` (npm, pinned in
the repository's scripts/asyncapi, installed by `npm ci` on first use) for AsyncAPI 3.0;
and a real gunicorn serves the same OpenAPI document the builder gives in-process."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
from openapi_spec_validator import validate

from flask_keel import create_app
from flask_keel.openapi import asyncapi_document, openapi_document
from flask_keel.testing import project_config
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.integration

PARSER = REPO_ROOT / "scripts" / "asyncapi"


def asyncapi_parser() -> list[str]:
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        pytest.fail("node and npm are required to validate AsyncAPI documents (Node 18 or later)", pytrace=False)
    if not (PARSER / "node_modules" / ".package-lock.json").exists():
        installed = subprocess.run([npm, "ci", "--silent", "--no-audit", "--no-fund"], cwd=PARSER,
                                   capture_output=True, text=True, timeout=300)
        assert installed.returncode == 0, installed.stderr
    return [node, str(PARSER / "validate.mjs")]


@pytest.fixture
def app(fixture_project, isolated_config):
    isolated_config()
    return create_app()


def test_the_fixture_projects_documents_are_valid(app, tmp_path):
    validate(openapi_document(app))
    document = asyncapi_document(app)
    path = tmp_path / "asyncapi.json"
    path.write_text(json.dumps(document))
    checked = subprocess.run([*asyncapi_parser(), str(path)], capture_output=True, text=True, timeout=120)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"valid: {len(document['operations'])} operations" in checked.stdout


def test_gunicorn_serves_the_document_the_builder_gives(live_server, shipped_project, tmp_path):
    server = live_server()
    served = server.get("/ws/openapi.json")
    assert served.status_code == 200 and served.headers["Content-Type"] == "application/json"
    built = openapi_document(create_app(project_config(tmp_path)))
    assert served.json()["paths"].keys() == built["paths"].keys()
    assert served.json()["components"]["schemas"] == built["components"]["schemas"]
