"""Replay demo conversations against a running copilot service and print what it suggests.

A newcomer needs two commands (two terminals), from the repository root:

    COPILOT_DATA_DIR=/tmp/protocol-demo .venv/bin/copilot serve --demo --port 8765
    .venv/bin/python scripts/demo_replay.py --url ws://127.0.0.1:8765

The first start ingests the demo KB (about a minute) behind the open port; wait until
``curl -s localhost:8765/readyz`` says ``"ready"``. Without ``--port`` the service listens on
8000, the script's default URL.

Each conversation of the JSONL file (one object a line: ``conversation_id``, ``client``,
``language``, ``agent_id``, ``turns`` of ``{"speaker", "text"}``) is replayed over the WebSocket
protocol (docs/protocol.md): ``start``, every turn in order (each customer turn waits for its
``suggestions``), then ``end``. Conversation ids get a per-run tag so a replay never resumes or
mixes with an earlier one. ``--accept`` sends ``accepted`` feedback for the first suggestion of
each customer turn; accepted replies become team memory in that service's database.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import WebSocketException

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_FILE = REPO_ROOT / "knowledge_base" / "demo_conversations.jsonl"
DEFAULT_URL = "ws://127.0.0.1:8000"
TEXT_CHARS = 200

console = Console()


class ProtocolError(Exception):
    """The service answered with an ``error`` frame or an unexpected message."""


@dataclass(frozen=True, slots=True)
class Turn:
    """One turn to replay."""

    speaker: str
    text: str


@dataclass(frozen=True, slots=True)
class Conversation:
    """One conversation of the demo file."""

    conversation_id: str
    client: str
    language: str
    agent_id: str
    turns: tuple[Turn, ...]


@dataclass(slots=True)
class Totals:
    """What the whole replay saw."""

    customer_turns: int = 0
    kb_gaps: int = 0
    accepted: int = 0
    failures: int = 0
    latencies_ms: list[float] = field(default_factory=list)

    def merge(self, other: Totals) -> None:
        """Add another replay's counts to these."""
        self.customer_turns += other.customer_turns
        self.kb_gaps += other.kb_gaps
        self.accepted += other.accepted
        self.failures += other.failures
        self.latencies_ms.extend(other.latencies_ms)


