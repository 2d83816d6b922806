"""The WSGI entry point: `app.wsgi:application` for gunicorn and other servers."""

from app import create_app

application = create_app()
