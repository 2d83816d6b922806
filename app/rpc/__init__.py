"""Named requests, served over HTTP and Socket.IO (see router.py)."""

from app.rpc.router import Router, RpcRequest, public, router

__all__ = ["RpcRequest", "Router", "public", "router"]
