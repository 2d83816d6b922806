"""flask-keel: the framework under a Flask project of `Server/`, `Controllers/`, `Models/` and `config/`.

`create_app` is imported lazily so that gunicorn's master, which only reads the
config, does not import Flask before the gevent worker patches the standard
library.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask_keel.factory import create_app

__version__ = "1.0.0"
__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from flask_keel.factory import create_app

        return create_app
    raise AttributeError(f"module 'flask_keel' has no attribute {name!r}")
