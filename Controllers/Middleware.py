"""Response hooks registered by Server/Middleware.py.

Security headers (CSP, nosniff, frame and referrer policies, HSTS) are set by
the framework; this is where headers of your own go.
"""


def default_headers(response):
    # An example: pages differ per signed-in user, so shared caches must key on the cookie.
    response.vary.add("Cookie")
    return response
