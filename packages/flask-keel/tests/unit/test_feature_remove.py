"""`flask feature remove`'s edits, on a small project of the test's own."""

from __future__ import annotations

import ast
import textwrap

from flask_keel.cli.feature import FeatureEditor

REVISION = '''
revision = {revision!r}
down_revision: Union[str, Sequence[str], None] = {down!r}


def upgrade(models):
    pass
{functions}
'''


def revision(path, number, down, modules):
    functions = "".join(f"\n\ndef upgrade_{name}() -> None:\n    pass\n\n\ndef downgrade_{name}() -> None:\n    pass\n"
                        for name in modules)
    path.write_text(REVISION.format(revision=number, down=down, functions=functions))


def test_removal_strips_functions_deletes_emptied_revisions_and_relinks(tmp_path):
    versions = tmp_path / "migrations" / "versions"
    versions.mkdir(parents=True)
    revision(versions / "0001_first.py", "0001", None, ["accounts", "rooms"])
    revision(versions / "0002_rooms_only.py", "0002", "0001", ["rooms"])
    revision(versions / "0003_rooms_again.py", "0003", "0002", ["rooms"])
    revision(versions / "0004_accounts.py", "0004", "0003", ["accounts"])
    (tmp_path / "Server").mkdir()
    (tmp_path / "Server" / "Web.py").write_text(textwrap.dedent("""\
        class Route(object):
            def __init__(self, server):
                from Controllers import accounts, rooms

                server.register_blueprint(accounts.pages)
                server.register_blueprint(rooms.pages)
        """))
    (tmp_path / "Controllers").mkdir()
    (tmp_path / "Controllers" / "rooms.py").write_text("")
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "config.yml").write_text("DATABASE:\n    main:\n        models: [accounts, rooms]\n")

    editor = FeatureEditor(tmp_path, "rooms", dry_run=False)
    editor.remove_files()
    editor.unwire_server()
    editor.remove_migrations()
    editor.drop_from_config()

    assert sorted(path.name for path in versions.iterdir()) == ["0001_first.py", "0004_accounts.py"]
    first = ast.parse((versions / "0001_first.py").read_text())
    assert {node.name for node in first.body if isinstance(node, ast.FunctionDef)} == {
        "upgrade", "upgrade_accounts", "downgrade_accounts"}
    assert "= '0001'" in (versions / "0004_accounts.py").read_text()  # skips the two deleted revisions
    web = (tmp_path / "Server" / "Web.py").read_text()
    assert "from Controllers import accounts\n" in web and "rooms" not in web
    assert not (tmp_path / "Controllers" / "rooms.py").exists()
    assert "models: [accounts]" in (tmp_path / "config" / "config.yml").read_text()
