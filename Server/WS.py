class Route(object):
    """JSON web services and named requests, used by other front ends and back ends:
    one blueprint per feature (a blueprint brings its named requests along)."""

    def __init__(self, server):
        """
        :param server: the Flask application
        :type server: flask.Flask
        """
        from Controllers import accounts, core, school

        server.register_blueprint(core.api)
        server.register_blueprint(accounts.api)
        server.register_blueprint(school.api)
