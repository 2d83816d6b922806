"""Response hooks registered by Server/Middleware.py."""


def default_headers(response):
    # Browsers must not guess content types or frame these pages elsewhere.
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    return response
