"""Your server wiring. Each module is optional; the loader applies those present:

    Middleware.Load(app), Web.Route(app), WS.Route(app), ErrorHandler.Route(app),
    Socket.Handler(socketio)
"""
