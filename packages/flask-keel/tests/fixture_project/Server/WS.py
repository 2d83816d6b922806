class Route:
    def __init__(self, server):
        from Controllers import basics, jobs, members, notes

        server.register_blueprint(basics.api)
        server.register_blueprint(jobs.api)
        server.register_blueprint(members.api)
        server.register_blueprint(notes.api)
