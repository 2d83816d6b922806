"""`python -m app template update`: bring a project to a later release of its template.

A repository made with "Use this template" shares no history with the template, so git
cannot merge the template's fixes into it. This command does what that merge would, file
by file, from the two releases' trees: the framework folder is replaced whole, the files
the template ships (Dockerfile, compose, deploy/, scripts/, the locks, ...) get the
template's changes by a three-way merge (`git merge-file`), and the project's own code is
never read or written. Nothing is written until every merge has been computed, and the
new release is recorded only when all of it was written.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import tarfile
import tempfile
import tomllib
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path, PurePosixPath

import click

VERSION_FILE = "template-version.toml"
FRAMEWORK = "packages/flask-keel"
# What the template ships and a project may adapt: merged three ways.
SHIPPED = (
    "Dockerfile", ".dockerignore", "docker-compose.yml", "docker-compose.dev.yml", "docker/", "deploy/",
    ".github/", ".ci/", "scripts/", "Makefile", ".env.example", "config/config.yml", "pyproject.toml",
    "requirements.lock", "requirements-dev.lock", "requirements-build.lock", "requirements-checkov.lock",
    "app/", ".gitignore", ".gitattributes", "SECURITY.md", "CHANGELOG.md",
)
TAG = re.compile(r"^v(\d+)\.(\d+)\.(\d+)$")
# The framework's files as released, in `sha256sum` format: what `template check` compares.
RECORD = "FILES.sha256"


class UpdateError(click.ClickException):
    """The update cannot go on; nothing has been changed."""


@dataclass
class Plan:
    writes: dict[str, tuple[bytes, int]] = field(default_factory=dict)  # path -> (content, mode)
    deletes: set[str] = field(default_factory=set)
    conflicts: list[str] = field(default_factory=list)
    kept_deleted: list[str] = field(default_factory=list)
    kept_yours: list[str] = field(default_factory=list)


def _git(*args: str, cwd: Path | None = None, data: bytes | None = None) -> bytes:
    command = ["git", *args]
    try:
        result = subprocess.run(command, cwd=cwd, input=data, capture_output=True, check=False)  # noqa: S603
    except FileNotFoundError:
        raise UpdateError("git is not installed: the template commands need it") from None
    if result.returncode != 0:
        raise UpdateError(f"git {' '.join(args[:2])} failed: {result.stderr.decode(errors='replace').strip()}")
    return result.stdout


def read_version(root: Path) -> tuple[str, str]:
    """The recorded release (vX.Y.Z) and source of the template, from template-version.toml."""
    path = root / VERSION_FILE
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UpdateError(f"{path} not found: it records the template release this project is at") from None
    except tomllib.TOMLDecodeError as exc:
        raise UpdateError(f"{path}: {exc}") from None
    version = str(data.get("version", ""))
    if not TAG.match(f"v{version}"):
        raise UpdateError(f"{path}: version must be X.Y.Z, not {version!r}")
    return f"v{version}", str(data.get("source", ""))


def write_version(root: Path, tag: str) -> None:
    path = root / VERSION_FILE
    text = path.read_text(encoding="utf-8")
    path.write_text(re.sub(r'(?m)^version\s*=\s*"[^"]*"', f'version = "{tag[1:]}"', text, count=1), encoding="utf-8")


def releases(clone: Path) -> list[str]:
    tags = [t for t in _git("tag", "--list", "v*", cwd=clone).decode().split() if TAG.match(t)]
    return sorted(tags, key=lambda t: tuple(int(n) for n in TAG.match(t).groups()))  # type: ignore[union-attr]


def tree(clone: Path, tag: str) -> dict[str, tuple[bytes, int]]:
    """Every file of a release: path -> (content, mode)."""
    files: dict[str, tuple[bytes, int]] = {}
    with tarfile.open(fileobj=BytesIO(_git("archive", "--format=tar", tag, cwd=clone))) as archive:
        for member in archive.getmembers():
            if member.isfile():
                handle = archive.extractfile(member)
                files[member.name] = (handle.read() if handle else b"", member.mode & 0o777)
    return files


def is_shipped(path: str) -> bool:
    return any(path == entry or (entry.endswith("/") and path.startswith(entry)) for entry in SHIPPED)


def merge(ours: bytes, base: bytes, theirs: bytes, path: str, versions: tuple[str, str]) -> tuple[bytes, bool]:
    """A three-way merge of one file's text; True when conflicts were left in it."""
    with tempfile.TemporaryDirectory() as scratch:
        names = []
        for name, content in (("ours", ours), ("base", base), ("theirs", theirs)):
            (Path(scratch) / name).write_bytes(content)
            names.append(str(Path(scratch) / name))
        labels = ["-L", f"{path} (yours)", "-L", f"{path} ({versions[0]})", "-L", f"{path} ({versions[1]})"]
        command = ["git", "merge-file", "-p", *labels, *names]
        result = subprocess.run(command, capture_output=True, check=False)  # noqa: S603
    if result.returncode < 0 or result.returncode > 127:
        raise UpdateError(f"git merge-file failed on {path}: {result.stderr.decode(errors='replace').strip()}")
    return result.stdout, result.returncode > 0


