"""Security headers on every response, and what to trust when behind a proxy.

Defaults (each overridable in FLASK.CONFIG):
- CONTENT_SECURITY_POLICY: scripts, styles and connections from this origin
  only, no inline script, no framing (`frame-ancestors 'none'`);
- X-Content-Type-Options nosniff, Referrer-Policy, X-Frame-Options DENY;
- Strict-Transport-Security when the request came over https
  (HSTS_SECONDS, 0 turns it off).
They are added at the WSGI edge, after every Flask hook, to responses that do
not set them: a view or after_request hook overrides one for its response by
setting its own value (`X-Frame-Options: SAMEORIGIN` for an embeddable page, a
CSP built from app.config["CONTENT_SECURITY_POLICY"]); hooks do not see the
defaults, so they cannot remove or append to them.
CORS stays closed: no Access-Control-Allow-* header is ever sent, and Socket.IO
accepts same-origin connections only.

SERVER_ENV.TRUSTED_PROXIES: how many proxies (the scale profile's nginx is one)
sit in front; their X-Forwarded-For and -Proto are believed, no others.
FLASK.CONFIG.TRUSTED_HOSTS (Flask's own): the Host values accepted, others 400.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

DEFAULT_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
               "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
               "frame-ancestors 'none'")
DEFAULT_HSTS_SECONDS = 31_536_000


class SecurityHeaders:
    """WSGI middleware adding the security headers a response does not set itself.

    At the WSGI edge: one pass over the header list, instead of a Flask hook and
    a case-insensitive lookup per header; error responses get them too.
    """

    def __init__(self, wsgi_app: WSGIApplication, headers: list[tuple[str, str]], hsts: str | None) -> None:
        self.wsgi_app = wsgi_app
        self.headers = [(name.lower(), name, value) for name, value in headers]
        self.hsts = ("strict-transport-security", "Strict-Transport-Security", hsts) if hsts else None

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        wanted = self.headers
        if self.hsts and environ.get("wsgi.url_scheme") == "https":
            wanted = [*wanted, self.hsts]

        def start(status: str, headers: list[tuple[str, str]], exc_info=None):
            present = {name.lower() for name, _ in headers}
            headers.extend((name, value) for lower, name, value in wanted if lower not in present)
            return start_response(status, headers, exc_info)

        return self.wsgi_app(environ, start)


def register_security(app: Flask) -> None:
    app.config.setdefault("CONTENT_SECURITY_POLICY", DEFAULT_CSP)
    app.config.setdefault("HSTS_SECONDS", DEFAULT_HSTS_SECONDS)
    csp = app.config["CONTENT_SECURITY_POLICY"]
    hsts = app.config["HSTS_SECONDS"]
    headers = [("X-Content-Type-Options", "nosniff"), ("X-Frame-Options", "DENY"),
               ("Referrer-Policy", "strict-origin-when-cross-origin")]
    if csp:
        headers.insert(0, ("Content-Security-Policy", csp))
    app.wsgi_app = SecurityHeaders(app.wsgi_app, headers,  # type: ignore[method-assign]
                                   f"max-age={hsts}; includeSubDomains" if hsts else None)


def trust_proxies(app: Flask, trusted_proxies: int) -> None:
    """Outermost wrapper, so every layer inside sees the client's address and scheme."""
    if trusted_proxies:
        # Host comes from the proxy's own Host header; X-Forwarded-Host/-Port are not
        # believed, since a proxy that does not set them passes the client's through.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=trusted_proxies,  # type: ignore[method-assign]
                                x_proto=trusted_proxies)
