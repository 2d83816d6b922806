"""The public surface of flask_keel: the modules README.md lists between its
public-surface markers, each with exactly the names of its `__all__`.

- the list and the code agree: every listed module has an `__all__` holding exactly
  the listed names, and every one of them exists;
- a project's code (Controllers/, Models/, Server/, migrations/, app/: this repository's
  own project and the fixture project of the tests) imports only listed modules, and
  from them only listed names;
- nothing outside the package (those folders, bench/ and the project's tests/) imports
  a name that starts with `_` from flask_keel.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import re
from pathlib import Path

import pytest

PACKAGE_ROOT = Path(__file__).resolve().parents[1]  # packages/flask-keel
README = PACKAGE_ROOT / "README.md"
REPOSITORY = PACKAGE_ROOT.parents[1]
FIXTURE_PROJECT = PACKAGE_ROOT / "tests" / "fixture_project"
PROJECT_FOLDERS = ("Controllers", "Models", "Server", "migrations", "app")
# Outside the package too, but free to use internals (a benchmark, a project's tests):
# only the rule on private names applies there.
OTHER_FOLDERS = ("bench", "tests")

SECTION = re.compile(r"<!-- public-surface:start -->(.*?)<!-- public-surface:end -->", re.S)
LINE = re.compile(r"^- `(flask_keel(?:\.\w+)*)`: (.*)$")
NAME = re.compile(r"`([^`]+)`")


def listed_surface() -> dict[str, list[str]]:
    """module -> its names, from the README's list (one `- \\`module\\`: \\`name\\`, ...` line each)."""
    found = SECTION.search(README.read_text(encoding="utf-8"))
    assert found, f"{README} has no <!-- public-surface:start --> ... <!-- public-surface:end --> section"
    surface: dict[str, list[str]] = {}
    for line in found.group(1).splitlines():
        match = LINE.match(line.strip())
        if match is None:
            assert not line.strip().startswith("- "), f"a list line the test cannot read: {line!r}"
            continue
        module, names = match.group(1), NAME.findall(match.group(2))
        assert module not in surface, f"{module} is listed twice"
        assert names, f"{module} is listed with no names"
        surface[module] = names
    assert surface, "the public-surface section lists no module"
    return surface


SURFACE = listed_surface()


def project_roots() -> list[Path]:
    roots = [FIXTURE_PROJECT] if FIXTURE_PROJECT.is_dir() else []
    # This repository's own project, when the package is checked out inside it.
    if all((REPOSITORY / folder).is_dir() for folder in ("Server", "Controllers", "app")):
        roots.append(REPOSITORY)
    return roots


def python_files(root: Path, folders: tuple[str, ...]) -> list[Path]:
    return sorted(path for folder in folders if (root / folder).is_dir()
                  for path in (root / folder).rglob("*.py") if "node_modules" not in path.parts)


def is_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def flask_keel_imports(path: Path) -> list[tuple[int, str, str | None]]:
    """(line, module, name) for every import of flask_keel in a file; name is None for `import x`."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, None) for alias in node.names
                      if alias.name.split(".")[0] == "flask_keel"]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module \
                and node.module.split(".")[0] == "flask_keel":
            found += [(node.lineno, node.module, alias.name) for alias in node.names]
    return found


@pytest.mark.parametrize("module", sorted(SURFACE))
def test_each_listed_module_exports_exactly_the_listed_names(module):
    imported = importlib.import_module(module)
    exported = getattr(imported, "__all__", None)
    assert exported is not None, f"{module} has no __all__ (README lists {SURFACE[module]})"
    assert len(exported) == len(set(exported)), f"{module}.__all__ repeats a name: {exported}"
    assert set(exported) == set(SURFACE[module]), (
        f"{module}: README lists {sorted(SURFACE[module])}, __all__ is {sorted(exported)}")
    missing = [name for name in exported if not hasattr(imported, name)]
    assert not missing, f"{module}.__all__ names what the module does not have: {missing}"
    assert not [name for name in exported if name.startswith("_")], f"{module}.__all__ exports a private name"


def test_the_projects_import_only_the_public_surface():
    roots = project_roots()
    assert roots, "no project to check (neither the fixture project nor this repository's)"
    wrong = []
    for root in roots:
        for path in python_files(root, PROJECT_FOLDERS):
            where = path.relative_to(REPOSITORY if path.is_relative_to(REPOSITORY) else root)
            for line, module, name in flask_keel_imports(path):
                if name is None or name == "*" or is_module(f"{module}.{name}"):
                    target = module if name in (None, "*") else f"{module}.{name}"
                    if target != "flask_keel" and target not in SURFACE:
                        wrong.append(f"{where}:{line}: imports {target}, which is not a public module")
                elif module not in SURFACE:
                    wrong.append(f"{where}:{line}: imports {name} from {module}, which is not a public module")
                elif name not in SURFACE[module]:
                    wrong.append(f"{where}:{line}: imports {name} from {module}, which is not in its __all__")
    assert not wrong, "outside the public surface:\n" + "\n".join(wrong)


def test_nothing_outside_the_package_imports_a_private_name():
    wrong = []
    for root in project_roots():
        folders = PROJECT_FOLDERS + (OTHER_FOLDERS if root == REPOSITORY else ())
        for path in python_files(root, folders):
            for line, module, name in flask_keel_imports(path):
                private = [part for part in [*module.split("."), name or ""] if part.startswith("_")
                           and not (part.startswith("__") and part.endswith("__"))]
                if private:
                    wrong.append(f"{path.relative_to(root)}:{line}: imports {module} {name or ''}".rstrip())
    assert not wrong, "private names imported from flask_keel:\n" + "\n".join(wrong)
