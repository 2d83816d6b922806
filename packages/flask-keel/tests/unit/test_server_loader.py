"""Loading the user's Server modules: present, missing, raising."""

from __future__ import annotations

import logging
import textwrap
import traceback

import pytest

from flask_keel import create_app
from flask_keel.server_modules import ServerModuleError

WEB = """
    class Route(object):
        def __init__(self, server):
            server.add_url_rule("/hello", "hello", lambda: "hello from Web")
"""


def test_the_shipped_project_loads_every_module(shipped_project, isolated_config):
    isolated_config()
    app = create_app()
    rules = {rule.rule: rule.endpoint for rule in app.url_map.iter_rules()}
    assert rules["/"] == "core.home" and rules["/ws/info"] == "core_api.info"
    assert 404 in app.error_handler_spec[None] and 500 in app.error_handler_spec[None]
    from flask_keel.realtime import socketio_of
    assert {"connect", "disconnect", "rpc"} <= set(socketio_of(app).server.handlers["/"])


def test_missing_server_package_still_serves_health(user_project, isolated_config, caplog):
    isolated_config()
    with caplog.at_level(logging.DEBUG, logger="flask_keel.server_modules"):
        app = create_app()
    assert "no Server package found" in caplog.text
    client = app.test_client()
    assert client.get("/healthz").status_code == 200
    assert client.get("/").status_code == 404


def test_each_missing_module_is_skipped_with_a_debug_line(user_project, isolated_config, caplog):
    user_project("Server/__init__.py", "")
    user_project("Server/Web.py", WEB)
    isolated_config()
    with caplog.at_level(logging.DEBUG, logger="flask_keel.server_modules"):
        app = create_app()
    assert app.test_client().get("/hello").data == b"hello from Web"
    for name in ("Middleware", "WS", "ErrorHandler", "Socket"):
        assert f"Server.{name} not found; skipped" in caplog.text
    assert "Server.Web not found" not in caplog.text


def test_middleware_runs_and_sees_the_request_id(user_project, isolated_config):
    user_project("Server/__init__.py", "")
    user_project("Server/Web.py", WEB)
    user_project("Server/Middleware.py", """
        from flask import g

        class Load(object):
            def __init__(self, server):
                @server.after_request
                def tag(response):
                    response.headers["X-Seen-Request-Id"] = g.request_id
                    return response
    """)
    isolated_config()
    response = create_app().test_client().get("/hello", headers={"X-Request-ID": "abc-123"})
    assert response.headers["X-Seen-Request-Id"] == "abc-123"


def test_an_exception_in_a_module_stops_startup_with_the_users_traceback(user_project, isolated_config):
    user_project("Server/__init__.py", "")
    user_project("Server/WS.py", """
        class Route(object):
            def __init__(self, server):
                raise RuntimeError("boom in WS.Route")
    """)
    isolated_config()
    with pytest.raises(RuntimeError, match="boom in WS.Route") as raised:
        create_app()
    frames = traceback.extract_tb(raised.value.__traceback__)
    assert frames[-1].filename.endswith("Server/WS.py")


def test_a_broken_import_inside_a_module_is_not_mistaken_for_a_missing_module(user_project, isolated_config):
    user_project("Server/__init__.py", "")
    user_project("Server/Web.py", "import a_module_that_does_not_exist\n" + textwrap.dedent(WEB))
    isolated_config()
    with pytest.raises(ModuleNotFoundError, match="a_module_that_does_not_exist"):
        create_app()


def test_a_syntax_error_in_a_module_surfaces(user_project, isolated_config):
    user_project("Server/__init__.py", "")
    user_project("Server/ErrorHandler.py", "class Route(object:\n    pass\n")
    isolated_config()
    with pytest.raises(SyntaxError):
        create_app()


def test_a_module_without_its_entry_point_is_explained(user_project, isolated_config):
    user_project("Server/__init__.py", "")
    user_project("Server/Socket.py", "class Route(object):\n    pass\n")
    isolated_config()
    with pytest.raises(ServerModuleError, match=r"Server.Socket must define Handler\(socketio\)"):
        create_app()
