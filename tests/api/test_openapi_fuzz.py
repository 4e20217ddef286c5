"""Schemathesis over every operation of ``/openapi.json``: no generated request gets a 5xx.

The WebSocket routes (``/stream``, ``/audio``) and the pages are not in the schema; the sockets
have their own fuzz test (``test_frame_fuzz.py``).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import APIOperation, Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Err
from schemathesis.python.asgi import shutdown_lifespans
from schemathesis.specs.openapi.schemas import OpenApiSchema

from copilot.api.app import create_app
from copilot.models.embedding import Embedder
from copilot.models.reranker import Reranker
from copilot.settings import Settings

logger = logging.getLogger(__name__)

EXAMPLES = 40
"""Per operation and generation mode (schema-valid, then schema-breaking)."""


@pytest.fixture
def api_schema(
    service_settings: Settings, e5: Embedder, use_reranker: Reranker
) -> Iterator[OpenApiSchema]:
    """The app's own schema, bound to the app (the conftest `client`'s settings and models).

    Schemathesis calls the app in-process on its own event loop, so it runs the lifespan itself:
    a `TestClient`'s app lives on another loop, where its database engine cannot be shared.
    """
    app = create_app(service_settings, embedder=e5, reranker=use_reranker)
    try:
        yield schemathesis.openapi.from_asgi("/openapi.json", app)
    finally:
        shutdown_lifespans()


def _failure(
    operation: APIOperation[Any, Any, Any, Any],
    mode: GenerationMode,
    fuzz_seed: int,
    statuses: Counter[int],
) -> str | None:
    """Run one operation's generated cases; the first server error, described, or None."""
    cases: st.SearchStrategy[Case[Any]] = operation.as_strategy(generation_mode=mode)

    @seed(fuzz_seed)
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    @given(cases)
    def call(generated: Case[Any]) -> None:
        statuses[generated.call_and_validate(checks=[not_a_server_error]).status_code] += 1

    try:
        call()
    except Unsatisfiable:
        # Negative mode where no request can break the schema: operations without input
        # (/healthz, /readyz, /metrics, /v1/me, /v1/protocol/schema) or with only a free-string
        # path id (/v1/kb/documents/{doc_id}; the conversation routes until their id is bounded).
        logger.info(
            "openapi_fuzz nothing_to_break operation=%r mode=%s", operation.label, mode.value
        )
    except Exception as exc:  # a schemathesis FailureGroup, or the app's own exception
        return str(exc)[:3000]
    return None


@pytest.mark.slow
def test_no_operation_answers_a_generated_request_with_a_server_error(
    api_schema: OpenApiSchema, fuzz_seed: int
) -> None:
    logger.info(
        "openapi_fuzz seed=%d examples=%d (rerun with COPILOT_FUZZ_SEED)", fuzz_seed, EXAMPLES
    )
    failures: dict[str, str] = {}
    statuses: Counter[int] = Counter()
    operations = []
    for result in api_schema.get_all_operations():
        if isinstance(result, Err):
            raise AssertionError(f"an operation schemathesis cannot use: {result.err()}")
        operations.append(result.ok())
    assert len(operations) >= 15, [op.label for op in operations]
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            found = _failure(operation, mode, fuzz_seed, statuses)
            if found is not None:
                failures[f"{operation.label} ({mode.value})"] = found
    logger.info("openapi_fuzz statuses=%s", sorted(statuses.items()))
    assert not failures, f"fuzz seed {fuzz_seed}: " + "\n\n".join(
        f"{label}: {text}" for label, text in failures.items()
    )
