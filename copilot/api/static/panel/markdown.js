// A small, safe Markdown renderer for KB documents: it builds DOM nodes from text and never parses
// HTML, so whatever a document holds shows as text. Headings, bullet and numbered lists, bold,
// italics, inline code and links (http, https, mailto or relative only).

import { highlighted } from "./highlight.js";

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
  node.append(...children.filter((c) => c !== null));
  return node;
}

const SAFE_HREF = /^(https?:|mailto:|\/|#)/i;

/**
 * Inline Markdown as DOM nodes: `**bold**`, `*italics*`/`_italics_`, `` `code` ``, `[text](url)`.
 * @param {string} text one block's text (may hold newlines)
 * @param {Set<string>} terms folded terms to mark (see `highlight.termsOf`)
 * @returns {Node[]}
 */
export function inline(text, terms) {
  const out = [];
  const re = /\*\*(.+?)\*\*|__(.+?)__|(?<![\p{L}\p{N}*])\*(?!\s)(.+?)(?<!\s)\*(?![\p{L}\p{N}*])|(?<![\p{L}\p{N}_])_(?!\s)(.+?)(?<!\s)_(?![\p{L}\p{N}_])|`([^`]+)`|\[([^\]]+)\]\(([^)\s]+)\)/gu;
  let last = 0;
  for (const m of text.matchAll(re)) {
    if (m.index > last) out.push(highlighted(text.slice(last, m.index), terms));
    if (m[1] !== undefined || m[2] !== undefined) out.push(el("strong", {}, ...inline(m[1] ?? m[2], terms)));
    else if (m[3] !== undefined || m[4] !== undefined) out.push(el("em", {}, ...inline(m[3] ?? m[4], terms)));
    else if (m[5] !== undefined) out.push(el("code", {}, m[5]));
    else if (SAFE_HREF.test(m[7])) out.push(el("a", { href: m[7], target: "_blank", rel: "noopener noreferrer" }, ...inline(m[6], terms)));
    else out.push(highlighted(m[6], terms)); // a javascript: or data: link shows as its text
    last = m.index + m[0].length;
  }
  if (last < text.length) out.push(highlighted(text.slice(last), terms));
  return out;
}

/**
 * Block Markdown (no headings: the caller splits sections on them) as DOM nodes: paragraphs,
 * `- `/`* `/`+ ` bullet lists and `1. ` numbered lists.
 * @param {string[]} lines
 * @param {Set<string>} terms
 * @returns {HTMLElement[]}
 */
export function blocks(lines, terms) {
  const out = [];
  /** @type {HTMLElement|null} */
  let list = null;
  /** @type {string[]} */
  let para = [];
  const endPara = () => {
    if (para.length) out.push(el("p", {}, ...inline(para.join("\n"), terms)));
    para = [];
  };
  for (const raw of lines) {
    const line = raw.trimEnd();
    const bullet = /^\s*[-*+]\s+(.*)$/.exec(line);
    const numbered = /^\s*\d+[.)]\s+(.*)$/.exec(line);
    if (bullet || numbered) {
      endPara();
      const tag = bullet ? "ul" : "ol";
      if (!list || list.tagName.toLowerCase() !== tag) {
        list = el(tag, {});
        out.push(list);
      }
      list.append(el("li", {}, ...inline((bullet || numbered)[1], terms)));
    } else if (!line.trim()) {
      endPara();
      list = null;
    } else if (list && /^\s{2,}\S/.test(raw)) {
      list.lastElementChild?.append(" ", ...inline(line.trim(), terms)); // a wrapped list item
    } else {
      list = null;
      para.push(line.trim());
    }
  }
  endPara();
  return out;
}

/**
 * Split a document's text on its `#` headings.
 * @param {string} text
 * @returns {{heading: string, level: number, lines: string[]}[]}
 */
export function sections(text) {
  const out = [{ heading: "", level: 2, lines: [] }];
  for (const line of text.split("\n")) {
    const m = /^(#{1,6})\s+(.+?)\s*#*\s*$/.exec(line.trim());
    if (m) out.push({ heading: m[2], level: Math.min(m[1].length + 1, 6), lines: [] });
    else out[out.length - 1].lines.push(line);
  }
  return out.filter((s) => s.heading || s.lines.some((l) => l.trim()));
}

/**
 * A whole KB document rendered: one `<section>` per heading, the cited one marked.
 * @param {{title: string, text: string}} doc
 * @param {string} cited the cited section's path ("A > B"; its last part is matched), or ""
 * @param {Set<string>} terms
 * @returns {{nodes: HTMLElement[], target: HTMLElement|null}}
 */
export function renderDocument(doc, cited, terms) {
  const want = (cited || "").split(" > ").pop().trim().toLowerCase();
  const nodes = [];
  let target = null;
  for (const s of sections(doc.text)) {
    const isTitle = s.heading.trim().toLowerCase() === doc.title.trim().toLowerCase();
    const heading = s.heading && !isTitle ? el(`h${s.level}`, {}, ...inline(s.heading, new Set())) : null;
    const box = el("section", { class: "doc-section" }, heading, ...blocks(s.lines, terms));
    if (want && s.heading.trim().toLowerCase() === want) {
      box.classList.add("cited");
      box.setAttribute("data-testid", "cited-section");
      target = box;
    }
    nodes.push(box);
  }
  return { nodes, target };
}
