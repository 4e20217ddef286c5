// Supervisor console: filter bar, rate cards, charts (Chart.js), tables (Tabulator), edit diffs
// (jsdiff), conversation drill-down and export. Speaks only the /v1/supervisor/* REST API.
//
// URL parameters: token (kept in sessionStorage, then removed from the address bar), lang, the
// filters since, until (YYYY-MM-DD, days of the chosen time zone), agent_id, client, language, and
// tz (an IANA zone; the browser's own when absent). Days and hours are cut in that zone, by the
// server. While "live" is on, the figures reload every 30 s (refresh_ms overrides it, for tests),
// paused while the tab is hidden and when the range ends before today.
// Test hooks: [data-testid=rate-*], [data-testid=count-*], [data-testid=refresh]; body.dataset.ready
// is "1" after each complete load ("0" while loading, "error" when a load failed);
// body.dataset.loads counts the completed loads.

import { pickLanguage, translatePage, translator } from "./i18n.js";

/* global Chart, Tabulator, Diff */

const params = new URLSearchParams(location.search);
const TOKEN_KEY = "copilot:token";
if (params.has("token")) {
  sessionStorage.setItem(TOKEN_KEY, params.get("token") || "");
  params.delete("token"); // keep the key out of the address bar, history and screenshots
  history.replaceState(null, "", `${location.pathname}${params.size ? `?${params}` : ""}`);
}
const token = sessionStorage.getItem(TOKEN_KEY) || "";

const COLORS = {
  accepted: "#15803d",
  edited: "#b45309",
  rejected: "#b91c1c",
  none: "#6b7280",
  p50: "#0b57d0",
  p95: "#7c3aed",
  p99: "#be123c",
};
const GROUPS = ["agent", "client", "topic", "language"];
const FILTER_NAMES = ["since", "until", "agent_id", "client", "language", "tz"];
const BROWSER_ZONE = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
const LIVE_MS = Number(params.get("refresh_ms")) || 30_000;

const $ = (selector) => document.querySelector(selector);
const form = $("#filters");
const tables = new Map();
let lang = pickLanguage(params);
let t = translator(lang);
let generation = 0;
let loading = false;
let loads = 0;

class HttpError extends Error {
  constructor(status, detail) {
    super(status === 422 ? detail : `HTTP ${status}: ${detail}`);
    this.status = status;
  }
}

/** An error body's words: a 422's field messages ("since: …"), or the service's message. */
function describe(body, fallback) {
  if (Array.isArray(body.detail)) {
    return body.detail.map((d) => `${(d.loc || []).slice(1).join(".")}: ${d.msg}`).join("; ");
  }
  return body.message || body.detail || fallback;
}

async function api(path, query) {
  const headers = token ? { Authorization: `Bearer ${token}` } : {};
  const response = await fetch(`/v1/supervisor/${path}?${query}`, { headers });
  if (!response.ok) {
    const body = await response.json().catch(() => ({}));
    throw new HttpError(response.status, describe(body, response.statusText));
  }
  return response;
}

const getJson = async (path, query) => (await api(path, query)).json();

