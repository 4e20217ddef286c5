// The embedding page's postMessage API: commands in (origin-checked), events out. See docs/embedding.md.

/** Commands the embedding page may send; anything else is answered `unknown_command`. */
const COMMANDS = new Set(["copilot:accept", "copilot:edit", "copilot:reject", "copilot:focus", "copilot:key"]);

/**
 * The panel's side of the channel to the page that embeds it in an iframe.
 *
 * Commands are obeyed only from the parent window and only when the sender's origin is in the
 * allowlist (`?host_origin=`, comma-separated origins). Without an allowlist no command is obeyed,
 * and events go to any embedder (target origin "*"), as before the API existed.
 */
export class EmbedChannel {
  /** @param {string|null} allowed the `host_origin` parameter */
  constructor(allowed) {
    /** @type {string[]} */
    this.origins = (allowed || "")
      .split(",")
      .map((o) => o.trim())
      .filter((o) => o && o !== "*" && o !== "null");
  }

  /** Whether the panel runs inside another page. */
  get embedded() {
    return window.parent !== window;
  }

  /**
   * Post an event to the embedding page: `{type, ...fields}` to each allowed origin (a browser
   * drops a message whose target origin is not the embedder's).
   * @param {string} type
   * @param {Record<string, unknown>} fields
   */
  post(type, fields = {}) {
    if (!this.embedded) return;
    const message = { type, ...fields };
    for (const origin of this.origins.length ? this.origins : ["*"]) window.parent.postMessage(message, origin);
  }

  /**
   * Obey commands from the embedding page; each is answered with `copilot:result`
   * `{command, ok, reason?, id?}` (the command's `id` echoed).
   * @param {(message: Record<string, any>) => string|null} handle returns why it did nothing, or null
   */
  listen(handle) {
    window.addEventListener("message", (ev) => {
      if (!this.embedded || ev.source !== window.parent || !this.origins.includes(ev.origin)) return;
      const data = ev.data;
      if (!data || typeof data !== "object" || typeof data.type !== "string" || !data.type.startsWith("copilot:")) return;
      const reason = COMMANDS.has(data.type) ? handle(data) : "unknown_command";
      const reply = { type: "copilot:result", command: data.type, ok: reason === null };
      if (reason) reply.reason = reason;
      if (typeof data.id === "string" || typeof data.id === "number") reply.id = data.id;
      /** @type {Window} */ (ev.source).postMessage(reply, ev.origin);
    });
  }
}
