class Route(object):
    """Routes for pages that people use."""

    def __init__(self, server):
        """
        :param server: the Flask application
        :type server: flask.Flask
        """
        import Controllers

        server.add_url_rule("/", "home", Controllers.Web.HomeController.default, methods=["GET"])
