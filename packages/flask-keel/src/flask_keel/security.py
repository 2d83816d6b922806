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
sit in front; their X-Forwarded-For and -Proto are believed, no others, and only
on a connection from SERVER_ENV.TRUSTED_PROXY_NETWORKS (addresses, networks or
host names of the proxies): a client that reaches the app directly has its
forwarded headers dropped, so it cannot pass for another address.
FLASK.CONFIG.TRUSTED_HOSTS (Flask's own): the Host values accepted, others 400.
Redirects never point at a request's Host: werkzeug builds its own (a path with
`//` merged, a missing trailing slash) from it, so their Location is made
relative to the site again.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import time
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
    app.wsgi_app = SameSiteRedirects(app.wsgi_app)  # type: ignore[method-assign]


class SameSiteRedirects:
    """WSGI middleware: a Location naming the request's own Host becomes a path on this site.

    werkzeug writes the redirects of its router (`//a` -> `/a`, `/a` -> `/a/`) as absolute
    URLs from the Host header, which any client sets: with TRUSTED_HOSTS unset a cache or a
    mail client would then carry a link to the attacker's host. A path needs no host.
    """

    def __init__(self, wsgi_app: WSGIApplication) -> None:
        self.wsgi_app = wsgi_app

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        host = environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "")

        def start(status: str, headers: list[tuple[str, str]], exc_info=None):
            if status[:1] == "3":
                headers[:] = [(name, same_site_location(value, host) if name.lower() == "location" else value)
                              for name, value in headers]
            return start_response(status, headers, exc_info)

        return self.wsgi_app(environ, start)


_ABSOLUTE = re.compile(r"^(?:[A-Za-z][A-Za-z0-9+.-]*:)?//(?P<host>[^/?#]*)(?P<rest>.*)$", re.DOTALL)


def same_site_location(location: str, host: str) -> str:
    """`http://HOST/a?b` -> `/a?b` when HOST is the request's Host; any other Location is kept.
    A path that would read as another host (`//evil`) keeps one leading slash."""
    match = _ABSOLUTE.match(location)
    if match is None or not host or match.group("host").lower() != host.lower():
        return location
    return "/" + match.group("rest").lstrip("/\\")


# --- proxies --------------------------------------------------------------------------------

LOOPBACK = ("127.0.0.0/8", "::1")
_NAME_TTL_SECONDS = 30.0
_KNOWN_PEERS_MAX = 4096


class TrustedPeers:
    """The proxies' addresses: networks, and host names looked up again every 30 s (a compose
    service's address changes when it is recreated). Answers are remembered per address."""

    def __init__(self, entries: Iterable[str]) -> None:
        self.networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        self.names: list[str] = []
        for entry in entries:
            try:
                self.networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                self.names.append(entry)
        self.resolved: set[str] = set()
        self.resolved_at = float("-inf")
        self.known: dict[str, bool] = {}

    def __contains__(self, address: object) -> bool:
        if not isinstance(address, str) or not address:
            return False
        if self.names and time.monotonic() - self.resolved_at > _NAME_TTL_SECONDS:
            self._resolve_names()
        known = self.known.get(address)
        if known is None:
            known = self._matches(address)
            if len(self.known) >= _KNOWN_PEERS_MAX:  # many client addresses: start again, bounded
                self.known.clear()
            self.known[address] = known
        return known

    def _matches(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
        except ValueError:
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return any(ip in network for network in self.networks) or str(ip) in self.resolved

    def _resolve_names(self) -> None:
        self.resolved_at = time.monotonic()
        resolved: set[str] = set()
        for name in self.names:
            try:
                resolved.update(str(info[4][0]) for info in socket.getaddrinfo(name, None, type=socket.SOCK_STREAM))
            except OSError:
                continue  # not up yet (compose starts the proxy after the app): asked again later
        if resolved != self.resolved:
            self.resolved = resolved
            self.known.clear()


class TrustedProxyFix:
    """ProxyFix for connections from a trusted proxy; the forwarded headers of any other peer,
    a client that reached the app directly, are dropped before anything reads them."""

    FORWARDED = ("HTTP_FORWARDED", "HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_HOST",
                 "HTTP_X_FORWARDED_PORT", "HTTP_X_FORWARDED_PREFIX", "HTTP_X_REAL_IP")

    def __init__(self, wsgi_app: WSGIApplication, count: int, peers: TrustedPeers) -> None:
        self.direct = wsgi_app
        # Host comes from the proxy's own Host header; X-Forwarded-Host/-Port are not
        # believed, since a proxy that does not set them passes the client's through.
        self.proxied = ProxyFix(wsgi_app, x_for=count, x_proto=count)
        self.peers = peers

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("REMOTE_ADDR") in self.peers:
            return self.proxied(environ, start_response)
        for name in self.FORWARDED:
            environ.pop(name, None)
        return self.direct(environ, start_response)


def trust_proxies(app: Flask, trusted_proxies: int, networks: Iterable[str] = LOOPBACK) -> None:
    """Outermost wrapper, so every layer inside sees the client's address and scheme.

    `networks`: where the proxies connect from (SERVER_ENV.TRUSTED_PROXY_NETWORKS, as entries).
    """
    if trusted_proxies:
        app.wsgi_app = TrustedProxyFix(app.wsgi_app, trusted_proxies,  # type: ignore[method-assign]
                                       TrustedPeers(networks))
