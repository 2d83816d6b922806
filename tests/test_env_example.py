"""`.env.example` is what a user copies to `.env`: each variable is defined once.

compose reads a `.env` top to bottom and the last definition wins, so a second, empty
line would silently undo a value the user filled in above it.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

ENV_EXAMPLE = Path(__file__).resolve().parents[1] / ".env.example"


def test_every_variable_is_defined_once():
    names = [match[1] for match in re.finditer(r"(?m)^([A-Z][A-Z0-9_]*)=", ENV_EXAMPLE.read_text())]
    assert names, "no variables found"
    assert [name for name, count in Counter(names).items() if count > 1] == []
