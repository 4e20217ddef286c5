"""`AssistService`: start, turn, feedback and end of a conversation, for WebSocket and REST."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import anyio.to_thread
from rapidfuzz import fuzz
from rapidfuzz.distance import Levenshtein
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from copilot.domain import FeedbackAction, Speaker, Suggestion, SuggestionKind
from copilot.errors import InvalidMessageError, NotStartedError, UnknownSuggestionError
from copilot.privacy.redact import Redactor
from copilot.service.conversations import ConversationBus, ConversationInfo, ConversationStore
from copilot.service.events import Listener, TurnLogged, TurnResult
from copilot.service.logwriter import LogWriter
from copilot.service.metrics import ServiceMetrics
from copilot.service.outcome import TurnAccepted, log_outcome
from copilot.service.pipeline import TurnPipeline
from copilot.service.restore import load_history
from copilot.storage.conversation_repo import ConversationRepo
from copilot.storage.feedback_repo import FeedbackRepo
from copilot.storage.records import ConversationRecord, FeedbackRecord, TurnRecord
from copilot.storage.turn_log_repo import TurnLogRepo
from copilot.suggest.memory import Remembered, TeamMemory

logger = logging.getLogger(__name__)


class AssistService:
    """Orchestrates one conversation turn: redact, log, retrieve and draft, remember feedback.

    Everything stored goes through the redactor first. Every write is committed (group-committed
    by the `LogWriter`) before the call returns, so whatever the caller acknowledges survives a
    crash; a write that cannot be committed raises instead, and the conversation's state is left
    as it was.
    """

    def __init__(
        self,
        store: ConversationStore,
        bus: ConversationBus,
        pipeline: TurnPipeline,
        memory: TeamMemory,
        writer: LogWriter,
        redactor: Redactor,
        metrics: ServiceMetrics,
        sessions: async_sessionmaker[AsyncSession],
    ) -> None:
        self.store = store
        self.bus = bus
        self._pipeline = pipeline
        self._memory = memory
        self._writer = writer
        self._redactor = redactor
        self._metrics = metrics
        self._sessions = sessions

    def _clean(self, text: str) -> str:
        return self._redactor.redact(text).text

    async def _live(self, conversation_id: str) -> ConversationInfo:
        info = await self.store.info(conversation_id)
        if info is None:
            raise NotStartedError(f"conversation {conversation_id} has not been started")
        return info

    async def start(
        self,
        conversation_id: str,
        agent_id: str,
        channel: str,
        client: str | None = None,
        language: str | None = None,
    ) -> tuple[ConversationInfo, bool]:
        """Start or resume a conversation; returns its info and whether it was resumed.

        The conversation is registered only once its row is committed, and concurrent starts of
        one conversation wait for each other, so no turn is accepted for a conversation the log
        does not hold. A conversation the store no longer holds (the service restarted, or its
        shared state expired) is rebuilt from the logs, so resent turns stay idempotent and the
        latest suggestions can be sent again.

        Raises:
            StorageError: the log database (or the shared state) is unavailable; nothing was
                started.
            WriteRejectedError: the database refused the conversation row.
        """
        async with self.store.starting(conversation_id):
            prior = await self.store.info(conversation_id)
            history = None
            resumed = prior is not None
            if prior is None:
                history = await load_history(conversation_id, self._sessions)
                resumed = history is not None
            info = ConversationInfo(
                conversation_id,
                agent_id,
                channel,
                client or (prior.client if prior else None),
                language or (prior.language if prior else None),
            )
            record = ConversationRecord(
                conversation_id, agent_id, channel, info.client, info.language, datetime.now(UTC)
            )

            async def write(s: AsyncSession) -> None:
                await ConversationRepo(s).start(record)

            await self._writer.write("conversation_start", write, record)
            await self.store.open(info, history)
        logger.info("conversation_started conversation_id=%s resumed=%s", conversation_id, resumed)
        return info, resumed

    async def turn(
        self,
        conversation_id: str,
        turn_id: str,
        speaker: Speaker,
        text: str,
        origin: Listener | None = None,
    ) -> TurnAccepted:
        """Log a turn and, for a customer turn, compute its suggestions.

        Every listener of the conversation hears of the turn (but ``origin``, which sent it) and of
        the suggestions, whether the turn came by WebSocket, REST or voice.

        The turn is committed before it joins the dialogue, and a customer turn's suggestions
        before they are sent: a turn resent by a client that got no answer is a duplicate only
        when it was committed.

        Raises:
            NotStartedError: The conversation was not started.
            StorageError: the log database is unavailable; the turn was not accepted.
            WriteRejectedError: the database refused the turn.
        """
        store = self.store
        if await store.seen(conversation_id, turn_id):
            return await self._duplicate(conversation_id, turn_id)
        clean = self._clean(text)
        record = TurnRecord(conversation_id, turn_id, speaker, clean, datetime.now(UTC))

        async def write_turn(s: AsyncSession) -> bool:
            return await TurnLogRepo(s).add_turn(record)

        written = await self._writer.write("turn", write_turn, record)
        # The dialogue as of this turn comes back with it: an agent turn arriving while this one
        # waits must not end it. None: the same turn sent twice at once (or to two replicas), and
        # the other copy goes on. A turn logged but not in the state (a replica died in between)
        # joins it now, so the client's resend gets its suggestions.
        added = await store.add_turn(conversation_id, turn_id, speaker, clean)
        if added is None:
            return await self._duplicate(conversation_id, turn_id)
        if not written:
            logger.info("turn_rejoined conversation_id=%s turn_id=%s", conversation_id, turn_id)
        self._metrics.turns.labels(speaker.value).inc()
        logged = TurnLogged(turn_id, speaker, clean, record.created_at)
        await self.bus.publish(conversation_id, logged, skip=origin)
        if speaker is not Speaker.CUSTOMER:
            return TurnAccepted(turn_id)
        async with store.processing(conversation_id):
            if not await store.current(conversation_id, added.seq):
                self._metrics.superseded.inc()
                return TurnAccepted(turn_id, superseded=True)
            outcome = await self._pipeline.suggest(
                list(added.window), turn_id, added.client, added.language
            )
            if not await store.current(conversation_id, added.seq):
                self._metrics.superseded.inc()
                return TurnAccepted(turn_id, superseded=True)
            result = TurnResult(
                turn_id, outcome.language, outcome.kb_gap, outcome.latency_ms, outcome.suggestions
            )
            # Committed before anyone sees them: feedback on a suggestion always finds its row.
            await log_outcome(
                self._writer,
                self._metrics,
                self._clean,
                conversation_id,
                outcome.confidence,
                result,
            )
            await store.remember(conversation_id, result)
        await self.bus.publish(conversation_id, result)
        return TurnAccepted(turn_id, result)

    async def _duplicate(self, conversation_id: str, turn_id: str) -> TurnAccepted:
        latest = await self.store.latest(conversation_id)
        return TurnAccepted(
            turn_id, latest if latest and latest.turn_id == turn_id else None, duplicate=True
        )

    async def feedback(
        self,
        conversation_id: str,
        suggestion_id: str,
        action: FeedbackAction,
        final_text: str,
        reason: str | None = None,
    ) -> bool:
        """Record what the agent did with a suggestion; False for a repeat (already recorded).

        Raises:
            NotStartedError: The conversation was not started.
            UnknownSuggestionError: This conversation never got that suggestion.
            InvalidMessageError: A reference (evidence only) accepted, or edited with no
                ``final_text``: it holds no reply to send.
            StorageError: the log database is unavailable; nothing was recorded.
            WriteRejectedError: the database refused the feedback.
        """
        info = await self._live(conversation_id)
        suggestion = await self.store.suggestion(conversation_id, suggestion_id)
        if suggestion is None:
            raise UnknownSuggestionError(
                f"suggestion {suggestion_id} was not sent in conversation {conversation_id}"
            )
        if suggestion.kind is SuggestionKind.REFERENCE and (
            action is FeedbackAction.ACCEPTED
            or (action is FeedbackAction.EDITED and not final_text)
        ):
            # A reference holds no reply: an accept would log (and learn) a reply nobody sent.
            raise InvalidMessageError(
                f"suggestion {suggestion_id} is a reference with no reply to accept: "
                "reject it, or send the agent's own reply as an edit with final_text"
            )
        if await self.store.feedback_given(conversation_id, suggestion_id):
            return False
        sent = final_text if final_text or action is FeedbackAction.REJECTED else suggestion.text
        record = FeedbackRecord(
            suggestion_id,
            conversation_id,
            info.agent_id,
            action,
            self._clean(sent),
            datetime.now(UTC),
            self._clean(reason) if reason else None,
            Levenshtein.distance(suggestion.text, sent) if sent else len(suggestion.text),
            round(fuzz.ratio(suggestion.text, sent) / 100, 4) if sent else 0.0,
        )

        async def write(s: AsyncSession) -> bool:
            return await FeedbackRepo(s).record(record)

        recorded = await self._writer.write("feedback", write, record)
        # Sent twice at once (or to two replicas): only one of them notes it.
        if not recorded or not await self.store.mark_feedback(conversation_id, suggestion_id):
            return False
        self._metrics.feedback.labels(action.value).inc()
        if action is not FeedbackAction.REJECTED and sent:
            await self._learn(info, suggestion, record)
        return True

    async def _learn(
        self, info: ConversationInfo, suggestion: Suggestion, record: FeedbackRecord
    ) -> None:
        customer_text = await self.store.turn_text(info.conversation_id, suggestion.turn_id)
        if customer_text is None:
            return
        item = Remembered(
            suggestion.suggestion_id,
            customer_text,
            record.final_text,
            suggestion.language,
            info.client,
            info.agent_id,
            record.created_at,
        )
        await anyio.to_thread.run_sync(self._memory.add, [item])

    async def owner(self, conversation_id: str) -> str | None:
        """The agent a conversation belongs to, live or logged; None for a new conversation."""
        info = await self.store.info(conversation_id)
        if info is not None:
            return info.agent_id
        async with self._sessions() as s:
            record = await ConversationRepo(s).get(conversation_id)
        return record.agent_id if record is not None else None

    async def end(self, conversation_id: str) -> None:
        """End the conversation (its later messages need a new ``start``).

        Raises:
            NotStartedError: The conversation was not started.
            StorageError: the log database is unavailable; the conversation goes on.
        """
        await self._live(conversation_id)
        at = datetime.now(UTC)

        async def write(s: AsyncSession) -> None:
            await ConversationRepo(s).end(conversation_id, at)

        await self._writer.write(
            "conversation_end", write, {"conversation_id": conversation_id, "ended_at": at}
        )
        await self.store.end(conversation_id)
