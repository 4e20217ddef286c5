// Feedback waiting for the server's ack, kept in localStorage so a lost link or a reload loses none.
//
// Every feedback goes through the queue, online or not. An item leaves the queue only when the server
// acknowledges it (`recorded`, or `duplicate` when an earlier send did arrive) or refuses it for good;
// the server records feedback once per suggestion, so resending after a reconnect never duplicates.

/**
 * @typedef {object} QueuedFeedback
 * @property {string} suggestion_id
 * @property {"accepted"|"edited"|"rejected"} action
 * @property {string} final_text
 * @property {string|null} reason
 * @property {string} queued_at ISO 8601
 */

const PREFIX = "copilot:feedback:";

export class FeedbackQueue {
  /**
   * @param {string} conversationId The queue holds this conversation's feedback only.
   * @param {Storage} [storage] localStorage unless given (tests may pass another).
   */
  constructor(conversationId, storage = window.localStorage) {
    this.key = PREFIX + conversationId;
    this.storage = storage;
    /** Suggestion ids sent on the current socket and not yet acknowledged. */
    this.inflight = new Set();
  }

  /** @returns {Record<string, QueuedFeedback>} the pending items by suggestion id. */
  all() {
    try {
      const raw = this.storage.getItem(this.key);
      const parsed = raw ? JSON.parse(raw) : {};
      return parsed && typeof parsed === "object" ? parsed : {};
    } catch {
      return {};
    }
  }

  save(items) {
    if (Object.keys(items).length === 0) this.storage.removeItem(this.key);
    else this.storage.setItem(this.key, JSON.stringify(items));
  }

  /** Queue feedback; a suggestion already queued keeps its first decision. */
  add(/** @type {QueuedFeedback} */ item) {
    const items = this.all();
    if (items[item.suggestion_id]) return false;
    items[item.suggestion_id] = item;
    this.save(items);
    return true;
  }

  /** The server acknowledged (or refused for good) this suggestion's feedback. */
  remove(suggestionId) {
    const items = this.all();
    this.inflight.delete(suggestionId);
    if (!(suggestionId in items)) return;
    delete items[suggestionId];
    this.save(items);
  }

  has(suggestionId) {
    return suggestionId in this.all();
  }

  get size() {
    return Object.keys(this.all()).length;
  }

  /** Forget what was in flight: the socket it was sent on is gone, so it must be sent again. */
  resetInflight() {
    this.inflight.clear();
  }

  /**
   * Send every pending item not already in flight on this socket.
   * @param {(frame: object) => boolean} send Returns false when the socket cannot take it now.
   * @returns {number} how many were sent.
   */
  flush(send) {
    let sent = 0;
    for (const item of Object.values(this.all())) {
      if (this.inflight.has(item.suggestion_id)) continue;
      const frame = {
        type: "feedback",
        id: feedbackRef(item.suggestion_id),
        suggestion_id: item.suggestion_id,
        action: item.action,
        final_text: item.final_text,
      };
      if (item.reason) frame.reason = item.reason;
      if (!send(frame)) break;
      this.inflight.add(item.suggestion_id);
      sent += 1;
    }
    return sent;
  }
}

/** The `id` a feedback frame carries, echoed as the ack's `ref`. */
export function feedbackRef(suggestionId) {
  return `fb:${suggestionId}`;
}

/** The suggestion id behind an ack's `ref`, or null for any other ref. */
export function suggestionOfRef(ref) {
  return typeof ref === "string" && ref.startsWith("fb:") ? ref.slice(3) : null;
}
