// The agent side panel: the conversation, its suggestions, and what the agent does with them.
//
// URL parameters: conversation, token, agent, client, lang, host_origin (the embedding page's
// origin, or several separated by commas: where events are posted, and the only origins whose
// commands are obeyed). See docs/embedding.md and the README's "Agent panel" section.

import { Connection } from "./connection.js";
import { FeedbackQueue, suggestionOfRef } from "./feedback-queue.js";
import { LANGUAGES, pickLanguage, rememberLanguage, translatePage, translator } from "./i18n.js";
import { markSuperseded, showDecision, suggestionsBlock, turnElement, updateTurn } from "./render.js";
import { setUpSearch } from "./search.js";
import { handOff } from "./handoff.js";
import { EmbedChannel } from "./embed.js";
import { wirePreview } from "./preview.js";

const params = new URLSearchParams(location.search);
const TOKEN_KEY = "copilot:token";
if (params.has("token")) {
  sessionStorage.setItem(TOKEN_KEY, params.get("token") || "");
  params.delete("token"); // keep it out of the address bar, history and screenshots
  history.replaceState(null, "", `${location.pathname}?${params}${location.hash}`);
}
const token = sessionStorage.getItem(TOKEN_KEY) || "";
const conversationId = params.get("conversation") || "";
const client = params.get("client") || null;
const embed = new EmbedChannel(params.get("host_origin"));
const lang = pickLanguage(params);
const t = translator(lang);

const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));
const turnsList = $("turns");

/** @type {Map<string, {key: string, speaker: string, text: string, interim?: boolean, el: HTMLElement}>} */
const turns = new Map();
/** @type {Map<string, {s: object, turnId: string, card: HTMLElement}>} */
const suggestions = new Map();
/** @type {Map<string, {action: string, status: "queued"|"sent"|"failed", finalText?: string}>} */
const decisions = new Map();
let agentId = params.get("agent") || "agent-panel";
let startCount = 0;
/** @type {Connection} */
let conn;
/** @type {FeedbackQueue} */
let queue;

function fetchApi(path, init = {}) {
  const headers = new Headers(init.headers || {});
  if (token) headers.set("Authorization", `Bearer ${token}`);
  return fetch(path, { ...init, headers });
}

function announce(text) {
  $("announce").textContent = text;
}

// ----- connection state ------------------------------------------------------------------------

function showState(state, retryInMs) {
  const box = $("connection");
  box.dataset.state = state;
  const label = state === "reconnecting" && retryInMs ? t("conn.reconnectingIn", { s: Math.ceil(retryInMs / 1000) }) : t(`conn.${state}`);
  box.querySelector(".label").textContent = label;
  box.title = label; // the bar keeps one line: a long state may be cut, its whole text stays here
  $("retry").hidden = state === "connected" || state === "connecting" || state === "denied";
  if (state !== "connected") queue.resetInflight();
}

function showQueue() {
  const n = queue.size;
  const box = $("queue");
  box.dataset.count = String(n);
  box.hidden = n === 0;
  box.textContent = n ? t("queue.pending", { n }) : "";
}

function flush() {
  if (conn.ready) queue.flush((frame) => conn.send(frame));
  showQueue();
}

// ----- the conversation ------------------------------------------------------------------------

function upsertTurn(key, speaker, text, interim = false) {
  let turn = turns.get(key);
  if (!turn) {
    turn = { key, speaker, text, interim, el: /** @type {HTMLElement} */ (document.createElement("li")) };
    turn.el = turnElement(turn, t);
    turns.set(key, turn);
    turnsList.append(turn.el);
    $("empty").hidden = true;
    if (speaker === "customer") refreshSuperseded();
  } else {
    Object.assign(turn, { speaker, text: text || turn.text, interim });
    updateTurn(turn.el, turn, t);
  }
  return turn;
}

function dropTurn(key) {
  const turn = turns.get(key);
  if (!turn || turn.el.querySelector("[data-testid=suggestions]")) return;
  turn.el.remove();
  turns.delete(key);
  $("empty").hidden = turns.size > 0;
  refreshSuperseded();
}

