// A KB document opened from a suggestion's evidence: its sections, the cited one marked.

import { highlighted, termsOf } from "./highlight.js";
import { pickLanguage, translator } from "./i18n.js";
import { el } from "./render.js";

const params = new URLSearchParams(location.search);
const t = translator(pickLanguage(params));
const token = sessionStorage.getItem("copilot:token") || "";
const section = (params.get("section") || "").split(" > ").pop().trim().toLowerCase();
const terms = termsOf(params.get("q") || "");

/** Split the stored text on its `#` headings: [{heading, level, lines}]. */
function sections(text) {
  const out = [{ heading: "", level: 2, lines: [] }];
  for (const line of text.split("\n")) {
    const m = /^(#{1,6})\s+(.+?)\s*#*\s*$/.exec(line.trim());
    if (m) out.push({ heading: m[2], level: Math.min(m[1].length + 1, 6), lines: [] });
    else out[out.length - 1].lines.push(line);
  }
  return out.filter((s) => s.heading || s.lines.some((l) => l.trim()));
}

function paragraphs(lines) {
  const blocks = lines.join("\n").split(/\n\s*\n/).map((b) => b.trim()).filter(Boolean);
  return blocks.map((b) => el("p", {}, highlighted(b, terms)));
}

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
  let target = null;
  const body = document.getElementById("body");
  for (const s of sections(doc.text)) {
    const isTitle = s.heading.trim().toLowerCase() === doc.title.trim().toLowerCase();
    const box = el("section", { class: "doc-section" }, s.heading && !isTitle ? el(`h${s.level}`, {}, s.heading) : null, ...paragraphs(s.lines));
    if (section && s.heading.trim().toLowerCase() === section) {
      box.classList.add("cited");
      box.setAttribute("data-testid", "cited-section");
      target = box;
    }
    body.append(box);
  }
  target?.scrollIntoView();
  document.body.dataset.ready = "1";
}

main();
