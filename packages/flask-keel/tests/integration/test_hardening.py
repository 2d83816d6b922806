"""Headers, proxies, hosts, CORS and hostile input: what a stranger can and cannot do."""

from __future__ import annotations

import http.client
import re
import socket
import time
from pathlib import Path

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flask_keel import create_app
from flask_keel.rpc import router
from flask_keel.testing import ApiClient, project_config, run_db
from tests.conftest import REPO_ROOT

pytestmark = [pytest.mark.integration, pytest.mark.fixture_project]


def make_app(tmp_path, **sections):
    tmp_path.mkdir(parents=True, exist_ok=True)
    app = create_app(project_config(tmp_path, "sqlite", **sections))
    assert run_db(app, "upgrade").exit_code == 0
    return app


@pytest.fixture
def app(tmp_path, fixture_project):
    return make_app(tmp_path)


def test_security_headers_on_pages_and_json(app):
    client = app.test_client()
    for path in ("/notes", "/ws/info", "/no/such/page"):
        headers = client.get(path).headers
        csp = headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
        assert "Strict-Transport-Security" not in headers  # plain http


def test_hsts_over_https_and_a_header_the_view_sets_is_kept(tmp_path, fixture_project):
    app = make_app(tmp_path)

    @app.get("/framed-by-us")
    def framed():
        return "ok", 200, {"X-Frame-Options": "SAMEORIGIN"}

    response = app.test_client().get("/framed-by-us", base_url="https://localhost")
    assert response.headers.getlist("X-Frame-Options") == ["SAMEORIGIN"]
    assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    assert response.headers["Content-Security-Policy"]


def test_shipped_templates_have_no_inline_script():
    for template in (REPO_ROOT / "template").rglob("*.html"):
        html = template.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), template.name
        assert not re.search(r"\son[a-z]+\s*=", html), template.name


def test_forwarded_headers_are_believed_only_from_trusted_proxies(tmp_path, fixture_project):
    forwarded = {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"}
    for proxies, expected_addr, hsts in [(0, "127.0.0.1", False), (1, "203.0.113.7", True)]:
        app = make_app(tmp_path / str(proxies), SERVER_ENV={"TRUSTED_PROXIES": proxies})

        @app.get("/whoami-addr")
        def addr():
            from flask import request
            return {"addr": request.remote_addr, "secure": request.is_secure}

        response = app.test_client().get("/whoami-addr", headers=forwarded)
        assert response.json == {"addr": expected_addr, "secure": proxies == 1}
        assert ("Strict-Transport-Security" in response.headers) is hsts


def test_untrusted_host_is_refused(tmp_path, fixture_project):
    app = make_app(tmp_path, FLASK={"CONFIG": {"TRUSTED_HOSTS": ["school.example"]}})
    client = app.test_client()
    assert client.get("/healthz", headers={"Host": "school.example"}).status_code == 200
    refused = client.get("/healthz", headers={"Host": "evil.example"})
    assert refused.status_code == 400 and "Traceback" not in refused.get_data(as_text=True)


def test_cors_is_closed(app):
    client = app.test_client()
    preflight = client.options("/ws/ping", headers={"Origin": "https://evil.example",
                                                    "Access-Control-Request-Method": "POST"})
    assert "Access-Control-Allow-Origin" not in preflight.headers
    assert "Access-Control-Allow-Origin" not in client.get("/ws/info", headers={"Origin": "https://evil.example"}).headers
    handshake = client.get("/socket.io/", query_string={"EIO": "4", "transport": "websocket"},
                           headers={"Origin": "https://evil.example"})
    assert handshake.status_code == 400 and "Not an accepted origin" in handshake.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/static/../config/config.yml", "/static/%2e%2e/config/config.yml",
                                  "/static/..%2fconfig%2fconfig.yml", "/static//etc/passwd",
                                  "/static/css/../../app/factory.py"])
def test_no_path_traversal_out_of_static(app, path):
    response = app.test_client().get(path, follow_redirects=True)
    assert response.status_code == 404
    assert "SERVER_ENV" not in response.get_data(as_text=True)


def test_invalid_utf8_and_deep_nesting_are_400(app):
    api = ApiClient(app.test_client())
    api.signup("hostile")
    for path in ("/ws/notes", "/ws/ping"):  # a JSON endpoint and a named request: one error code
        invalid = api.post(path, data=b'{"title": "\xff\xfe"}', content_type="application/json")
        assert invalid.status_code == 400 and invalid.json["error"] == "invalid_payload", path
    deep = b"[" * 100_000 + b"]" * 100_000
    for path in ("/ws/notes", "/ws/ping"):
        response = api.post(path, data=deep, content_type="application/json")
        assert response.status_code in (400, 413), path


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=20)

