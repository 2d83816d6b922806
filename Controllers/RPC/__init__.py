"""Views for named requests (Fluxon's views.py), mapped to names in Server/WS.py."""

from . import SchoolViews

__all__ = ["SchoolViews"]
