"""The API described: OpenAPI 3.1 of the JSON endpoints and named requests, AsyncAPI 3.0
of the Socket.IO side, both built from the routes, the router and the msgspec structs
the views already use (no registration of their own). Served at /ws/openapi.json,
/ws/asyncapi.json and /api/docs (FLASK.CONFIG.API_DOCS); `flask openapi` writes them.
"""

from flask_keel.openapi.asyncapi import asyncapi_document
from flask_keel.openapi.document import openapi_document, undescribed

__all__ = ["asyncapi_document", "openapi_document", "undescribed"]