# Endpoints a signed-in JSON client can POST to, and every named request.
POST_PATHS = ["/ws/notes", "/ws/login", "/ws/signup"]


@pytest.fixture
def hostile_client(app):
    api = ApiClient(app.test_client())
    api.signup("fuzzer")
    return api


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payload=json_values, target=st.integers(min_value=0, max_value=100))
def test_any_json_to_any_endpoint_never_gives_500(app, hostile_client, payload, target):
    names = sorted(router(app).views)
    paths = POST_PATHS + [f"/ws/{name}" for name in names] + ["/ws/notes/1"]
    path = paths[target % len(paths)]
    method = "PATCH" if path == "/ws/notes/1" else "POST"
    response = hostile_client.open(method, path, json=payload)
    body = response.get_data(as_text=True)
    assert response.status_code < 500, (path, payload, body)
    assert "Traceback" not in body


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cookie=st.text(max_size=80), name=st.sampled_from(["session", "Session", "session "]))
def test_forged_or_garbage_session_cookies_never_give_500(app, cookie, name):
    client = app.test_client()
    try:
        client.set_cookie(name, cookie)
    except ValueError:
        return  # not a value any client could send
    for path in ("/notes", "/ws/me", "/ws/notes"):
        assert client.get(path).status_code in (200, 302, 401)


@settings(max_examples=80, deadline=None)
@given(value=st.text(max_size=30), env_value=st.text(max_size=30).filter(lambda v: "\x00" not in v))
def test_config_parser_gives_settings_or_a_config_error(tmp_path_factory, value, env_value):
    from flask_keel.config import ConfigError, load_settings

    path = Path(tmp_path_factory.mktemp("cfg")) / "config.yml"
    import yaml
    path.write_text(yaml.safe_dump({"SERVER_ENV": {"APP_NAME": value, "BIND": {"PORT": "${P}"}},
                                    "FLASK": {"CONFIG": {"X": "${P}", "Y": value}}}))
    try:
        settings_ = load_settings(path, environ={"P": env_value})
    except ConfigError as exc:
        assert exc.problems and all(line.startswith(str(path)) for line in exc.problems)
    else:
        assert 1 <= settings_.server.BIND.PORT <= 65535


def test_a_session_never_loads_another_account_that_reused_its_id(app):
    from sqlalchemy import delete

    from flask_keel.db import db
    from Models.Persistent.members import Member

    old = ApiClient(app.test_client())
    old_id = old.signup("first_owner")
    with app.app_context():
        db.session.execute(delete(Member).where(Member.id == old_id))
        db.session.commit()
    new_id = ApiClient(app.test_client()).signup("second_owner")
    assert new_id == old_id  # SQLite reuses the highest id
    response = old.get("/ws/me")
    assert response.status_code == 401 and "second_owner" not in response.get_data(as_text=True)


def test_forwarded_host_is_never_believed(tmp_path, fixture_project):
    app = make_app(tmp_path, SERVER_ENV={"TRUSTED_PROXIES": 1})

    @app.get("/host")
    def host():
        from flask import request
        return {"host": request.host}

    response = app.test_client().get("/host", headers={"Host": "school.example",
                                                       "X-Forwarded-Host": "evil.example"})
    assert response.json == {"host": "school.example"}


def test_a_schema_error_is_a_500_not_an_outage(app):
    from sqlalchemy import text

    api = ApiClient(app.test_client())
    api.signup("schema")
    with app.app_context():
        from flask_keel.db import db
        db.engine.dispose()
        with db.engine.begin() as connection:
            connection.execute(text("DROP TABLE notes"))
    response = api.get("/ws/notes")
    assert response.status_code == 500 and response.json["error"] == "internal_server_error"


def test_login_works_in_an_app_created_before_another(tmp_path, fixture_project, isolated_config):
    first = make_app(tmp_path / "first")
    api = ApiClient(first.test_client())
    api.signup("early")
    isolated_config()  # a second app, without user models
    create_app()
    assert api.get("/ws/me").json["username"] == "early"


# --- proxies are believed only from their own addresses (issue 28) ----------------------------

PROXY = "127.0.0.2"  # the proxy's address in these tests; clients connect from 127.0.0.1


def fetch(port: int, path: str, headers: dict[str, str], source: str = "127.0.0.1") -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=(source, 0))
    connection.request("GET", path, headers=headers)
    response = connection.getresponse()
    response.read()
    connection.close()
    return response


