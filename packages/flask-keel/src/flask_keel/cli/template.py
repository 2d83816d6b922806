"""`python -m app template update`: bring a project to a later release of its template.

A repository made with "Use this template" shares no history with the template, so git
cannot merge the template's fixes into it. This command does what that merge would, file
by file, from the two releases' trees: the framework folder is replaced whole, the files
the template ships (Dockerfile, compose, deploy/, scripts/, the locks, ...) get the
template's changes by a three-way merge (`git merge-file`), and the project's own code is
never read or written. Nothing is written until every merge has been computed, nothing
is written through a symbolic link, and a failed write puts back everything it touched;
the new release is recorded in the same step as the files.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
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
# The framework's files as released: git blob ids, so line-ending settings do not matter.
RECORD = "released-files.txt"


class UpdateError(click.ClickException):
    """The update cannot go on; nothing has been changed."""


@dataclass(frozen=True)
class Entry:
    """One path of a tree: a file (its bytes, executable or not) or a symbolic link (its target)."""

    data: bytes
    executable: bool = False
    link: bool = False


@dataclass
class Plan:
    writes: dict[str, Entry] = field(default_factory=dict)
    deletes: set[str] = field(default_factory=set)
    report: list[tuple[str, str]] = field(default_factory=list)  # (what happened, path)
    conflicts: list[str] = field(default_factory=list)


def _git(*args: str, cwd: Path | None = None, data: bytes | None = None) -> bytes:
    command = ["git", *args]
    try:
        result = subprocess.run(command, cwd=cwd, input=data, capture_output=True, check=False)  # noqa: S603
    except FileNotFoundError:
        raise UpdateError("git is not installed: the template commands need it") from None
    if result.returncode != 0:
        raise UpdateError(f"git {args[0]} failed: {result.stderr.decode(errors='replace').strip()}")
    return result.stdout


def _names(output: bytes) -> list[str]:
    return [os.fsdecode(name) for name in output.split(b"\0") if name]


def release_key(tag: str) -> tuple[int, ...]:
    return tuple(int(number) for number in TAG.match(tag).groups())  # type: ignore[union-attr]


def read_version(root: Path) -> tuple[str, str, str]:
    """The recorded release (vX.Y.Z), the template's source, and the file's text."""
    path = root / VERSION_FILE
    try:
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text)
    except FileNotFoundError:
        raise UpdateError(f"{path} not found: it records the template release this project is at") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UpdateError(f"{path}: {exc}") from None
    version = str(data.get("version", ""))
    if not TAG.match(f"v{version}"):
        raise UpdateError(f"{path}: version must be X.Y.Z, not {version!r}")
    return f"v{version}", str(data.get("source", "")), text


def version_text(text: str, tag: str, source: str | None) -> bytes:
    """template-version.toml recording `tag` (and `source` when it had none), checked by reading it back."""
    text = re.sub(r'(?m)^(version\s*=\s*)(["\'])[^"\']*\2', lambda m: f'{m[1]}"{tag[1:]}"', text, count=1)
    if source is not None:
        text = re.sub(r'(?m)^(source\s*=\s*)(["\'])\2', lambda m: f"{m[1]}{_toml_string(source)}", text, count=1)
    data = tomllib.loads(text)
    if data.get("version") != tag[1:]:
        raise UpdateError(f"{VERSION_FILE}: cannot record {tag} (write `version = \"{tag[1:]}\"` by hand)")
    return text.encode()


def _toml_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def releases(clone: Path) -> list[str]:
    tags = [tag for tag in _git("tag", "--list", "v*", cwd=clone).decode().split() if TAG.match(tag)]
    return sorted(tags, key=release_key)


def tree(clone: Path, tag: str) -> dict[str, Entry]:
    """Every file and link of a release, read from git's objects (no export filters apply)."""
    listing = _git("ls-tree", "-r", "-z", "--full-tree", tag, cwd=clone).split(b"\0")
    wanted = []
    for line in filter(None, listing):
        meta, name = line.split(b"\t", 1)
        mode, kind, oid = meta.split()
        if kind == b"blob":
            wanted.append((os.fsdecode(name), mode, oid))
    contents = _git("cat-file", "--batch", cwd=clone, data=b"".join(oid + b"\n" for _, _, oid in wanted))
    files, offset = {}, 0
    for name, mode, _ in wanted:
        header_end = contents.index(b"\n", offset)
        size = int(contents[offset:header_end].split()[2])
        data = contents[header_end + 1:header_end + 1 + size]
        offset = header_end + 1 + size + 1
        files[name] = Entry(data, executable=mode == b"100755", link=mode == b"120000")
    return files


