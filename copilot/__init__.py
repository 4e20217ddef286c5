"""Copilot: an offline-first agent-assist copilot for contact centers."""

__version__ = "0.1.0"
