"""Listings behind the supervisor console: KB-gap turns, conversations, and the log export.

A *gap turn* is a customer turn the KB failed: flagged ``kb_gap``, or every verdict on its
suggestions a rejection (at least one rejection, no acceptance or edit). The KB-gap table and the
per-conversation gap count use that one definition (`_is_gap_turn`).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from copilot.domain import FeedbackAction, Speaker, SuggestionKind
from copilot.storage.analytics_records import ConversationSummary, ExportRow, GapTurn
from copilot.storage.db import storage_errors
from copilot.storage.filters import conditions
from copilot.storage.records import LogFilters
from copilot.storage.report_query import cited_doc_ids, from_suggestions, turn_of_suggestion
from copilot.storage.tables import ConversationRow, FeedbackRow, SuggestionRow, TurnRow

_USED = (FeedbackAction.ACCEPTED.value, FeedbackAction.EDITED.value)


def _verdict_on_turn(*actions: str) -> ColumnElement[bool]:
    """Whether some suggestion of the enclosing query's turn got one of ``actions``."""
    return exists(
        select(SuggestionRow.suggestion_id)
        .join(FeedbackRow, FeedbackRow.suggestion_id == SuggestionRow.suggestion_id)
        .where(
            SuggestionRow.conversation_id == TurnRow.conversation_id,
            SuggestionRow.turn_id == TurnRow.turn_id,
            FeedbackRow.action.in_(actions),
        )
    )


def _only_rejected() -> ColumnElement[bool]:
    """The enclosing query's turn got a rejection and no acceptance or edit."""
    return and_(_verdict_on_turn(FeedbackAction.REJECTED.value), ~_verdict_on_turn(*_USED))


def _is_gap_turn() -> ColumnElement[bool]:
    """The enclosing query's turn is a gap turn (see the module docstring)."""
    return and_(
        TurnRow.speaker == Speaker.CUSTOMER.value,
        or_(TurnRow.kb_gap == true(), _only_rejected()),
    )


def _latest_customer_language() -> Any:
    """The detected language of the conversation's latest customer turn that has one."""
    return (
        select(TurnRow.language)
        .where(
            TurnRow.conversation_id == ConversationRow.conversation_id,
            TurnRow.speaker == Speaker.CUSTOMER.value,
            TurnRow.language.is_not(None),
        )
        .order_by(TurnRow.created_at.desc(), TurnRow.id.desc())
        .limit(1)
        .correlate(ConversationRow)
        .scalar_subquery()
    )


