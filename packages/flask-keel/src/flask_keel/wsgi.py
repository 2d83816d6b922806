"""The WSGI entry gunicorn runs: the project at APP_ROOT (else the working directory)."""

from flask_keel import create_app

application = create_app()
