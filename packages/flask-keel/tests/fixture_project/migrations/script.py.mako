<%!
import re
%>"""${message}

Revision ID: ${up_revision}
Revises: ${", ".join(down_revision) if isinstance(down_revision, tuple) else (down_revision or "(none, the first revision)")}
Create Date: ${create_date}
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
${imports if imports else ""}

revision: str = ${repr(up_revision)}
down_revision: Union[str, Sequence[str], None] = ${repr(down_revision)}
branch_labels: Union[str, Sequence[str], None] = ${repr(branch_labels)}
depends_on: Union[str, Sequence[str], None] = ${repr(depends_on)}


def upgrade(models: Sequence[str]) -> None:
    # The models modules of the database being migrated, in config order; a module
    # this revision does not touch has nothing to do.
    for name in models:
        globals().get(f"upgrade_{name}", lambda: None)()


def downgrade(models: Sequence[str]) -> None:
    for name in reversed(models):
        globals().get(f"downgrade_{name}", lambda: None)()
<%
    modules = [name for name in re.split(r',\s*', config.get_main_option("model_modules") or "") if name]
    changed = [name for name in modules if ("%s_upgrades" % name) in context.keys()]
%>\
% for name in (changed or modules):


def upgrade_${name}() -> None:
    ${context.get("%s_upgrades" % name, "pass")}


def downgrade_${name}() -> None:
    ${context.get("%s_downgrades" % name, "pass")}
% endfor
