// DOM for turns, suggestion cards and their evidence. Text always goes in as text, never as HTML.

import { highlighted, termsOf } from "./highlight.js";

/**
 * Create an element: `el("p", {class: "x", "data-testid": "y"}, "text", child)`.
 * Attributes with value `false`, `null` or `undefined` are left out; `true` sets an empty attribute.
 */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === false || value === null || value === undefined) continue;
    node.setAttribute(name, value === true ? "" : String(value));
  }
  node.append(...children.filter((c) => c !== null && c !== undefined && c !== false));
  return node;
}

/** Link to the panel's document view, scrolled to the section, with the words highlighted. */
export function documentLink(docId, section, query) {
  const params = new URLSearchParams({ doc: docId });
  if (section) params.set("section", section);
  if (query) params.set("q", query);
  return `/panel/document?${params}`;
}

/** A turn of the dialogue (a logged turn, or a live voice transcript while `interim`). */
export function turnElement(turn, t) {
  const li = el("li", { class: `turn turn-${turn.speaker}`, "data-testid": "turn", "data-turn-id": turn.key });
  li.append(
    el("span", { class: "speaker" }, t(`speaker.${turn.speaker}`)),
    el("p", { class: "turn-text", "data-testid": "turn-text" })
  );
  updateTurn(li, turn, t);
  return li;
}

/** Refresh a turn's text (an interim transcript is replaced by the final one). */
export function updateTurn(li, turn, t) {
  li.dataset.speaker = turn.speaker;
  li.classList.toggle("interim", Boolean(turn.interim));
  li.querySelector(".speaker").textContent = t(`speaker.${turn.speaker}`) + (turn.interim ? ` ${t("speaker.interim")}` : "");
  li.querySelector(".turn-text").textContent = turn.text;
}

/** A language's name in the interface language; the code itself for one the panel has no name for. */
export function languageName(code, t) {
  const name = t(`langName.${code}`);
  return name === `langName.${code}` ? code : name;
}

/** Whether a passage's language is known and differs from the reply's (the customer's). */
function foreign(e, language) {
  return Boolean(e.language) && e.language !== language;
}

function evidenceItem(e, query, language, t) {
  const href = documentLink(e.doc_id, e.section, query);
  return el(
    "li",
    { class: "evidence-item", "data-testid": "evidence-item" },
    el("a", { href, target: "_blank", rel: "opener", "data-testid": "evidence-link" }, e.title || e.doc_id),
    foreign(e, language)
      ? el("p", { class: "evidence-language", "data-testid": "evidence-language" }, t("evidence.language", { l: languageName(e.language, t) }))
      : null,
    e.section ? el("p", { class: "evidence-section" }, `${t("evidence.section")}: ${e.section}`) : null,
    el("blockquote", { class: "evidence-snippet", "data-testid": "evidence-snippet", lang: e.language }, highlighted(e.snippet, termsOf(query))),
    el("p", { class: "evidence-source" }, `${t("evidence.source")}: ${e.source}`)
  );
}

/**
 * Why a reference card has no reply: the passage's language when it is not the customer's.
 * @param {object} s a suggestion of kind `reference`
 */
function referenceNote(s, t) {
  const first = (s.evidence || []).find((e) => foreign(e, s.language));
  const text = first ? t("reference.foreign", { l: languageName(first.language, t) }) : t("reference.none");
  return el("p", { class: "reference-note", role: "note", "data-testid": "reference-note" }, text);
}

/**
 * A suggestion card with accept / edit / reject, the edit box, the reject reason and its evidence.
 * A `reference` (evidence only, empty text) gets a note instead of a reply and reject alone: there
 * is nothing to send.
 * @param {object} s the suggestion as sent in a `suggestions` frame
 * @param {number} n its 1-based position (Alt+n accepts it)
 * @param {string} query the customer turn, whose words are highlighted in the evidence
 * @param {(key: string, vars?: object) => string} t
 */
