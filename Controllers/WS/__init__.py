from . import InfoController, SchoolController

__all__ = ["InfoController", "SchoolController"]
