"""The WSGI entry point for servers other than `python -m app serve`: `app.wsgi:application`."""

from app import create_app

application = create_app()
