"""Reply drafts built only from customer-ready KB sentences and fixed courteous frames, es/en/pt.

No text-generation model ships on PyPI, and an extractive draft cannot state a fact the evidence
does not hold: the body of a grounded answer is made of the passage sentences that best match the
question, the frame around it is a fixed phrase in the customer's language. The customer reads the
draft, so it takes no sentence meant for the agent (see `audience`), and it is in the customer's
language only: a passage in that language, or one machine-translated sentence by sentence where a
bundled model covers the pair, else no draft.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from copilot.domain import SearchHit
from copilot.models.translate import Translator, default_translator
from copilot.suggest.audience import is_for_agent, is_internal_document, is_internal_section
from copilot.suggest.sentences import plain_sentences
from copilot.textnorm import tokenize

SCORE_WINDOW = 0.03
"""A lower-ranked hit may stand in for the best one when it scores within this of it: closer than
the gap between a right and a wrong topic on the demo KB's fused scores."""

QUESTION_CHARS = 300
"""Characters of a question that choose a passage's sentences: a longer one is read as its first
and last 150 (whole words), where a long message asks, as retrieval reads it. A question to
translate first costs about 0.7 ms a character in the machine translator (3,000 took 3.1 s)."""

_OPENING = {
    "es": "Claro, con gusto le ayudo.",
    "en": "Sure, I can help with that.",
    "pt": "Claro, posso ajudar com isso.",
}
_CLOSING = {
    "es": "¿Hay algo más en lo que pueda ayudarle?",
    "en": "Is there anything else I can help you with?",
    "pt": "Posso ajudar em algo mais?",
}
_CLARIFY_CHOICE = {
    "es": "Para ayudarle mejor, ¿su consulta es sobre «{a}» o sobre «{b}»?",
    "en": 'To help you better: is your question about "{a}" or about "{b}"?',
    "pt": "Para ajudar melhor: a sua dúvida é sobre «{a}» ou sobre «{b}»?",
}
_CLARIFY_OPEN = {
    "es": "Para ayudarle mejor, ¿podría contarme un poco más sobre lo que necesita?",
    "en": "To help you better, could you tell me a little more about what you need?",
    "pt": "Para ajudar melhor, poderia me contar um pouco mais sobre o que precisa?",
}


@dataclass(frozen=True, slots=True)
class Draft:
    """A drafted reply and the hits whose sentences it uses.

    Attributes:
        text: The reply, entirely in the customer's language.
        used: The hit the body comes from.
        source_language: The language of that hit's passage.
        translated: Whether the body was machine-translated from ``source_language``.
    """

    text: str
    used: tuple[SearchHit, ...]
    source_language: str | None = None
    translated: bool = False


def customer_sentences(hit: SearchHit) -> list[str]:
    """The sentences of a passage a draft may quote: none from internal notes or for the agent.

    Args:
        hit: A retrieved passage; its ``section`` and ``tags`` carry the KB's internal-notes marks.

    Returns:
        Plain sentences in passage order; empty for an internal-notes passage or document.
    """
    if is_internal_document(hit.tags) or is_internal_section(hit.section):
        return []
    return [s for s in plain_sentences(hit.text, hit.language) if not is_for_agent(s, hit.language)]


def _overlap(question: set[str], sentence: str) -> float:
    tokens = set(tokenize(sentence))
    return len(question & tokens) / (len(tokens) ** 0.5) if tokens else 0.0


def _pick(sentences: list[str], question: str, max_chars: int) -> list[str]:
    """The sentences sharing most words with the question, in passage order, within ``max_chars``.

    The first sentence is the fallback when none shares a word.
    """
    wanted = set(tokenize(question))
    ranked = sorted(range(len(sentences)), key=lambda i: -_overlap(wanted, sentences[i]))
    chosen: list[int] = []
    size = 0
    for i in ranked:
        if chosen and (size + len(sentences[i]) > max_chars or _overlap(wanted, sentences[i]) == 0):
            break
        chosen.append(i)
        size += len(sentences[i]) + 1
    return [sentences[i] for i in sorted(chosen)]


def _clipped(text: str, max_chars: int) -> str:
    """``text``, or its first and last ``max_chars // 2`` characters cut back to whole words."""
    if len(text) <= max_chars:
        return text
    half = max_chars // 2
    head, tail = text[:half], text[-half:]
    if not text[half].isspace() and len(head.split()) > 1:  # a word runs on past the cut
        head = head.rsplit(None, 1)[0]
    if not text[-half - 1].isspace() and len(tail.split()) > 1:
        tail = tail.split(None, 1)[1]
    return f"{head.strip()} {tail.strip()}"


def _candidates(
    hits: Sequence[SearchHit], language: str, translator: Translator | None
) -> list[SearchHit]:
    """Hits close to the best one whose passage can become a draft in ``language``.

    Hits in the customer's language come first, then those a bundled model translates, each group
    in rank order.
    """
    close = [h for h in hits if hits[0].score - h.score <= SCORE_WINDOW]
    same = [h for h in close if h.language == language]
    other = [
        h
        for h in close
        if h.language != language
        and translator is not None
        and translator.supports(h.language, language)
    ]
    return same + other


def grounded_answer(
    question: str,
    hits: Sequence[SearchHit],
    language: str,
    max_chars: int = 320,
    translate: bool = True,
    translator: Translator | None = None,
) -> Draft | None:
    """Draft an answer from the best usable passage: its sentences that share most words with the
    question, framed in the customer's language.

    A passage is usable when it scores within `SCORE_WINDOW` of the best hit, holds at least one
    customer-ready sentence, and is in the customer's language or translatable to it. For a
    translated passage the question is translated to the passage's language to choose sentences,
    and the chosen ones are translated back.

    Args:
        question: The customer's question (the retrieval query text).
        hits: Retrieved passages, best first.
        language: The customer's language (``es``, ``en`` or ``pt``).
        max_chars: Upper bound on the length of the body taken from the passage.
        translate: Whether a passage in another language may be machine-translated; False drafts
            from passages in the customer's language only.
        translator: The translator to use; :func:`default_translator` when None.

    Returns:
        The draft, or None when no passage is usable: the agent then has the evidence, not a reply
        in a language the customer may not read.
    """
    if not hits or language not in _OPENING:
        return None
    question = _clipped(question, QUESTION_CHARS)
    if translate and translator is None:
        translator = default_translator()
    elif not translate:
        translator = None
    for hit in _candidates(hits, language, translator):
        sentences = customer_sentences(hit)
        if not sentences:
            continue
        source = hit.language or language
        if source == language:
            body = _pick(sentences, question, max_chars)
        elif translator is not None:
            asked = translator.translate(question, language, source) or question
            picked = _pick(sentences, asked, max_chars)
            translated = [translator.translate(s, source, language) for s in picked]
            if not all(translated):
                continue
            body = [t for t in translated if t]
        else:
            continue
        text = f"{_OPENING[language]} {' '.join(body)} {_CLOSING[language]}"
        return Draft(text, (hit,), source, source != language)
    return None


def clarifying_question(hits: Sequence[SearchHit], language: str) -> str:
    """A question back to the customer, offering the two closest KB topics when there are two."""
    lang = language if language in _CLARIFY_OPEN else "es"
    in_language = sorted(hits, key=lambda h: h.language != lang)  # stable: keeps rank within
    titles = list(dict.fromkeys(h.title for h in in_language))
    if len(titles) >= 2:
        return _CLARIFY_CHOICE[lang].format(a=titles[0], b=titles[1])
    return _CLARIFY_OPEN[lang]
