"""`python -m flask_keel ...`: the same commands for the project at APP_ROOT (else the working directory)."""

from flask_keel.cli.main import main

main()
