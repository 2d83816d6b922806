"""flask_keel.openapi on the fixture project and on projects written by the test: the
OpenAPI document follows the routes and the structs their views decode, with nothing
registered twice; the AsyncAPI one follows the named requests and the pushes."""

from __future__ import annotations

import pytest
from openapi_spec_validator import validate

from flask_keel import create_app
from flask_keel.openapi import asyncapi_document, openapi_document, undescribed


@pytest.fixture
def app(fixture_project, isolated_config):
    isolated_config()
    return create_app()


def operation(document: dict, method: str, path: str) -> dict:
    return document["paths"][path][method]


def test_the_document_is_valid_openapi_3_1(app):
    document = openapi_document(app)
    validate(document)
    assert document["openapi"] == "3.1.0"
    assert set(document["components"]["securitySchemes"]) == {"session", "csrf"}
    assert document["components"]["securitySchemes"]["csrf"] == {
        "type": "apiKey", "in": "header", "name": "X-CSRFToken",
        "description": "The token of GET /ws/csrf (new after login)."}


def test_a_json_body_route_has_its_struct_its_statuses_and_needs_a_login(app):
    document = openapi_document(app)
    create = operation(document, "post", "/ws/notes")
    assert create["requestBody"] == {"required": True, "content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/NoteIn"}}}}
    note_in = document["components"]["schemas"]["NoteIn"]
    assert note_in["properties"]["title"] == {"type": "string", "minLength": 1, "maxLength": 50}
    assert note_in["required"] == ["title"]
    # `return jsonify(...), 201` is read from the code; the errors from the decorators and the method.
    assert {"201", "400", "401", "409", "413", "503"} <= set(create["responses"])
    assert "200" not in create["responses"]
    assert create["security"] == [{"session": [], "csrf": []}]


def test_query_and_path_arguments_are_parameters(app):
    document = openapi_document(app)
    listed = operation(document, "get", "/ws/notes")
    by_name = {parameter["name"]: parameter for parameter in listed["parameters"]}
    assert by_name["owner_id"]["in"] == "query" and by_name["owner_id"]["required"] is False
    # `Id | None`: a query argument is never null, so the schema is the Id alone.
    assert by_name["owner_id"]["schema"]["type"] == "integer"
    one = operation(document, "get", "/ws/notes/{note_id}")
    assert one["parameters"] == [{"name": "note_id", "in": "path", "required": True,
                                  "schema": {"type": "integer", "minimum": 0, "maximum": 2**31 - 1}}]
    assert "404" in one["responses"]


def test_a_public_route_needs_no_session_and_says_what_its_docstring_says(app):
    public = operation(openapi_document(app), "get", "/ws/notes/by-title/{title}")
    assert public["security"] == [{}]
    assert "401" not in public["responses"]
    assert public["summary"] == "Public: one note by its title (a read any visitor may make)."
    assert "404" in public["responses"]  # abort(404, ...) in the view


def test_named_requests_are_operations_with_an_optional_payload(app):
    document = openapi_document(app)
    create = operation(document, "post", "/ws/notes.create")
    assert create["operationId"] == "notes.create"
    assert create["tags"] == ["named requests"]
    assert create["requestBody"]["required"] is False
    assert create["security"] == [{"session": [], "csrf": []}]


