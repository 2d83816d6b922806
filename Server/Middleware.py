class Load(object):
    """Request hooks and WSGI wrappers, kept apart from the business code."""

    def __init__(self, server):
        """
        :param server: the Flask application
        :type server: flask.Flask
        """
        import Controllers

        server.after_request(Controllers.Middleware.private_pages)
