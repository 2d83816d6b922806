"""Models: Forms (input validation with Flask-WTF) and Persistent (database models)."""