export function suggestionCard(s, n, query, t) {
  const id = `s-${s.id}`;
  const reference = s.kind === "reference";
  const confidence = Math.round((s.confidence || 0) * 100);
  const card = el("li", {
    class: `suggestion kind-${s.kind}`,
    "data-testid": "suggestion",
    "data-suggestion-id": s.id,
    "data-kind": s.kind,
    "data-n": n,
    tabindex: -1,
    "aria-labelledby": `${id}-title`,
  });
  const head = el(
    "div",
    { class: "suggestion-head" },
    el("h3", { id: `${id}-title`, class: "suggestion-title" }, el("span", { class: "n", "aria-hidden": "true" }, String(n)), el("span", { class: "sr-only" }, t("sugg.n", { n }))),
    el("span", { class: "badge kind", "data-testid": "suggestion-kind" }, t(`kind.${s.kind}`)),
    el("span", { class: "badge confidence", title: t("sugg.confidence", { p: confidence }), "data-testid": "suggestion-confidence" }, `${confidence}%`),
    el("span", { class: "badge lang", title: t("sugg.language", { l: s.language }), "data-testid": "suggestion-language" }, s.language.toUpperCase()),
    el("span", { class: "status", "data-testid": "suggestion-status", role: "status" })
  );
  const text = reference ? referenceNote(s, t) : el("p", { class: "suggestion-text", "data-testid": "suggestion-text", id: `${id}-text` }, s.text);
  const editor = reference
    ? null
    : el("textarea", {
        class: "editor",
        hidden: true,
        rows: 4,
        "aria-label": t("edit.label", { n }),
        "data-testid": "suggestion-editor",
      });
  const reply = reference
    ? []
    : [
        el("button", { type: "button", "data-action": "accept", class: "primary", "aria-keyshortcuts": `Alt+${n}`, "aria-describedby": `${id}-text`, "data-testid": "accept" }, t("act.accept"), el("kbd", { "aria-hidden": "true" }, `Alt+${n}`)),
        el("button", { type: "button", "data-action": "edit", "data-testid": "edit" }, t("act.edit")),
        el("button", { type: "button", "data-action": "send-edit", class: "primary", hidden: true, "data-testid": "send-edit" }, t("act.send")),
        el("button", { type: "button", "data-action": "cancel-edit", hidden: true }, t("act.cancel")),
      ];
  const actions = el(
    "div",
    { class: "actions" },
    ...reply,
    el("button", { type: "button", "data-action": "reject", "aria-keyshortcuts": "Escape", "data-testid": "reject" }, t(reference ? "act.dismiss" : "act.reject"))
  );
  const reasonId = `${id}-reason`;
  const reject = el(
    "form",
    { class: "reject-form", hidden: true, "data-testid": "reject-form" },
    el("label", { for: reasonId }, t("reject.label")),
    el("input", { id: reasonId, name: "reason", type: "text", maxlength: 500, autocomplete: "off", "data-testid": "reject-reason" }),
    el(
      "div",
      { class: "actions" },
      el("button", { type: "submit", class: "danger", "data-testid": "confirm-reject" }, t("reject.confirm")),
      el("button", { type: "button", "data-action": "cancel-reject" }, t("act.cancel"))
    )
  );
  card.append(head, text, ...(editor ? [editor] : []), actions, reject);
  if (s.origin) card.append(el("p", { class: "origin" }, t("sugg.origin", { o: s.origin })));
  if (s.evidence && s.evidence.length) {
    card.append(
      el(
        "details",
        { class: "evidence", "data-testid": "evidence", open: reference },
        el("summary", {}, t("evidence.summary", { n: s.evidence.length })),
        el("ul", {}, ...s.evidence.map((e) => evidenceItem(e, query, s.language, t)))
      )
    );
  }
  return card;
}

/** The block of suggestions under a customer turn. */
export function suggestionsBlock(frame, query, t) {
  const block = el("section", {
    class: "suggestions",
    "data-testid": "suggestions",
    "data-turn-id": frame.turn_id,
    "aria-label": t("sugg.heading"),
  });
  if (frame.kb_gap) block.append(el("p", { class: "gap", role: "note", "data-testid": "kb-gap" }, t("sugg.gap")));
  if (!frame.suggestions.length) block.append(el("p", { class: "muted" }, t("sugg.none")));
  block.append(el("ol", { class: "suggestion-list" }, ...frame.suggestions.map((s, i) => suggestionCard(s, i + 1, query, t))));
  return block;
}

/**
 * Show what happened to a suggestion: the decision and whether the server has it yet.
 * @param {HTMLElement} card
 * @param {{action: string, status: "queued"|"sent"|"failed"}|undefined} decision
 */
export function showDecision(card, decision, t) {
  card.dataset.action = decision ? decision.action : "";
  card.dataset.delivery = decision ? decision.status : "";
  card.querySelector(".status").textContent = decision ? `${t(`status.${decision.action}`)} · ${t(`status.${decision.status}`)}` : "";
  for (const b of card.querySelectorAll(".actions button")) {
    if (decision) b.disabled = true;
  }
}
