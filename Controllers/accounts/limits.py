"""The rate limits of the requests that send mail: per client address and per email
address asked for, so neither one client nor many can flood one inbox or the queue."""

from __future__ import annotations

from flask import has_request_context, request

from flask_keel.auth import count_attempt
from Models.Persistent.accounts import normalise_email


def client_address() -> str:
    return (request.remote_addr if has_request_context() else None) or "unknown"


def count_mail_request(address: str) -> None:
    """One request for mail to `address`: 429 past either limit (MAIL_RATE_LIMIT,
    MAIL_ADDRESS_RATE_LIMIT), counted the same whether or not an account has it."""
    count_attempt("mail", client_address())
    count_attempt("mail_address", normalise_email(address))
