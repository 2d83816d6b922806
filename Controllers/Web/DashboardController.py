from flask import render_template

from app.auth import current_user, login_required


@login_required
def dashboard():
    return render_template("dashboard.html", user=current_user)
