// Manual knowledge-base search from the panel (`GET /v1/kb/search`).

import { highlighted, termsOf } from "./highlight.js";
import { documentLink, el } from "./render.js";

/**
 * Wire the search form.
 * @param {object} opts
 * @param {HTMLFormElement} opts.form the form with an input named `q`
 * @param {HTMLElement} opts.results where the result list goes
 * @param {(path: string) => Promise<Response>} opts.fetchApi authorised fetch
 * @param {string|null} opts.client the KB client of the conversation
 * @param {(text: string) => void} opts.onInsert hands a passage to the host chat tool
 * @param {(key: string, vars?: object) => string} opts.t
 */
export function setUpSearch({ form, results, fetchApi, client, onInsert, t }) {
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const q = String(new FormData(form).get("q") || "").trim();
    if (!q) return;
    const params = new URLSearchParams({ q, k: "5" });
    if (client) params.set("client", client);
    results.setAttribute("aria-busy", "true");
    let body;
    try {
      const response = await fetchApi(`/v1/kb/search?${params}`);
      if (!response.ok) throw new Error(String(response.status));
      body = await response.json();
    } catch {
      results.replaceChildren(el("p", { class: "error", role: "alert" }, t("search.error")));
      return;
    } finally {
      results.removeAttribute("aria-busy");
    }
    const terms = termsOf(q);
    if (!body.results.length) {
      results.replaceChildren(el("p", { class: "muted" }, t("search.none")));
      return;
    }
    results.replaceChildren(
      el(
        "ol",
        { class: "search-results" },
        ...body.results.map((r) =>
          el(
            "li",
            { class: "search-result", "data-testid": "search-result" },
            el("a", { href: documentLink(r.doc_id, r.section, q), target: "_blank", rel: "opener" }, r.title || r.doc_id),
            r.section ? el("p", { class: "evidence-section" }, `${t("evidence.section")}: ${r.section}`) : null,
            el("blockquote", { class: "evidence-snippet" }, highlighted(r.snippet, terms)),
            el(
              "button",
              { type: "button", class: "small", "data-testid": "insert-result" },
              t("act.insert")
            )
          )
        )
      )
    );
    results.querySelectorAll("[data-testid=insert-result]").forEach((button, i) => {
      button.addEventListener("click", () => onInsert(body.results[i].snippet.replace(/\*\*|__/g, "")));
    });
  });
}
