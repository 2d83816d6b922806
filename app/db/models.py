"""Finding each database's models: DATABASE.<name>.models names a module.

`models: school` is `Models.Persistent.school`; a dotted name (`mypkg.models`)
is imported as written. The module defines `Base`, a DeclarativeBase subclass
whose metadata holds that database's tables.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType

from sqlalchemy.orm import DeclarativeBase

PACKAGE = "Models.Persistent"


class ModelsModuleError(Exception):
    """A models module is missing or defines no usable Base."""


@dataclass(frozen=True)
class ModelSet:
    """The models of one database: the module's short name, the module and its Base."""

    name: str
    module: ModuleType
    base: type[DeclarativeBase]

    @property
    def models(self) -> dict[str, type]:
        return {mapper.class_.__name__: mapper.class_ for mapper in self.base.registry.mappers}


def module_path(models: str) -> str:
    return models if "." in models else f"{PACKAGE}.{models}"


def load_model_set(database: str, models: str) -> ModelSet:
    path = module_path(models)
    try:
        module = importlib.import_module(path)
    except ModuleNotFoundError as exc:
        if exc.name is not None and (exc.name == path or path.startswith(exc.name + ".")):
            raise ModelsModuleError(f"DATABASE.{database}.models: module {path} not found") from None
        raise
    base = getattr(module, "Base", None)
    if not (isinstance(base, type) and issubclass(base, DeclarativeBase)):
        raise ModelsModuleError(f"{path} (DATABASE.{database}.models) must define Base, a subclass of "
                                "sqlalchemy.orm.DeclarativeBase")
    return ModelSet(models, module, base)
