class Route(object):
    """Pages for people: one blueprint per feature."""

    def __init__(self, server):
        """
        :param server: the Flask application
        :type server: flask.Flask
        """
        from Controllers import accounts, core, school

        server.register_blueprint(core.pages)
        server.register_blueprint(accounts.pages)
        server.register_blueprint(school.pages)
