class Load(object):
    """Request hooks and WSGI wrappers, kept apart from the business code."""

    def __init__(self, server):
        """
        :param server: the Flask application
        :type server: flask.Flask
        """
        from Controllers import middleware

        server.after_request(middleware.private_pages)
