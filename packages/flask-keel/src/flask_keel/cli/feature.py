"""`flask feature remove NAME`: take a feature out of the project, whole.

A feature lives in the seed's folders under one name (the school demo is
`school`): Controllers/NAME(.py), Models/Persistent/NAME.py,
Models/Forms/NAME.py, template/NAME/, static/NAME/, tests/NAME/. Removing it
deletes those, takes its lines out of Server/*.py (the `from Controllers
import ...` names and the lines that use `NAME.`), takes its
upgrade_NAME()/downgrade_NAME() out of every revision (a revision left with
nothing is deleted and the history re-linked around it), and drops NAME from
any DATABASE entry's `models` and from pytest's testpaths.

Tables the feature made stay in databases already migrated (autogenerate never
drops a table no model describes): drop them by hand, or run `flask db
downgrade base` before removing the feature.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import click

# The committed API descriptions (`flask openapi`), written again without the feature's endpoints.
API_DOCUMENTS = {"docs/openapi.json": "--output", "docs/asyncapi.json": "--asyncapi"}
FEATURE_PATHS = ("Controllers/{name}", "Controllers/{name}.py", "Models/Persistent/{name}.py",
                 "Models/Forms/{name}.py", "template/{name}", "static/{name}", "tests/{name}")


class FeatureEditor:
    def __init__(self, root: Path, name: str, dry_run: bool):
        self.root = root
        self.name = name
        self.dry_run = dry_run
        self.done: list[str] = []

    def _write(self, path: Path, text: str, what: str) -> None:
        self.done.append(f"{what}: {path.relative_to(self.root)}")
        if not self.dry_run:
            path.write_text(text, encoding="utf-8")

    def _delete(self, path: Path) -> None:
        self.done.append(f"deleted: {path.relative_to(self.root)}")
        if self.dry_run:
            return
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()

    def remove_files(self) -> None:
        for pattern in FEATURE_PATHS:
            path = self.root / pattern.format(name=self.name)
            if path.exists():
                self._delete(path)

    def unwire_server(self) -> None:
        word = re.compile(rf"\b{re.escape(self.name)}\.")
        for path in sorted((self.root / "Server").glob("*.py")):
            lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
            kept = []
            for line in lines:
                imported = re.match(r"^(\s*from Controllers import )(.+?)(\s*)$", line)
                if imported:
                    names = [part.strip() for part in imported.group(2).split(",")]
                    if self.name in names:
                        names.remove(self.name)
                        if names:
                            kept.append(f"{imported.group(1)}{', '.join(names)}\n")
                        continue
                if word.search(line) or re.match(rf"^\s*import Controllers\.{re.escape(self.name)}\b", line):
                    continue
                kept.append(line)
            if kept != lines:
                self._write(path, "".join(kept), "unwired")

    def remove_migrations(self) -> None:
        versions = self.root / "migrations" / "versions"
        if not versions.is_dir():
            return
        functions = {f"upgrade_{self.name}", f"downgrade_{self.name}"}
        emptied: dict[str, str | None] = {}  # revision -> its down_revision, for files deleted
        for path in sorted(versions.glob("*.py")):
            text = path.read_text(encoding="utf-8")
            tree = ast.parse(text)
            spans = [(node.lineno, node.end_lineno) for node in tree.body
                     if isinstance(node, ast.FunctionDef) and node.name in functions]
            if not spans:
                continue
            remaining = [node.name for node in tree.body if isinstance(node, ast.FunctionDef)
                         and node.name.startswith("upgrade_") and node.name not in functions]
            if not remaining:
                emptied[_assigned(tree, "revision")] = _assigned(tree, "down_revision")
                self._delete(path)
                continue
            lines = text.splitlines(keepends=True)
            for start, end in sorted(spans, reverse=True):
                while start > 1 and not lines[start - 2].strip():  # the blank lines before it too
                    start -= 1
                del lines[start - 1:end]
            self._write(path, "".join(lines), f"removed {self.name}'s part of")
        self._relink(versions, emptied)

    def _relink(self, versions: Path, emptied: dict[str, str | None]) -> None:
        def resolve(revision: str | None) -> str | None:
            while revision in emptied:
                revision = emptied[revision]
            return revision

        for path in sorted(versions.glob("*.py")):
            if self.dry_run and not path.exists():
                continue
            text = path.read_text(encoding="utf-8")
            down = _assigned(ast.parse(text), "down_revision")
            if down in emptied:
                replacement = f"down_revision: Union[str, Sequence[str], None] = {resolve(down)!r}"
                text = re.sub(r"^down_revision:.*$", lambda _match, line=replacement: line, text, count=1,
                              flags=re.MULTILINE)
                self._write(path, text, "re-linked")

    def drop_from_config(self) -> None:
        path = self.root / "config" / "config.yml"
        if not path.exists():
            return
        text = path.read_text(encoding="utf-8")
        name = re.escape(self.name)
        new = re.sub(r"^(\s*models:\s*\[)([^\]]*)\]", lambda m: m.group(1) + ", ".join(
            part.strip() for part in m.group(2).split(",") if part.strip() and part.strip() != self.name) + "]",
            text, flags=re.MULTILINE)
        new = re.sub(rf"^(\s*)models:\s*{name}\s*$", r"\1models: []", new, flags=re.MULTILINE)
        if new != text:
            self._write(path, new, "dropped from the models of")

    def regenerate_api_documents(self) -> None:
        """In a fresh process: this one may have imported the feature's modules."""
        args = []
        for relative, option in API_DOCUMENTS.items():
            if (self.root / relative).exists():
                args += [option, str(self.root / relative)]
                self.done.append(f"regenerated: {relative}")
        if not args or self.dry_run:
            return
        written = subprocess.run([sys.executable, "-m", "flask_keel", "openapi", *args],  # noqa: S603
                                 cwd=self.root, env={**os.environ, "APP_ROOT": str(self.root)},
                                 capture_output=True, text=True, timeout=120, check=False)
        if written.returncode:
            click.echo("warning: the API documents were not regenerated; run `python -m app openapi "
                       + " ".join(args) + "`:\n" + written.stderr[-2000:], err=True)

    def drop_from_testpaths(self) -> None:
        path = self.root / "pyproject.toml"
        if not path.exists():
            return
        text = path.read_text(encoding="utf-8")
        new = re.sub(rf',?\s*"tests/{re.escape(self.name)}"', "", text)
        if new != text:
            self._write(path, new, "dropped from the testpaths of")


