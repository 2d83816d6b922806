"""The project's tests: the demo's (tests/school, removed with it), signup and login as
the project's Controllers/accounts do them, the app's own pages in a browser, the
deployment files, and the README's walk-through.

flask_keel.testing's plugin gives the services (MariaDB, Redis, memcached: what `make
test` provisions), real servers of this project (`live_server`), its packages freshly
imported (`shipped_project`) and the browser. The framework's own tests are not here:
they live and run with the framework (packages/flask-keel/tests, `make test-framework`).

Every folder under tests/ is collected, with nothing to register, except tests/compose
and tests/removal, which run when named (`make test-compose`, `make test-removal`).
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["flask_keel.testing.plugin"]

REPO_ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
# Run only when named on the command line: they build images or copy the project and run its suite.
ON_REQUEST = (HERE / "compose", HERE / "removal")


@pytest.fixture(scope="session")
def project_root() -> Path:
    return REPO_ROOT


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    if collection_path not in ON_REQUEST:
        return None
    invoked = config.invocation_params.dir
    for arg in config.invocation_params.args:
        named = Path(invoked, str(arg).split("::", 1)[0]).resolve()
        if named == collection_path or collection_path in named.parents:
            return None
    return True
