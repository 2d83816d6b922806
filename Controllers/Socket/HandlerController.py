import logging

from flask import request

log = logging.getLogger(__name__)


def connect(auth=None):
    log.debug("socket connected: %s", request.sid)


def disconnect(reason=None):
    log.debug("socket disconnected: %s (%s)", request.sid, reason)
