"""Run the typer app with ``python -m copilot``."""

from copilot.cli.main import run

run()
