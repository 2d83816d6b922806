"""The thin framework under a Flask app built from this template.

`create_app` is imported lazily so that gunicorn's master, which only reads the
config, does not import Flask before the gevent worker patches the standard
library.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.factory import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from app.factory import create_app

        return create_app
    raise AttributeError(f"module 'app' has no attribute {name!r}")
