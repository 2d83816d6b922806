"""Response hooks registered by Server/Middleware.py.

Security headers (CSP, nosniff, frame and referrer policies, HSTS), the request
id and `Vary: Cookie` on responses that read the session are set by the
framework; this is where headers of your own go.
"""


def private_pages(response):
    # An example: pages may show the signed-in user's data, so no shared cache (a
    # CDN, a company proxy) may keep them for the next visitor. JSON and static
    # files are left alone.
    if response.content_type.startswith("text/html") and "Cache-Control" not in response.headers:
        response.headers["Cache-Control"] = "private"
    return response
