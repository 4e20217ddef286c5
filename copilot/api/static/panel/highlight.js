// Mark the words of a customer turn (or a search) inside a passage, without ever parsing HTML.

const STOPWORDS = new Set(
  (
    "que qué como cómo para por con sin una uno unos unas los las del las mis tus sus ese esa esto esta este " +
    "hay muy mas más pero porque cuando cuál cual donde dónde tengo tiene quiero puedo hola buenos buenas " +
    "the and for with you your are can how what when where does have this that from not " +
    "uma umas uns dos das com sem para pra meu minha seu sua isso esse essa tem quero posso olá oi não nao"
  ).split(" ")
);

/** Lower case without accents, so "Línea" matches "linea". */
export function fold(text) {
  return text.normalize("NFD").replace(/\p{M}/gu, "").toLowerCase();
}

/**
 * The words worth highlighting from a query: letters or digits, 3+ characters, no stopwords.
 * @param {string} query
 * @returns {Set<string>} folded terms
 */
export function termsOf(query) {
  const terms = new Set();
  for (const m of fold(query).matchAll(/[\p{L}\p{N}]+/gu)) {
    const w = m[0];
    if ((w.length >= 3 || /^\d{2,}$/.test(w)) && !STOPWORDS.has(w)) terms.add(w);
  }
  return terms;
}

function matches(word, terms) {
  if (terms.has(word)) return true;
  // A shared stem of 5+ letters: "bloquear" marks "bloqueo", "tarjetas" marks "tarjeta".
  if (word.length < 5) return false;
  for (const t of terms) {
    if (t.length >= 5 && (word.startsWith(t.slice(0, 5)) && t.startsWith(word.slice(0, 5)))) return true;
  }
  return false;
}

/**
 * `text` as DOM nodes, with every word that matches `terms` wrapped in `<mark>`.
 * Markdown emphasis markers (`**`, `__`) are dropped: passages are stored as written.
 * @param {string} text
 * @param {Set<string>} terms folded terms from `termsOf`
 * @returns {DocumentFragment}
 */
export function highlighted(text, terms) {
  const clean = text.replace(/\*\*|__/g, "");
  const frag = document.createDocumentFragment();
  let last = 0;
  for (const m of clean.matchAll(/[\p{L}\p{N}]+/gu)) {
    if (!matches(fold(m[0]), terms)) continue;
    if (m.index > last) frag.append(clean.slice(last, m.index));
    const mark = document.createElement("mark");
    mark.textContent = m[0];
    frag.append(mark);
    last = m.index + m[0].length;
  }
  if (last < clean.length) frag.append(clean.slice(last));
  return frag;
}
