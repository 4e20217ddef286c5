"""The customer side of the load test: utterances from the eval cases, scripted per conversation."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path


def load_dialogues(path: Path) -> dict[str, list[list[str]]]:
    """Customer utterances per client: one list per case (its query, or its history's customer
    turns in order), in file order."""
    out: dict[str, list[list[str]]] = defaultdict(list)
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        case = json.loads(line)
        if "history" in case:
            texts = [t["text"] for t in case["history"] if t.get("role") == "customer"]
        else:
            texts = [case["query"]]
        if texts:
            out[case["client"]].append(texts)
    return dict(out)


def script_for(
    dialogues: dict[str, list[list[str]]], index: int, n_turns: int
) -> tuple[str, list[str]]:
    """Client and customer turns of conversation ``index``: clients in turn, and successive cases
    of that client from an offset, flattened, until ``n_turns`` utterances."""
    clients = sorted(dialogues)
    client = clients[index % len(clients)]
    cases = dialogues[client]
    turns: list[str] = []
    offset = index // len(clients)
    while len(turns) < n_turns:
        turns.extend(cases[offset % len(cases)])
        offset += 1
    return client, turns[:n_turns]