def plan_update(root: Path, base: dict[str, tuple[bytes, int]], new: dict[str, tuple[bytes, int]],
                versions: tuple[str, str]) -> Plan:
    plan = Plan()
    prefix = FRAMEWORK + "/"
    # The framework: whole, whatever the project holds there.
    current = root / FRAMEWORK
    if current.exists():
        for path in current.rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts:
                plan.deletes.add(str(PurePosixPath(path.relative_to(root))))
    for path, entry in new.items():
        if path.startswith(prefix):
            plan.deletes.discard(path)
            plan.writes[path] = entry
    for path in sorted(set(base) | set(new)):
        if path.startswith(prefix) or not is_shipped(path):
            continue
        old, fresh = base.get(path), new.get(path)
        if old is not None and fresh is not None and old[0] == fresh[0]:
            continue  # the template did not change it
        local = root / path
        mine = local.read_bytes() if local.is_file() else None
        if fresh is None:  # the template removed it
            if mine is not None and old is not None and mine == old[0]:
                plan.deletes.add(path)
            elif mine is not None:
                plan.kept_yours.append(path)
            continue
        if mine is None:
            if old is None:
                plan.writes[path] = fresh  # new in the template
            else:
                plan.kept_deleted.append(path)  # the project deleted it: it stays deleted
            continue
        if mine == fresh[0]:
            continue
        if old is not None and mine == old[0]:
            plan.writes[path] = (fresh[0], local.stat().st_mode & 0o777)
            continue
        if b"\0" in mine or b"\0" in fresh[0]:
            plan.kept_yours.append(path)
            continue
        text, conflicted = merge(mine, old[0] if old else b"", fresh[0], path, versions)
        plan.writes[path] = (text, local.stat().st_mode & 0o777)
        if conflicted:
            plan.conflicts.append(path)
    return plan


def apply(root: Path, plan: Plan) -> None:
    """Write the plan; on any failure put back every file it had touched."""
    saved: dict[str, tuple[bytes, int] | None] = {}
    try:
        for path in sorted(plan.deletes | set(plan.writes)):
            local = root / path
            saved[path] = (local.read_bytes(), local.stat().st_mode & 0o777) if local.is_file() else None
            if path in plan.writes:
                content, mode = plan.writes[path]
                local.parent.mkdir(parents=True, exist_ok=True)
                local.write_bytes(content)
                local.chmod(mode)
            elif local.exists():
                local.unlink()
    except OSError as exc:
        for path, entry in saved.items():
            local = root / path
            if entry is None:
                if local.is_file() or local.is_symlink():
                    local.unlink()
            else:
                local.parent.mkdir(parents=True, exist_ok=True)
                local.write_bytes(entry[0])
                local.chmod(entry[1])
        raise UpdateError(f"could not write {exc.filename}: {exc.strerror}; nothing was changed") from None


