class Route(object):
    """Routes for JSON web services, used by other front ends and back ends."""

    def __init__(self, server):
        """
        :param server: the Flask application
        :type server: flask.Flask
        """
        import Controllers

        server.add_url_rule("/ws/info", "ws_info", Controllers.WS.InfoController.info, methods=["GET"])
