"""Command-line interface (typer): ``copilot kb ...``."""