def is_shipped(path: str) -> bool:
    return any(path == entry or (entry.endswith("/") and path.startswith(entry)) for entry in SHIPPED)


def checked_path(root: Path, relative: str) -> Path:
    """The path in the project, refused when it would leave it: `..`, `.git`, or a link on the way."""
    parts = PurePosixPath(relative).parts
    if not parts or PurePosixPath(relative).is_absolute() or ".." in parts or ".git" in parts:
        raise UpdateError(f"{relative}: not a path inside the project")
    local = root
    for part in parts[:-1]:
        local = local / part
        if local.is_symlink():
            raise UpdateError(f"{relative}: {local.relative_to(root)} is a symbolic link; nothing is "
                              f"written through one (replace it with a folder, or remove it, and commit)")
    return local / parts[-1]


def local_entry(path: Path, crlf: bool) -> Entry | None:
    """What the project holds at a path, line endings as git stores them."""
    if path.is_symlink():
        return Entry(os.fsencode(os.readlink(path)), link=True)
    if not path.is_file():
        return None
    data = path.read_bytes()
    if crlf and b"\0" not in data:
        data = data.replace(b"\r\n", b"\n")
    return Entry(data, executable=bool(path.stat().st_mode & 0o111))


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


def tracked(root: Path, *paths: str) -> set[str]:
    return set(_names(_git("ls-files", "-z", "--", *paths, cwd=root)))


def plan_update(root: Path, base: dict[str, Entry], new: dict[str, Entry], versions: tuple[str, str],
                crlf: bool = False) -> Plan:
    plan = Plan()
    prefix = FRAMEWORK + "/"
    if (root / FRAMEWORK).is_symlink():
        raise UpdateError(f"{FRAMEWORK} is a symbolic link; the update replaces that folder, not what it points to")
    known = tracked(root, ".")
    # The framework, whole: its tracked files go, the release's come. Ignored files
    # (build output, node_modules) stay, unless one stands where a release file goes.
    for path in sorted(name for name in known if name.startswith(prefix)):
        if path not in new:
            checked_path(root, path)
            plan.deletes.add(path)
            plan.report.append(("removed", path))
    for path, fresh in sorted(new.items()):
        if not path.startswith(prefix):
            continue
        local = checked_path(root, path)
        mine = local_entry(local, crlf)
        if mine is not None and path not in known:
            raise UpdateError(f"{path} is ignored by git and stands where the release puts a file: move it first")
        if mine != fresh:
            plan.writes[path] = fresh
            untouched = mine is None or path not in base or mine == base[path]
            plan.report.append(("taken" if untouched else "replaced", path))
    for path in sorted(set(base) | set(new)):
        if path.startswith(prefix) or not is_shipped(path):
            continue
        old, fresh = base.get(path), new.get(path)
        if old == fresh:
            continue  # the template did not change it
        local = checked_path(root, path)
        mine = local_entry(local, crlf)
        if mine is not None and path not in known:
            raise UpdateError(f"{path} is ignored by git and stands where the release puts a file: move it first")
        if fresh is None:  # the template removed it
            if mine is not None and mine == old:
                plan.deletes.add(path)
                plan.report.append(("removed", path))
            elif mine is not None:
                plan.report.append((f"kept yours ({versions[1]} removed it)", path))
            continue
        if mine is None:
            if old is None:
                plan.writes[path] = fresh
                plan.report.append(("taken", path))
            else:
                plan.report.append(("kept deleted (you removed it)", path))
            continue
        if mine == fresh:
            continue
        if old is not None and mine == old:
            plan.writes[path] = fresh
            plan.report.append(("taken", path))
            continue
        if mine.link or fresh.link or b"\0" in mine.data or b"\0" in fresh.data:
            plan.report.append(("kept yours (a link or binary: compare by hand)", path))
            continue
        old_data = old.data if old is not None and not old.link else b""
        text, conflicted = merge(mine.data, old_data, fresh.data, path, versions)
        # The executable bit merges like a line: the template's change wins where yours did not differ.
        executable = fresh.executable if old is None or mine.executable == old.executable else mine.executable
        plan.writes[path] = Entry(text, executable=executable)
        if conflicted:
            plan.conflicts.append(path)
        plan.report.append(("conflict" if conflicted else "merged", path))
    return plan


