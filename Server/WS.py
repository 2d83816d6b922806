class Route(object):
    """Routes for JSON web services, used by other front ends and back ends."""

    def __init__(self, server):
        """
        :param server: the Flask application
        :type server: flask.Flask
        """
        import Controllers
        from app.rpc import router

        ws = Controllers.WS
        auth, school = ws.AuthController, ws.SchoolController
        rules = [
            ("/ws/info", ws.InfoController.info, ["GET"]),
            ("/ws/signup", auth.signup, ["POST"]),
            ("/ws/login", auth.login_view, ["POST"]),
            ("/ws/logout", auth.logout_view, ["POST"]),
            ("/ws/me", auth.me, ["GET"]),
            ("/ws/me/courses", school.my_courses, ["GET"]),
            ("/ws/teachers", school.create_teacher, ["POST"]),
            ("/ws/students", school.create_student, ["POST"]),
            ("/ws/courses", school.list_courses, ["GET"]),
            ("/ws/courses", school.create_course, ["POST"]),
            ("/ws/courses", school.update_courses, ["PATCH"]),
            ("/ws/courses/<int:course_id>", school.get_course, ["GET"]),
            ("/ws/catalog/<course_code>", school.catalog_entry, ["GET"]),
            ("/ws/courses/<int:course_id>", school.update_course, ["PATCH"]),
            ("/ws/courses/<int:course_id>", school.delete_course, ["DELETE"]),
            ("/ws/enrollments", school.enroll, ["POST"]),
        ]
        for rule, view, methods in rules:
            server.add_url_rule(rule, f"ws_{view.__name__}", view, methods=methods)

        # Named requests (POST /ws/<name> and the Socket.IO "rpc" event).
        views = Controllers.RPC.SchoolViews
        router(server).map({
            "ping": views.ping,
            "echo": views.echo,
            "whoami": views.whoami,
            "teachers.create": views.become_teacher,
            "students.create": views.become_student,
            "courses.list": views.list_courses,
            "courses.create": views.create_course,
            "courses.enroll": views.enroll,
            "school.summary": views.summary,
            "push.me": views.push_to_me,
        })
