from flask import g, jsonify, render_template, request

from app.errors import wants_json


def page_or_error404(error):
    if wants_json():
        return jsonify(error="not_found", message=f"No page or endpoint at {request.path}.",
                       request_id=g.get("request_id")), 404
    return render_template("404.html", path=request.path), 404
