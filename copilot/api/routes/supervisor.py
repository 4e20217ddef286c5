"""Supervisor reports: verdict rates, latency, KB gaps, edits, conversations and the log export.

Every route needs the supervisor (or admin) role. Filters are the log listings' own: ``since``
(inclusive) and ``until`` (exclusive) bound when suggestions were shown, plus agent, client and
language; ``tz`` (an IANA zone, UTC by default) is where days and hours are cut and how bounds
without an offset are read. An unknown zone, or ``since`` not before ``until``, is a 422.
"""

from __future__ import annotations

import csv
import dataclasses
import io
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Depends, Query
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response

from copilot.api import supervisor_schemas as out
from copilot.api.auth import require
from copilot.api.deps import ConversationId, FilterText, Offset, StateDep
from copilot.domain import Role
from copilot.service.reports import ReportService
from copilot.storage.analytics_records import ExportRow, GroupBy, TimeBucket
from copilot.storage.records import LogFilters

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


@dataclass(frozen=True, slots=True)
class ReportRange:
    """The filter bar of a report: the log filters (bounds in UTC) and the supervisor's zone."""

    filters: LogFilters
    zone: ZoneInfo


def _invalid(name: str, message: str) -> RequestValidationError:
    return RequestValidationError([{"type": "value_error", "loc": ("query", name), "msg": message}])


