"""Reply drafts built only from KB sentences and fixed courteous frames, in es / en / pt.

No text-generation model ships on PyPI, and an extractive draft cannot state a fact the evidence
does not hold: the body of a grounded answer is made of the passage sentences that best match the
question, the frame around it is a fixed phrase in the customer's language.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from copilot.domain import SearchHit
from copilot.textnorm import tokenize

# A sentence ends at . ! ? … before a capital, a number, an opening mark or a list bullet; a colon
# ends one only before a bullet (the chunker joins list items onto one line).
_SENTENCE_END = re.compile(
    r"(?<=[.!?…])\s+(?=[-*+]\s|\d+[.)]\s|[¿¡\"'(A-ZÁÉÍÓÚÑÇ0-9])|(?<=:)\s+(?=[-*+]\s|\d+[.)]\s)"
)
_EMPHASIS = re.compile(r"\*\*|__|`")
_BULLET = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")
_TABLE = re.compile(r"\s*\|\s*")

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
    """A drafted reply and the hits whose sentences it uses."""

    text: str
    used: tuple[SearchHit, ...]


def _sentences(text: str) -> list[str]:
    """Plain sentences of a passage: emphasis, list bullets and table pipes removed."""
    out = []
    for line in text.splitlines():
        if set(line.strip()) <= set("|-: "):  # a table's separator row
            continue
        plain = _TABLE.sub(" ", _EMPHASIS.sub("", line)).strip()
        for sentence in _SENTENCE_END.split(plain):
            sentence = _BULLET.sub("", sentence).strip()
            if len(sentence) > 12:
                out.append(sentence)
    return out


def _overlap(question: set[str], sentence: str) -> float:
    tokens = set(tokenize(sentence))
    return len(question & tokens) / (len(tokens) ** 0.5) if tokens else 0.0


def grounded_answer(
    question: str, hits: Sequence[SearchHit], language: str, max_chars: int = 320
) -> Draft | None:
    """Draft an answer from the best passage: the sentences that share most words with the question.

    Sentences keep their order in the passage; the first sentence of the passage is the fallback
    when no word is shared (a cross-lingual match). A hit in the customer's language is preferred
    when it scores within 0.03 of the best.

    Args:
        question: The customer's question (the retrieval query text).
        hits: Retrieved passages, best first.
        language: The customer's language (``es``, ``en`` or ``pt``) for the frame.
        max_chars: Upper bound on the length of the body taken from the passage.

    Returns:
        The draft, or None when there is no hit.
    """
    if not hits:
        return None
    best = hits[0]
    for hit in hits[1:]:
        if hit.language == language != best.language and best.score - hit.score <= 0.03:
            best = hit
            break
    sentences = _sentences(best.text)
    if not sentences:
        return None
    wanted = set(tokenize(question))
    ranked = sorted(range(len(sentences)), key=lambda i: -_overlap(wanted, sentences[i]))
    chosen: list[int] = []
    size = 0
    for i in ranked:
        if chosen and (size + len(sentences[i]) > max_chars or _overlap(wanted, sentences[i]) == 0):
            break
        chosen.append(i)
        size += len(sentences[i]) + 1
    body = " ".join(sentences[i] for i in sorted(chosen))
    lang = language if language in _OPENING else "es"
    return Draft(f"{_OPENING[lang]} {body} {_CLOSING[lang]}", (best,))


def clarifying_question(hits: Sequence[SearchHit], language: str) -> str:
    """A question back to the customer, offering the two closest KB topics when there are two."""
    lang = language if language in _CLARIFY_OPEN else "es"
    in_language = sorted(hits, key=lambda h: h.language != lang)  # stable: keeps rank within
    titles = list(dict.fromkeys(h.title for h in in_language))
    if len(titles) >= 2:
        return _CLARIFY_CHOICE[lang].format(a=titles[0], b=titles[1])
    return _CLARIFY_OPEN[lang]
