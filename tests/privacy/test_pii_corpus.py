"""No value of a seeded Faker PII corpus (es_MX, es_CO, es_AR, es_CL, pt_BR, en_US) is left.

Run another corpus with ``COPILOT_PII_SEED=<n> pytest tests/privacy/test_pii_corpus.py``.
"""

from __future__ import annotations

import collections
import logging

from copilot.privacy.redact import Redactor
from tests.privacy.corpus import KINDS, LOCALES, build, corpus_seed, leaks

logger = logging.getLogger(__name__)
PER_KIND = 1000


def test_corpus_covers_every_kind_and_locale() -> None:
    samples = build(corpus_seed(), per_kind=PER_KIND)
    per_kind = collections.Counter(s.kind for s in samples)
    assert set(per_kind) == set(KINDS)
    assert min(per_kind.values()) >= PER_KIND
    assert set(LOCALES) <= {s.locale for s in samples}


def test_no_value_of_the_pii_corpus_leaks() -> None:
    seed = corpus_seed()
    logger.info("pii corpus seed=%d (override with COPILOT_PII_SEED)", seed)
    samples = build(seed, per_kind=PER_KIND)
    redactor = Redactor()
    leaked = [
        (s.kind, s.locale, s.text, out)
        for s in samples
        if leaks(s, out := redactor.redact(s.text).text)
    ]
    by_kind = collections.Counter(kind for kind, *_ in leaked)
    assert not leaked, (
        f"seed {seed}: {len(leaked)} of {len(samples)} values leaked {dict(by_kind)}; "
        f"first ones: {leaked[:10]}"
    )
