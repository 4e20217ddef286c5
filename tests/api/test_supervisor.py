"""Supervisor reports on real conversations: rates, groups, latency, gaps, edits, export, roles."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from copilot.api.app import create_app
from copilot.models.embedding import Embedder
from copilot.models.reranker import Reranker
from copilot.settings import ApiKey, Settings

AGENT = "key-agent-ana-0123456789"
SUPERVISOR = "key-supervisor-012345678"
FOOTBALL = ("¿quién ganó el partido de fútbol ayer?", "¿cómo quedó el partido de fútbol de anoche?")
EDITED = "=El roaming en Europa cuesta 5 USD por día; actívelo en la app."


@dataclass
class Seeded:
    """What the seeded conversations showed: suggestion ids by conversation, turn latencies."""

    suggestions: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)

    @property
    def shown(self) -> int:
        return sum(len(s) for s in self.suggestions.values())


def _turn(http: TestClient, conversation: str, text: str, **extra: Any) -> dict[str, Any]:
    body = {"turn_id": "t1", "speaker": "customer", "text": text, **extra}
    response = http.post(f"/v1/conversations/{conversation}/turns", json=body)
    assert response.status_code == 200, response.text
    reply: dict[str, Any] = response.json()
    return reply


def _feedback(client: TestClient, conversation: str, sid: str, action: str, text: str = "") -> None:
    body = {"suggestion_id": sid, "action": action, "final_text": text}
    response = client.post(f"/v1/conversations/{conversation}/feedback", json=body)
    assert response.json()["detail"] == "recorded"


def _seed(client: TestClient) -> Seeded:
    """ana: accepted (bank), rejected (bank); beto: edited (telco, en); three KB gaps."""
    seeded = Seeded()
    turns = [
        ("sv-acc", "me robaron la tarjeta oro", {"agent_id": "ana", "client": "bank"}),
        ("sv-rej", "perdí mi tarjeta oro, ¿la bloquean?", {"agent_id": "ana", "client": "bank"}),
        (
            "sv-edit",
            "what happens when my roaming data runs out abroad?",
            {"agent_id": "beto", "client": "telecom"},
        ),
        ("sv-gap1", FOOTBALL[0], {"agent_id": "beto", "client": "bank"}),
        ("sv-gap2", FOOTBALL[1], {"agent_id": "ana", "client": "bank"}),
    ]
    for conversation, text, extra in turns:
        reply = _turn(client, conversation, text, **extra)
        seeded.suggestions[conversation] = reply["suggestions"]
        seeded.latencies.append(reply["latency_ms"])
        assert reply["kb_gap"] is conversation.startswith("sv-gap"), reply
    first = {c: s[0]["id"] for c, s in seeded.suggestions.items()}
    _feedback(client, "sv-acc", first["sv-acc"], "accepted")
    _feedback(client, "sv-rej", first["sv-rej"], "rejected")
    _feedback(client, "sv-edit", first["sv-edit"], "edited", EDITED)
    return seeded


def _groups(http: TestClient, group_by: str, **params: Any) -> dict[str | None, dict[str, Any]]:
    response = http.get("/v1/supervisor/rates", params={"group_by": group_by, **params})
    assert response.status_code == 200, response.text
    return {g["key"]: g for g in response.json()["groups"]}


def test_rates_overall_per_group_and_over_time_match_the_conversations(
    client: TestClient,
) -> None:
    seeded = _seed(client)
    body = client.get("/v1/supervisor/rates", params={"bucket": "auto"}).json()
    [overall] = body["groups"]
    assert overall["shown"] == seeded.shown
    assert (overall["accepted"], overall["edited"], overall["rejected"]) == (1, 1, 1)
    assert overall["no_feedback"] == seeded.shown - 3
    assert overall["accepted_rate"] == overall["rejected_rate"] == pytest.approx(0.3333)
    assert body["bucket"] == "hour"  # all of it happened within the hour
    [hour] = body["series"]
    assert (hour["shown"], hour["accepted"], hour["edited"], hour["rejected"]) == (
        seeded.shown, 1, 1, 1
    )  # fmt: skip
    agents = _groups(client, "agent")
    ana = len(seeded.suggestions["sv-acc"] + seeded.suggestions["sv-rej"])
    ana += len(seeded.suggestions["sv-gap2"])
    assert agents["ana"]["shown"] == ana
    assert (agents["ana"]["accepted"], agents["ana"]["rejected"]) == (1, 1)
    assert agents["ana"]["accepted_rate"] == 0.5
    assert (agents["beto"]["edited"], agents["beto"]["edited_rate"]) == (1, 1.0)
    clients = _groups(client, "client")
    assert clients["telecom"]["shown"] == len(seeded.suggestions["sv-edit"])
    assert clients["bank"]["with_feedback"] == 2
    languages = _groups(client, "language")
    assert languages["en"]["edited"] == 1
    assert languages["es"]["accepted"] == languages["es"]["rejected"] == 1
    topics = _groups(client, "topic")
    # Both card replies cite bank-es-bloqueo (tags bloqueo, tarjeta-oro), the roaming reply a
    # roaming document; a suggestion counts under each tag it cites, or under None.
    assert (topics["tarjeta-oro"]["accepted"], topics["tarjeta-oro"]["rejected"]) == (1, 1)
    assert topics["roaming"]["edited"] == 1
    assert sum(t["shown"] for t in topics.values()) >= seeded.shown
    only_telco = _groups(client, "overall", client="telecom")[None]
    assert (only_telco["shown"], only_telco["edited"], only_telco["accepted"]) == (
        len(seeded.suggestions["sv-edit"]), 1, 0
    )  # fmt: skip
    later = _groups(client, "overall", since="2999-01-01T00:00:00Z")[None]
    assert (later["shown"], later["accepted_rate"]) == (0, None)


def test_latency_gaps_edits_and_drill_down(client: TestClient) -> None:
    seeded = _seed(client)
    latency = client.get("/v1/supervisor/latency").json()
    expected = np.percentile(seeded.latencies, [50, 95, 99])
    overall = latency["overall"]
    assert overall["turns"] == len(seeded.latencies)
    assert [overall["p50"], overall["p95"], overall["p99"]] == pytest.approx(expected, abs=0.15)
    assert latency["bucket"] == "hour"
    assert sum(p["turns"] for p in latency["points"]) == len(seeded.latencies)

    gaps = client.get("/v1/supervisor/gaps").json()
    football = [g for g in gaps if set(g["examples"]) == set(FOOTBALL)]
    assert len(football) == 1
    assert (football[0]["count"], football[0]["languages"]) == (2, ["es"])
    assert football[0]["reasons"] == {"kb_gap": 2}
    assert gaps[0] == football[0]  # the biggest group comes first
    [rejected] = [g for g in gaps if "rejected" in g["reasons"]]
    assert rejected["representative"] == "perdí mi tarjeta oro, ¿la bloquean?"
    assert rejected["turns"] == [["sv-rej", "t1"]]
    assert sum(g["count"] for g in gaps) == 3

    [edit] = client.get("/v1/supervisor/most-edited").json()
    assert edit["suggestion_id"] == seeded.suggestions["sv-edit"][0]["id"]
    assert edit["suggestion_text"] == seeded.suggestions["sv-edit"][0]["text"]
    assert (edit["final_text"], edit["agent_id"], edit["client"]) == (EDITED, "beto", "telecom")
    assert 0 <= edit["similarity"] < 1

    listed = client.get("/v1/supervisor/conversations", params={"agent_id": "ana"}).json()
    assert {c["conversation"]["conversation_id"] for c in listed} == {"sv-acc", "sv-rej", "sv-gap2"}
    detail = client.get("/v1/supervisor/conversations/sv-acc").json()
    assert detail["conversation"]["agent_id"] == "ana"
    assert [t["text"] for t in detail["turns"]] == ["me robaron la tarjeta oro"]
    assert [s["suggestion_id"] for s in detail["suggestions"]] == [
        s["id"] for s in seeded.suggestions["sv-acc"]
    ]
    assert detail["suggestions"][0]["evidence"][0]["doc_id"] == "bank-es-bloqueo"
    assert [f["action"] for f in detail["feedback"]] == ["accepted"]
    missing = client.get("/v1/supervisor/conversations/nobody")
    assert (missing.status_code, missing.json()["code"]) == (404, "unknown_conversation")


def test_export_as_csv_and_json_downloads_one_row_per_suggestion(client: TestClient) -> None:
    seeded = _seed(client)
    response = client.get("/v1/supervisor/export", params={"format": "csv"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    disposition = response.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="copilot-logs-')
    assert disposition.endswith('.csv"')
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == seeded.shown
    by_id = {r["suggestion_id"]: r for r in rows}
    accepted = by_id[seeded.suggestions["sv-acc"][0]["id"]]
    assert (accepted["action"], accepted["agent_id"], accepted["client"]) == (
        "accepted", "ana", "bank"
    )  # fmt: skip
    assert accepted["turn_text"] == "me robaron la tarjeta oro"
    assert accepted["final_text"] == accepted["suggestion_text"]  # both as stored (redacted)
    assert accepted["similarity"] == "1.0"
    assert "bank-es-bloqueo" in accepted["evidence_doc_ids"].split(";")
    assert float(accepted["latency_ms"]) == pytest.approx(seeded.latencies[0], abs=0.06)
    edited = by_id[seeded.suggestions["sv-edit"][0]["id"]]
    assert edited["final_text"] == "'" + EDITED  # a spreadsheet must not run it as a formula
    unreviewed = by_id[seeded.suggestions["sv-gap1"][0]["id"]]
    assert (unreviewed["action"], unreviewed["similarity"], unreviewed["kb_gap"]) == (
        "",
        "",
        "True",
    )

    as_json = client.get(
        "/v1/supervisor/export", params={"format": "json", "client": "telecom", "language": "en"}
    )
    assert as_json.headers["content-type"] == "application/json"
    assert as_json.headers["content-disposition"].endswith('.json"')
    data = json.loads(as_json.content)
    assert [r["suggestion_id"] for r in data] == [s["id"] for s in seeded.suggestions["sv-edit"]]
    assert (data[0]["action"], data[0]["final_text"]) == ("edited", EDITED)
    assert isinstance(data[0]["evidence_doc_ids"], list)
    assert client.get("/v1/supervisor/export", params={"format": "xml"}).status_code == 422


@pytest.fixture
def keyed(service_settings: Settings, e5: Embedder, use_reranker: Reranker) -> Iterator[TestClient]:
    """The app with an agent and a supervisor key, open access off."""
    keys = [
        {"key": AGENT, "role": "agent", "agent_id": "ana"},
        {"key": SUPERVISOR, "role": "supervisor", "name": "sara"},
    ]
    settings = service_settings.model_copy(
        update={"open_access": False, "api_keys": [ApiKey.model_validate(k) for k in keys]}
    )
    with TestClient(create_app(settings, embedder=e5, reranker=use_reranker)) as c:
        yield c


_PATHS = (
    "/v1/supervisor/rates?group_by=agent",
    "/v1/supervisor/latency",
    "/v1/supervisor/gaps",
    "/v1/supervisor/most-edited",
    "/v1/supervisor/conversations",
    "/v1/supervisor/conversations/sv-acc",
    "/v1/supervisor/export?format=csv",
    "/v1/supervisor/export?format=json",
)


def test_supervisor_apis_refuse_agents_and_anonymous_callers(keyed: TestClient) -> None:
    for path in _PATHS:
        agent = keyed.get(path, headers={"Authorization": f"Bearer {AGENT}"})
        assert (agent.status_code, agent.json()["code"]) == (403, "forbidden"), path
        assert keyed.get(path).status_code == 401, path
        supervisor = keyed.get(path, headers={"Authorization": f"Bearer {SUPERVISOR}"})
        assert supervisor.status_code == (404 if path.endswith("sv-acc") else 200), path


def test_topics_count_the_tags_of_each_suggestions_first_cited_document(
    client: TestClient,
) -> None:
    seeded = _seed(client)
    tags: dict[str, list[str | None]] = {}
    expected: Counter[str | None] = Counter()
    for suggestion in (s for shown in seeded.suggestions.values() for s in shown):
        if not suggestion["evidence"]:
            expected[None] += 1
            continue
        first = suggestion["evidence"][0]["doc_id"]
        if first not in tags:
            tags[first] = client.get(f"/v1/kb/documents/{first}").json()["tags"]
        expected.update(tags[first] or [None])
    topics = _groups(client, "topic")
    assert {k: g["shown"] for k, g in topics.items()} == dict(expected)


def test_language_filter_lists_conversations_by_their_customers_detected_language(
    client: TestClient,
) -> None:
    _seed(client)
    english = client.get("/v1/supervisor/conversations", params={"language": "en"}).json()
    assert [
        (c["conversation"]["conversation_id"], c["conversation"]["language"]) for c in english
    ] == [("sv-edit", "en")]
    spanish = client.get("/v1/supervisor/conversations", params={"language": "es"}).json()
    assert {c["conversation"]["conversation_id"] for c in spanish} == {
        "sv-acc", "sv-rej", "sv-gap1", "sv-gap2"
    }  # fmt: skip
    assert client.get("/v1/supervisor/conversations", params={"language": "pt"}).json() == []


def test_conversation_gap_counts_agree_with_the_gap_table(client: TestClient) -> None:
    _seed(client)
    in_table: Counter[str] = Counter(
        conversation
        for group in client.get("/v1/supervisor/gaps").json()
        for conversation, _turn_id in group["turns"]
    )
    listed = client.get("/v1/supervisor/conversations").json()
    gaps = {c["conversation"]["conversation_id"]: c["kb_gaps"] for c in listed}
    assert gaps["sv-rej"] == 1  # its one suggestion with a verdict was rejected
    assert {k: n for k, n in gaps.items() if n} == dict(in_table)


@pytest.mark.parametrize(
    ("params", "field", "words"),
    [
        ({"since": "2026-03-02T00:00:00Z", "until": "2026-03-01T00:00:00Z"}, "since", "earlier"),
        ({"since": "2026-03-02", "until": "2026-03-02"}, "since", "earlier"),
        (
            {"since": "2026-03-02T00:00:00", "until": "2026-03-02T05:00:00Z", "tz": "Etc/GMT+6"},
            "since",
            "earlier",
        ),
        ({"tz": "Mars/Olympus_Mons"}, "tz", "unknown time zone"),
        ({"tz": "../../etc/passwd"}, "tz", "unknown time zone"),
    ],
)
def test_an_inverted_range_or_unknown_zone_is_refused_with_a_clear_message(
    client: TestClient, params: dict[str, str], field: str, words: str
) -> None:
    for path in ("rates", "latency", "gaps", "most-edited", "conversations", "export"):
        response = client.get(f"/v1/supervisor/{path}", params=params)
        assert response.status_code == 422, (path, response.text)
        [error] = response.json()["detail"]
        assert error["loc"] == ["query", field]
        assert words in error["msg"]


def test_days_and_bounds_follow_the_supervisors_time_zone(client: TestClient) -> None:
    seeded = _seed(client)
    zone = "America/Mexico_City"
    body = client.get("/v1/supervisor/rates", params={"bucket": "day", "tz": zone}).json()
    assert body["time_zone"] == zone
    [day] = body["series"]
    assert day["key"].endswith("T00:00:00-06:00")  # a local midnight there
    assert day["shown"] == seeded.shown
    latency = client.get("/v1/supervisor/latency", params={"bucket": "day", "tz": zone}).json()
    assert [p["start"] for p in latency["points"]] == [day["key"]]
    # A bound without an offset is a wall-clock time in the zone: that local day holds it all.
    local_day = day["key"][:10]
    bounded = _groups(client, "overall", since=f"{local_day}T00:00:00", tz=zone)[None]
    assert bounded["shown"] == seeded.shown


def test_console_page_is_served_with_its_local_libraries(client: TestClient) -> None:
    page = client.get("/supervisor")
    assert page.status_code == 200
    assert 'data-testid="rate-accepted"' in page.text
    for lib in ("chart.js/chart.umd.js", "tabulator/tabulator.min.js", "diff/diff.min.js"):
        assert f"/static/vendor/{lib}" in page.text
        assert client.get(f"/static/vendor/{lib}").status_code == 200


def test_every_supervisor_route_declares_a_typed_response(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    supervisor = {p: ops["get"] for p, ops in paths.items() if p.startswith("/v1/supervisor/")}
    assert len(supervisor) == 7
    for path, operation in supervisor.items():
        schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
        assert "$ref" in schema or "$ref" in schema.get("items", {}), path
    export = paths["/v1/supervisor/export"]["get"]["responses"]["200"]["content"]
    assert export["application/json"]["schema"]["items"]["$ref"].endswith("/ExportRow")
    assert "text/csv" in export
