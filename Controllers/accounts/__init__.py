"""Accounts: signing up, in and out (pages and JSON), and the dashboard every
feature adds its panel to. Kept when the school demo is removed."""

from Controllers.accounts.api import api
from Controllers.accounts.pages import pages

__all__ = ["api", "pages"]
