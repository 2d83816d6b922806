class Handler:
    def __init__(self, socketio):
        from Controllers import realtime

        socketio.on_event("connect", realtime.connect)
