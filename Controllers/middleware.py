"""Response hooks registered by Server/Middleware.py.

Security headers (CSP, nosniff, frame and referrer policies, HSTS), the request
id, `Vary: Cookie`, and `Cache-Control: private, no-store` on responses that
read a signed-in session are set by the framework; this is where headers of
your own go.
"""


def private_pages(response):
    # An example: pages may show data meant for one visitor (a flashed message), so
    # no shared cache (a CDN, a company proxy) may keep them for the next one. JSON
    # and static files are left alone.
    if response.content_type.startswith("text/html") and "Cache-Control" not in response.headers:
        response.headers["Cache-Control"] = "private"
    return response
