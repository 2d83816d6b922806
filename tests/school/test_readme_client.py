"""The documented Python client example (docs/realtime.md, "Python client"), run as
written against the school demo."""

from __future__ import annotations

import contextlib
import io

import pytest

from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.integration


def test_the_readme_client_example_runs_as_written(live_server):
    server = live_server(migrate=True)
    [page] = [path for path in (REPO_ROOT / "README.md", REPO_ROOT / "docs" / "realtime.md")
              if "### Python client" in path.read_text()]
    example = page.read_text().split("### Python client", 1)[1].split("```python", 1)[1].split("```", 1)[0]
    assert 'Client("http://127.0.0.1:4200")' in example
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        exec(compile(example.replace("http://127.0.0.1:4200", server.url), page.name, "exec"), {})  # noqa: S102
    assert "'teaching': [{" in output.getvalue() and "'course_code': 'ALG'" in output.getvalue()


