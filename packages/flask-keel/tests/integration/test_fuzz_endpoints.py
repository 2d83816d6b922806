"""Any value in any field, query argument or path segment of every JSON endpoint and
named request, on SQLite and on MariaDB: never a 5xx, never a traceback.

The endpoints are read from the app's own URL map and router, so a new one is
fuzzed without being listed here. Values include integers far outside 64 bits,
deep nesting, long strings and any unicode.
"""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flask_keel import create_app
from flask_keel.db.testing import dispose
from flask_keel.realtime import socketio_of
from flask_keel.rpc import router
from flask_keel.rpc.http import ENDPOINT_PREFIX
from flask_keel.testing import ApiClient, project_config, run_db

pytestmark = pytest.mark.integration

PER_ENDPOINT = 30  # examples per endpoint and per named request, on each database
# The fuzzer logs in and signs up thousands of times from one address; the limits are tested elsewhere.
LIMITS = {"SIGNUP_RATE_LIMIT": "100000 per minute", "LOGIN_RATE_LIMIT": "100000 per minute"}

huge = st.integers(min_value=2**63 - 2, max_value=2**256) | st.integers(min_value=-(2**256), max_value=-(2**63) - 2)
scalars = (st.none() | st.booleans() | st.integers(-1000, 1000) | huge | st.integers()
           | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=40)
           | st.text(min_size=300, max_size=2000)
           | st.sampled_from(["", "0", "-1", "null", "1e1", "ALG", "2011-02-03", "\u0000", "\ud7ff\U0001f600"]))
FIELD_NAMES = ["course_name", "course_code", "teacher_id", "course_id", "name", "department", "birth_date", "where",
               "set", "course_codes", "name_prefix", "q", "limit", "username", "password", "email", "event", "data",
               "title", "body", "owner_id", "note_id", "to"]
nested = st.recursive(scalars, lambda children: st.lists(children, max_size=6)
                      | st.dictionaries(st.text(max_size=15) | st.sampled_from(FIELD_NAMES), children, max_size=6),
                      max_leaves=25)


def struct_shapes() -> list[list[str]]:
    """The field names of every msgspec struct the app decodes bodies into (Models/Forms)."""
    import importlib
    import pkgutil

    import msgspec

    import Models.Forms

    shapes = []
    for module_info in pkgutil.iter_modules(Models.Forms.__path__):
        module = importlib.import_module(f"Models.Forms.{module_info.name}")
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, msgspec.Struct) and value.__struct_fields__:
                shapes.append(list(value.__struct_fields__))
    return shapes


def shaped(shapes: list[list[str]]):
    """Objects with the fields of a real struct (any subset), each holding a hostile value."""
    hostile = st.one_of(huge, huge, scalars, nested)
    return st.sampled_from(shapes).flatmap(
        lambda names: st.fixed_dictionaries({}, optional={name: hostile for name in names}))


def bodies(shapes: list[list[str]]):
    # Half a real struct's shape; a quarter each an object of known field names, anything at all.
    return st.one_of(shaped(shapes), shaped(shapes), nested,
                     st.dictionaries(st.sampled_from(FIELD_NAMES), huge | scalars | nested, max_size=5))
json_values = nested  # replaced by bodies(struct_shapes()) once the project is importable
segments = (huge.map(str) | st.integers().map(str) | st.text(min_size=1, max_size=60)
            | st.sampled_from(["0", "-1", "1", "00001", "1.5", "1e3", "%00", "..", "ALG"]))
query_keys = st.sampled_from(["teacher_id", "q", "limit", "course_id", "x"]) | st.text(min_size=1, max_size=10)
query_values = huge.map(str) | st.integers().map(str) | st.text(max_size=60) | st.sampled_from(
    ["null", "1e1", "1.0", "true", " 5", "5 ", "0x10", ""])


def json_endpoints(app) -> list[tuple[str, str, list[str]]]:
    """(method, rule, argument names) of every JSON route, the named-request route excepted."""
    found = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/ws/") or rule.endpoint.startswith(ENDPOINT_PREFIX):
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.append((method, rule.rule, sorted(rule.arguments)))
    return found


def fill(rule: str, values: list[str]) -> str:
    path = rule
    for value in values:
        start = path.index("<")
        path = path[:start] + quote(value, safe="") + path[path.index(">", start) + 1:]
    return path


@pytest.fixture(scope="module")
def project(fixture_project_module):
    """The project whose endpoints are fuzzed (test_fuzz_shipped.py fuzzes the shipped one)."""
    return "fixture"


@pytest.fixture(params=["sqlite", "mariadb"], scope="module")
def fuzzed(request, tmp_path_factory, project):
    tmp = tmp_path_factory.mktemp(f"fuzz-{project}-{request.param}")
    if request.param == "mariadb":
        database = request.getfixturevalue("mariadb_databases")("fuzz")
        config = project_config(tmp, "mariadb", request.getfixturevalue("mariadb"), database,
                               FLASK={"CONFIG": LIMITS})
    else:
        config = project_config(tmp, "sqlite", FLASK={"CONFIG": LIMITS})
    app = create_app(config)
    assert run_db(app, "upgrade").exit_code == 0
    first, second = ApiClient(app.test_client()), ApiClient(app.test_client())
    for client, name in ((first, "fuzzfirst"), (second, "fuzzsecond")):
        client.signup(name)
        client.username = name
    warm_up(app, first, second)
    global json_values
    json_values = bodies(struct_shapes())
    yield app, [first, second], json_endpoints(app), sorted(router(app).views)
    dispose(app)


