"""`${VAR}` placeholders in config values.

Substitution runs on the parsed YAML/JSON tree, string by string, never on the raw
text: an environment value can therefore never add keys, anchors or tags to the
config, whatever characters it holds.

Forms (the shell's and Docker Compose's):
    ${VAR}            value of VAR; an error when VAR is unset (empty is a value)
    ${VAR:-default}   default when VAR is unset or empty
    ${VAR-default}    default when VAR is unset
    ${VAR:?message}   an error carrying `message` when VAR is unset or empty
    ${VAR?message}    an error carrying `message` when VAR is unset
    $${               a literal `${`

Docker secrets: when VAR is unset and VAR_FILE names a file, the file's content
(one trailing newline removed) is the value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

# `$${` is matched first so the escape wins over a placeholder that follows it.
_TOKEN = re.compile(
    r"\$\$\{"
    r"|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
    r"|\$\{(?P<bad>[^}]*)\}?"
)


class EnvText(str):
    """A string that was exactly one placeholder.

    It keeps the variable's text; the schema decides its type. Keys typed as text
    (passwords, hosts) keep it as is, so `0123` stays `0123`; keys typed as numbers
    or booleans, and free-form sections such as FLASK.CONFIG, read it as YAML would
    (`PORT: ${PORT:-4200}` is the int 4200).
    """

    __slots__ = ()


@dataclass
class Problems:
    """Every problem found in one pass, reported together."""

    items: list[str] = field(default_factory=list)

    def add(self, where: str, message: str) -> None:
        self.items.append(f"{where}: {message}")


def yaml_scalar(text: str) -> Any:
    """The YAML type of a substituted value, restricted to scalars.

    A value such as `{a: 1}` or `*x` stays the string it is: a variable supplies
    one value and never structure.
    """
    if text == "":
        return ""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return text


def _lookup(name: str, environ: Mapping[str, str], where: str, problems: Problems) -> str | None:
    """The variable's value, from the environment or from the file VAR_FILE names."""
    file_var = f"{name}_FILE"
    if name in environ:
        if environ.get(file_var):
            problems.add(where, f"both {name} and {file_var} are set; set only one")
        return environ[name]
    path = environ.get(file_var)
    if not path:
        return None
    try:
        with open(path, encoding="utf-8") as handle:
            content = handle.read()
    except OSError as exc:
        problems.add(where, f"{file_var} names {path!r}, which cannot be read ({exc.strerror})")
        return ""
    return content[:-1] if content.endswith("\n") else content


def substitute_string(text: str, environ: Mapping[str, str], where: str, problems: Problems) -> Any:
    """Resolve every placeholder in one string value."""
    if "$" not in text:
        return text
    pieces: list[str] = []
    position = 0
    whole = None  # the match, when the string is exactly one placeholder
    for match in _TOKEN.finditer(text):
        pieces.append(text[position : match.start()])
        position = match.end()
        if match.group(0) == "$${":
            pieces.append("${")
            continue
        if match.group("bad") is not None:
            problems.add(where, f"malformed placeholder {match.group(0)!r}: expected ${{NAME}}, "
                                "${NAME:-default} or ${NAME:?message}")
            continue
        if match.start() == 0 and match.end() == len(text):
            whole = match
        pieces.append(_resolve(match, environ, where, problems))
    pieces.append(text[position:])
    result = "".join(pieces)
    return EnvText(result) if whole is not None else result


def _resolve(match: re.Match[str], environ: Mapping[str, str], where: str, problems: Problems) -> str:
    name, op, arg = match.group("name"), match.group("op"), match.group("arg")
    value = _lookup(name, environ, where, problems)
    unset_or_empty = value is None or (value == "" and op is not None and op.startswith(":"))
    if op in (":-", "-"):
        return arg if (value is None or unset_or_empty) else value
    if op in (":?", "?"):
        if value is None or unset_or_empty:
            problems.add(where, f"environment variable {name} is required: {arg or 'not set'}")
            return ""
        return value
    if value is None:
        problems.add(where, f"environment variable {name} is not set")
        return ""
    return value


def substitute(tree: Any, environ: Mapping[str, str], problems: Problems, path: str = "") -> Any:
    """Resolve placeholders in every string value of a parsed config (keys stay literal)."""
    if isinstance(tree, dict):
        return {key: substitute(value, environ, problems, f"{path}.{key}" if path else str(key))
                for key, value in tree.items()}
    if isinstance(tree, list):
        return [substitute(value, environ, problems, f"{path}[{index}]") for index, value in enumerate(tree)]
    if isinstance(tree, str):
        return substitute_string(tree, environ, path or "<root>", problems)
    return tree


def type_free_values(tree: Any) -> Any:
    """Give whole-placeholder values their YAML type inside free-form sections."""
    if isinstance(tree, dict):
        return {key: type_free_values(value) for key, value in tree.items()}
    if isinstance(tree, list):
        return [type_free_values(value) for value in tree]
    if isinstance(tree, EnvText):
        return yaml_scalar(str(tree))
    return tree


def escape(text: str) -> str:
    """Write a resolved string back so that loading it again gives the same string."""
    return text.replace("${", "$${")
