"""Reading a config file: YAML (the default) or JSON (by the `.json` suffix)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml


class ConfigFileError(Exception):
    """The file cannot be read or parsed; the message names the file and place."""


class _ConfigLoader(yaml.SafeLoader):
    """SafeLoader that reads a masked value such as `user: *******` as a string.

    Examples copied from documentation hide credentials behind asterisks, which YAML
    would otherwise take for an alias and reject. `flask config check` then points
    at the masked value so it is not deployed by accident.
    """

    def fetch_alias(self) -> None:
        length = 0
        while self.peek(length) == "*":
            length += 1
        if length >= 2 and self.peek(length) in "\0 \t\r\n,]}":
            self.save_possible_simple_key()
            self.allow_simple_key = False
            self.tokens.append(self.scan_plain())
            return
        super().fetch_alias()


def _reject_duplicate_keys(loader: _ConfigLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            mark = key_node.start_mark
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (line {mark.line + 1})", mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_ConfigLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _reject_duplicate_keys)

MASK_CHARS = frozenset("*")


def is_masked(value: Any) -> bool:
    """True for a value like `*******` left over from an example."""
    return isinstance(value, str) and len(value) >= 2 and set(value) <= MASK_CHARS


def read_config_file(path: Path) -> dict[str, Any]:
    """Parse the file into a plain tree; raise ConfigFileError naming the file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigFileError(f"{path}: config file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigFileError(f"{path}: cannot read config file ({exc})") from None

    if path.suffix.lower() == ".json":
        try:
            tree = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigFileError(f"{path}: line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    else:
        try:
            tree = yaml.load(text, Loader=_ConfigLoader)  # noqa: S506 - a SafeLoader subclass
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
            raise ConfigFileError(f"{path}: {where}{exc.problem or exc.context}") from None
        except yaml.YAMLError as exc:
            raise ConfigFileError(f"{path}: {exc}") from None

    if tree is None:
        return {}
    if not isinstance(tree, dict):
        raise ConfigFileError(f"{path}: the top level must be a mapping of sections, not {type(tree).__name__}")
    return tree
