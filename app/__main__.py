"""`python -m app ...`: the project's commands (serve, dev, db, jobs, feature, config, ...)."""

import app  # noqa: F401 - records APP_ROOT before the commands read the config
from flask_keel.cli.main import main

main()