def test_a_client_reaching_the_app_directly_cannot_spoof_x_forwarded_for(live_server):
    """TRUSTED_PROXIES=1 with the proxy at 127.0.0.2: a client at 127.0.0.1 that names a new
    address in each X-Forwarded-For is still throttled as itself (before: 6 of 6 logins tried)."""
    server = live_server(migrate=True, SERVER_ENV={"TRUSTED_PROXIES": 1, "TRUSTED_PROXY_NETWORKS": PROXY},
                         FLASK={"CONFIG": {"LOGIN_RATE_LIMIT": "3 per minute"}})
    session = requests.Session()
    token = session.get(server.url + "/ws/csrf", timeout=10).json()["csrf_token"]
    codes = [session.post(server.url + "/ws/login", json={"username": "who", "password": "guess"}, timeout=10,
                          headers={"X-CSRFToken": token, "X-Forwarded-For": f"198.51.100.{attempt}"}).status_code
             for attempt in range(6)]
    assert codes == [401, 401, 401, 429, 429, 429]

    forwarded = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}
    direct = fetch(server.port, "/healthz", {**forwarded, "X-Request-ID": "direct1"})
    proxied = fetch(server.port, "/healthz", {**forwarded, "X-Request-ID": "proxied1"}, source=PROXY)
    assert direct.getheader("Strict-Transport-Security") is None
    assert proxied.getheader("Strict-Transport-Security", "").startswith("max-age=")
    deadline = time.monotonic() + 5  # the access log is written as the response goes out
    while "[proxied1]" not in server.log() and time.monotonic() < deadline:
        time.sleep(0.05)
    log = server.log().splitlines()
    direct_line = next(line for line in log if "[direct1]" in line)
    proxied_line = next(line for line in log if "[proxied1]" in line)
    assert "127.0.0.1" in direct_line and "203.0.113.9" not in direct_line
    assert "203.0.113.9" in proxied_line


def _held_open(port: int, source: str, count: int) -> tuple[int, list[socket.socket]]:
    """Open `count` connections that send half a request; how many the server refused with 429."""
    sockets, refused = [], 0
    for _ in range(count):
        client = socket.create_connection(("127.0.0.1", port), timeout=5, source_address=(source, 0))
        client.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # no blank line: the request stays open
        sockets.append(client)
    time.sleep(0.5)
    for client in sockets:
        client.settimeout(0.2)
        try:
            refused += client.recv(64).startswith(b"HTTP/1.1 429")
        except (TimeoutError, OSError):
            pass
    return refused, sockets


def test_behind_a_proxy_other_peers_keep_their_connection_bound(live_server):
    """CLIENT_CONNECTIONS=5: the proxy's address is not bounded (it carries many clients), any
    other peer is (before: with TRUSTED_PROXIES=1 no connection was ever refused)."""
    server = live_server(SERVER_ENV={"TRUSTED_PROXIES": 1, "TRUSTED_PROXY_NETWORKS": PROXY, "CLIENT_CONNECTIONS": 5})
    refused_direct, direct = _held_open(server.port, "127.0.0.1", 12)
    refused_proxy, proxied = _held_open(server.port, PROXY, 12)
    try:
        assert refused_direct >= 6, refused_direct
        assert refused_proxy == 0
    finally:
        for client in direct + proxied:
            client.close()


def test_redirects_never_point_at_the_requests_host(live_server):
    """TRUSTED_HOSTS unset: werkzeug's own redirects (`//` merged) used the Host header."""
    server = live_server()
    for path, expected in [("/ws//info", "/ws/info"), ("/static//css/app.css", "/static/css/app.css")]:
        response = fetch(server.port, path, {"Host": "evil.example"})
        assert response.status in (301, 308), (path, response.status)
        assert response.getheader("Location") == expected


def test_same_site_location_keeps_other_hosts_and_never_makes_a_protocol_relative_path():
    from flask_keel.security import same_site_location

    assert same_site_location("http://school.example/a?b=1", "school.example") == "/a?b=1"
    assert same_site_location("https://SCHOOL.example//evil.example/x", "school.example") == "/evil.example/x"
    assert same_site_location("https://accounts.example/auth", "school.example") == "https://accounts.example/auth"
    assert same_site_location("/already/relative", "school.example") == "/already/relative"


def test_proxy_entries_are_addresses_networks_or_host_names(write_config):
    from flask_keel.config import ConfigError, load_settings
    from flask_keel.security import TrustedPeers

    peers = TrustedPeers(["localhost", "10.0.0.0/8"])  # a compose service name resolves the same way
    assert "127.0.0.1" in peers and "10.1.2.3" in peers and "::ffff:10.0.0.1" in peers
    assert "192.168.1.1" not in peers and "not-an-address" not in peers
    source = write_config("SERVER_ENV: {TRUSTED_PROXIES: 1, TRUSTED_PROXY_NETWORKS: '10.0.0.0/8, bad/net'}\n")
    with pytest.raises(ConfigError) as refused:
        load_settings(source, environ={})
    assert refused.value.problems == [f"{source}: SERVER_ENV.TRUSTED_PROXY_NETWORKS: 'bad/net' is not an address, "
                                      "a network (10.0.0.0/8) or a host name"]
