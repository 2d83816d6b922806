"""Security headers on every response, and what to trust when behind a proxy.

Defaults (each overridable in FLASK.CONFIG):
- CONTENT_SECURITY_POLICY: scripts, styles and connections from this origin
  only, no inline script, no framing (`frame-ancestors 'none'`);
- X-Content-Type-Options nosniff, Referrer-Policy, X-Frame-Options DENY;
- Strict-Transport-Security when the request came over https
  (HSTS_SECONDS, 0 turns it off).
CORS stays closed: no Access-Control-Allow-* header is ever sent, and Socket.IO
accepts same-origin connections only.

SERVER_ENV.TRUSTED_PROXIES: how many proxies (the scale profile's nginx is one)
sit in front; their X-Forwarded-For and -Proto are believed, no others.
FLASK.CONFIG.TRUSTED_HOSTS (Flask's own): the Host values accepted, others 400.
"""

from __future__ import annotations

from flask import Flask, Response, request
from werkzeug.middleware.proxy_fix import ProxyFix

DEFAULT_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
               "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
               "frame-ancestors 'none'")
DEFAULT_HSTS_SECONDS = 31_536_000


def register_security(app: Flask, trusted_proxies: int) -> None:
    app.config.setdefault("CONTENT_SECURITY_POLICY", DEFAULT_CSP)
    app.config.setdefault("HSTS_SECONDS", DEFAULT_HSTS_SECONDS)
    if trusted_proxies:
        # Host comes from the proxy's own Host header; X-Forwarded-Host/-Port are not
        # believed, since a proxy that does not set them passes the client's through.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=trusted_proxies, x_proto=trusted_proxies)

    csp = app.config["CONTENT_SECURITY_POLICY"]
    hsts = app.config["HSTS_SECONDS"]

    @app.after_request
    def security_headers(response: Response) -> Response:
        headers = response.headers
        if csp:
            headers.setdefault("Content-Security-Policy", csp)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        if hsts and request.is_secure:
            headers.setdefault("Strict-Transport-Security", f"max-age={hsts}; includeSubDomains")
        return response
