"""Bad REST input gets a 4xx body that renders, never a 500."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

HUGE = "99999999999999999999"  # over any database's 64-bit integer


@pytest.mark.parametrize(
    "path",
    [
        "/v1/suggestions",
        "/v1/feedback",
        "/v1/kb-gaps",
        "/v1/supervisor/most-edited",
        "/v1/supervisor/conversations",
        "/v1/supervisor/export",
    ],
)
def test_an_offset_past_any_integer_column_is_a_422(client: TestClient, path: str) -> None:
    response = client.get(path, params={"offset": HUGE})
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["loc"] == ["query", "offset"]
    assert "less than or equal to 2147483647" in error["msg"]
    assert client.get(path, params={"offset": 2**31 - 1}).status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        b'{"turn_id": "t1", "speaker": "customer", "text": NaN}',
        b'{"turn_id": "t1", "speaker": "customer", "text": "hola", "timestamp": Infinity}',
        b'{"turn_id": "t1", "speaker": "customer", "text": "hola", "\\ud800": NaN}',
    ],
    ids=["nan-text", "infinite-timestamp", "surrogate-key"],
)
def test_a_body_with_nan_gets_a_422_that_renders(client: TestClient, body: bytes) -> None:
    response = client.post(
        "/v1/conversations/c-nan/turns", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert detail
    assert all(set(e) == {"type", "loc", "msg"} for e in detail)  # no client value echoed


@pytest.mark.parametrize("body", [b"\xff\xfe\xfa", b'{"turn_id": "t1"}'])
def test_a_body_that_is_not_sent_as_json_is_a_415(client: TestClient, body: bytes) -> None:
    response = client.post(
        "/v1/conversations/c-text/turns", content=body, headers={"content-type": "text/plain"}
    )
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"
    assert "application/json" in response.json()["message"]
