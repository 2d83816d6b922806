from . import HandlerController

__all__ = ["HandlerController"]
