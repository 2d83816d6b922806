from . import AuthController, InfoController, SchoolController

__all__ = ["AuthController", "InfoController", "SchoolController"]
