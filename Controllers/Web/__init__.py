from . import AuthController, DashboardController, HomeController, HTTP40XController, HTTP50XController

__all__ = ["AuthController", "DashboardController", "HomeController", "HTTP40XController", "HTTP50XController"]