def update(root: Path, source: str | None, to: str | None, echo=click.echo) -> Plan | None:
    if _git("status", "--porcelain", "--untracked-files=normal", cwd=root).strip():
        raise UpdateError("the work tree has uncommitted changes: commit or stash them first, "
                          "so the update can be reviewed and undone as one change")
    current, recorded = read_version(root)
    source = source or recorded
    if not source:
        raise UpdateError(f"no template source: pass --from URL-OR-PATH, or set source in {VERSION_FILE}")
    with tempfile.TemporaryDirectory(prefix="template-update-") as scratch:
        clone = Path(scratch) / "template"
        _git("clone", "--quiet", "--no-checkout", source, str(clone))
        tags = releases(clone)
        if current not in tags:
            raise UpdateError(f"{source} has no release {current} (the one {VERSION_FILE} records)")
        target = to or (tags[-1] if tags else current)
        if target not in tags:
            raise UpdateError(f"{source} has no release {target}; releases: {', '.join(tags)}")
        if target == current:
            echo(f"already at {current}")
            return None
        plan = plan_update(root, tree(clone, current), tree(clone, target), (current, target))
    apply(root, plan)
    write_version(root, target)
    echo(f"updated from {current} to {target}: {len(plan.writes)} files written, {len(plan.deletes)} removed")
    for path in plan.kept_deleted:
        echo(f"  kept deleted (you removed it; {target} changed it): {path}")
    for path in plan.kept_yours:
        echo(f"  kept yours ({target} removed it or it is binary): {path}")
    if plan.conflicts:
        echo("conflicts, marked with <<<<<<< in each file:")
        for path in plan.conflicts:
            echo(f"  {path}")
        echo("next: resolve them, run `make test`, then commit the update")
    else:
        echo("next: run `make test`, then commit the update")
    return plan


def framework_files(folder: Path) -> dict[str, str]:
    """Each file of the framework folder that git would keep (.gitignore applies), with its sha256."""
    listed = _git("ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", ".", cwd=folder)
    files = {}
    for name in sorted(set(listed.decode().split("\0")) - {"", RECORD}):
        path = folder / name
        if path.is_file():
            files[name] = hashlib.sha256(path.read_bytes()).hexdigest()
    return files


def record(folder: Path) -> None:
    lines = [f"{digest}  {name}\n" for name, digest in framework_files(folder).items()]
    (folder / RECORD).write_text("".join(lines), encoding="utf-8")


def edited_files(folder: Path) -> list[str]:
    """The framework's files that differ from its record: changed, added or removed."""
    try:
        text = (folder / RECORD).read_text(encoding="utf-8")
    except FileNotFoundError:
        return [RECORD + " (missing)"]
    recorded = dict(reversed(line.split("  ", 1)) for line in text.splitlines() if line.strip())
    present = framework_files(folder)
    return sorted([f"{name} (changed)" for name in present if name in recorded and present[name] != recorded[name]]
                  + [f"{name} (added)" for name in present if name not in recorded]
                  + [f"{name} (removed)" for name in recorded if name not in present])


@click.group("template")
def template_group() -> None:
    """Take the template's later releases into this project."""


@template_group.command("update")
@click.option("--to", "to", default=None, help="The release to update to, vX.Y.Z (default: the newest).")
@click.option("--from", "source", default=None,
              help=f"The template: a Git URL, a clone or a path (default: source in {VERSION_FILE}).")
def update_command(to: str | None, source: str | None) -> None:
    """Bring this project from its recorded template release to a later one."""
    from flask_keel.config.loader import project_root

    update(project_root(), source, to)


@template_group.command("check")
def check_command() -> None:
    """Fail, naming the files, when packages/flask-keel differs from the release it came with."""
    from flask_keel.config.loader import project_root

    folder = project_root() / FRAMEWORK
    edited = edited_files(folder)
    if edited:
        lines = "\n".join(f"  {FRAMEWORK}/{name}" for name in edited)
        raise click.ClickException(
            f"{FRAMEWORK} was edited; `template update` replaces it whole, so these changes would be lost:\n"
            f"{lines}\nPut the change in the framework upstream (where the framework itself is developed, "
            f"`python -m app template record` then records the new files).")
    click.echo(f"{FRAMEWORK}: as released ({len(framework_files(folder))} files)")


@template_group.command("record")
def record_command() -> None:
    """Write packages/flask-keel/FILES.sha256 (where the framework itself is developed)."""
    from flask_keel.config.loader import project_root

    record(project_root() / FRAMEWORK)
    click.echo(f"{FRAMEWORK}/{RECORD} written")
