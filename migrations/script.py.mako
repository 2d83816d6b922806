<%!
import re
%>"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
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


def upgrade(models: str) -> None:
    # Databases whose models this revision predates have nothing to do.
    globals().get(f"upgrade_{models}", lambda: None)()


def downgrade(models: str) -> None:
    globals().get(f"downgrade_{models}", lambda: None)()
% for models in re.split(r',\s*', config.get_main_option("model_sets") or ""):
% if models:


def upgrade_${models}() -> None:
    ${context.get("%s_upgrades" % models, "pass")}


def downgrade_${models}() -> None:
    ${context.get("%s_downgrades" % models, "pass")}
% endif
% endfor
