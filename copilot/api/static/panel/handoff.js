// Hand a chosen reply to the host chat tool: the clipboard, and a postMessage to the embedding page.

/**
 * Copy `text` and tell the embedding page to insert it.
 *
 * The page receives `{type: "copilot:insert", text, suggestion_id}` (suggestion_id is null for a
 * passage inserted from a manual search).
 * @param {string} text
 * @param {string|null} suggestionId
 * @param {import("./embed.js").EmbedChannel} embed the channel to the embedding page
 */
export function handOff(text, suggestionId, embed) {
  copy(text);
  embed.post("copilot:insert", { text, suggestion_id: suggestionId });
}

function copy(text) {
  const fallback = () => {
    // Without the Clipboard API (an iframe without allow="clipboard-write", plain http on a LAN).
    const area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.opacity = "0";
    const focused = /** @type {HTMLElement|null} */ (document.activeElement);
    document.body.append(area);
    area.select();
    try {
      document.execCommand("copy");
    } catch {
      /* nothing more to try: the postMessage still delivers the text */
    }
    area.remove();
    focused?.focus();
  };
  if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(text).catch(fallback);
  else fallback();
}
