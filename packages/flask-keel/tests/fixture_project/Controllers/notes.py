"""Notes: JSON CRUD, named requests that call the same functions, a push, a page with a form."""

from flask import Blueprint, abort, jsonify, render_template
from sqlalchemy import delete, update
from werkzeug.exceptions import Forbidden

from flask_keel.auth import current_user, login_required
from flask_keel.db import db
from flask_keel.payloads import json_body, query_args
from flask_keel.realtime import notify
from flask_keel.rpc import named_request
from Models.Forms.notes import NoteChange, NoteForm, NoteIn, NoteQuery, ShareIn
from Models.Persistent.notes import Note

pages = Blueprint("notes", __name__)
api = Blueprint("notes_api", __name__, url_prefix="/ws")


# -- what the endpoints and the named requests share ------------------------------------

def create(owner, title: str, body: str) -> Note:
    note = Note(owner_id=owner.id, title=title, body=body)
    db.session.add(note)
    db.session.commit()
    return note


def find(query: NoteQuery) -> list[Note]:
    statement = db.select(Note).order_by(Note.id).limit(query.limit)
    if query.owner_id is not None:
        statement = statement.where(Note.owner_id == query.owner_id)
    if query.q:
        statement = statement.where(Note.title.contains(query.q, autoescape=True))
    return list(db.session.scalars(statement))


def share(owner, note_id: int, to: int) -> dict[str, object]:
    if to == owner.id:
        raise Forbidden("You cannot share a note with yourself.")
    note = db.session.get(Note, note_id)
    if note is None or note.owner_id != owner.id:
        abort(404, f"You have no note {note_id}.")
    notify(to, "shared", {"note": note.to_dict(), "from": owner.username,
                          "message": f"{owner.username} shared {note.title}."})
    return {"shared": True}


# -- JSON endpoints ---------------------------------------------------------------------

@api.post("/notes")
@login_required
def create_note():
    payload = json_body(NoteIn)
    return jsonify(id=create(current_user, payload.title, payload.body).id), 201


@api.get("/notes")
@login_required
def list_notes():
    return jsonify([note.to_dict() for note in find(query_args(NoteQuery))])


@api.get("/notes/by-title/<title>")
def public_note(title: str):
    """Public: one note by its title (a read any visitor may make)."""
    note = db.session.scalar(db.select(Note).where(Note.title == title))
    if note is None:
        abort(404, f"There is no note {title}.")
    return jsonify(note.to_dict())


@api.get("/notes/<int:note_id>")
@login_required
def get_note(note_id: int):
    return jsonify(db.get_or_404(Note, note_id).to_dict())


def _own(note_id: int):
    return (Note.id == note_id) & (Note.owner_id == current_user.id)


@api.patch("/notes/<int:note_id>")
@login_required
def change_note(note_id: int):
    change = json_body(NoteChange)
    values = {key: value for key, value in (("title", change.title), ("body", change.body)) if value is not None}
    if not values:
        abort(400, "Nothing to change: give title or body.")
    if not db.session.execute(update(Note).where(_own(note_id)).values(**values)).rowcount:
        abort(404, f"You have no note {note_id}.")
    db.session.commit()
    return jsonify(db.session.get(Note, note_id).to_dict())


@api.delete("/notes/<int:note_id>")
@login_required
def delete_note(note_id: int):
    if not db.session.execute(delete(Note).where(_own(note_id))).rowcount:
        abort(404, f"You have no note {note_id}.")
    db.session.commit()
    return "", 204


# -- named requests ---------------------------------------------------------------------

@named_request(api, "notes.create")
def create_request(request):
    payload = request.parse(NoteIn)
    return create(request.user, payload.title, payload.body)


@named_request(api, "notes.list")
def list_request(request):
    return find(request.parse(NoteQuery) if request.payload else NoteQuery())


@named_request(api, "notes.share")
def share_request(request):
    payload = request.parse(ShareIn)
    return share(request.user, payload.note_id, payload.to)


# -- a page -----------------------------------------------------------------------------

@pages.route("/notes", methods=["GET", "POST"])
@login_required
def page():
    form = NoteForm()
    if form.validate_on_submit():
        create(current_user, form.title.data, "")
    return render_template("notes.html", form=form, notes=find(NoteQuery())), 400 if form.errors else 200
