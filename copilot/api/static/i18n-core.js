// Language choice and string lookup shared by the panel, the demo and the supervisor console.
// Each page keeps its own string tables; this module holds the machinery only.

export const LANGUAGES = Object.freeze(["es", "en", "pt"]);

/**
 * The first supported language among `candidates` (tags such as "pt-BR"), else Spanish.
 * @param {Array<string|null|undefined>} candidates
 * @returns {"es"|"en"|"pt"}
 */
export function firstSupported(candidates) {
  for (const c of candidates) {
    const base = (c || "").slice(0, 2).toLowerCase();
    if (LANGUAGES.includes(base)) return /** @type {"es"|"en"|"pt"} */ (base);
  }
  return "es";
}

/** The browser's preferred languages, most wanted first. */
export function browserLanguages() {
  return navigator.languages || [navigator.language];
}

/**
 * A translator over `strings` for one language; `{name}` placeholders are filled from `vars`.
 * A key missing in `lang` falls back to English, then to the key itself.
 * @param {Record<string, Record<string, string>>} strings
 * @param {string} lang
 * @returns {(key: string, vars?: Record<string, string|number>) => string}
 */
export function makeTranslator(strings, lang) {
  const table = strings[lang] || strings.es;
  return (key, vars = {}) =>
    (table[key] ?? strings.en[key] ?? key).replace(/\{(\w+)\}/g, (_, name) => String(vars[name] ?? ""));
}

/** Fill every `[data-i18n]` element's text (and `[data-i18n-label]`'s aria-label, `[data-i18n-placeholder]`'s placeholder) under `root`. */
export function translatePage(root, t) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-label]")) el.setAttribute("aria-label", t(el.dataset.i18nLabel));
  for (const el of root.querySelectorAll("[data-i18n-placeholder]"))
    el.setAttribute("placeholder", t(el.dataset.i18nPlaceholder));
}