/** The latest customer turn's key (the one whose suggestions the agent can still act on). */
function latestCustomerTurn() {
  const all = turnsList.querySelectorAll("[data-testid=turn][data-speaker=customer]");
  return all.length ? /** @type {HTMLElement} */ (all[all.length - 1]).dataset.turnId : null;
}

/** Cards of any turn but the latest customer turn are read only. */
function refreshSuperseded() {
  const latest = latestCustomerTurn();
  for (const block of turnsList.querySelectorAll("[data-testid=suggestions]")) {
    const superseded = /** @type {HTMLElement} */ (block).dataset.turnId !== latest;
    if (block.classList.contains("previous") === superseded) continue;
    markSuperseded(/** @type {HTMLElement} */ (block), superseded, t);
    for (const card of block.querySelectorAll("[data-testid=suggestion]")) {
      showDecision(/** @type {HTMLElement} */ (card), decisions.get(/** @type {HTMLElement} */ (card).dataset.suggestionId), t);
    }
  }
}

/**
 * Show a turn's suggestions (a live frame, or one rebuilt from the log after a reload).
 * @param {object} frame a `suggestions` frame
 * @param {boolean} live whether it just arrived (announced and scrolled to)
 */
function showSuggestions(frame, live = true) {
  const turn = upsertTurn(frame.turn_id, "customer", turns.get(frame.turn_id)?.text || "");
  const old = turn.el.querySelector("[data-testid=suggestions]");
  const ids = frame.suggestions.map((s) => s.id).join(",");
  if (old && old.dataset.ids === ids) return; // a resend after a reconnect or a duplicate turn
  const block = suggestionsBlock(frame, turn.text, t);
  block.dataset.ids = ids;
  if (old) old.replaceWith(block);
  else turn.el.append(block);
  frame.suggestions.forEach((s, i) => {
    const card = /** @type {HTMLElement} */ (block.querySelectorAll("[data-testid=suggestion]")[i]);
    suggestions.set(s.id, { s, turnId: frame.turn_id, n: i + 1, card });
    wireCard(card, s);
    showDecision(card, decisions.get(s.id), t);
  });
  refreshSuperseded();
  if (!live) return;
  announce(t("sugg.new", { n: frame.suggestions.length }));
  embed.post("copilot:suggestions", {
    turn_id: frame.turn_id,
    suggestions: frame.suggestions.map((s, i) => ({ n: i + 1, suggestion_id: s.id, kind: s.kind, text: s.text })),
  });
  if (!turnsList.querySelector(".editor:not([hidden])")) block.scrollIntoView({ block: "nearest" });
}

/** Rebuild every logged turn's suggestions (a reload, or the service restarted). */
function restoreSuggestions(log) {
  const byTurn = new Map();
  for (const row of log.suggestions) {
    if (!byTurn.has(row.turn_id)) byTurn.set(row.turn_id, []);
    byTurn.get(row.turn_id).push(row);
  }
  for (const row of log.turns) {
    const rows = byTurn.get(row.turn_id);
    if (!rows || turns.get(row.turn_id)?.el.querySelector("[data-testid=suggestions]")) continue;
    rows.sort((a, b) => a.rank - b.rank);
    const frame = {
      turn_id: row.turn_id,
      kb_gap: row.kb_gap,
      suggestions: rows.map((r) => ({ id: r.suggestion_id, text: r.text, kind: r.kind, confidence: r.confidence, language: r.language, evidence: r.evidence, origin: r.origin })),
    };
    showSuggestions(frame, false);
  }
}

