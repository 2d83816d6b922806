"""Test support for a project built on flask-keel (and for flask-keel's own tests).

The fixtures are a pytest plugin; a project's tests/conftest.py names it:

    pytest_plugins = ["flask_keel.testing.plugin"]

and gets `live_server` (a real `python -m app serve` on a free port), `mariadb`,
`redis_server`, `memcached_server` and `mariadb_databases` (the services on
127.0.0.1, ports from TEST_MYSQL_PORT, TEST_REDIS_PORT, TEST_MEMCACHED_PORT; a
service that does not answer fails the test, it never skips), `shipped_project`
(the project's own Server/Controllers/Models, freshly imported), and `browser` and
`new_page` (Playwright driving the system's Chromium, $CHROMIUM). The project is
the folder of pytest's rootdir unless a conftest overrides the `project_root`
fixture. The helpers below need no plugin.
"""

from __future__ import annotations

from flask_keel.testing.helpers import csrf_headers, free_port, merge, wait_until
from flask_keel.testing.live import LiveServer, migrate_database, signed_up, start_live_server, wait_until_serving
from flask_keel.testing.mail import MailCatcher, links_in, text_of
from flask_keel.testing.projects import (
    ApiClient,
    edit,
    forget_user_packages,
    project_config,
    run_db,
    scratch_copy,
    served_within,
    use_project,
)
from flask_keel.testing.services import (
    MARIADB,
    MEMCACHED,
    REDIS,
    REDIS_DB,
    mariadb_entry,
    redis_client,
    redis_entry,
    require,
)

__all__ = [
    "MARIADB", "MEMCACHED", "REDIS", "REDIS_DB", "ApiClient", "LiveServer", "MailCatcher", "csrf_headers", "edit",
    "forget_user_packages", "free_port", "links_in", "mariadb_entry", "merge", "migrate_database",
    "project_config", "redis_client", "redis_entry", "require", "run_db", "scratch_copy", "served_within", "signed_up",
    "start_live_server", "text_of", "use_project", "wait_until", "wait_until_serving",
]