def _write(local: Path, entry: Entry, crlf: bool, umask: int, mode: int | None = None) -> None:
    if local.is_symlink() or local.is_file():
        local.unlink()
    elif local.is_dir():
        local.rmdir()  # a folder the release turns into a file: emptied by the deletions before
    if entry.link:
        os.symlink(os.fsdecode(entry.data), local)
        return
    data = entry.data.replace(b"\n", b"\r\n") if crlf and b"\0" not in entry.data else entry.data
    local.write_bytes(data)
    local.chmod(mode if mode is not None else (0o777 if entry.executable else 0o666) & ~umask)


def apply(root: Path, plan: Plan, crlf: bool = False) -> None:
    """Deletions, then writes; on any failure everything touched is put back, folders made are removed."""
    umask = os.umask(0)
    os.umask(umask)
    saved: list[tuple[str, Entry | None, int | None]] = []
    made: list[Path] = []

    def save(path: str, local: Path) -> None:
        mode = None if local.is_symlink() or not local.is_file() else local.stat().st_mode & 0o7777
        saved.append((path, local_entry(local, False), mode))

    try:
        for path in sorted(plan.deletes, key=lambda name: (-name.count("/"), name)):
            local = checked_path(root, path)
            save(path, local)
            local.unlink()
            for folder in local.parents:  # folders the deletions emptied go too (put back on failure)
                if folder == root or folder.is_symlink() or any(folder.iterdir()):
                    break
                folder.rmdir()
        for path in sorted(plan.writes):
            local = checked_path(root, path)
            missing = [parent for parent in local.parents if not parent.exists() and root in parent.parents]
            for folder in reversed(missing):
                folder.mkdir()
                made.append(folder)
            save(path, local)
            _write(local, plan.writes[path], crlf, umask)
    except (OSError, UpdateError) as exc:
        for path, entry, mode in reversed(saved):
            local = root / path
            if local.is_symlink() or local.is_file():
                local.unlink()
            if entry is not None:
                local.parent.mkdir(parents=True, exist_ok=True)
                _write(local, entry, False, umask, mode)
        for folder in reversed(made):
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
        reason = exc.message if isinstance(exc, UpdateError) else f"could not write {exc.filename}: {exc.strerror}"
        raise UpdateError(f"{reason}; nothing was changed") from None