def load_conversations(path: Path) -> list[Conversation]:
    """Read the JSONL file; a bad line stops with its line number."""
    conversations: list[Conversation] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            turns = tuple(Turn(str(t["speaker"]), str(t["text"])) for t in obj["turns"])
            conversations.append(
                Conversation(
                    str(obj["conversation_id"]),
                    str(obj["client"]),
                    str(obj["language"]),
                    str(obj["agent_id"]),
                    turns,
                )
            )
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise SystemExit(f"{path}:{number}: not a conversation ({exc!r})") from exc
    return conversations


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _short(text: str, limit: int = TEXT_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


async def _receive(ws: ClientConnection, timeout_s: float) -> dict[str, Any]:
    raw = await asyncio.wait_for(ws.recv(), timeout_s)
    message: dict[str, Any] = json.loads(raw)
    return message


async def _await_ack(ws: ClientConnection, ref: str, timeout_s: float) -> dict[str, Any]:
    """The ``ack`` whose ``ref`` is ``ref``; an ``error`` for it raises."""
    while True:
        message = await _receive(ws, timeout_s)
        if message.get("ref") == ref and message.get("type") in {"ack", "error"}:
            if message["type"] == "error":
                raise ProtocolError(f"{message['code']}: {message['message']}")
            return message
        # A resumed conversation re-sends its latest suggestions after the start ack: skip them.


async def _await_suggestions(
    ws: ClientConnection, turn_id: str, timeout_s: float
) -> dict[str, Any]:
    """The ``suggestions`` for ``turn_id``; an ``error`` or a non-suggestion ``ack`` raises."""
    while True:
        message = await _receive(ws, timeout_s)
        if message.get("type") == "suggestions" and message.get("turn_id") == turn_id:
            return message
        if message.get("ref") == turn_id and message.get("type") == "error":
            raise ProtocolError(f"{message['code']}: {message['message']}")
        if message.get("ref") == turn_id and message.get("detail") == "superseded":
            raise ProtocolError(f"turn {turn_id} was superseded")


def _print_suggestions(message: dict[str, Any], round_trip_ms: float) -> None:
    gap = "[bold red]KB GAP[/]" if message["kb_gap"] else "[green]answered from KB[/]"
    console.print(
        f"    [dim]{message['language']} · {gap} · server {message['latency_ms']:.0f} ms"
        f" · round trip {round_trip_ms:.0f} ms[/]"
    )
    table = Table(show_header=True, header_style="bold", box=None, padding=(0, 1), expand=True)
    table.add_column("#", justify="right", width=2)
    table.add_column("kind", width=9)
    table.add_column("conf", justify="right", width=5)
    table.add_column("suggestion", ratio=3)
    table.add_column("evidence", ratio=1)
    for rank, suggestion in enumerate(message["suggestions"], start=1):
        evidence = ", ".join(e["doc_id"] for e in suggestion["evidence"]) or (
            suggestion.get("origin") or "—"
        )
        table.add_row(
            str(rank),
            suggestion["kind"],
            f"{suggestion['confidence']:.2f}",
            escape(_short(suggestion["text"])),
            escape(evidence),
        )
    if not message["suggestions"]:
        table.add_row("", "", "", "[dim](no suggestions)[/]", "")
    console.print(table)


async def replay(
    conversation: Conversation, base_url: str, tag: str, accept: bool, timeout_s: float
) -> Totals:
    """Replay one conversation and print its transcript."""
    totals = Totals()
    conversation_id = (
        f"{conversation.conversation_id}-{tag}" if tag else conversation.conversation_id
    )
    url = f"{base_url.rstrip('/')}/v1/conversations/{conversation_id}/stream"
    console.rule(
        f"[bold]{escape(conversation_id)}[/] · client {conversation.client} · "
        f"{conversation.language} · {conversation.agent_id}"
    )
    async with connect(url, open_timeout=timeout_s) as ws:
        start = {
            "type": "start",
            "id": "start",
            "agent_id": conversation.agent_id,
            "client": conversation.client,
            "language": conversation.language,
        }
        await ws.send(json.dumps(start))
        ack = await _await_ack(ws, "start", timeout_s)
        if ack["detail"] != "started":
            console.print(f"[yellow]note: the service says {ack['detail']!r}[/]")
        customer_seq = agent_seq = 0
        for turn in conversation.turns:
            if turn.speaker == "customer":
                customer_seq += 1
                turn_id = f"c{customer_seq}"
                console.print(f"\n[bold cyan]customer[/] [dim]{turn_id}[/]  {escape(turn.text)}")
            else:
                agent_seq += 1
                turn_id = f"a{agent_seq}"
                console.print(f"\n[bold magenta]agent[/]    [dim]{turn_id}[/]  {escape(turn.text)}")
            frame = {"type": "turn", "turn_id": turn_id, "speaker": turn.speaker, "text": turn.text}
            sent_at = time.perf_counter()
            await ws.send(json.dumps(frame, ensure_ascii=False))
            try:
                if turn.speaker != "customer":
                    await _await_ack(ws, turn_id, timeout_s)
                    continue
                message = await _await_suggestions(ws, turn_id, timeout_s)
            except ProtocolError as exc:
                totals.failures += 1
                console.print(f"    [bold red]error[/] {escape(str(exc))}")
                continue
            round_trip = (time.perf_counter() - sent_at) * 1000
            totals.customer_turns += 1
            totals.kb_gaps += int(message["kb_gap"])
            totals.latencies_ms.append(float(message["latency_ms"]))
            _print_suggestions(message, round_trip)
            if accept and message["suggestions"]:
                first = message["suggestions"][0]
                ref = f"fb-{turn_id}"
                feedback = {
                    "type": "feedback",
                    "id": ref,
                    "suggestion_id": first["id"],
                    "action": "accepted",
                }
                await ws.send(json.dumps(feedback))
                detail = (await _await_ack(ws, ref, timeout_s))["detail"]
                totals.accepted += int(detail == "recorded")
                console.print(f"    [dim]feedback: accepted #1 → {detail}[/]")
        await ws.send(json.dumps({"type": "end", "id": "end"}))
        await _await_ack(ws, "end", timeout_s)
    return totals


async def run(args: argparse.Namespace) -> int:
    """Replay every selected conversation; the exit status is 1 when a turn failed."""
    conversations = load_conversations(args.file)
    if args.only:
        conversations = [c for c in conversations if c.conversation_id in set(args.only)]
        if not conversations:
            console.print(f"[red]no conversation named {', '.join(args.only)} in {args.file}[/]")
            return 2
    summary = Totals()
    for conversation in conversations:
        try:
            totals = await replay(conversation, args.url, args.tag, args.accept, args.timeout)
        except (OSError, WebSocketException, TimeoutError, ProtocolError) as exc:
            console.print(
                f"[bold red]{escape(conversation.conversation_id)} failed:[/] {escape(repr(exc))}"
            )
            summary.failures += 1
            if isinstance(exc, OSError) and not isinstance(exc, TimeoutError):
                console.print(f"[red]is the service running at {escape(args.url)}?[/]")
                return 1
            continue
        summary.merge(totals)
    latencies = sorted(summary.latencies_ms) or [0.0]
    console.print()
    console.print(
        Panel(
            f"{_plural(len(conversations), 'conversation')} · "
            f"{_plural(summary.customer_turns, 'customer turn')} · "
            f"{_plural(summary.kb_gaps, 'KB gap')} · {summary.accepted} accepted · "
            f"{_plural(summary.failures, 'failure')}\n"
            f"server latency: median {latencies[len(latencies) // 2]:.0f} ms, "
            f"max {latencies[-1]:.0f} ms",
            title="replay",
            expand=False,
        )
    )
    return 1 if summary.failures else 0


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0] if __doc__ else None,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--url", default=DEFAULT_URL, help="base WebSocket URL of the service")
    parser.add_argument("--file", type=Path, default=DEFAULT_FILE, help="conversations (JSONL)")
    parser.add_argument(
        "--accept",
        action="store_true",
        help="send 'accepted' feedback for the first suggestion of each customer turn "
        "(the service then learns those replies as team memory)",
    )
    parser.add_argument(
        "--only", nargs="+", metavar="ID", help="replay only these conversation ids"
    )
    parser.add_argument(
        "--tag",
        default=datetime.now(UTC).strftime("%Y%m%dT%H%M%S"),
        help="suffix for the conversation ids, by default the UTC time ('' keeps them as in the file)",
    )
    parser.add_argument(
        "--timeout", type=float, default=30.0, help="seconds to wait for any one reply"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point."""
    return asyncio.run(run(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