/** The day after `date` (YYYY-MM-DD), as YYYY-MM-DD. */
function nextDay(date) {
  const d = new Date(`${date}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + 1);
  return d.toISOString().slice(0, 10);
}

/** The chosen IANA time zone (the browser's unless overridden). */
const zone = () => form.elements.tz.value || BROWSER_ZONE;

/** Today in the chosen zone, as YYYY-MM-DD. */
const today = () => new Intl.DateTimeFormat("en-CA", { timeZone: zone() }).format(new Date());

/**
 * The filter bar as API query parameters. Dates become local midnights without an offset, which
 * the server reads in `tz` (`until` is inclusive here, exclusive there).
 */
function filterQuery(extra = {}) {
  const data = new FormData(form);
  const query = new URLSearchParams();
  const since = data.get("since");
  const until = data.get("until");
  if (since) query.set("since", `${since}T00:00:00`);
  if (until) query.set("until", `${nextDay(until)}T00:00:00`);
  for (const name of ["agent_id", "client", "language"]) {
    const value = String(data.get(name) || "").trim();
    if (value) query.set(name, value);
  }
  query.set("tz", zone());
  for (const [k, v] of Object.entries(extra)) query.set(k, v);
  return query;
}

function keepFiltersInUrl() {
  const data = new FormData(form);
  const url = new URLSearchParams();
  if (params.has("lang")) url.set("lang", lang);
  if (params.has("refresh_ms")) url.set("refresh_ms", params.get("refresh_ms"));
  for (const name of FILTER_NAMES) {
    const value = String(data.get(name) || "");
    if (value && !(name === "tz" && value === BROWSER_ZONE)) url.set(name, value);
  }
  history.replaceState(null, "", `${location.pathname}${url.size ? `?${url}` : ""}`);
}

/** Fill the zone list: every zone the browser knows, the browser's own first. */
function fillZones() {
  const select = form.elements.tz;
  const known = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
  const wanted = params.get("tz");
  const zones = [...new Set([BROWSER_ZONE, "UTC", ...known, ...(wanted ? [wanted] : [])])];
  select.replaceChildren(...zones.map((z) => el("option", { value: z }, z)));
  select.value = wanted && zones.includes(wanted) ? wanted : BROWSER_ZONE;
}

const percent = (rate) => (rate === null || rate === undefined ? "–" : `${Math.round(rate * 100)}%`);

function formatTime(iso, withHour = true) {
  const timeZone = zone();
  const options = withHour
    ? { day: "2-digit", month: "2-digit", hour: "2-digit", minute: "2-digit", timeZone }
    : { day: "2-digit", month: "2-digit", year: "numeric", timeZone };
  return new Intl.DateTimeFormat(lang, options).format(new Date(iso));
}

function setText(testid, text) {
  document.querySelector(`[data-testid="${testid}"]`).textContent = text;
}

function renderOverall(overall) {
  for (const action of ["accepted", "edited", "rejected"]) {
    setText(`rate-${action}`, percent(overall[`${action}_rate`]));
    setText(`count-${action}`, String(overall[action]));
  }
  for (const total of document.querySelectorAll(".verdicts-total")) {
    total.textContent = String(overall.with_feedback);
  }
  setText("count-shown", String(overall.shown));
  setText("count-no-feedback", String(overall.no_feedback));
}

function drawChart(canvas, config) {
  Chart.getChart(canvas)?.destroy();
  return new Chart(canvas, {
    ...config,
    options: {
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      plugins: { legend: { position: "bottom" } },
      ...config.options,
    },
  });
}

function renderRatesChart(series, bucket) {
  const hourly = bucket === "hour";
  const dataset = (key, label) => ({
    label,
    data: series.map((s) => (key === "none" ? s.no_feedback : s[key])),
    backgroundColor: COLORS[key],
    stack: "verdicts",
  });
  drawChart($("#chart-rates"), {
    type: "bar",
    data: {
      labels: series.map((s) => formatTime(s.key, hourly)),
      datasets: [
        dataset("accepted", t("action.accepted")),
        dataset("edited", t("action.edited")),
        dataset("rejected", t("action.rejected")),
        dataset("none", t("action.none")),
      ],
    },
    options: { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true } } },
  });
}

function renderLatency(report) {
  const o = report.overall;
  setText("latency-summary", t("latency.summary", { n: o.turns, p50: o.p50, p95: o.p95, p99: o.p99 }));
  const hourly = report.bucket === "hour";
  const line = (key) => ({
    label: key,
    data: report.points.map((p) => p[key]),
    borderColor: COLORS[key],
    backgroundColor: COLORS[key],
    tension: 0.2,
  });
  drawChart($("#chart-latency"), {
    type: "line",
    data: {
      labels: report.points.map((p) => formatTime(p.start, hourly)),
      datasets: [line("p50"), line("p95"), line("p99")],
    },
    options: { scales: { y: { beginAtZero: true, title: { display: true, text: "ms" } } } },
  });
}

/** (Re)build a Tabulator table in `element`; resolves once it is drawn. */
function table(element, options) {
  tables.get(element.id)?.destroy();
  return new Promise((resolve) => {
    const built = new Tabulator(element, {
      layout: "fitColumns",
      placeholder: t("empty"),
      ...options,
    });
    tables.set(element.id, built);
    built.on("tableBuilt", () => resolve(built));
  });
}

const rateColumn = (action) => ({
  title: t(`col.${action}`),
  field: `${action}_rate`,
  hozAlign: "right",
  sorter: "number",
  minWidth: 100,
  formatter: (cell) => `${percent(cell.getValue())} (${cell.getRow().getData()[action]})`,
});

function renderGroup(name, groups) {
  // fitColumns: the columns share the container's width, so Rejected never hides behind a scroll.
  return table($(`#table-${name}`), {
    layout: "fitColumns",
    data: groups.map((g) => ({ ...g, key: g.key ?? t("col.none") })),
    columns: [
      { title: t("col.key"), field: "key", minWidth: 80, formatter: "textarea" },
      { title: t("col.shown"), field: "shown", hozAlign: "right", sorter: "number", minWidth: 60 },
      rateColumn("accepted"),
      rateColumn("edited"),
      rateColumn("rejected"),
    ],
  });
}

