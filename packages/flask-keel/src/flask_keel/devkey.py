"""A development APP_KEY, generated once into the instance folder.

It lets the app run with no configuration at all. The loader refuses a missing
APP_KEY when ENV is PROD, so this key can never sign a production session.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

KEY_FILE = "dev_app_key"


def dev_app_key(instance_path: Path) -> str:
    path = instance_path / KEY_FILE
    try:
        key = path.read_text(encoding="utf-8").strip()
        if key:
            return key
    except FileNotFoundError:
        pass
    instance_path.mkdir(parents=True, exist_ok=True)
    # Written whole to a private file, then linked into place: link() fails when the
    # key exists, so two workers starting at once agree on one complete key.
    draft = instance_path / f".{KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
    descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(secrets.token_urlsafe(48) + "\n")
    try:
        os.link(draft, path)
    except FileExistsError:
        pass
    finally:
        draft.unlink()
    return path.read_text(encoding="utf-8").strip()
