"""Socket.IO events (registered by Server/Socket.py)."""

from __future__ import annotations

import logging

from flask import request

from flask_keel.realtime import authorize_connection

log = logging.getLogger(__name__)


def connect(auth=None):
    # Refuses (ConnectionRefusedError) without a login or with a bad CSRF token,
    # and puts the socket in its user's room for notify(user, ...).
    user = authorize_connection(auth)
    log.debug("socket %s connected for user %s", request.sid, user.id)


def disconnect(reason=None):
    log.debug("socket disconnected: %s (%s)", request.sid, reason)
