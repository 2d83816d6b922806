"""This project's Flask app: flask-keel builds it from `Server/`, `Controllers/`,
`Models/` and `config/` in this checkout.

`create_app` is the factory `flask` finds here (FLASK_APP=app). Importing this
package only records where the project is (APP_ROOT, for the commands and the
gunicorn workers it starts); Flask itself is imported when the app is built, after
gevent has patched the standard library.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("APP_ROOT", str(ROOT))


def create_app(config_path: str | os.PathLike[str] | None = None) -> Flask:
    """Build the app from a config file (default: APP_CONFIG, else config/config.yml)."""
    from flask_keel import create_app as build

    return build(config_path)