def test_errors_are_described_with_the_body_the_app_sends(app):
    document = openapi_document(app)
    client = app.test_client()
    sent = client.get("/ws/notes").json  # not signed in: 401
    body = document["components"]["schemas"]["ErrorBody"]
    assert set(body["required"]) <= set(sent)
    assert set(sent) <= set(body["properties"])
    assert document["components"]["responses"]["Error401"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorBody"}


def test_undescribed_names_each_route_without_a_docstring(app):
    missing = undescribed(app)
    assert "POST /ws/notes (notes_api.create_note)" in missing
    assert not any("by-title" in entry for entry in missing)


NEW_FEATURE = '''
from typing import Annotated

import msgspec
from flask import Blueprint, Response, jsonify

from flask_keel.auth import login_required
from flask_keel.payloads import json_body
from flask_keel.rpc import RpcRequest, named_request


class RoomIn(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    capacity: int


class RoomOut(msgspec.Struct):
    id: int
    name: str


api = Blueprint("rooms_api", __name__, url_prefix="/ws")


@api.post("/rooms")
@login_required
def add_room() -> Annotated[Response, RoomOut]:
    """Add a room."""
    room = json_body(RoomIn)
    return jsonify(id=1, name=room.name), 201


@named_request(api, "rooms.get")
def get_room(request: RpcRequest) -> RoomOut:
    """One room."""
    return RoomOut(1, "Lab")
'''


def test_a_new_endpoint_and_its_struct_appear_with_no_other_change(user_project, isolated_config):
    user_project("Controllers/__init__.py", "")
    user_project("Controllers/rooms.py", NEW_FEATURE)
    user_project("Server/WS.py", '''
        class Route:
            def __init__(self, server):
                from Controllers import rooms

                server.register_blueprint(rooms.api)
        ''')
    isolated_config()
    document = openapi_document(create_app())
    validate(document)
    added = document["paths"]["/ws/rooms"]["post"]
    assert added["summary"] == "Add a room."
    assert added["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/RoomIn"}
    # A Flask view's Response declares its body's shape beside it: the smallest declaration there is.
    assert added["responses"]["201"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/RoomOut"}
    named = document["paths"]["/ws/rooms.get"]["post"]
    # The named request's return annotation is its answer's schema.
    assert named["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/RoomOut"}
    assert document["components"]["schemas"]["RoomOut"]["required"] == ["id", "name"]


def test_the_asyncapi_document_has_named_requests_and_pushes(app):
    document = asyncapi_document(app)
    assert document["asyncapi"] == "3.0.0"
    messages = document["components"]["messages"]
    create = messages["rpc.notes.create"]["payload"]
    assert create["properties"]["name"] == {"const": "notes.create"}
    assert create["properties"]["payload"] == {"$ref": "#/components/schemas/NoteIn"}
    assert document["operations"]["rpc.notes.create"]["action"] == "receive"
    # notify(to, "shared", {...}) in the project's code: a push with the keys it sends.
    assert messages["shared"]["payload"]["required"] == ["note", "from", "message"]
    assert document["operations"]["push.shared"]["action"] == "send"
    for event in ("job.progress", "job.done", "job.failed"):
        assert document["operations"][f"push.{event}"]["action"] == "send"
    assert document["components"]["schemas"]["JobProgress"]["required"] == ["id", "task", "percent", "text"]


def test_the_documents_and_the_docs_page_are_served_in_dev(app):
    client = app.test_client()
    assert client.get("/ws/openapi.json").json == openapi_document(app)
    assert client.get("/ws/asyncapi.json").json["asyncapi"] == "3.0.0"


def test_prod_serves_no_documents_unless_the_config_says_so(fixture_project, isolated_config):
    prod = {"ENV": "PROD", "APP_KEY": "a production key " * 3}
    isolated_config(SERVER_ENV=prod)
    client = create_app().test_client()
    assert client.get("/ws/openapi.json").status_code == 404
    assert client.get("/api/docs").status_code == 404
    isolated_config(SERVER_ENV=prod, FLASK={"CONFIG": {"API_DOCS": True}})
    assert create_app().test_client().get("/ws/openapi.json").json["openapi"] == "3.1.0"


SERVICE = '''
from werkzeug.exceptions import Forbidden, TooManyRequests


def check_quota(address):
    if address == "flood":
        raise TooManyRequests("Slow down.")


def request_mail(address):
    check_quota(address)
    if address == "root":
        raise Forbidden("Not that one.")
'''

MAIL_VIEW = '''
import msgspec
from flask import Blueprint, jsonify

from Controllers import mail_service
from flask_keel.payloads import json_body

api = Blueprint("mail_api", __name__, url_prefix="/ws")


class MailIn(msgspec.Struct):
    address: str


@api.post("/mail")
def send_mail():
    """Send a mail (public, limited)."""
    mail_service.request_mail(json_body(MailIn).address)
    return jsonify(sent=True), 202
'''


def test_errors_raised_in_the_projects_functions_the_view_calls_are_documented(user_project, isolated_config):
    # Found by Schemathesis: a limit counted two modules away from the view answered an undocumented 429.
    user_project("Controllers/__init__.py", "")
    user_project("Controllers/mail_service.py", SERVICE)
    user_project("Controllers/mail.py", MAIL_VIEW)
    user_project("Server/WS.py", '''
        class Route:
            def __init__(self, server):
                from Controllers import mail

                server.register_blueprint(mail.api)
        ''')
    isolated_config()
    responses = openapi_document(create_app())["paths"]["/ws/mail"]["post"]["responses"]
    assert {"202", "403", "415", "429"} <= set(responses)
    assert "401" not in responses and "200" not in responses
