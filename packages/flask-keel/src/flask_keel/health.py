"""Liveness and readiness endpoints for orchestrators and load balancers.

/healthz answers from memory: the process is up and serving.
/readyz checks each dependency with a short timeout and answers 503, naming
the failing ones, while any is unreachable.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from flask import Blueprint, jsonify

from flask_keel.db import db
from flask_keel.db.engines import ping
from flask_keel.extensions import service_clients

log = logging.getLogger(__name__)

health = Blueprint("health", __name__)


@health.get("/healthz")
def healthz():
    return jsonify(status="ok")


def _check(name: str, probe: Callable[[], Any]) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        probe()
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready", reported by name
        # Details (hosts, users) go to the log only; the public answer names the kind.
        log.warning("readiness check %s failed: %s", name, exc)
        return {"ok": False, "error": type(exc).__name__}
    return {"ok": True, "ms": round((time.perf_counter() - started) * 1000, 1)}


@health.get("/readyz")
def readyz():
    checks: dict[str, dict[str, Any]] = {}
    for name, engine in db.engines_by_name().items():
        checks[f"database:{name}"] = _check(f"database:{name}", lambda engine=engine: ping(engine))
    clients = service_clients()
    if "redis" in clients:
        checks["redis"] = _check("redis", clients["redis"].ping)
    if "memcached" in clients:
        checks["memcached"] = _check("memcached", clients["memcached"].version)
    failing = sorted(name for name, result in checks.items() if not result["ok"])
    if failing:
        log.warning("not ready: %s", ", ".join(failing))
    body = {"status": "unavailable" if failing else "ready", "failing": failing, "checks": checks}
    return jsonify(body), 503 if failing else 200