function renderGaps(gaps) {
  const reasons = (r) =>
    Object.entries(r)
      .map(([k, n]) => `${t(`reason.${k}`)} (${n})`)
      .join(", ");
  return table($("#table-gaps"), {
    data: gaps.map((g, i) => ({
      id: i,
      count: g.count,
      representative: g.representative,
      examples: g.examples.filter((e) => e !== g.representative).join(" · "),
      languages: g.languages.join(", "),
      reasons: reasons(g.reasons),
      last_seen: g.last_seen,
    })),
    columns: [
      { title: t("gaps.count"), field: "count", hozAlign: "right", sorter: "number", width: 90 },
      { title: t("gaps.question"), field: "representative", formatter: "textarea", widthGrow: 3 },
      { title: t("gaps.examples"), field: "examples", formatter: "textarea", widthGrow: 3 },
      { title: t("gaps.languages"), field: "languages", width: 110 },
      { title: t("gaps.reasons"), field: "reasons", formatter: "textarea", widthGrow: 1 },
      {
        title: t("gaps.lastSeen"),
        field: "last_seen",
        formatter: (cell) => formatTime(cell.getValue()),
        width: 150,
      },
    ],
  });
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  for (const child of children) node.append(child);
  return node;
}

/** Suggested and sent text side by side: removed words in <del>, added words in <ins>. */
function renderEdits(edits) {
  const list = $("#edits");
  list.replaceChildren();
  if (!edits.length) list.append(el("li", { class: "muted" }, t("edits.none")));
  for (const e of edits) {
    const before = el("div", { class: "diff", "data-testid": "diff-suggested" });
    const after = el("div", { class: "diff", "data-testid": "diff-sent" });
    for (const part of Diff.diffWords(e.suggestion_text, e.final_text)) {
      if (!part.added) before.append(part.removed ? el("del", {}, part.value) : part.value);
      if (!part.removed) after.append(part.added ? el("ins", {}, part.value) : part.value);
    }
    const meta = `${e.agent_id} · ${e.client ?? "–"} · ${e.language} · ${formatTime(e.created_at)} · ${t(
      "edits.similarity",
      { p: Math.round(e.similarity * 100) },
    )}`;
    list.append(
      el(
        "li",
        { class: "edit" },
        el("p", { class: "muted small" }, meta),
        el("p", { class: "question" }, `“${e.customer_text}”`),
        el(
          "div",
          { class: "side-by-side" },
          el("section", {}, el("h3", {}, t("edits.suggested")), before),
          el("section", {}, el("h3", {}, t("edits.sent")), after),
        ),
      ),
    );
  }
}

