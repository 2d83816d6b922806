"""Your application code, called from the Server modules."""

from . import Middleware, Socket, Web, WS, accounts

__all__ = ["Middleware", "Socket", "Web", "WS", "accounts"]
