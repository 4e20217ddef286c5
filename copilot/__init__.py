"""Copilot: an offline-first agent-assist copilot for contact centers."""

import os

__version__ = "0.1.0"

# OpenMP runtimes (FAISS's, the e5 engine's) read this once, when their library loads, so it is set
# before any of them is imported. By default their idle workers spin on the two cores after each
# call: a turn's dense search showed 7.5 ms of CPU for well under 1 ms of work
# (`benchmarks/turn_profile.py`: 63.6 -> 49.5 ms of CPU per turn with PASSIVE).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
