"""url_for in a request is cached (flask_keel.factory.App.url_for): every URL it gives must
be the one Flask itself builds, whatever the script root, host, blueprint or values."""

from __future__ import annotations

import pytest
from flask import Blueprint, Flask, url_for

from flask_keel import create_app

PROBES = [
    ("core.home", {}),
    ("static", {"filename": "css/app.css"}),
    ("static", {"filename": "css/other.css"}),
    ("core.home", {"page": "2"}),              # an unknown value becomes the query string
    ("core.home", {"tags": ["a", "b"]}),       # a list (not a key): built, not cached
    (".here", {}),                             # relative to the request's blueprint
]


@pytest.fixture
def app(shipped_project, isolated_config):
    isolated_config()
    app = create_app()
    probe = Blueprint("probe", __name__)
    probe.add_url_rule("/probe/here", "here", lambda: "")
    probe.add_url_rule("/probe/<name>", "named", lambda name: name)
    app.register_blueprint(probe)
    return app


def flask_built(app, endpoint: str, values: dict, **environ) -> str:
    with app.test_request_context("/probe/x", **environ):
        return Flask.url_for(app, endpoint, **values)


@pytest.mark.parametrize("environ", [{}, {"base_url": "http://a.example/root"}, {"base_url": "http://b.example/"},
                                     {"base_url": "https://a.example/other/"}])
def test_cached_urls_are_those_flask_builds(app, environ):
    for _ in range(2):  # the second time from the cache
        for endpoint, values in PROBES:
            with app.test_request_context("/probe/x", **environ):
                assert url_for(endpoint, **values) == flask_built(app, endpoint, values, **environ)


def test_a_relative_endpoint_resolves_in_each_blueprint(app):
    with app.test_request_context("/probe/x"):
        assert url_for(".named", name="a") == "/probe/a"
    with app.test_request_context("/"):
        assert url_for(".home") == "/"  # core's home, not a cached probe URL


def test_url_defaults_turn_the_cache_off(app):
    with app.test_request_context("/probe/x"):
        assert url_for("probe.named", name="a") == "/probe/a"
    app.url_defaults(lambda endpoint, values: values.setdefault("name", "default")
                     if endpoint == "probe.named" else None)
    with app.test_request_context("/probe/x"):
        assert url_for("probe.named") == "/probe/default"


def test_the_cache_stays_bounded(app):
    with app.test_request_context("/"):
        for number in range(app.URL_CACHE_SIZE + 10):
            url_for("static", filename=f"f{number}.css")
    assert len(app._built_urls) <= app.URL_CACHE_SIZE