class ReviewRepo:
    """Log listings for supervisors; it never writes.

    Methods raise `StorageError` when the database cannot be reached.
    """

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def gap_turns(self, filters: LogFilters) -> list[GapTurn]:
        """Customer turns flagged as KB gaps, and those whose every verdict was a rejection.

        Newest first, at most ``limit`` of each kind; ``since``/``until`` and ``language`` apply to
        the turn, ``agent_id`` to the conversation.

        Raises:
            StorageError: the database cannot be reached.
        """
        where = conditions(
            filters,
            created_at=TurnRow.created_at,
            language=TurnRow.language,
            conversation_id=TurnRow.conversation_id,
        )
        base = (
            select(TurnRow, ConversationRow.client)
            .join(ConversationRow, ConversationRow.conversation_id == TurnRow.conversation_id)
            .where(TurnRow.speaker == Speaker.CUSTOMER.value, *where)
            .order_by(TurnRow.created_at.desc(), TurnRow.id.desc())
            .limit(filters.limit)
        )
        rejected_turns = base.where(TurnRow.kb_gap.is_not(true()), _only_rejected())
        out: list[GapTurn] = []
        with storage_errors(self._session, "list gap turns"):
            for reason, stmt in (
                ("kb_gap", base.where(TurnRow.kb_gap == true())),
                ("rejected", rejected_turns),
            ):
                for turn, client in (await self._session.execute(stmt)).all():
                    out.append(
                        GapTurn(
                            turn.conversation_id,
                            turn.turn_id,
                            turn.text,
                            turn.language,
                            client,
                            turn.created_at,
                            turn.retrieval_confidence,
                            reason,
                        )
                    )
        out.sort(key=lambda g: g.created_at, reverse=True)
        return out

    async def conversations(self, filters: LogFilters) -> list[ConversationSummary]:
        """Conversations started in the range, newest first, with the size of their logs, their
        gap turns and their escalations (customer turns that got an ``escalate`` suggestion).

        A conversation's language is the detected language of its latest customer turn that has
        one, else the language it was started with; ``language`` matches it, and the summary's
        record carries it. ``agent_id`` matches the conversation's agent.

        Raises:
            StorageError: the database cannot be reached.
        """
        cid = ConversationRow.conversation_id
        language = func.coalesce(_latest_customer_language(), ConversationRow.language)

        def count(column: Any, *where: ColumnElement[bool]) -> Any:
            return select(func.count(column)).where(*where).correlate(ConversationRow)

        stmt = (
            select(
                ConversationRow,
                language,
                count(TurnRow.id, TurnRow.conversation_id == cid).scalar_subquery(),
                count(
                    SuggestionRow.suggestion_id, SuggestionRow.conversation_id == cid
                ).scalar_subquery(),
                count(FeedbackRow.id, FeedbackRow.conversation_id == cid).scalar_subquery(),
                count(TurnRow.id, TurnRow.conversation_id == cid, _is_gap_turn()).scalar_subquery(),
                # An escalation is a customer turn that got an "escalate" suggestion.
                count(
                    SuggestionRow.turn_id.distinct(),
                    SuggestionRow.conversation_id == cid,
                    SuggestionRow.kind == SuggestionKind.ESCALATE.value,
                ).scalar_subquery(),
            )
            .where(
                *conditions(
                    replace(filters, language=None),
                    created_at=ConversationRow.started_at,
                    language=ConversationRow.language,
                    conversation_id=cid,
                )
            )
            .order_by(ConversationRow.started_at.desc(), cid)
            .limit(filters.limit)
            .offset(filters.offset)
        )
        if filters.language is not None:
            stmt = stmt.where(language == filters.language)
        with storage_errors(self._session, "list conversations"):
            rows = (await self._session.execute(stmt)).all()
        return [
            ConversationSummary(
                replace(row.to_record(), language=lang), int(t), int(s), int(f), int(g), int(e)
            )
            for row, lang, t, s, f, g, e in rows
        ]

    async def export_rows(self, filters: LogFilters) -> list[ExportRow]:
        """One row per suggestion, with its turn and verdict: newest first, at most ``limit``.

        Raises:
            StorageError: the database cannot be reached.
        """
        stmt = from_suggestions(
            select(SuggestionRow, TurnRow, ConversationRow, FeedbackRow), filters
        )
        stmt = (
            stmt.join(TurnRow, turn_of_suggestion())
            .order_by(
                SuggestionRow.created_at.desc(), SuggestionRow.rank, SuggestionRow.suggestion_id
            )
            .limit(filters.limit)
            .offset(filters.offset)
        )
        with storage_errors(self._session, "export logs"):
            rows = (await self._session.execute(stmt)).all()
        return [_export_row(s, t, c, f) for s, t, c, f in rows]


def _export_row(
    s: SuggestionRow, t: TurnRow, c: ConversationRow, f: FeedbackRow | None
) -> ExportRow:
    return ExportRow(
        conversation_id=c.conversation_id,
        agent_id=f.agent_id if f is not None else c.agent_id,
        client=c.client,
        channel=c.channel,
        turn_id=t.turn_id,
        speaker=Speaker(t.speaker),
        turn_text=t.text,
        turn_at=t.created_at,
        kb_gap=t.kb_gap,
        retrieval_confidence=t.retrieval_confidence,
        suggestion_id=s.suggestion_id,
        rank=s.rank,
        kind=SuggestionKind(s.kind),
        suggestion_text=s.text,
        confidence=s.confidence,
        language=s.language,
        latency_ms=s.latency_ms,
        suggested_at=s.created_at,
        evidence_doc_ids=cited_doc_ids(s.evidence),
        action=None if f is None else FeedbackAction(f.action),
        final_text=None if f is None else f.final_text,
        similarity=None if f is None else f.similarity,
        edit_distance=None if f is None else f.edit_distance,
        reason=None if f is None else f.reason,
        feedback_at=None if f is None else f.created_at,
    )