def update(root: Path, source: str | None, to: str | None, dry_run: bool = False,
           echo: Callable[[str], None] = click.echo) -> Plan | None:
    if _git("status", "--porcelain", "--untracked-files=normal", cwd=root).strip():
        raise UpdateError("the work tree has uncommitted changes: commit or stash them first, "
                          "so the update can be reviewed and undone as one change")
    current, recorded, version_file = read_version(root)
    chosen = source or recorded
    if not chosen:
        raise UpdateError(f"no template source: pass --from URL-OR-PATH, or set source in {VERSION_FILE}")
    crlf = _git("config", "--get", "--default", "false", "core.autocrlf", cwd=root).strip() == b"true"
    edited = [name for name in edited_files(root / FRAMEWORK) if not name.startswith(RECORD)]
    with tempfile.TemporaryDirectory(prefix="template-update-") as scratch:
        clone = Path(scratch) / "template"
        _git("clone", "--quiet", "--no-checkout", "--", chosen, str(clone))
        tags = releases(clone)
        if current not in tags:
            raise UpdateError(f"{chosen} has no release {current} (the one {VERSION_FILE} records)")
        target = to or tags[-1]
        if target not in tags:
            raise UpdateError(f"{chosen} has no release {target}; releases: {', '.join(tags)}")
        if release_key(target) < release_key(current):
            raise UpdateError(f"{target} is older than {current}: an update never goes back "
                              f"(revert the commit of the update instead)")
        if target == current:
            echo(f"already at {current}")
            return None
        plan = plan_update(root, tree(clone, current), tree(clone, target), (current, target), crlf)
    plan.writes[VERSION_FILE] = Entry(version_text(version_file, target, source if not recorded else None))
    for what, path in plan.report:
        echo(f"  {what}: {path}")
    if edited:
        echo(f"your edits to {FRAMEWORK} are replaced by {target}'s files (they stay in your git history):")
        for name in edited:
            echo(f"  {FRAMEWORK}/{name}")
    if dry_run:
        echo(f"dry run: {current} -> {target} would write {len(plan.writes)} files and remove "
             f"{len(plan.deletes)}; nothing was changed")
        return plan
    apply(root, plan, crlf)
    echo(f"updated from {current} to {target}: {len(plan.writes)} files written, {len(plan.deletes)} removed")
    if plan.conflicts:
        echo("conflicts, marked with <<<<<<< in each file:")
        for path in plan.conflicts:
            echo(f"  {path}")
        echo("next: resolve them, run `make test`, then commit the update")
    else:
        echo("next: run `make test`, then commit the update")
    return plan


def framework_files(folder: Path) -> dict[str, str]:
    """Each file of the framework folder that git would keep (.gitignore applies), with its git blob id."""
    names = [name for name in _names(_git("ls-files", "-z", "--cached", "--others", "--exclude-standard",
                                          "--", ".", cwd=folder))
             if name != RECORD and (folder / name).is_file()]
    # hash-object applies the repository's line-ending rules, as a commit would.
    paths = "\n".join(str(folder.resolve() / name) for name in names) + "\n"
    ids = _git("hash-object", "--stdin-paths", cwd=folder, data=os.fsencode(paths)).split()
    return dict(zip(names, (oid.decode() for oid in ids), strict=True)) if names else {}


def record(folder: Path) -> None:
    lines = ["# git blob id, file: packages/flask-keel as released (`python -m app template check`)\n"]
    lines += [f"{oid}  {name}\n" for name, oid in sorted(framework_files(folder).items())]
    (folder / RECORD).write_text("".join(lines), encoding="utf-8", errors="surrogateescape")


def edited_files(folder: Path) -> list[str]:
    """The framework's files that differ from its record: changed, added or removed."""
    if not folder.is_dir():
        return []
    try:
        text = (folder / RECORD).read_text(encoding="utf-8", errors="surrogateescape")
    except FileNotFoundError:
        return [RECORD + " (missing)"]
    recorded = dict(reversed(line.split("  ", 1)) for line in text.splitlines()
                    if line.strip() and not line.startswith("#"))
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
@click.option("--dry-run", is_flag=True, help="Print what each file would get; change nothing.")
def update_command(to: str | None, source: str | None, dry_run: bool) -> None:
    """Bring this project from its recorded template release to a later one."""
    from flask_keel.config.loader import project_root

    update(project_root(), source, to, dry_run)


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
    """Write packages/flask-keel/released-files.txt (where the framework itself is developed)."""
    from flask_keel.config.loader import project_root

    record(project_root() / FRAMEWORK)
    click.echo(f"{FRAMEWORK}/{RECORD} written")