function renderConversations(rows) {
  return table($("#table-conversations"), {
    data: rows.map((r) => ({
      id: r.conversation.conversation_id,
      agent: r.conversation.agent_id,
      client: r.conversation.client ?? "–",
      language: r.conversation.language ?? "–",
      started: r.conversation.started_at,
      turns: r.turns,
      feedback: r.feedback,
      gaps: r.kb_gaps,
      escalations: r.escalations ?? 0,
    })),
    columns: [
      {
        title: "",
        field: "id",
        headerSort: false,
        width: 80,
        formatter: (cell) => {
          const id = cell.getValue();
          const button = el(
            "button",
            { type: "button", class: "small", "aria-label": t("conv.openLabel", { id }), "data-testid": `open-${id}` },
            t("conv.open"),
          );
          button.addEventListener("click", () => openConversation(id).catch(showError));
          return button;
        },
      },
      { title: t("conv.id"), field: "id", widthGrow: 2 },
      { title: t("conv.agent"), field: "agent" },
      { title: t("conv.client"), field: "client" },
      { title: t("conv.language"), field: "language", width: 90 },
      { title: t("conv.started"), field: "started", formatter: (c) => formatTime(c.getValue()) },
      { title: t("conv.turns"), field: "turns", hozAlign: "right", sorter: "number" },
      { title: t("conv.feedback"), field: "feedback", hozAlign: "right", sorter: "number" },
      { title: t("conv.gaps"), field: "gaps", hozAlign: "right", sorter: "number" },
      {
        title: t("conv.escalations"),
        field: "escalations",
        hozAlign: "right",
        sorter: "number",
        formatter: (cell) => {
          const n = cell.getValue();
          return n ? el("span", { class: "badge escalate", "data-testid": "escalations" }, String(n)) : "0";
        },
      },
    ],
  });
}

function renderSuggestion(s, verdict) {
  const evidence = el("details", {}, el("summary", {}, t("drill.evidence", { n: s.evidence.length })));
  const items = el("ul");
  for (const e of s.evidence) {
    const language = e.language ? ` · ${e.language.toUpperCase()}` : "";
    items.append(el("li", {}, el("strong", {}, `${e.title} `), el("code", {}, e.doc_id), ` · ${e.section}${language}`, el("p", { class: "small", ...(e.language ? { lang: e.language } : {}) }, e.snippet)));
  }
  evidence.append(items);
  const action = verdict ? t(`action.${verdict.action}`) : t("drill.noVerdict");
  const item = el(
    "li",
    { class: `suggestion ${verdict ? verdict.action : "none"}`, "data-testid": "drill-suggestion" },
    el("p", { class: "small muted" }, `#${s.rank + 1} · ${t(`kind.${s.kind}`)} · ${Math.round(s.confidence * 100)}% · `, el("strong", { "data-testid": "drill-action" }, action)),
    s.text ? el("p", {}, s.text) : el("p", { class: "small muted" }, t("drill.reference")),
    evidence,
  );
  if (verdict && verdict.action !== "accepted" && verdict.final_text) {
    item.append(el("p", { class: "sent" }, el("strong", {}, `${t("drill.sent")}: `), verdict.final_text));
  }
  if (verdict?.reason) item.append(el("p", { class: "small" }, `${t("drill.reason")}: ${verdict.reason}`));
  return item;
}

async function openConversation(id) {
  const detail = await getJson(`conversations/${encodeURIComponent(id)}`, "");
  const c = detail.conversation;
  $("#drill-title").textContent = t("drill.title", { id });
  $("#drill-meta").textContent = t("drill.meta", {
    agent: c.agent_id,
    client: c.client ?? "–",
    channel: c.channel,
    start: formatTime(c.started_at),
  });
  if (detail.escalations) {
    $("#drill-meta").append(" · ", el("span", { class: "badge escalate", "data-testid": "drill-escalations" }, t("drill.escalations", { n: detail.escalations })));
  }
  const verdicts = new Map(detail.feedback.map((f) => [f.suggestion_id, f]));
  const turns = $("#drill-turns");
  turns.replaceChildren();
  for (const turn of detail.turns) {
    const who = turn.speaker === "customer" ? t("drill.customer") : t("drill.agent");
    const head = el("p", {}, el("strong", {}, `${who}: `), turn.text);
    if (turn.kb_gap) head.append(" ", el("span", { class: "badge" }, t("drill.gap")));
    const item = el("li", { class: `turn ${turn.speaker}`, "data-testid": "drill-turn" }, head);
    const shown = detail.suggestions.filter((s) => s.turn_id === turn.turn_id);
    if (shown.some((s) => s.kind === "escalate")) head.append(" ", el("span", { class: "badge escalate" }, t("drill.escalate")));
    if (shown.length) item.append(el("ol", { class: "suggestions" }, ...shown.map((s) => renderSuggestion(s, verdicts.get(s.suggestion_id)))));
    turns.append(item);
  }
  const section = $("#drill");
  section.hidden = false;
  section.focus();
}

