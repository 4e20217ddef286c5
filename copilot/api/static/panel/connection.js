// The conversation WebSocket, built for a weak link: visible state, reconnect with backoff + jitter.

/** @typedef {"connecting"|"connected"|"reconnecting"|"offline"|"denied"} ConnState */

const BASE_DELAY_MS = 500;
const MAX_DELAY_MS = 15000;
/** Close codes after which retrying cannot help: no key, or a key that may not see this conversation. */
const DENIED = new Set([4401, 4403]);

/**
 * One conversation stream that keeps itself open.
 *
 * `connected` means the server acknowledged our `start`: only then is it safe to send feedback.
 * While the browser says it is offline, no attempt is made; the `online` event reconnects at once.
 */
export class Connection {
  /**
   * @param {object} opts
   * @param {string} opts.url WebSocket URL of the conversation stream.
   * @param {() => object} opts.startMessage Builds the `start` frame sent on every (re)connect.
   * @param {(frame: object) => void} opts.onFrame Every server frame, parsed.
   * @param {(state: ConnState, retryInMs?: number) => void} opts.onState Connection state changes.
   * @param {() => void} opts.onReady The server answered our `start` (first time or after a drop).
   */
  constructor({ url, startMessage, onFrame, onState, onReady }) {
    this.url = url;
    this.startMessage = startMessage;
    this.onFrame = onFrame;
    this.onState = onState;
    this.onReady = onReady;
    /** @type {WebSocket|null} */
    this.ws = null;
    this.ready = false;
    this.attempt = 0;
    this.timer = 0;
    this.stopped = false;
    this.startRef = null;
    this.state = /** @type {ConnState} */ ("connecting");
    window.addEventListener("online", () => this.connectNow());
    window.addEventListener("offline", () => this.goOffline());
  }

  /** Open the stream (no-op while one is open or the browser is offline). */
  open() {
    this.stopped = false;
    if (this.ws) return;
    if (!navigator.onLine) {
      this.setState("offline");
      return;
    }
    this.setState(this.attempt === 0 && this.state === "connecting" ? "connecting" : "reconnecting");
    const ws = new WebSocket(this.url);
    this.ws = ws;
    ws.onopen = () => {
      const start = this.startMessage();
      this.startRef = start.id;
      ws.send(JSON.stringify(start));
    };
    ws.onmessage = (ev) => this.receive(ev.data);
    ws.onclose = (ev) => this.closed(ws, ev.code);
    ws.onerror = () => {
      /* always followed by close, which schedules the retry */
    };
  }

  /** Parse one frame; the ack of our `start` makes the connection ready. */
  receive(data) {
    let frame;
    try {
      frame = JSON.parse(typeof data === "string" ? data : new TextDecoder().decode(data));
    } catch {
      return;
    }
    if (frame.type === "ack" && frame.ref === this.startRef && (frame.detail === "started" || frame.detail === "resumed")) {
      this.ready = true;
      this.attempt = 0;
      this.setState("connected");
      this.onReady();
    } else if (frame.type === "error" && frame.ref === this.startRef) {
      this.stopped = true; // the server refused our start (another agent's conversation, say)
      this.setState("denied");
      this.ws?.close(1000);
    }
    this.onFrame(frame);
  }

  closed(ws, code) {
    if (this.ws !== ws) return;
    this.ws = null;
    this.ready = false;
    if (this.stopped || code === 1000) return; // we or the server ended the conversation
    if (DENIED.has(code)) {
      this.stopped = true;
      this.setState("denied");
      return;
    }
    if (!navigator.onLine) {
      this.setState("offline");
      return;
    }
    this.scheduleRetry();
  }

  scheduleRetry() {
    clearTimeout(this.timer);
    // Full jitter: panels of a whole floor that lost the link together do not return in lockstep.
    const cap = Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** this.attempt);
    const delay = Math.round(cap / 2 + Math.random() * (cap / 2));
    this.attempt += 1;
    this.setState("reconnecting", delay);
    this.timer = window.setTimeout(() => this.open(), delay);
  }

  /** Retry at once (the browser came back online, or the agent asked). */
  connectNow() {
    clearTimeout(this.timer);
    this.attempt = 0;
    if (!this.ws) this.open();
  }

  goOffline() {
    clearTimeout(this.timer);
    this.setState("offline");
    // The socket is dead or about to be; closing it now stops frames being sent into the void.
    this.drop();
  }

  /** Close the socket as a lost link would (a retry follows unless the browser is offline). */
  drop() {
    const ws = this.ws;
    if (!ws) return;
    this.ws = null;
    this.ready = false;
    ws.onclose = null;
    ws.close(4000, "dropped");
    if (navigator.onLine) this.scheduleRetry();
  }

  /**
   * Send a frame if the conversation is started on an open socket.
   * @returns {boolean} whether it was handed to the socket.
   */
  send(frame) {
    if (!this.ready || !this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  setState(state, retryInMs) {
    this.state = state;
    this.onState(state, retryInMs);
  }
}
