"""Typed errors a Client raises, one per kind of failure the server reports."""

from __future__ import annotations

from typing import Any


class RequestError(Exception):
    """The server refused or failed a request. `code` is its error code ("not_found"...)."""

    status: int | None = None

    def __init__(self, message: str, *, code: str = "error", status: int | None = None,
                 request_id: str | None = None, field: Any = None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status if status is not None else type(self).status
        self.request_id = request_id
        self.field = field

    def __str__(self) -> str:
        where = f" ({self.field})" if self.field else ""
        return f"{self.status} {self.code}{where}: {self.message}"


class BadRequest(RequestError):
    status = 400


class NotLoggedIn(RequestError):
    status = 401


class Forbidden(RequestError):
    status = 403


class UnknownRequest(RequestError):
    status = 404


class Conflict(RequestError):
    status = 409


class PayloadTooLarge(RequestError):
    status = 413


class RateLimited(RequestError):
    status = 429


class ServerError(RequestError):
    status = 500


class TransportError(RequestError):
    """The server could not be reached, or did not answer in time."""


_BY_STATUS = {400: BadRequest, 401: NotLoggedIn, 403: Forbidden, 404: UnknownRequest, 409: Conflict,
              413: PayloadTooLarge, 429: RateLimited}


def error_for(status: int, body: Any) -> RequestError:
    body = body if isinstance(body, dict) else {}
    kind = _BY_STATUS.get(status, ServerError if status >= 500 else RequestError)
    return kind(str(body.get("message") or f"HTTP {status}"), code=str(body.get("error") or "error"),
                status=status, request_id=body.get("request_id"), field=body.get("field"))
