"""The README's Python client example, run as written against the school demo."""

from __future__ import annotations

import contextlib
import io

import pytest

from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.integration


def test_the_readme_client_example_runs_as_written(live_server):
    server = live_server(migrate=True)
    readme = (REPO_ROOT / "README.md").read_text()
    example = readme.split("### Python client", 1)[1].split("```python", 1)[1].split("```", 1)[0]
    assert 'Client("http://127.0.0.1:4200")' in example
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        exec(compile(example.replace("http://127.0.0.1:4200", server.url), "README.md", "exec"), {})  # noqa: S102
    assert "'teaching': [{" in output.getvalue() and "'course_code': 'ALG'" in output.getvalue()


