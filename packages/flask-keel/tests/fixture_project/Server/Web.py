class Route:
    def __init__(self, server):
        from Controllers import notes

        server.register_blueprint(notes.pages)
