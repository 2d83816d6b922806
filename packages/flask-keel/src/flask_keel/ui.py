"""What a feature adds to the pages every feature shares: a link in the navigation and
a panel on the dashboard. Both ride on the feature's blueprint, so registering the
blueprint (one line in Server/Web.py) is all the wiring there is.

    pages = Blueprint("rooms", __name__)
    nav_link(pages, "Rooms", "rooms.index")       # shown to signed-in users

    @dashboard_panel(pages, "rooms/panel.html")
    def rooms_panel(user, forms):                  # the template's context
        return {"rooms": rooms_of(user)}

The dashboard (Controllers/accounts) renders each panel's template with what its
function returns; `forms` carries forms a POST view wants shown again with their
errors (`render_dashboard(400, course_form=form)`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Flask, current_app

NAV_KEY = "app.nav_links"
PANELS_KEY = "app.dashboard_panels"


@dataclass(frozen=True)
class Panel:
    template: str
    context: Callable[..., dict[str, Any]]


def nav_link(blueprint: Blueprint, label: str, endpoint: str) -> None:
    """Show `label`, linking to `endpoint`, in the navigation of signed-in users."""
    blueprint.record_once(lambda state: state.app.extensions.setdefault(NAV_KEY, []).append((label, endpoint)))


def dashboard_panel(blueprint: Blueprint, template: str) -> Callable[[Callable[..., dict]], Callable[..., dict]]:
    """Render `template` on the dashboard, with the context the decorated function returns."""

    def register(context: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
        blueprint.record_once(
            lambda state: state.app.extensions.setdefault(PANELS_KEY, []).append(Panel(template, context)))
        return context

    return register


def panels(user: Any, forms: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(template, context) of every registered panel, in registration order."""
    return [(panel.template, panel.context(user, forms)) for panel in current_app.extensions.get(PANELS_KEY, [])]


def init_ui(app: Flask) -> None:
    app.context_processor(lambda: {"nav_links": app.extensions.get(NAV_KEY, ())})


__all__ = ["Panel", "dashboard_panel", "nav_link", "panels"]
