class Route(object):
    """Routes for JSON web services, used by other front ends and back ends."""

    def __init__(self, server):
        """
        :param server: the Flask application
        :type server: flask.Flask
        """
        import Controllers

        ws = Controllers.WS
        school = ws.SchoolController
        server.add_url_rule("/ws/info", "ws_info", ws.InfoController.info, methods=["GET"])
        server.add_url_rule("/ws/users", "ws_create_user", school.create_user, methods=["POST"])
        server.add_url_rule("/ws/teachers", "ws_create_teacher", school.create_teacher, methods=["POST"])
        server.add_url_rule("/ws/students", "ws_create_student", school.create_student, methods=["POST"])
        server.add_url_rule("/ws/students/<int:student_id>/courses", "ws_student_courses", school.student_courses,
                            methods=["GET"])
        server.add_url_rule("/ws/courses", "ws_list_courses", school.list_courses, methods=["GET"])
        server.add_url_rule("/ws/courses", "ws_create_course", school.create_course, methods=["POST"])
        server.add_url_rule("/ws/courses", "ws_update_courses", school.update_courses, methods=["PATCH"])
        server.add_url_rule("/ws/courses/<int:course_id>", "ws_get_course", school.get_course, methods=["GET"])
        server.add_url_rule("/ws/courses/<int:course_id>", "ws_update_course", school.update_course,
                            methods=["PATCH"])
        server.add_url_rule("/ws/courses/<int:course_id>", "ws_delete_course", school.delete_course,
                            methods=["DELETE"])
        server.add_url_rule("/ws/enrollments", "ws_enroll", school.enroll, methods=["POST"])
