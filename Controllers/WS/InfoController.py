from flask import current_app, jsonify


def info():
    """What this service is, for clients checking they reached the right one."""
    return jsonify(name=current_app.config["APP_NAME"], env=current_app.config["APP_ENV"])
