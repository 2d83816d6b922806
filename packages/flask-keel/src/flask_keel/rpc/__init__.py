"""Named requests, served over HTTP and Socket.IO (see router.py)."""

from flask_keel.rpc.router import Router, RpcRequest, named_request, public, router

__all__ = ["RpcRequest", "Router", "named_request", "public", "router"]
