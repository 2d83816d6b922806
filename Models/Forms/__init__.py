"""Flask-WTF forms that validate what users and web-service clients send."""
