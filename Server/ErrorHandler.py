class Route(object):
    """Pages for HTTP errors."""

    def __init__(self, server):
        """
        :param server: the Flask application
        :type server: flask.Flask
        """
        import Controllers

        server.register_error_handler(404, Controllers.Web.HTTP40XController.page_or_error404)
        server.register_error_handler(500, Controllers.Web.HTTP50XController.error500)
