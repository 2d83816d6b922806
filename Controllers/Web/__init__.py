from . import HomeController, HTTP40XController, HTTP50XController

__all__ = ["HomeController", "HTTP40XController", "HTTP50XController"]