/** After (re)connecting: fill in turns and decisions logged while this panel was away. */
async function backfill() {
  let log;
  try {
    const response = await fetchApi(`/v1/conversations/${encodeURIComponent(conversationId)}`);
    if (!response.ok) return;
    log = await response.json();
  } catch {
    return;
  }
  for (const row of log.turns) {
    if (!turns.has(row.turn_id)) upsertTurn(row.turn_id, row.speaker, row.text);
    else if (!turns.get(row.turn_id).text) upsertTurn(row.turn_id, row.speaker, row.text);
  }
  const logged = log.turns.map((r) => r.turn_id);
  const wanted = [...logged, ...[...turns.keys()].filter((k) => !logged.includes(k))];
  const current = [...turnsList.children].map((li) => li.dataset.turnId);
  if (wanted.join("\n") !== current.join("\n")) for (const key of wanted) turnsList.append(turns.get(key).el);
  refreshSuperseded(); // the order may have changed which customer turn is the latest
  for (const row of log.feedback) {
    if (!decisions.has(row.suggestion_id) || decisions.get(row.suggestion_id).status !== "sent") {
      queue.remove(row.suggestion_id);
      record(row.suggestion_id, row.action, "sent", row.action === "edited" ? row.final_text : "");
    }
  }
  restoreSuggestions(log);
  showQueue();
}

function onFrame(frame) {
  switch (frame.type) {
    case "turn":
      upsertTurn(frame.turn_id, frame.speaker, frame.text);
      break;
    case "transcript":
      // A final utterance is logged as a turn with turn_id = utterance_id: the same entry, so the
      // later `turn` frame updates it in place. An empty final text was noise: drop the interim.
      if (frame.final && !frame.text.trim()) dropTurn(frame.utterance_id);
      else upsertTurn(frame.utterance_id, frame.speaker, frame.text, !frame.final);
      break;
    case "suggestions":
      showSuggestions(frame);
      break;
    case "ack": {
      const sid = suggestionOfRef(frame.ref);
      if (sid) delivered(sid, "sent");
      break;
    }
    case "error": {
      const sid = suggestionOfRef(frame.ref);
      // Refused for good (unknown suggestion, bad content): resending cannot help.
      if (sid && frame.code !== "internal_error") delivered(sid, "failed");
      break;
    }
    default:
      break;
  }
}

// ----- decisions -------------------------------------------------------------------------------

function record(sid, action, status, finalText = decisions.get(sid)?.finalText || "") {
  decisions.set(sid, { action, status, finalText });
  const entry = suggestions.get(sid);
  if (entry) showDecision(entry.card, decisions.get(sid), t);
}

function delivered(sid, status) {
  queue.remove(sid);
  const known = decisions.get(sid);
  if (known) record(sid, known.action, status);
  showQueue();
}

/**
 * The agent decided: queue the feedback (sent now if connected) and hand the text to the chat tool.
 * @param {string} sid
 * @param {"accepted"|"edited"|"rejected"} action
 * @param {string} finalText the sent text for `edited`; empty otherwise
 * @param {string|null} reason
 */
function decide(sid, action, finalText = "", reason = null) {
  const entry = suggestions.get(sid);
  if (!entry || decisions.has(sid) || entry.card.classList.contains("superseded")) return false;
  if (entry.s.kind === "reference" && action !== "rejected") return false; // evidence only: nothing to send
  queue.add({ suggestion_id: sid, action, final_text: finalText, reason, queued_at: new Date().toISOString() });
  const hadFocus = entry.card.contains(document.activeElement);
  record(sid, action, "queued", finalText);
  if (hadFocus) entry.card.focus(); // its buttons are now disabled: keep the keyboard user in place
  const about = { suggestion_id: sid, turn_id: entry.turnId, n: entry.n };
  if (action !== "rejected") {
    handOff(finalText || entry.s.text, sid, embed);
    embed.post(`copilot:${action}`, { ...about, text: finalText || entry.s.text, original: entry.s.text });
    announce(t("copied"));
  } else embed.post("copilot:rejected", { ...about, reason });
  flush();
  return true;
}