def _assigned(tree: ast.Module, name: str) -> str | None:
    for node in tree.body:
        targets = [node.target] if isinstance(node, ast.AnnAssign) else getattr(node, "targets", [])
        if any(isinstance(target, ast.Name) and target.id == name for target in targets):
            value = node.value
            return value.value if isinstance(value, ast.Constant) else None
    return None


@click.group("feature", help="Manage the project's features (Controllers/<name>, Models/.../<name>.py, ...).")
def feature_group() -> None:
    pass


@feature_group.command("remove")
@click.argument("name")
@click.option("--dry-run", is_flag=True, help="Say what would change, change nothing.")
def remove_command(name: str, dry_run: bool) -> None:
    """Remove the feature NAME: its files, its wiring in Server/, its part of every migration."""
    from flask_keel.config import project_root

    if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
        click.echo(f"error: {name!r} is not a feature name (a Python module name)", err=True)
        sys.exit(2)
    root = project_root()
    if not any((root / pattern.format(name=name)).exists() for pattern in FEATURE_PATHS):
        click.echo(f"error: there is no feature {name!r} in {root}", err=True)
        sys.exit(1)
    editor = FeatureEditor(root, name, dry_run)
    editor.remove_files()
    editor.unwire_server()
    editor.remove_migrations()
    editor.drop_from_config()
    editor.drop_from_testpaths()
    editor.regenerate_api_documents()
    for line in editor.done:
        click.echo(("would be " if dry_run else "") + line)
    if not dry_run:
        click.echo(f"removed {name}. Tables it made stay in databases already migrated; drop them by hand if "
                   "you no longer want them.")
