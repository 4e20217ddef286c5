"""The published OpenAPI document: typed bodies, one error schema, the bearer scheme, readable ids;
and every REST error, whoever raises it, in that one shape."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from copilot.api.app import create_app
from copilot.settings import Settings
from tests.conftest import MANIFEST

ERROR_REF = "#/components/schemas/ErrorOut"


@pytest.fixture
def bare(tmp_path: Path) -> TestClient:
    """The app without its lifespan: the schema and the routing errors need no models."""
    settings = Settings(
        data_dir=tmp_path / "data", models_manifest=MANIFEST, open_access=True, _env_file=None
    )
    return TestClient(create_app(settings))


@pytest.fixture
def spec(bare: TestClient) -> dict[str, Any]:
    body: dict[str, Any] = bare.get("/openapi.json").json()
    return body


def _operations(spec: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            yield f"{method.upper()} {path}", operation


def _untyped(schema: dict[str, Any]) -> bool:
    """An empty schema, or an object (or a list of them) without declared properties."""
    if not schema:
        return True
    if "$ref" in schema:
        return False
    if "anyOf" in schema or "oneOf" in schema:
        return any(_untyped(s) for s in schema.get("anyOf", schema.get("oneOf", [])))
    if schema.get("type") == "array":
        return _untyped(schema.get("items", {}))
    return schema.get("type") == "object" and "properties" not in schema


def test_no_operation_answers_an_untyped_json_object(spec: dict[str, Any]) -> None:
    untyped = [
        f"{label} {status}"
        for label, op in _operations(spec)
        for status, response in op["responses"].items()
        if status.startswith("2")
        and "application/json" in response.get("content", {})
        and _untyped(response["content"]["application/json"].get("schema", {}))
    ]
    assert untyped == []


def test_every_operation_declares_the_one_error_schema(spec: dict[str, Any]) -> None:
    for label, op in _operations(spec):
        refs = {
            r.get("content", {}).get("application/json", {}).get("schema", {}).get("$ref")
            for status, r in op["responses"].items()
            if not status.startswith("2")
        }
        assert ERROR_REF in refs, label
        assert "HTTPValidationError" not in str(op["responses"]), label
    error = spec["components"]["schemas"]["ErrorOut"]
    assert set(error["required"]) == {"code", "message"}
    assert {"type", "code", "message", "detail"} <= set(error["properties"])


def test_the_bearer_scheme_is_declared_on_the_routes_that_need_a_key(
    spec: dict[str, Any],
) -> None:
    schemes = spec["components"]["securitySchemes"]
    assert schemes["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": schemes["bearer"]["description"],
    }
    paths = spec["paths"]
    assert {"bearer": []} in paths["/v1/conversations/{conversation_id}/turns"]["post"]["security"]
    assert {"bearer": []} in paths["/v1/kb/search"]["get"]["security"]
    assert "security" not in paths["/healthz"]["get"]  # needs no key
    assert "security" not in paths["/readyz"]["get"]


def test_operation_ids_are_unique_and_readable(spec: dict[str, Any]) -> None:
    ids = [op["operationId"] for _, op in _operations(spec)]
    assert len(ids) == len(set(ids)), ids
    for operation_id in ids:
        assert re.fullmatch(r"[a-z][a-z0-9]*(_[a-z0-9]+)*", operation_id), operation_id
        assert not re.search(r"_(get|post|put|patch|delete)$", operation_id), operation_id
        assert "__" not in operation_id, operation_id
        assert "v1" not in operation_id, operation_id
    assert "post_turn" in ids


def test_every_router_tags_its_operations(spec: dict[str, Any]) -> None:
    declared = {t["name"] for t in spec["tags"]}
    for label, op in _operations(spec):
        assert op.get("tags"), label
        assert set(op["tags"]) <= declared, label


def test_an_unknown_path_is_a_404_in_the_error_shape(bare: TestClient) -> None:
    response = bare.get("/v1/nowhere")
    assert response.status_code == 404
    assert response.json() == {"type": "error", "code": "not_found", "message": "Not Found"}


def test_a_wrong_method_is_a_405_in_the_error_shape(bare: TestClient) -> None:
    response = bare.delete("/healthz")
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"
    assert response.json()["type"] == "error"
    assert response.headers["allow"] == "GET"


def test_an_invalid_request_is_a_422_with_its_issues_kept(client: TestClient) -> None:
    response = client.get("/v1/suggestions", params={"limit": "many"})
    assert response.status_code == 422
    body = response.json()
    assert (body["type"], body["code"]) == ("error", "invalid_request")
    assert "query.limit" in body["message"]
    (issue,) = body["detail"]
    assert issue["loc"] == ["query", "limit"]
    assert set(issue) == {"type", "loc", "msg"}