async function download(format) {
  const response = await api("export", filterQuery({ format }));
  const disposition = response.headers.get("content-disposition") || "";
  const name = /filename="([^"]+)"/.exec(disposition)?.[1] || `copilot-logs.${format}`;
  const url = URL.createObjectURL(await response.blob());
  const link = el("a", { href: url, download: name });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
  $("#status").textContent = t("status.exported", { name });
}

function showError(error) {
  const box = $("#error");
  box.hidden = false;
  box.textContent =
    error instanceof HttpError && (error.status === 401 || error.status === 403)
      ? t("error.forbidden")
      : t("error.failed", { detail: error.message });
}

/** Fetch and draw everything for the current filters. */
async function load() {
  const mine = ++generation;
  loading = true;
  document.body.dataset.ready = "0";
  $("#status").textContent = t("status.loading");
  $("#error").hidden = true;
  keepFiltersInUrl();
  try {
    const [overall, latency, gaps, edits, conversations, ...groups] = await Promise.all([
      getJson("rates", filterQuery({ group_by: "overall", bucket: "auto" })),
      getJson("latency", filterQuery()),
      getJson("gaps", filterQuery()),
      getJson("most-edited", filterQuery({ limit: "10" })),
      getJson("conversations", filterQuery({ limit: "200" })),
      ...GROUPS.map((g) => getJson("rates", filterQuery({ group_by: g }))),
    ]);
    if (mine !== generation) return; // a newer load owns the page
    renderOverall(overall.groups[0]);
    renderRatesChart(overall.series, overall.bucket);
    renderLatency(latency);
    renderEdits(edits);
    await Promise.all([
      ...GROUPS.map((g, i) => renderGroup(g, groups[i].groups)),
      renderGaps(gaps),
      renderConversations(conversations),
    ]);
    if (mine !== generation) return;
    $("#status").textContent = t("status.loaded", { t: new Date().toLocaleTimeString(lang) });
    document.body.dataset.loads = String(++loads);
    document.body.dataset.ready = "1";
  } catch (error) {
    if (mine !== generation) return;
    showError(error);
    $("#status").textContent = "";
    document.body.dataset.ready = "error";
  } finally {
    if (mine === generation) loading = false;
  }
}

/** Whether a live refresh is due: live on, tab visible, no load running, range reaching today. */
function liveDue() {
  if (!form.elements.live.checked || document.hidden || loading) return false;
  const until = form.elements.until.value;
  return !until || until >= today();
}

setInterval(() => {
  if (liveDue()) load();
}, LIVE_MS);
document.addEventListener("visibilitychange", () => {
  if (liveDue()) load(); // back on the tab: catch up at once
});

function setLanguage(next) {
  lang = next;
  t = translator(lang);
  document.documentElement.lang = lang;
  $("#ui-language").value = lang;
  translatePage(document, t);
  document.title = `Copilot · ${t("title")}`;
}

fillZones();
for (const name of FILTER_NAMES) {
  if (name !== "tz" && params.get(name)) form.elements[name].value = params.get(name);
}
form.elements.tz.addEventListener("change", () => load());
form.addEventListener("submit", (event) => {
  event.preventDefault();
  load();
});
$("#refresh").addEventListener("click", () => load());
$("#export-csv").addEventListener("click", () => download("csv").catch(showError));
$("#export-json").addEventListener("click", () => download("json").catch(showError));
$("#drill-close").addEventListener("click", () => {
  $("#drill").hidden = true;
  $("#table-conversations").querySelector("button")?.focus();
});
$("#ui-language").addEventListener("change", (event) => {
  params.set("lang", event.target.value);
  setLanguage(event.target.value);
  load();
});
setLanguage(lang);
load();
