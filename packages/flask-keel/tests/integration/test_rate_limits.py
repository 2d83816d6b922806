"""The login and signup limits (flask_keel.auth.limits) while their counter store is down."""

from __future__ import annotations

import logging
import time

import pytest

from flask_keel import create_app
from flask_keel.auth import limits
from flask_keel.testing import ApiClient, project_config, run_db

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("kind", ["redis", "memcached"])
def test_limits_carry_on_in_memory_while_their_store_is_down(tmp_path, fixture_project, private_server, kind,
                                                            caplog, monkeypatch):
    monkeypatch.setattr(limits, "RETRY_STORE_SECONDS", 0.5)
    store = private_server(kind)
    app = create_app(project_config(tmp_path, "sqlite", SERVICES={kind: store.service(timeout=0.5)},
                                    FLASK={"CONFIG": {"LOGIN_RATE_LIMIT": "3 per minute"}}))
    assert run_db(app, "upgrade").exit_code == 0
    api = ApiClient(app.test_client())

    def attempts(count: int) -> list[int]:
        return [api.post("/ws/login", json={"username": "who", "password": "guess"}).status_code
                for _ in range(count)]

    caplog.set_level(logging.INFO, logger=limits.__name__)
    assert attempts(1) == [401]  # counted in the store
    store.kill()
    started = time.monotonic()
    # Counted in this process's memory from the first failure on: neither locked out nor unlimited.
    refused = api.post("/ws/login", json={"username": "who", "password": "guess"})
    assert [refused.status_code, *attempts(3)] == [401, 401, 401, 429]
    blocked = api.post("/ws/login", json={"username": "who", "password": "guess"})
    assert blocked.status_code == 429 and blocked.headers["Retry-After"]
    assert blocked.json["error"] == "too_many_requests" and "Too many login attempts" in blocked.json["message"]
    assert time.monotonic() - started < 3  # no attempt waited for the dead store more than once
    assert caplog.text.count(f"rate-limit store ({kind}) is unavailable") == 1

    store.start()
    time.sleep(0.6)
    # The store is tried again: it answers, and its own count (1 attempt, or none after a
    # memcached restart) decides again.
    assert attempts(1) == [401]
    assert f"rate-limit store ({kind}) is reachable again" in caplog.text
