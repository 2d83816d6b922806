class Handler(object):
    """Socket.IO events: pushes from the server and messages from the browser."""

    def __init__(self, socketio):
        """
        :param socketio: the Socket.IO server
        :type socketio: flask_socketio.SocketIO
        """
        import Controllers

        socketio.on_event("connect", Controllers.Socket.HandlerController.connect)
        socketio.on_event("disconnect", Controllers.Socket.HandlerController.disconnect)
