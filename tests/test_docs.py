"""The documentation a team reads: the README in one sitting, every relative link (and
#anchor) resolving, and the seed's names cited once, in the README's design notes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
MAX_README_LINES = 250

# The seed projects whose conventions the layout follows: named once, in the README's
# design notes, and nowhere else a newcomer reads. Spelled in parts, so that this file
# is not itself a place that names them.
SEED_NAMES = ("Flu" + "xon", "flask" + "-cms")
SKIPPED_FOLDERS = {".git", ".venv", "node_modules", "instance", "dist", "build", "__pycache__",
                   ".pytest_cache", ".ruff_cache", ".hypothesis"}

FENCE = re.compile(r"^(`{3,}|~{3,}).*?^\1[ \t]*$", re.M | re.S)
INLINE_CODE = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$", re.M)
EXTERNAL = re.compile(r"^(?:[a-z][a-z0-9+.-]*:|//)", re.I)


def documents() -> list[Path]:
    found = [README, ROOT / "SECURITY.md", *sorted((ROOT / "docs").glob("*.md")),
             *sorted((ROOT / "packages" / "flask-keel").glob("*.md"))]
    return [path for path in found if path.is_file()]


def prose(text: str) -> str:
    """The text without its fenced code blocks (a link there is code, not a link)."""
    return FENCE.sub("", text)


def links(text: str) -> list[str]:
    body = prose(text)
    return LINK.findall(body) + REFERENCE.findall(body)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link's text only
    text = text.replace("`", "").strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    result = set()
    for line in prose(path.read_text()).splitlines():
        heading = re.match(r"^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not heading:
            continue
        base = slug(heading.group(1))
        count = seen.get(base, 0)
        seen[base] = count + 1
        result.add(base if count == 0 else f"{base}-{count}")
    for explicit in re.findall(r"<a\s+(?:name|id)=\"([^\"]+)\"", path.read_text()):
        result.add(explicit)
    return result


def broken_links(path: Path) -> list[str]:
    broken = []
    for target in links(path.read_text()):
        if EXTERNAL.match(target):
            continue
        file_part, _, anchor = target.partition("#")
        resolved = (path.parent / file_part).resolve() if file_part else path
        if not resolved.exists():
            broken.append(f"{target}: no {resolved.relative_to(ROOT) if ROOT in resolved.parents else resolved}")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            broken.append(f"{target}: no heading #{anchor} in {resolved.relative_to(ROOT)}")
        elif ROOT not in resolved.parents and resolved != ROOT:
            broken.append(f"{target}: outside the project")
    return broken


def test_the_documents_exist():
    names = {path.relative_to(ROOT).as_posix() for path in documents()}
    assert {"README.md", "SECURITY.md", "packages/flask-keel/README.md", "packages/flask-keel/CHANGELOG.md"} <= names
    assert any(name.startswith("docs/") for name in names)


@pytest.mark.parametrize("path", documents(), ids=lambda path: path.relative_to(ROOT).as_posix())
def test_every_relative_link_resolves(path):
    assert broken_links(path) == []


def test_the_link_checker_sees_what_it_checks(tmp_path):
    page = tmp_path / "page.md"
    (tmp_path / "other.md").write_text("# The `Server` loader\n\n## Scale, roll out\n\n## Scale, roll out\n")
    page.write_text("[a](other.md#the-server-loader) [b](other.md#scale-roll-out-1) [c](missing.md)\n"
                    "[d](other.md#nowhere) [e](https://example.org/x) [f](#top)\n\n# Top\n"
                    "```sh\n[g](not-a-link.md)\n```\n")
    global ROOT
    saved, ROOT = ROOT, tmp_path
    try:
        assert broken_links(page) == ["missing.md: no missing.md", "other.md#nowhere: no heading #nowhere in other.md"]
    finally:
        ROOT = saved


def test_the_readme_is_read_in_one_sitting():
    lines = README.read_text().splitlines()
    assert len(lines) <= MAX_README_LINES, f"README.md has {len(lines)} lines; at most {MAX_README_LINES}"
    # It starts with the two commands that work on a fresh machine.
    first_block = README.read_text().split("```sh\n", 1)[1].split("```", 1)[0].splitlines()
    assert [line.split()[:2] for line in first_block[:2]] == [["make", "run"], ["make", "test"]]
    for section in ("## Start", "## Develop", "## Add a feature", "## Test", "## Deploy", "## Take updates",
                    "## Design notes"):
        assert any(line.startswith(section) for line in lines), section


def test_the_readme_commands_need_no_activated_virtualenv():
    """Commands it prints run from a new shell: `make ...`, `.venv/bin/...`, docker, never a bare
    `python -m app` or `flask`."""
    text = README.read_text()
    commands = [line for block in re.findall(r"```sh\n(.*?)```", text, re.S) for line in block.splitlines()]
    commands += INLINE_CODE.findall(prose(text))
    bare = [command for command in commands
            if re.match(r"^`?(python3? -m app\b|flask |pytest\b|pip )", command.strip())]
    assert bare == []


def test_the_walk_through_needs_only_the_accounts():
    """"Add a feature" works with the school demo removed: its files refer to users."""
    section = README.read_text().split("## Add a feature", 1)[1].split("\n## ", 1)[0]
    blocks = {}
    for body in re.findall(r"```\w+\n(.*?)```", section, re.DOTALL):
        first = body.partition("\n")[0]
        name = re.match(r"(?:#|\{#)\s*([\w/.]+)", first)
        assert name, f"a code block of the walk-through does not start by naming its file: {first!r}"
        blocks[name.group(1)] = body
    assert set(blocks) == {"Models/Persistent/rooms.py", "Models/Forms/rooms.py", "Controllers/rooms.py",
                           "template/rooms.html", "Server/Web.py", "tests/rooms/test_rooms.py"}
    # A template names itself in a Jinja comment, which renders as nothing: an HTML
    # comment before `{% extends %}` would come before the page's <!doctype>.
    assert blocks["template/rooms.html"].startswith("{#"), blocks["template/rooms.html"][:40]
    for name, body in blocks.items():
        assert not re.search(r"school|teacher", body, re.I), name
        if name.endswith(".py") and name != "Server/Web.py":
            compile(body, name, "exec")
    assert 'ForeignKey("users.id")' in blocks["Models/Persistent/rooms.py"]


def occurrences(text: str, name: str) -> int:
    return len(re.findall(re.escape(name), text, re.I))


def test_the_seed_names_are_cited_once_in_the_readme_design_notes():
    text = README.read_text()
    notes = text.split("## Design notes", 1)[1].split("\n## ", 1)[0]
    for name in SEED_NAMES:
        assert occurrences(text, name) <= 1, name
        assert occurrences(text, name) == occurrences(notes, name), f"{name} outside the design notes"


def test_the_seed_names_appear_in_no_other_document():
    named = [f"{path.relative_to(ROOT)}: {name}" for path in documents() if path != README
             for name in SEED_NAMES if occurrences(path.read_text(), name)]
    assert named == []


def python_files():
    for path in ROOT.rglob("*.py"):
        parts = set(path.relative_to(ROOT).parts)
        if parts & SKIPPED_FOLDERS or any(part.startswith(".venv") for part in parts):
            continue
        yield path


def test_the_seed_names_appear_in_no_python_code():
    named = [f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
             for path in python_files()
             for number, line in enumerate(path.read_text(errors="replace").splitlines(), start=1)
             if any(occurrences(line, name) for name in SEED_NAMES)]
    assert named == [], "\n".join(named)


def test_the_start_steps_come_in_the_order_the_files_exist_and_name_every_rename():
    """`.env` is made before a step sets a value in it; the rename step names the image compose
    builds, as `.env.example` and the compose files spell it (two projects with one image
    name overwrite each other's image)."""
    section = README.read_text().split("## Start a project", 1)[1].split("\n## ", 1)[0]
    steps = re.split(r"^\d+\. ", section, flags=re.M)[1:]
    made = next(index for index, step in enumerate(steps) if "cp .env.example .env" in step)
    setting = [index for index, step in enumerate(steps) if re.search(r"in `\.env`", step)]
    assert setting and min(setting) > made, (made, setting)
    rename = next(step for step in steps if step.startswith("Rename what is yours"))
    env_example = (ROOT / ".env.example").read_text()
    compose = (ROOT / "docker-compose.yml").read_text() + (ROOT / "docker-compose.dev.yml").read_text()
    for name in ("APP_NAME", "APP_IMAGE", "APP_DEV_IMAGE"):
        assert f"`{name}`" in rename, name
        assert re.search(rf"^{name}=\S", env_example, re.M), f"{name} has no value in .env.example"
    for name in ("APP_IMAGE", "APP_DEV_IMAGE"):
        assert "${" + name in compose, name
    assert "`pyproject.toml`" in rename
