"""`config show` against a corpus of secret shapes: each secret, under the name it was found under
in a real config, must not appear anywhere in the output, while the text around it stays.

The first rows are the shapes `config show` printed before (issue 28): short names (`MAIL_PW`,
`API_CREDS`, a nested `client_sec`), `password=` in a libpq string, `Password=` in an ODBC
string, `sk-proj-...`, `npm_...` and a UUID-style key.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass

import pytest
import yaml

from flask_keel.config.redact import REDACTED, redact
from tests.conftest import REPO_ROOT


@dataclass(frozen=True)
class Shape:
    id: str
    key: str
    value: str
    secret: str  # the part that must not be shown
    kept: tuple[str, ...] = ()  # parts that must stay readable


SHAPES = [
    Shape("short name PW", "MAIL_PW", "Ml-pw-7731x", "Ml-pw-7731x"),
    Shape("short name CREDS", "API_CREDS", "svc:Cr3ds-9981", "Cr3ds-9981"),
    Shape("short name PASSWD", "LDAP_PASSWD", "Ld4p-pw-5521", "Ld4p-pw-5521"),
    Shape("camelCase clientSec", "oauthClientSec", "Oc-s3c-7719", "Oc-s3c-7719"),
    Shape("licence key", "NEW_RELIC_LICENSE", "eu01xx0a1b2c3d4e5f6a7b8c9d0e1f2a3b4cNRAL", "0a1b2c3d4e5f6a7b8c9d"),
    Shape("libpq password=", "PG_CONNINFO", "host=db port=5432 user=app password=Pg-s3cret-41 dbname=shop",
          "Pg-s3cret-41", ("host=db", "user=app", "dbname=shop")),
    Shape("libpq quoted password", "PG_CONNINFO", "host=db password='pg s3cret 42' dbname=shop", "s3cret 42",
          ("host=db", "dbname=shop")),
    Shape("ODBC Password=", "MSSQL", "Driver={ODBC Driver 18};Server=tcp:db,1433;Uid=app;Password=Odbc-s3c-43;"
          "Encrypt=yes", "Odbc-s3c-43", ("Server=tcp:db,1433", "Uid=app", "Encrypt=yes")),
    Shape("ODBC Pwd= in braces", "MSSQL", "Server=db;Uid=app;Pwd={Br;ace-s3c-44};Encrypt=yes", "ace-s3c-44",
          ("Server=db", "Encrypt=yes")),
    Shape("Azure AccountKey", "STORAGE", "DefaultEndpointsProtocol=https;AccountName=acct;"
          "AccountKey=QXp1cmVLZXk0NWFiY2RlZmdoaWprbG1ub3A=;EndpointSuffix=core.windows.net",
          "QXp1cmVLZXk0NWFiY2RlZmdoaWprbG1ub3A", ("AccountName=acct",)),
    Shape("Azure SharedAccessKey", "BUS", "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=root;"
          "SharedAccessKey=U2hhcmVkNDZhYmNkZWZnaGlqa2xtbm9w=", "U2hhcmVkNDZhYmNkZWZnaGlqa2xtbm9w",
          ("SharedAccessKeyName=root",)),
    Shape("env-file line", "EXTRA", "export API_TOKEN=Env-t0k-47\nDEBUG=1", "Env-t0k-47", ("DEBUG=1",)),
    Shape("client_secret= in a form body", "EXTRA", "grant_type=client_credentials&client_secret=Fb-s3c-48",
          "Fb-s3c-48", ("grant_type=client_credentials",)),
    Shape("JSON member", "GOOGLE_SERVICE_ACCOUNT", '{"type": "service_account", "private_key_id": "a1b2c3d4e5f649"}',
          "a1b2c3d4e5f649", ("service_account",)),
    Shape("OpenAI project key", "EXTRA", "sk-proj-Op3nAI50abcdefghijklmnopqrstuvwxyzABCDEF", "Op3nAI50abcdefghij"),
    Shape("OpenAI key", "EXTRA", "sk-Op3nAI51abcdefghijklmnopqrstuvwxyzABCDEF", "Op3nAI51abcdefghij"),
    Shape("Anthropic key", "EXTRA", "sk-ant-api03-Anthr52abcdefghijklmnopqrstuvwxyz", "Anthr52abcdefghij"),
    Shape("npm token", "EXTRA", "npm_Npm53abcdefghijklmnopqrstuvwxyz01234", "Npm53abcdefghij"),
    Shape("UUID-style key", "HEROKU", "0b8f5c3e-2a7d-4c1e-9f3b-6d2a1e4c7b54", "0b8f5c3e-2a7d-4c1e-9f3b"),
    Shape("UUID in a sentence", "NOTE", "deploy key 7c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e55 (rotated)",
          "7c1d2e3f-4a5b-4c6d-8e7f", ("deploy key", "(rotated)")),
    Shape("PyPI token", "EXTRA", "pypi-AgEIcHlwaS5vcmcCJGRmNTYabcdefghijklmnopqrstuvwxyz0123456789ABCDEF",
          "AgEIcHlwaS5vcmcCJGRmNTY"),
    Shape("Hugging Face token", "EXTRA", "hf_Hf57abcdefghijklmnopqrstuvwxyzAB", "Hf57abcdefghijklmn"),
    Shape("Stripe webhook secret", "EXTRA", "whsec_Wh58abcdefghijklmnopqrstuvwxyz", "Wh58abcdefghijklmn"),
    Shape("Stripe live secret key", "EXTRA", "sk_live_St59abcdefghijklmnopqrstuv", "St59abcdefghijklmn"),
    Shape("GitLab token", "EXTRA", "glpat-Gl60abcdefghijklmnopqr", "Gl60abcdefghijklmn"),
    Shape("GitHub fine-grained token", "EXTRA", "github_pat_11AAAGh61abcdefghijklmnopqrstuvwxyz", "Gh61abcdefghijkl"),
    Shape("Slack app token", "EXTRA", "xapp-1-A0Sl62-1234567890-abcdef", "A0Sl62-1234567890"),
    Shape("AWS temporary key id", "EXTRA", "ASIAAWS63EXAMPLE0123", "ASIAAWS63EXAMPLE0123"),
    Shape("Google OAuth access token", "EXTRA", "ya29.Go64abcdefghijklmnopqrstuvwxyz", "Go64abcdefghijklmn"),
    Shape("Mailgun key", "EXTRA", "key-0123456789abcdef0123456789abc065", "0123456789abcdef0123"),
    Shape("Twilio API key", "EXTRA", "SK0123456789abcdef0123456789abc066", "SK0123456789abcdef01"),
    Shape("Docker Hub token", "EXTRA", "dckr_pat_Dk67abcdefghijklmnopqrstu", "Dk67abcdefghijklmn"),
    Shape("Sentry auth token", "EXTRA", "sntrys_Sn68abcdefghijklmnopqrstuvwxyz", "Sn68abcdefghijklmn"),
    Shape("DigitalOcean token", "EXTRA", "dop_v1_" + "d0" * 32, "d0d0d0d0d0d0d0d0d0d0"),
    Shape("password in a URL", "EXTRA", "amqp://app:Amqp-pw-70@mq:5672/vhost", "Amqp-pw-70", ("mq:5672/vhost",)),
    Shape("Bearer header", "EXTRA", "Authorization: Bearer Be71.abcdefghij", "Be71.abcdefghij",
          ("Authorization: Bearer",)),
    Shape("token in a query", "EXTRA", "https://api.example.com/v1?access_token=Qt72abcdef&page=2", "Qt72abcdef",
          ("page=2",)),
]


@pytest.mark.parametrize("shape", SHAPES, ids=[shape.id for shape in SHAPES])
def test_each_secret_shape_is_hidden_and_its_context_kept(shape: Shape):
    shown = redact({"FLASK": {"CONFIG": {shape.key: shape.value}}})["FLASK"]["CONFIG"][shape.key]
    assert shape.secret not in shown and REDACTED in shown, shown
    for part in shape.kept:
        assert part in shown, (part, shown)


def test_the_corpus_holds_at_least_30_shapes():
    assert len({shape.id for shape in SHAPES}) == len(SHAPES) >= 30


def test_a_nested_client_sec_is_hidden():
    shown = redact({"SERVICES": {"oauth": {"google": {"client_id": "web.apps", "client_sec": "GOCSPX-s3c"}}}})
    assert shown["SERVICES"]["oauth"]["google"] == {"client_id": "web.apps", "client_sec": REDACTED}


@pytest.mark.parametrize(("key", "value"), [
    ("READ_TIMEOUT_SEC", 30), ("RETRY_DELAY_SEC", 5), ("TENANT_ID", "0b8f5c3e-2a7d-4c1e-9f3b-6d2a1e4c7b90"),
    ("SECTION", "news"), ("PWM_LEVEL", "high"), ("NOTE", "page=2 sort=name"),
])
def test_names_and_values_that_only_look_close_stay(key, value):
    assert redact({key: value}) == {key: value}


def test_config_show_prints_none_of_the_corpus(write_config):
    """The real command, every shape in one config: no secret reaches stdout."""
    lines = ["FLASK:", "    CONFIG:"]
    environ = {key: value for key, value in os.environ.items() if not key.startswith(("APP_", "DB_", "REDIS_"))}
    for index, shape in enumerate(SHAPES):
        variable = f"SHAPE_{index}"
        environ[variable] = shape.value
        lines.append(f"        {shape.key}_{index}: '${{{variable}}}'" if shape.key != "EXTRA"
                     else f"        EXTRA_{index}: '${{{variable}}}'")
    source = write_config("\n".join(lines) + "\n")
    result = subprocess.run([sys.executable, "-m", "app", "config", "show", "--config", str(source)],
                            capture_output=True, text=True, env=environ, cwd=REPO_ROOT, timeout=60)
    assert result.returncode == 0, result.stderr
    shown = yaml.safe_load(result.stdout)["FLASK"]["CONFIG"]
    flat = result.stdout + "\n".join(str(value) for value in shown.values())
    leaked = [shape.id for shape in SHAPES if shape.secret in flat]
    assert leaked == []
