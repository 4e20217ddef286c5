"""Tell sentences written for the customer from notes meant for the agent (es / en / pt).

A KB article is knowledge for the agent and may hold instructions to them ("ofrecer el cambio de
plan", "o atendente pode aplicar o bloqueio"); a reply draft is read by the customer, so such
sentences must never enter one. Two signals are used: the KB's own convention (an internal-notes
section, or an ``internal`` tag on the whole document; see knowledge_base/README.md) and, for the
articles that do not follow it, explicit per-language rules on each sentence.
"""

from __future__ import annotations

import re
import unicodedata

INTERNAL_TAGS = frozenset({"internal", "interno", "interna", "agent-only", "agentes", "agents"})
"""A document with one of these tags is agent knowledge only: no draft quotes it."""

# Headings that open an internal-notes section, compared without accents and case.
_INTERNAL_HEADING = re.compile(
    r"^(?:"
    r"notas? internas?|nota para (?:el|la|los|las) (?:agentes?|ejecutiv[oa]s?|asesor(?:es|as?)?)"
    r"|notas? para (?:el |la |los )?agentes?|solo para agentes|para (?:el|los) agentes?|uso interno"
    r"|nota para o atendente|notas? para (?:o |os )?atendentes?|para (?:o|os) atendentes?"
    r"|somente para atendentes|apenas para atendentes"
    r"|internal notes?|agent notes?|notes? for (?:the )?agents?|for agents(?: only)?"
    r"|internal use(?: only)?|agent guidance"
    r")\b",
)

# The customer or the agent in the third person, with a definite article or a contraction.
_THIRD_PERSON = {
    "es": r"\b(?:el|la|al|del|este|esta|dicho|dicha)\s+client[ea]\b"
    r"|\b(?:el|la|al|del|los|las|este|esta)\s+(?:agentes?|ejecutiv[oa]s?|asesor(?:es|as?)?)\b",
    "pt": r"\b(?:o|a|ao|à|do|da|no|na|pelo|pela|este|esta)\s+client[ea]\b"
    r"|\b(?:o|a|os|as|ao|à|aos|do|da|dos|das|no|na|pelo|pela|este|esta)\s+(?:atendentes?"
    r"|agentes?)\b",
    "en": r"\b(?:the|this|that)\s+(?:customer|client|caller(?!\s+id\b))(?:'s)?\b"
    r"|\b(?:the|this|that)\s+(?:agent|rep|representative|advisor)(?:'s|s'|s)?\b",
}
# Instructions to the agent: an agent-task verb opening a sentence or clause (infinitive in es/pt,
# imperative in en, where customer steps are imperative too, so only verbs no customer step uses),
# a verb with a pronoun for the customer, or an impersonal "one should offer".
_AGENT_VERBS_ES = (
    r"ofrecer|verificar|validar|recordar|derivar|escalar|registrar|informar|explicar|indicar"
    r"|solicitar|pedir|preguntar|sugerir|transferir|orientar|avisar|tipificar|confirmar con el"
    r"|recomendar|no ofrecer|no prometer|prometer|ofrézcale|recuérdele|indíquele|explíquele"
    r"|pídale|sugiérale|infórmele|pregúntele|ofrezca|recuerde al|verifique la identidad"
)
_AGENT_VERBS_PT = (
    r"oferecer|verificar|validar|lembrar|encaminhar|escalar|registrar|informar|explicar|orientar"
    r"|solicitar|pedir|perguntar|sugerir|transferir|avisar|tabular|recomendar|não oferecer"
    r"|não prometer|prometer|ofereça|oriente o cliente"
)
_AGENT_VERBS_EN = (
    r"offer|escalate|remind|upsell|recommend|do not offer|don't offer|never offer|do not promise"
    r"|(?:tell|ask|inform|advise|direct|walk|transfer|refer)\s+(?:them|him|her)"
    r"|transfer the call|(?:confirm|verify|check|validate) (?:their|his|her) identity"
)
_CLAUSE_START = r"(?:^|[:;]\s*|,\s+)"
_INSTRUCTION = {
    "es": _CLAUSE_START + r"(?:siempre\s+|antes\s+de\s+nada,?\s+)?(?:" + _AGENT_VERBS_ES + r")\b"
    r"|\b(?:ofrecerle|recordarle|indicarle|explicarle|pedirle|sugerirle|informarle|preguntarle"
    r"|derivarlo|derivarla|escalarlo|ofrecerles)\b"
    r"|\b(?:conviene|se recomienda|se debe|hay que|corresponde)\s+(?:" + _AGENT_VERBS_ES + r")\b",
    "pt": _CLAUSE_START + r"(?:sempre\s+)?(?:" + _AGENT_VERBS_PT + r")\b"
    r"|\b(?:oferecer-lhe|lembrá-lo|lembrá-la|orientá-lo|orientá-la|encaminhá-lo|encaminhá-la)\b"
    r"|\b(?:convém|recomenda-se|deve-se|é preciso|cabe ao)\s+(?:" + _AGENT_VERBS_PT + r")\b",
    "en": _CLAUSE_START + r"(?:always\s+|first,?\s+)?(?:" + _AGENT_VERBS_EN + r")\b"
    r"|\bagents?\s+(?:should|must|can|may)\b",
}
# Notes, and steps in the agent's own tools: a customer never opens the CRM.
_NOTE_WORDS = (
    r"\b(?:nota interna|uso interno|internal note|internal use|agent note|nota para o atendente"
    r"|nota para el agente|CRM|backoffice|back office)\b"
)

_COMPILED = {
    lang: re.compile(f"{_THIRD_PERSON[lang]}|{_INSTRUCTION[lang]}|{_NOTE_WORDS}", re.IGNORECASE)
    for lang in ("es", "pt", "en")
}


def _fold(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text.strip().lower())
    return "".join(c for c in plain if not unicodedata.combining(c))


def is_internal_heading(heading: str) -> bool:
    """Whether one heading opens an internal-notes section (accents, case and a colon ignored)."""
    return _INTERNAL_HEADING.match(_fold(heading).rstrip(":").strip()) is not None


def is_internal_section(section: str) -> bool:
    """Whether a passage's heading path (``A > B``, as the chunker records it) is internal notes.

    A section nested under an internal-notes heading is internal too.
    """
    return any(is_internal_heading(part) for part in section.split(" > ") if part.strip())


def is_internal_document(tags: tuple[str, ...]) -> bool:
    """Whether a document's tags mark it as agent knowledge only."""
    return any(t.strip().lower() in INTERNAL_TAGS for t in tags)


def is_for_agent(sentence: str, language: str | None = None) -> bool:
    """Whether a sentence is addressed to the agent or speaks of customer or agent in third person.

    Args:
        sentence: One plain sentence (no markdown).
        language: ``es``, ``en`` or ``pt``; None or another code checks the rules of all three,
            since a passage's language tag may be missing.

    Returns:
        True when the sentence must stay out of a reply draft.
    """
    languages = (language,) if language in _COMPILED else tuple(_COMPILED)
    text = " ".join(sentence.split())
    return any(_COMPILED[lang].search(text) for lang in languages if lang is not None)
