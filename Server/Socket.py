class Handler(object):
    """Socket.IO events: pushes from the server and messages from the browser."""

    def __init__(self, socketio):
        """
        :param socketio: the Socket.IO server
        :type socketio: flask_socketio.SocketIO
        """
        from Controllers import realtime

        socketio.on_event("connect", realtime.connect)
        socketio.on_event("disconnect", realtime.disconnect)
