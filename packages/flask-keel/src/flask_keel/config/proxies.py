"""SERVER_ENV.TRUSTED_PROXY_NETWORKS: where the proxies in front connect from.

Addresses (10.0.0.5), networks (10.0.0.0/8, fd00::/8) or host names (`proxy`, a compose
service), written as a list or as one string with commas or spaces (what an environment
variable can hold). flask_keel.security believes X-Forwarded-* only on connections from them.
"""

from __future__ import annotations

import ipaddress
import re

__all__ = ["proxy_entries", "proxy_entry_problem"]

_HOST_NAME = re.compile(r"(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                        r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*")


def proxy_entries(value: str | list[str]) -> list[str]:
    """`"10.0.0.0/8, proxy"` or a YAML list -> the entries, in order."""
    items = value if isinstance(value, list) else re.split(r"[\s,]+", value)
    return [str(item).strip() for item in items if str(item).strip()]


def proxy_entry_problem(entry: str) -> str | None:
    """Why `entry` is neither an address, a network nor a host name, or None."""
    try:
        ipaddress.ip_network(entry, strict=False)
        return None
    except ValueError:
        pass
    if _HOST_NAME.fullmatch(entry) and not re.fullmatch(r"[\d.]+", entry):
        return None
    return f"{entry!r} is not an address, a network (10.0.0.0/8) or a host name"
