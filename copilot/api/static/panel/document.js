// A KB document opened from a suggestion's evidence: its sections, the cited one marked.

import { termsOf } from "./highlight.js";
import { pickLanguage, translator } from "./i18n.js";
import { renderDocument } from "./markdown.js";

const params = new URLSearchParams(location.search);
const t = translator(pickLanguage(params));
const token = sessionStorage.getItem("copilot:token") || "";
const section = params.get("section") || "";
const terms = termsOf(params.get("q") || "");

async function main() {
  const docId = params.get("doc") || "";
  const headers = token ? { Authorization: `Bearer ${token}` } : {};
  const response = await fetch(`/v1/kb/documents/${encodeURIComponent(docId)}`, { headers });
  if (!response.ok) {
    document.getElementById("title").textContent = t("doc.notFound");
    return;
  }
  const doc = await response.json();
  document.title = doc.title;
  document.documentElement.lang = doc.language || "es";
  document.getElementById("title").textContent = doc.title;
  document.getElementById("meta").textContent = [doc.doc_id, doc.client, doc.language, doc.source].filter(Boolean).join(" · ");
  const { nodes, target } = renderDocument(doc, section, terms);
  document.getElementById("body").append(...nodes);
  target?.scrollIntoView();
  document.body.dataset.ready = "1";
}

main();
