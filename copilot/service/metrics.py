"""Prometheus metrics of one app instance, in its own registry (no process-global collectors)."""

from __future__ import annotations

import platform

from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
)

from copilot import __version__

_LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1.0, 2.0, 5.0)
_ASR_BUCKETS = (0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0)


class ServiceMetrics:
    """Turns, suggestions, latency, feedback, errors, connections and the write backlog, beside
    the standard process, platform and GC figures and ``copilot_build_info``."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        # The default registry's collectors read the process, not one app: sharing them costs
        # nothing and keeps a second app in one process (tests) from a duplicate registration.
        for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
            r.register(collector)
        self.build = Info("copilot_build", "Version of copilot and Python serving.", registry=r)
        self.build.info({"version": __version__, "python": platform.python_version()})
        self.turns = Counter(
            "copilot_turns", "Conversation turns received.", ["speaker"], registry=r
        )
        self.suggestions = Counter(
            "copilot_suggestions", "Suggestions sent to agents.", ["kind"], registry=r
        )
        self.superseded = Counter(
            "copilot_superseded_turns", "Customer turns whose suggestions went stale.", registry=r
        )
        self.kb_gaps = Counter("copilot_kb_gaps", "Turns the KB could not answer.", registry=r)
        self.latency = Histogram(
            "copilot_suggestion_latency_seconds",
            "Time from a customer turn to its suggestions.",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.feedback = Counter("copilot_feedback", "Agent feedback.", ["action"], registry=r)
        self.errors = Counter("copilot_errors", "Error frames and responses.", ["code"], registry=r)
        self.connections = Gauge(
            "copilot_websocket_connections", "Open WebSocket connections.", registry=r
        )
        self.write_backlog = Gauge(
            "copilot_log_write_backlog", "Log writes waiting for their commit.", registry=r
        )
        self.writes_rejected = Counter(
            "copilot_log_writes_rejected",
            "Log writes the database refused for good (kept in the dead-letter file).",
            ["job"],
            registry=r,
        )
        self.asr_seconds = Histogram(
            "copilot_asr_decode_seconds",
            "Time of one speech-to-text decode.",
            ["kind"],
            buckets=_ASR_BUCKETS,
            registry=r,
        )
        self.asr_final_delay = Histogram(
            "copilot_asr_final_delay_seconds",
            "Time from the end of speech to its final transcript.",
            buckets=_ASR_BUCKETS,
            registry=r,
        )
        self.asr_queue = Gauge(
            "copilot_asr_queue", "Speech decodes waiting for the recogniser.", registry=r
        )
        self.asr_overload = Counter(
            "copilot_asr_interim_skipped",
            "Interim windows skipped because the recogniser was behind (overload).",
            registry=r,
        )
        self.audio_calls = Gauge("copilot_audio_streams", "Open audio streams.", registry=r)
