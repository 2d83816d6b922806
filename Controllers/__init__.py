"""Your application code, called from the Server modules."""

from . import RPC, WS, Middleware, Socket, Web, accounts, school

__all__ = ["RPC", "Middleware", "Socket", "Web", "WS", "accounts", "school"]
