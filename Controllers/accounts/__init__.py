"""Accounts: signing up, in and out (pages and JSON), the account page (sessions, sign
out everywhere, change password, delete account) and the dashboard every feature adds
its panel to. Kept when the school demo is removed."""

# Their views join the two blueprints below.
from Controllers.accounts import account, email_change_views, recovery_views, verification_views  # noqa: F401
from Controllers.accounts.api import api
from Controllers.accounts.pages import pages

__all__ = ["api", "pages"]