def warm_up(app, first: ApiClient, second: ApiClient) -> None:
    """Rows for the fuzzed requests to find: a note, and with the school demo a course."""
    rules = {rule.rule for rule in app.url_map.iter_rules()}
    if "/ws/notes" in rules:
        assert first.post("/ws/notes", json={"title": "Fuzzing"}).status_code == 201
    if "/ws/teachers" in rules:
        assert first.post("/ws/teachers", json={"name": "Fuzz", "department": "QA"}).status_code == 201
        assert first.post("/ws/courses", json={"course_name": "Fuzzing", "course_code": "FUZZ"}).status_code == 201
        assert second.post("/ws/students", json={"name": "Stu", "birth_date": "2011-02-03"}).status_code == 201


def signed_in(client: ApiClient) -> ApiClient:
    """The client, logged in again if an earlier example logged it out (or in as someone else)."""
    me = client.get("/ws/me")
    if me.status_code != 200 or me.json["username"] != client.username:
        client.token = client.get("/ws/csrf").json["csrf_token"]
        answer = client.post("/ws/login", json={"username": client.username, "password": "correct horse battery"})
        assert answer.status_code == 200, answer.json
    return client


def assert_no_server_error(response, where) -> None:
    body = response.get_data(as_text=True)
    assert response.status_code < 500, (where, response.status_code, body[:500])
    assert "Traceback" not in body, where


def endpoint_fuzzer(clients, method: str, rule: str, arguments: list[str]):
    @settings(max_examples=PER_ENDPOINT, deadline=None, suppress_health_check=list(HealthCheck))
    @given(data=st.data())
    def fuzz(data):
        client = signed_in(data.draw(st.sampled_from(clients)))
        path = fill(rule, [data.draw(segments) for _ in arguments])
        query = data.draw(st.lists(st.tuples(query_keys, query_values), max_size=4))
        kwargs = {"query_string": query}
        if method != "GET":
            kind = data.draw(st.sampled_from(["json", "raw", "deep"]))
            if kind == "json":
                kwargs["json"] = data.draw(json_values)
            elif kind == "deep":
                depth = data.draw(st.integers(1, 5000))
                kwargs.update(data=("[" * depth + "]" * depth).encode(), content_type="application/json")
            else:
                kwargs.update(data=data.draw(st.binary(max_size=200)), content_type="application/json")
        response = client.open(method, path, **kwargs)
        assert_no_server_error(response, (method, path, query, kwargs.get("json")))

    return fuzz


def named_request_fuzzer(clients, name: str):
    @settings(max_examples=2 * PER_ENDPOINT, deadline=None, suppress_health_check=list(HealthCheck))
    @given(payload=json_values, which=st.integers(0, len(clients) - 1))
    def fuzz(payload, which):
        response = signed_in(clients[which]).post(f"/ws/{name}", json=payload)
        assert_no_server_error(response, (name, payload))

    return fuzz


def test_any_value_to_any_json_endpoint_is_never_a_5xx(fuzzed):
    app, clients, endpoints, _ = fuzzed
    for method, rule, arguments in endpoints:  # each endpoint gets examples of its own
        endpoint_fuzzer(clients, method, rule, arguments)()


def test_any_payload_to_any_named_request_is_never_a_5xx(fuzzed):
    app, clients, _, names = fuzzed
    for name in names:
        named_request_fuzzer(clients, name)()


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_any_payload_over_the_socket_is_never_a_5xx(fuzzed, data):
    app, clients, _, names = fuzzed
    client = signed_in(clients[0])
    socket = socketio_of(app).test_client(app, flask_test_client=client.client,
                                           auth={"csrf_token": client.token})
    assert socket.is_connected()
    message = data.draw(st.fixed_dictionaries({"name": st.sampled_from(names) | st.text(max_size=20)},
                                              optional={"payload": json_values}) | json_values)
    try:
        json.dumps(message)
    except (TypeError, ValueError):
        return
    answer = socket.emit("rpc", message, callback=True)
    assert isinstance(answer, dict) and answer.get("status", 200) < 500, (message, answer)
    socket.disconnect()


# Boundary values every field must survive; tried one field at a time, so nothing else
# in the body fails validation first.
EDGES = [2**63 - 1, 2**63, 2**64, 10**30, -(2**63) - 1, -1, 0, 1.5, 1e308, "", " ", "x" * 5000, "\u0000",
         "\U0001f600" * 50, None, True, [], {}, [[[[[[]]]]]]]
QUERY_EDGES = [str(2**63), str(2**64), "45741147615022807729045504", "-1", "0", "null", "1e1", "x" * 5000,
               "\U0001f600"]


def test_edge_values_in_every_field_of_every_endpoint_and_named_request(fuzzed):
    app, clients, endpoints, names = fuzzed
    fields = sorted({name for shape in struct_shapes() for name in shape})
    client = signed_in(clients[0])
    for name in names:
        for field in fields:
            for value in EDGES:
                assert_no_server_error(client.post(f"/ws/{name}", json={field: value}), (name, field, value))
    for method, rule, arguments in endpoints:
        client = signed_in(clients[0])
        for value in QUERY_EDGES:
            path = fill(rule, [value] * len(arguments))
            assert_no_server_error(client.open(method, path), (method, path))
        path = fill(rule, ["1"] * len(arguments))
        for field in fields:
            if method == "GET":
                for value in QUERY_EDGES:
                    response = client.open(method, path, query_string={field: value})
                    assert_no_server_error(response, (method, path, field, value))
            else:
                for value in EDGES:
                    response = client.open(method, path, json={field: value})
                    assert_no_server_error(response, (method, path, field, value))
                client = signed_in(client)
