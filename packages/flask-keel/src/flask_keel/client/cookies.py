"""Cookie handling that matches browsers for loopback addresses.

Browsers treat http://localhost and http://127.0.0.1 as secure contexts and send
Secure cookies there; Python's cookie jar does not. A production-like server
(ENV=PROD sets Secure session cookies) running on this machine would otherwise
lose its session on every request from the client.
"""

from __future__ import annotations

import ipaddress
from http.cookiejar import DefaultCookiePolicy
from urllib.parse import urlsplit

import requests


def is_loopback(host: str) -> bool:
    host = host.split(":")[0].strip("[]") if not host.startswith("[") else host[1:host.index("]")]
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class LoopbackSecureCookiePolicy(DefaultCookiePolicy):
    def return_ok_secure(self, cookie, request) -> bool:
        if cookie.secure and request.type == "http" and is_loopback(request.host):
            return True
        return super().return_ok_secure(cookie, request)


class LoopbackSession(requests.Session):
    """A requests Session that sends Secure cookies to loopback hosts over http.

    requests merges the session's cookies into a new jar for every request,
    dropping any policy set on `session.cookies`; the policy is applied here.
    """

    def prepare_request(self, request):
        prepared = super().prepare_request(request)
        parts = urlsplit(prepared.url)
        if parts.scheme == "http" and is_loopback(parts.netloc):
            jar = prepared._cookies
            jar.set_policy(LoopbackSecureCookiePolicy())
            prepared.headers.pop("Cookie", None)
            prepared.prepare_cookies(jar)
        return prepared
