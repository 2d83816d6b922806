from . import InfoController

__all__ = ["InfoController"]
