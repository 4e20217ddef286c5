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
 * A key missing in `lang` falls back to English, then to the key itself. An entry that depends on a
 * count is an object of `Intl.PluralRules` forms (`one`, `other`, …) picked by `vars.n`.
 * @param {Record<string, Record<string, string|Record<string, string>>>} strings
 * @param {string} lang
 * @returns {(key: string, vars?: Record<string, string|number>) => string}
 */
export function makeTranslator(strings, lang) {
  const table = strings[lang] || strings.es;
  const plural = new Intl.PluralRules(strings[lang] ? lang : "es");
  return (key, vars = {}) => {
    let entry = table[key] ?? strings.en[key] ?? key;
    // A count's forms: {one: "…", other: "…"}, chosen by the language's plural rules for `vars.n`.
    if (typeof entry === "object") entry = entry[plural.select(Number(vars.n))] ?? entry.other;
    return entry.replace(/\{(\w+)\}/g, (_, name) => String(vars[name] ?? ""));
  };
}

/** Fill every `[data-i18n]` element's text (and `[data-i18n-label]`'s aria-label, `[data-i18n-placeholder]`'s placeholder) under `root`. */
export function translatePage(root, t) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-label]")) el.setAttribute("aria-label", t(el.dataset.i18nLabel));
  for (const el of root.querySelectorAll("[data-i18n-placeholder]"))
    el.setAttribute("placeholder", t(el.dataset.i18nPlaceholder));
}
