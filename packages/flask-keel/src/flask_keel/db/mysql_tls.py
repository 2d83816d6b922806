"""One TLS context per process for PyMySQL connections made without TLS settings.

Without `ssl` options PyMySQL tries TLS when the server offers it ("preferred"
mode) and builds a fresh context for it on every connection, loading the
system's CA store each time: measured 0.8 MB of memory and ~25 ms per
connection, whether or not the server speaks TLS. That context never varies
(no CA, no hostname check), so one is shared. Connections with TLS settings
(`params: {ssl_ca: ...}`) keep building their own, verified as configured.
"""

from __future__ import annotations

import threading
from typing import Any

from pymysql.connections import Connection
from sqlalchemy import Engine


class SharedPreferredTLSConnection(Connection):
    _preferred_context: Any = None
    _lock = threading.Lock()

    def _create_ssl_ctx(self, sslp: Any) -> Any:
        if sslp != {}:  # explicit settings, or a context of the caller's own
            return super()._create_ssl_ctx(sslp)
        with self._lock:
            if SharedPreferredTLSConnection._preferred_context is None:
                SharedPreferredTLSConnection._preferred_context = super()._create_ssl_ctx(sslp)
        return SharedPreferredTLSConnection._preferred_context


def share_preferred_tls_context(engine: Engine) -> None:
    if engine.dialect.driver != "pymysql":
        return

    # The dialect's own connect, not a do_connect listener: SQLAlchemy stops at the
    # first listener that returns a connection, and user listeners (rotating
    # credentials, say) must still see and change the arguments.
    def connect(*cargs: Any, **cparams: Any) -> SharedPreferredTLSConnection:
        return SharedPreferredTLSConnection(*cargs, **cparams)

    engine.dialect.connect = connect  # type: ignore[method-assign]