function wireCard(card, s) {
  const editor = /** @type {HTMLTextAreaElement|null} */ (card.querySelector(".editor"));
  const text = card.querySelector(".suggestion-text");
  const form = /** @type {HTMLFormElement} */ (card.querySelector(".reject-form"));
  const buttons = (name) => /** @type {HTMLButtonElement} */ (card.querySelector(`[data-action=${name}]`));
  const editMode = (on) => {
    editor.hidden = !on;
    text.hidden = on;
    for (const name of ["accept", "edit", "reject"]) buttons(name).hidden = on;
    for (const name of ["send-edit", "cancel-edit"]) buttons(name).hidden = !on;
  };
  const editing = (on) => {
    if (on && (decisions.has(s.id) || card.classList.contains("superseded"))) return;
    editMode(on);
    if (on) {
      editor.value = s.text;
      editor.focus();
    } else buttons("edit").focus();
  };
  const sendEdit = () => {
    const edited = editor.value.trim();
    if (!edited) return;
    const changed = edited !== s.text.trim();
    decide(s.id, changed ? "edited" : "accepted", changed ? edited : ""); // the card shows both texts
    editMode(false); // after decide, which moved the focus from the editor to the card
  };
  buttons("reject").addEventListener("click", () => openReject(card));
  buttons("cancel-reject").addEventListener("click", () => closeReject(card));
  if (editor) {
    // A reference card (evidence only) has no reply, so no accept or edit.
    buttons("accept").addEventListener("click", () => decide(s.id, "accepted"));
    buttons("edit").addEventListener("click", () => editing(true));
    card.addEventListener("copilot:edit", () => editing(true));
    buttons("send-edit").addEventListener("click", sendEdit);
    buttons("cancel-edit").addEventListener("click", () => editing(false));
    editor.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
        ev.preventDefault();
        sendEdit();
      } else if (ev.key === "Escape") {
        ev.preventDefault();
        ev.stopPropagation();
        editing(false);
      }
    });
  }
  form.addEventListener("keydown", (ev) => {
    if (ev.key === "Escape") {
      ev.preventDefault();
      ev.stopPropagation();
      closeReject(card);
    }
  });
  for (const preview of card.querySelectorAll("[data-testid=doc-preview]")) wirePreview(/** @type {HTMLElement} */ (preview), fetchApi, t);
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const reason = String(new FormData(form).get("reason") || "").trim();
    decide(s.id, "rejected", "", reason || null);
    form.hidden = true;
  });
}

function openReject(card) {
  if (decisions.has(card.dataset.suggestionId) || card.classList.contains("superseded")) return;
  const form = /** @type {HTMLFormElement} */ (card.querySelector(".reject-form"));
  form.hidden = false;
  /** @type {HTMLInputElement} */ (form.querySelector("input")).focus();
}

function closeReject(card) {
  card.querySelector(".reject-form").hidden = true;
  /** @type {HTMLElement} */ (card.querySelector("[data-action=reject]")).focus();
}

/** The cards of the newest suggestions, in order. */
function latestCards() {
  const latest = latestCustomerTurn();
  const block = latest && turns.get(latest)?.el.querySelector("[data-testid=suggestions]");
  return block ? [...block.querySelectorAll("[data-testid=suggestion]")] : [];
}

/** The digit of Alt+1…9, from the physical key or (a forwarded event) the key itself. */
function altDigit(ev) {
  if (!ev.altKey || ev.ctrlKey || ev.metaKey) return 0;
  const m = /^Digit([1-9])$/.exec(ev.code || "") || /^([1-9])$/.exec(ev.key || "");
  return m ? Number(m[1]) : 0;
}

function onKey(ev) {
  const digit = altDigit(ev);
  if (digit) {
    const card = latestCards()[digit - 1];
    if (card && card.dataset.kind !== "reference") {
      ev.preventDefault();
      decide(card.dataset.suggestionId, "accepted");
    }
  } else if (ev.key === "Escape" && !ev.defaultPrevented) {
    const active = document.activeElement;
    const focused = /** @type {HTMLElement|null} */ (active?.closest("[data-testid=suggestion]"));
    // Esc in the search box (or any other field) belongs to that field, not to the suggestions.
    if (!focused && active?.matches("input, textarea, select")) return;
    const pending = (c) => c && !decisions.has(c.dataset.suggestionId);
    const card = pending(focused) ? focused : latestCards().find(pending);
    if (card) {
      ev.preventDefault();
      openReject(card);
    }
  }
}

// ----- the embedding page's commands (see docs/embedding.md) ----------------------------------

/**
 * Obey a command from the embedding page (its origin already checked).
 * @param {{type: string, n?: number, reason?: string, key?: string, code?: string, altKey?: boolean, ctrlKey?: boolean, metaKey?: boolean, shiftKey?: boolean}} msg
 * @returns {string|null} why nothing was done, or null when it was
 */
