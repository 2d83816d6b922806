from flask import current_app, render_template


def default():
    return render_template("home.html", app_name=current_app.config["APP_NAME"])