def _zone(tz: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise _invalid(
            "tz", "unknown time zone: give an IANA name such as America/Mexico_City"
        ) from exc


def _bound(name: str, value: datetime | None, zone: ZoneInfo) -> datetime | None:
    """A bound as aware UTC; one without an offset is a wall-clock time in ``zone``."""
    if value is None:
        return None
    try:
        local = value if value.utcoffset() is not None else value.replace(tzinfo=zone)
        return local.astimezone(UTC)
    except OverflowError as exc:
        raise _invalid(name, "the date falls outside the years 1 to 9999 once in UTC") from exc


def report_range(
    since: Annotated[
        datetime | None,
        Query(description="Inclusive lower bound (ISO 8601; without an offset, in `tz`)."),
    ] = None,
    until: Annotated[
        datetime | None,
        Query(description="Exclusive upper bound (ISO 8601; without an offset, in `tz`)."),
    ] = None,
    agent_id: FilterText = None,
    client: FilterText = None,
    language: FilterText = None,
    tz: Annotated[
        str,
        Query(
            max_length=64,
            description="IANA time zone (e.g. America/Mexico_City) in which days and hours are "
            "cut and bounds without an offset are read; 422 when unknown.",
        ),
    ] = "UTC",
) -> ReportRange:
    """The filter bar of every report, in the supervisor's time zone.

    Raises:
        RequestValidationError: an unknown zone, or ``since`` not before ``until`` (a 422).
    """
    zone = _zone(tz)
    start, end = _bound("since", since, zone), _bound("until", until, zone)
    if start is not None and end is not None and start >= end:
        raise _invalid("since", "'since' must be earlier than 'until': that range is empty")
    return ReportRange(LogFilters(start, end, agent_id, client, language), zone)


RangeDep = Annotated[ReportRange, Depends(report_range)]


def get_reports(state: StateDep) -> ReportService:
    """The report service over the app's database and KB."""
    return ReportService(state.sessions, state.kb, state.settings.gap_cluster_similarity)


ReportsDep = Annotated[ReportService, Depends(get_reports)]


@router.get("/rates")
async def rates(
    reports: ReportsDep,
    span: RangeDep,
    group_by: GroupBy = GroupBy.OVERALL,
    bucket: BucketChoice | None = None,
) -> out.RatesReport:
    """Accepted, edited and rejected counts and rates (shares of the verdicts) per group.

    With ``bucket``, ``series`` adds the same counts per time bucket (cut in ``tz``) over the
    filtered range. A ``topic`` is a KB tag of the first document each suggestion cites.
    """
    groups = await reports.rates(span.filters, group_by)
    report = out.RatesReport(
        group_by=group_by, groups=[out.VerdictCounts.of(g) for g in groups], time_zone=span.zone.key
    )
    if bucket is not None:
        width, series = await reports.rates_over_time(span.filters, bucket.bucket(), span.zone)
        report = report.model_copy(
            update={"bucket": width, "series": [out.VerdictCounts.of(s) for s in series]}
        )
    return report


@router.get("/latency")
async def latency(
    reports: ReportsDep, span: RangeDep, bucket: BucketChoice = BucketChoice.AUTO
) -> out.LatencyReport:
    """Suggestion latency p50/p95/p99 (ms) of customer turns, overall and per bucket (in ``tz``)."""
    report = await reports.latency(span.filters, bucket.bucket(), span.zone)
    return out.LatencyReport.model_validate(report, from_attributes=True)


@router.get("/gaps")
async def gaps(
    reports: ReportsDep,
    span: RangeDep,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
) -> list[out.GapGroup]:
    """Customer questions the KB failed (KB gaps, all-rejected turns), grouped by meaning."""
    groups = await reports.gaps(dataclasses.replace(span.filters, limit=limit))
    return [out.GapGroup.model_validate(g, from_attributes=True) for g in groups]


@router.get("/most-edited")
async def most_edited(
    reports: ReportsDep,
    span: RangeDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 20,
    offset: Offset = 0,
) -> list[out.EditedSuggestion]:
    """Edited suggestions beside the text sent, least similar first."""
    filters = dataclasses.replace(span.filters, limit=limit, offset=offset)
    return [
        out.EditedSuggestion.model_validate(e, from_attributes=True)
        for e in await reports.most_edited(filters)
    ]


@router.get("/conversations")
async def conversations(
    reports: ReportsDep,
    span: RangeDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Offset = 0,
) -> list[out.ConversationSummary]:
    """Conversations started in the range, newest first, with the size of their logs.

    ``language`` matches a conversation's language: its latest customer turn's detected one.
    """
    filters = dataclasses.replace(span.filters, limit=limit, offset=offset)
    return [
        out.ConversationSummary.model_validate(c, from_attributes=True)
        for c in await reports.conversations(filters)
    ]


@router.get("/conversations/{conversation_id}")
async def conversation(
    conversation_id: ConversationId, reports: ReportsDep
) -> out.ConversationDetail:
    """One conversation's turns, suggestions with evidence, and the agent's actions."""
    detail = await reports.conversation(conversation_id)
    return out.ConversationDetail.model_validate(detail, from_attributes=True)


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


_EXPORT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "model": list[out.ExportRow],
        "description": "A download (Content-Disposition: attachment): JSON rows, or CSV with the "
        "same columns.",
        "content": {"text/csv": {"schema": {"type": "string"}}},
    }
}


@router.get("/export", responses=_EXPORT_RESPONSES)
async def export(
    reports: ReportsDep,
    span: RangeDep,
    format: ExportFormat = ExportFormat.CSV,
    limit: Annotated[int, Query(ge=1, le=100_000)] = 10_000,
    offset: Offset = 0,
) -> Response:
    """The filtered logs as a download: one row per suggestion, newest first.

    Each row holds the conversation, the turn, the suggestion, the agent's verdict and final text,
    similarity, latency and the cited document ids (``;``-separated in CSV). CSV cells that a
    spreadsheet would run as a formula get a leading ``'``.
    """
    rows = await reports.export(dataclasses.replace(span.filters, limit=limit, offset=offset))
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    name = f"copilot-logs-{stamp}.{format.value}"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    if format is ExportFormat.CSV:
        return Response(_csv(rows), media_type="text/csv; charset=utf-8", headers=headers)
    body = jsonable_encoder([dataclasses.asdict(r) for r in rows])
    return JSONResponse(body, headers=headers)
