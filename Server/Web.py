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
        dashboard = web.DashboardController
        server.add_url_rule("/dashboard", "dashboard", dashboard.dashboard, methods=["GET"])
        server.add_url_rule("/dashboard/teacher", "become_teacher", dashboard.become_teacher, methods=["POST"])
        server.add_url_rule("/dashboard/student", "become_student", dashboard.become_student, methods=["POST"])
        server.add_url_rule("/dashboard/courses", "create_course", dashboard.create_course, methods=["POST"])
        server.add_url_rule("/dashboard/enrollments", "enroll", dashboard.enroll, methods=["POST"])
