"""Supervisor reports: verdict rates, latency, KB gaps, edits, conversations and the log export.

Every route needs the supervisor (or admin) role. Filters are the log listings' own: ``since``
(inclusive) and ``until`` (exclusive) bound when suggestions were shown, plus agent, client and
language.
"""

from __future__ import annotations

import csv
import dataclasses
import io
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, Response

from copilot.api.auth import require
from copilot.api.deps import ConversationId, Offset, RangeFiltersDep, StateDep
from copilot.domain import Role
from copilot.service.reports import ReportService
from copilot.storage.analytics_records import ExportRow, FeedbackCounts, GroupBy, TimeBucket

router = APIRouter(
    prefix="/v1/supervisor",
    tags=["supervisor"],
    dependencies=[Depends(require(Role.SUPERVISOR))],
)

# A spreadsheet runs a cell starting with one of these as a formula (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class BucketChoice(StrEnum):
    """Width of the time buckets; ``auto`` is hourly up to two days, daily beyond."""

    AUTO = "auto"
    HOUR = "hour"
    DAY = "day"

    def bucket(self) -> TimeBucket | None:
        """The fixed width, or None for ``auto``."""
        return None if self is BucketChoice.AUTO else TimeBucket(self.value)


class ExportFormat(StrEnum):
    """File format of an export."""

    CSV = "csv"
    JSON = "json"


def get_reports(state: StateDep) -> ReportService:
    """The report service over the app's database and KB."""
    return ReportService(state.sessions, state.kb, state.settings.gap_cluster_similarity)


ReportsDep = Annotated[ReportService, Depends(get_reports)]


def _counts(c: FeedbackCounts) -> dict[str, Any]:
    n = c.with_feedback

    def share(x: int, of: int) -> float | None:
        return round(x / of, 4) if of else None

    return {
        "key": c.key,
        "shown": c.shown,
        "accepted": c.accepted,
        "edited": c.edited,
        "rejected": c.rejected,
        "with_feedback": n,
        "no_feedback": c.no_feedback,
        "accepted_rate": share(c.accepted, n),
        "edited_rate": share(c.edited, n),
        "rejected_rate": share(c.rejected, n),
        "feedback_rate": share(n, c.shown),
    }


def _json(value: Any) -> dict[str, Any]:
    encoded: dict[str, Any] = jsonable_encoder(dataclasses.asdict(value))
    return encoded


@router.get("/rates")
async def rates(
    reports: ReportsDep,
    filters: RangeFiltersDep,
    group_by: GroupBy = GroupBy.OVERALL,
    bucket: BucketChoice | None = None,
) -> dict[str, Any]:
    """Accepted, edited and rejected counts and rates (shares of the verdicts) per group.

    With ``bucket``, ``series`` adds the same counts per time bucket over the filtered range.
    """
    groups = await reports.rates(filters, group_by)
    body: dict[str, Any] = {"group_by": group_by, "groups": [_counts(g) for g in groups]}
    if bucket is not None:
        width, series = await reports.rates_over_time(filters, bucket.bucket())
        body |= {"bucket": width, "series": [_counts(s) for s in series]}
    return body


@router.get("/latency")
async def latency(
    reports: ReportsDep, filters: RangeFiltersDep, bucket: BucketChoice = BucketChoice.AUTO
) -> dict[str, Any]:
    """Suggestion latency p50/p95/p99 (ms) of customer turns, overall and per time bucket."""
    return _json(await reports.latency(filters, bucket.bucket()))


@router.get("/gaps")
async def gaps(
    reports: ReportsDep,
    filters: RangeFiltersDep,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
) -> list[dict[str, Any]]:
    """Customer questions the KB failed (KB gaps, all-rejected turns), grouped by meaning."""
    groups = await reports.gaps(dataclasses.replace(filters, limit=limit))
    return [_json(g) for g in groups]


@router.get("/most-edited")
async def most_edited(
    reports: ReportsDep,
    filters: RangeFiltersDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 20,
    offset: Offset = 0,
) -> list[dict[str, Any]]:
    """Edited suggestions beside the text sent, least similar first."""
    edited = await reports.most_edited(dataclasses.replace(filters, limit=limit, offset=offset))
    return [_json(e) for e in edited]


@router.get("/conversations")
async def conversations(
    reports: ReportsDep,
    filters: RangeFiltersDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Offset = 0,
) -> list[dict[str, Any]]:
    """Conversations started in the range, newest first, with the size of their logs."""
    listed = await reports.conversations(dataclasses.replace(filters, limit=limit, offset=offset))
    return [_json(c) for c in listed]


@router.get("/conversations/{conversation_id}")
async def conversation(conversation_id: ConversationId, reports: ReportsDep) -> dict[str, Any]:
    """One conversation's turns, suggestions with evidence, and the agent's actions."""
    return _json(await reports.conversation(conversation_id))


def _cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple):
        return ";".join(value)
    return "" if value is None else value


def _csv(rows: list[ExportRow]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([f.name for f in dataclasses.fields(ExportRow)])
    for row in rows:
        writer.writerow([_cell(getattr(row, f.name)) for f in dataclasses.fields(ExportRow)])
    return out.getvalue()


@router.get("/export")
async def export(
    reports: ReportsDep,
    filters: RangeFiltersDep,
    format: ExportFormat = ExportFormat.CSV,
    limit: Annotated[int, Query(ge=1, le=100_000)] = 10_000,
    offset: Offset = 0,
) -> Response:
    """The filtered logs as a download: one row per suggestion, newest first.

    Each row holds the conversation, the turn, the suggestion, the agent's verdict and final text,
    similarity, latency and the cited document ids (``;``-separated in CSV). CSV cells that a
    spreadsheet would run as a formula get a leading ``'``.
    """
    rows = await reports.export(dataclasses.replace(filters, limit=limit, offset=offset))
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    name = f"copilot-logs-{stamp}.{format.value}"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    if format is ExportFormat.CSV:
        return Response(_csv(rows), media_type="text/csv; charset=utf-8", headers=headers)
    body = jsonable_encoder([dataclasses.asdict(r) for r in rows])
    return JSONResponse(body, headers=headers)
