class Route(object):
    """Routes for pages that people use."""

    def __init__(self, server):
        """
        :param server: the Flask application
        :type server: flask.Flask
        """
        import Controllers

        web = Controllers.Web
        server.add_url_rule("/", "home", web.HomeController.default, methods=["GET"])
        server.add_url_rule("/signup", "signup", web.AuthController.signup, methods=["GET", "POST"])
        server.add_url_rule("/login", "login", web.AuthController.login_page, methods=["GET", "POST"])
        server.add_url_rule("/logout", "logout", web.AuthController.logout_page, methods=["POST"])
        server.add_url_rule("/dashboard", "dashboard", web.DashboardController.dashboard, methods=["GET"])
