class Route(object):
    """Pages for HTTP errors."""

    def __init__(self, server):
        """
        :param server: the Flask application
        :type server: flask.Flask
        """
        from Controllers import errors

        server.register_error_handler(404, errors.not_found)
        server.register_error_handler(500, errors.server_error)