function onCommand(msg) {
  const card = () => {
    const found = latestCards()[Number(msg.n) - 1];
    return found && !decisions.has(found.dataset.suggestionId) ? found : null;
  };
  switch (msg.type) {
    case "copilot:accept": {
      const c = card();
      if (!c || c.dataset.kind === "reference") return "no_suggestion";
      return decide(c.dataset.suggestionId, "accepted") ? null : "no_suggestion";
    }
    case "copilot:edit": {
      const c = card();
      if (!c || c.dataset.kind === "reference") return "no_suggestion";
      window.focus();
      c.dispatchEvent(new CustomEvent("copilot:edit"));
      return null;
    }
    case "copilot:reject": {
      const c = card();
      if (!c) return "no_suggestion";
      const reason = typeof msg.reason === "string" ? msg.reason.trim().slice(0, 500) : "";
      return decide(c.dataset.suggestionId, "rejected", "", reason || null) ? null : "no_suggestion";
    }
    case "copilot:focus": {
      window.focus();
      const target = latestCards().find((c) => !decisions.has(c.dataset.suggestionId)) || $("conversation");
      target.focus();
      return null;
    }
    case "copilot:key": {
      let handled = false;
      onKey({ ...msg, preventDefault: () => (handled = true), defaultPrevented: false });
      return handled ? null : "not_handled";
    }
    default:
      return "unknown_command";
  }
}

// ----- start-up --------------------------------------------------------------------------------

async function whoAmI() {
  try {
    const response = await fetchApi("/v1/me");
    if (response.ok) {
      const me = await response.json();
      if (me.agent_id) agentId = me.agent_id;
    }
  } catch {
    /* no auth in this deployment: the URL's agent stands */
  }
}

function setUpChrome() {
  document.documentElement.lang = lang;
  translatePage(document, t);
  const select = /** @type {HTMLSelectElement} */ ($("language"));
  select.value = lang;
  select.addEventListener("change", () => {
    if (!LANGUAGES.includes(select.value)) return;
    rememberLanguage(select.value);
    params.set("lang", select.value);
    location.search = params.toString(); // the queue and the server keep everything across a reload
  });
  $("retry").addEventListener("click", () => conn.connectNow());
  document.addEventListener("keydown", onKey);
}

async function main() {
  setUpChrome();
  if (!conversationId) {
    $("conversation").hidden = true;
    const form = /** @type {HTMLFormElement} */ ($("conversation-form"));
    form.hidden = false;
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      params.set("conversation", String(new FormData(form).get("conversation")));
      location.search = params.toString();
    });
    return;
  }
  $("conversation-label").textContent = conversationId;
  queue = new FeedbackQueue(conversationId);
  for (const item of Object.values(queue.all())) decisions.set(item.suggestion_id, { action: item.action, status: "queued" });
  showQueue();
  setUpSearch({
    form: /** @type {HTMLFormElement} */ ($("search-form")),
    results: $("search-results"),
    fetchApi,
    client,
    onInsert: (text) => handOff(text, null, embed),
    t,
  });
  await whoAmI();
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const query = token ? `?access_token=${encodeURIComponent(token)}` : "";
  conn = new Connection({
    url: `${scheme}://${location.host}/v1/conversations/${encodeURIComponent(conversationId)}/stream${query}`,
    startMessage: () => {
      const start = { type: "start", id: `start-${++startCount}`, agent_id: agentId };
      if (client) start.client = client;
      return start;
    },
    onFrame,
    onState: showState,
    onReady: () => {
      queue.resetInflight();
      flush();
      backfill();
    },
  });
  // A hook for tests and for the host page: drop the link as a network failure would.
  // `frame` feeds a server frame in, as if it came over the socket.
  window.copilotPanel = { drop: () => conn.drop(), reconnect: () => conn.connectNow(), frame: onFrame, queue };
  embed.listen(onCommand);
  conn.open();
  document.body.dataset.ready = "1";
  embed.post("copilot:ready", { conversation_id: conversationId });
}

main();
