"""flask_keel.testing's fixtures, a pytest plugin: a project's tests/conftest.py names it
(`pytest_plugins = ["flask_keel.testing.plugin"]`).

- `project_root`: the project under test, pytest's rootdir unless a conftest overrides it;
- `shipped_project` / `shipped_project_module`: that project's Server, Controllers and
  Models, freshly imported (and forgotten after), for in-process `create_app`;
- `mariadb`, `redis_server`, `memcached_server`: the services' (host, port), required;
  `mariadb_databases`: throw-away databases on that MariaDB, dropped at the end;
- `live_server`: real `python -m app serve` processes, stopped after the test;
- `mail_catcher`: a real SMTP server (aiosmtpd) in the test process, keeping what it receives;
- `browser`, `new_page`: Playwright driving the system's Chromium ($CHROMIUM, else
  /usr/bin/chromium; nothing is downloaded). A failing test's pages are saved as
  screenshots under instance/screenshots/ of the project.

At its end, the session fails if a process it started is still running (leftovers.py).
"""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path

import pytest

from flask_keel.testing.leftovers import leftovers, mark_session
from flask_keel.testing.live import LiveServer, start_live_server
from flask_keel.testing.mail import MailCatcher
from flask_keel.testing.projects import forget_user_packages, use_project
from flask_keel.testing.services import MARIADB, MEMCACHED, REDIS, require

SESSION_TOKEN = pytest.StashKey[str]()
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


@pytest.fixture(scope="session")
def project_root(pytestconfig) -> Path:
    """The project the tests run: its `app` package serves, its packages are imported."""
    return Path(pytestconfig.rootpath)


@pytest.fixture
def shipped_project(monkeypatch, project_root):
    """The project's own Server/Controllers/Models, freshly imported."""
    use_project(monkeypatch, project_root, home=project_root)
    yield project_root
    forget_user_packages()


@pytest.fixture(scope="module")
def shipped_project_module(project_root):
    """shipped_project for module-scoped fixtures."""
    with pytest.MonkeyPatch.context() as patch:
        use_project(patch, project_root, home=project_root)
        yield project_root
    forget_user_packages()


@pytest.fixture(scope="session")
def mariadb():
    return require("MariaDB", MARIADB)


@pytest.fixture(scope="session")
def redis_server():
    return require("Redis", REDIS)


@pytest.fixture(scope="session")
def memcached_server():
    return require("memcached", MEMCACHED)


@pytest.fixture
def mail_catcher():
    """A real SMTP server (aiosmtpd) in this process; `mail_catcher.settings()` is the
    SERVICES.mail of an app that sends to it."""
    catcher = MailCatcher().start()
    yield catcher
    catcher.stop()


@pytest.fixture(scope="session")
def mariadb_databases(mariadb):
    """Make throw-away databases on the real MariaDB; all are dropped at the end."""
    import pymysql

    created: list[str] = []

    def connect():
        return pymysql.connect(host=mariadb[0], port=mariadb[1], user="root", password="", autocommit=True)

    def make(prefix: str = "tmpl") -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        with connect() as connection, connection.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        created.append(name)
        return name

    yield make
    with connect() as connection, connection.cursor() as cursor:
        for name in created:
            cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")


@pytest.fixture
def live_server(tmp_path, project_root):
    """Start servers from a config (sections laid over an isolated base); stop them after."""
    started: list[LiveServer] = []

    def start(env: dict[str, str] | None = None, migrate: bool = False, port: int | None = None,
              project: Path | None = None, **sections) -> LiveServer:
        """See flask_keel.testing.live.start_live_server."""
        server = start_live_server(tmp_path, str(len(started)), env, migrate, port, project, root=project_root,
                                   **sections)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium is required at {CHROMIUM} (apt-get install chromium)", pytrace=False)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def new_page(browser, request, project_root):
    """Open pages in fresh contexts (separate cookies: separate people)."""
    contexts = []

    def open_page(viewport=None):
        context = browser.new_context(viewport=viewport or {"width": 1280, "height": 900})
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    yield open_page
    failed = getattr(request.node, "report_call", None) is not None and request.node.report_call.failed
    if failed:
        screenshots = project_root / "instance" / "screenshots"
        screenshots.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9_.-]", "_", request.node.name)
        for index, context in enumerate(contexts):
            for number, page in enumerate(context.pages):
                page.screenshot(path=str(screenshots / f"{name}-{index}-{number}.png"), full_page=True)
    for context in contexts:
        context.close()


def pytest_configure(config):
    config.stash[SESSION_TOKEN] = mark_session()


@pytest.hookimpl(trylast=True)  # after the session's fixtures are torn down
def pytest_sessionfinish(session):
    """No process the session started outlives it: a leftover is named, ended, and fails the run."""
    token = session.config.stash.get(SESSION_TOKEN, None)
    left = leftovers(token) if token else {}
    if not left:
        return
    lines = [f"pid {pid}: {command}" for pid, command in sorted(left.items())]
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_sep("=", "processes started by the tests and left running (now ended)", red=True)
        for line in lines:
            reporter.write_line(line)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED
