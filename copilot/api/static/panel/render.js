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

/** The kind of a passage's source in the interface language ("Artículo (Markdown)"), not its path. */
export function sourceKind(source, t) {
  if (/^https?:\/\//i.test(source || "")) return t("source.html");
  const ext = /\.([a-z0-9]+)$/i.exec(source || "")?.[1]?.toLowerCase() || "";
  const known = { md: "md", markdown: "md", txt: "txt", html: "html", htm: "html", pdf: "pdf", csv: "csv", jsonl: "jsonl" };
  return t(`source.${known[ext] || "other"}`);
}

/** The section path without a leading part that repeats the document title. */
function sectionPath(e) {
  const parts = (e.section || "").split(" > ").map((p) => p.trim()).filter(Boolean);
  if (parts.length > 1 && parts[0].toLowerCase() === (e.title || "").trim().toLowerCase()) parts.shift();
  return parts.join(" › ");
}

function evidenceItem(e, query, language, t) {
  const href = documentLink(e.doc_id, e.section, query);
  const section = sectionPath(e);
  return el(
    "li",
    { class: "evidence-item", "data-testid": "evidence-item" },
    el("p", { class: "evidence-title", "data-testid": "evidence-title" }, el("strong", {}, e.title || e.doc_id), section ? ` · ${section}` : ""),
    foreign(e, language)
      ? el("p", { class: "evidence-language", "data-testid": "evidence-language" }, t("evidence.language", { l: languageName(e.language, t) }))
      : null,
    el("blockquote", { class: "evidence-snippet", "data-testid": "evidence-snippet", lang: e.language }, highlighted(e.snippet, termsOf(query))),
    el(
      "p",
      { class: "evidence-source", "data-testid": "evidence-source" },
      `${t("evidence.source")}: ${sourceKind(e.source, t)} · `,
      el("a", { href, target: "_blank", rel: "opener", "data-testid": "evidence-link" }, t("evidence.newTab"))
    ),
    el(
      "div",
      { class: "doc-preview", "data-testid": "doc-preview", "data-doc-id": e.doc_id, "data-section": e.section || "", "data-query": query || "" },
      el("button", { type: "button", class: "small", "aria-expanded": "false", "data-testid": "doc-preview-toggle" }, t("evidence.read")),
      el("div", { class: "doc-preview-body document", hidden: true, "data-testid": "doc-preview-body", tabindex: 0, role: "region", "aria-label": e.title || e.doc_id, lang: e.language })
    )
  );
}

/**
 * Where a suggestion came from, in the interface language. Known origins are written by
 * `suggest.memory_source` ("team memory: AGENT, suggestion ID[, at ISO]") and
 * `suggest.kb_source` ("kb passage in LL, machine-translated"); any other shows as it is.
 */
export function originText(origin, t) {
  const memory = /^team memory: (.+), suggestion [0-9a-f]+(?:, at (\S+))?$/.exec(origin);
  if (memory) {
    const when = memory[2] ? new Date(memory[2]) : null;
    if (!when || Number.isNaN(when.getTime())) return t("origin.memory", { agent: memory[1] });
    const lang = document.documentElement.lang || "es";
    const date = new Intl.DateTimeFormat(lang, { dateStyle: "medium", timeStyle: "short" }).format(when);
    return t("origin.memoryAt", { agent: memory[1], date });
  }
  const translated = /^kb passage in ([a-z]{2,3}), machine-translated$/.exec(origin);
  if (translated) return t("origin.translated", { l: languageName(translated[1], t) });
  return t("sugg.origin", { o: origin });
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
  const edited = reference
    ? null
    : el(
        "div",
        { class: "edited", hidden: true, "data-testid": "edited" },
        el("p", { class: "edited-label" }, t("edit.final")),
        el("p", { class: "edited-text", "data-testid": "edited-text" }),
        el("p", { class: "edited-label" }, t("edit.original")),
        el("p", { class: "original-text", "data-testid": "original-text" }, el("del", {}, s.text))
      );
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
  card.append(head, text, ...(edited ? [edited] : []), ...(editor ? [editor] : []), actions, reject);
  if (s.origin) card.append(el("p", { class: "origin", "data-testid": "suggestion-origin" }, originText(s.origin, t)));
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
 * Show what happened to a suggestion: the decision and whether the server has it yet. An edited
 * reply shows the text sent above the original suggestion (struck through).
 * @param {HTMLElement} card
 * @param {{action: string, status: "queued"|"sent"|"failed", finalText?: string}|undefined} decision
 */
export function showDecision(card, decision, t) {
  card.dataset.action = decision ? decision.action : "";
  card.dataset.delivery = decision ? decision.status : "";
  const superseded = card.classList.contains("superseded");
  const status = decision
    ? `${t(`status.${decision.action}`)} · ${t(`status.${decision.status}`)}`
    : superseded
      ? t("status.pending")
      : "";
  card.querySelector(".status").textContent = status;
  for (const b of card.querySelectorAll(".actions button")) b.disabled = Boolean(decision || superseded);
  const edited = /** @type {HTMLElement|null} */ (card.querySelector(".edited"));
  const text = /** @type {HTMLElement|null} */ (card.querySelector(".suggestion-text"));
  if (edited && text && decision?.action === "edited" && decision.finalText) {
    edited.querySelector(".edited-text").textContent = decision.finalText;
    edited.hidden = false;
    text.hidden = true;
  }
}

/**
 * Mark a turn's suggestions as superseded (a later customer turn came) or current. Superseded cards
 * are read only: greyed, their recorded state shown, no action buttons.
 * @param {HTMLElement} block a `suggestionsBlock`
 * @param {boolean} superseded
 */
export function markSuperseded(block, superseded, t) {
  if (block.classList.contains("previous") === superseded) return;
  block.classList.toggle("previous", superseded);
  let note = block.querySelector(".superseded-note");
  if (superseded && !note) {
    note = el("p", { class: "superseded-note muted", "data-testid": "superseded-note" }, t("sugg.superseded"));
    block.prepend(note);
  } else if (!superseded) note?.remove();
  for (const card of block.querySelectorAll("[data-testid=suggestion]")) {
    card.classList.toggle("superseded", superseded);
    if (superseded) {
      card.querySelector(".reject-form").hidden = true;
      const editor = /** @type {HTMLElement|null} */ (card.querySelector(".editor"));
      if (editor && !editor.hidden) {
        editor.hidden = true; // an edit left half-done: the card shows the suggestion again
        /** @type {HTMLElement} */ (card.querySelector(".suggestion-text")).hidden = false;
      }
    }
  }
}
