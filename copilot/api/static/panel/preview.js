// The whole KB article inside the panel: a folded preview under each evidence item, loaded when opened.

import { termsOf } from "./highlight.js";
import { renderDocument } from "./markdown.js";

/**
 * Show or hide the document under its evidence item; loaded and rendered the first time, and
 * scrolled (inside its own box) to the cited section.
 * @param {HTMLElement} box a `.doc-preview` from `render.evidenceItem` (data-doc-id, data-section, data-query)
 * @param {(path: string) => Promise<Response>} fetchApi authorised fetch
 * @param {(key: string, vars?: object) => string} t
 */
export function wirePreview(box, fetchApi, t) {
  const button = /** @type {HTMLButtonElement} */ (box.querySelector("button"));
  const body = /** @type {HTMLElement} */ (box.querySelector(".doc-preview-body"));
  let loaded = false;
  button.addEventListener("click", async () => {
    const open = button.getAttribute("aria-expanded") !== "true";
    button.setAttribute("aria-expanded", String(open));
    body.hidden = !open;
    if (!open || loaded) return;
    loaded = true;
    body.textContent = t("evidence.loading");
    let doc;
    try {
      const response = await fetchApi(`/v1/kb/documents/${encodeURIComponent(box.dataset.docId || "")}`);
      if (!response.ok) throw new Error(String(response.status));
      doc = await response.json();
    } catch {
      body.textContent = t("doc.notFound");
      loaded = false;
      return;
    }
    const { nodes, target } = renderDocument(doc, box.dataset.section || "", termsOf(box.dataset.query || ""));
    body.replaceChildren(...nodes);
    box.dataset.loaded = "1";
    // Scroll the preview box, not the panel: the card stays where the agent is reading.
    if (target) body.scrollTop = target.offsetTop; // the box is positioned: offsets are from its top
  });
}
