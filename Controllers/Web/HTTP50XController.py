from flask import g, jsonify, render_template

from app.errors import wants_json


def error500(error):
    # `error` may wrap the original exception; it is logged by the framework and
    # never shown, so no internals reach the visitor.
    if wants_json():
        return jsonify(error="internal_server_error", message="The server failed to complete the request.",
                       request_id=g.get("request_id")), 500
    return render_template("500.html", request_id=g.get("request_id")), 500
