// The demo's simulated customer chat: customer turns go in by REST webhook, as a chat platform
// would send them; the panel in the iframe answers, and what the agent picks comes back by
// postMessage and is posted as the agent's turn.

import { pickLanguage, translatePage, translator } from "/static/panel/i18n.js";
import { el } from "/static/panel/render.js";

const SAMPLES = {
  telecom: [
    "Hola, tengo el Plan Conecta 15 y la semana que viene viajo a Lima, ¿cómo activo el roaming?",
    "¿y qué pasa si se me acaba la bolsa estando allá?",
    "Oi, acabaram de roubar meu celular no ônibus, o que eu faço?",
  ],
  bank: [
    "me robaron la tarjeta, ¿qué hago?",
    "me cobraron la cuota de manejo de la Tarjeta Austral Clásica y pensaba que no tenía costo",
    "Hi, I just got a text saying my card was used for a purchase in another country",
  ],
  retail: [
    "paguei um pedido com boleto ontem e ainda aparece como pendente, quanto tempo demora pra compensar?",
    "I'm a Cóndor Prime member and I'd like to return a jacket, do I have to pay for the return shipping?",
  ],
};

const params = new URLSearchParams(location.search);
const lang = pickLanguage(params);
const t = translator(lang);
const conversationId = params.get("conversation") || `demo-${Math.random().toString(36).slice(2, 10)}`;
const client = params.get("client") || "telecom";
const agentId = params.get("agent") || "agent-demo";
const token = params.get("token") || "";
let counter = 0;

const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

function turnId(prefix) {
  counter += 1;
  return `${prefix}-${Date.now().toString(36)}-${counter}`;
}

function addMessage(speaker, text) {
  const state = el("span", { class: "state" });
  const li = el(
    "li",
    { class: `message message-${speaker}`, "data-testid": `demo-message-${speaker}` },
    el("span", { class: "who" }, t(`speaker.${speaker}`)),
    el("span", { class: "text" }, text),
    state
  );
  $("messages").append(li);
  li.scrollIntoView({ block: "end" });
  return state;
}

/** Post one turn the way a chat platform's webhook would. */
async function postTurn(speaker, text) {
  const state = addMessage(speaker, text);
  state.textContent = t("demo.sending");
  const headers = { "Content-Type": "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  try {
    const response = await fetch(`/v1/conversations/${encodeURIComponent(conversationId)}/turns`, {
      method: "POST",
      headers,
      body: JSON.stringify({ turn_id: turnId(speaker === "customer" ? "c" : "a"), speaker, text, agent_id: agentId, client }),
    });
    state.textContent = response.ok ? t("demo.sent") : t("demo.failed");
  } catch {
    state.textContent = t("demo.failed");
  }
}

function setUp() {
  document.documentElement.lang = lang;
  translatePage(document, t);
  params.set("conversation", conversationId);
  history.replaceState(null, "", `${location.pathname}?${params}`); // a reload keeps the conversation
  $("conversation").textContent = conversationId;
  const select = /** @type {HTMLSelectElement} */ ($("client"));
  select.value = client;
  select.addEventListener("change", () => {
    params.set("client", select.value);
    params.delete("conversation");
    location.search = params.toString();
  });
  $("new-conversation").addEventListener("click", () => {
    params.delete("conversation");
    location.search = params.toString();
  });
  for (const sample of SAMPLES[client] || []) {
    const button = el("button", { type: "button", class: "small", "data-testid": "demo-sample" }, sample);
    button.addEventListener("click", () => postTurn("customer", sample));
    $("samples").append(button);
  }
  const form = /** @type {HTMLFormElement} */ ($("composer"));
  const input = /** @type {HTMLInputElement} */ ($("customer-text"));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    input.value = "";
    postTurn("customer", text);
  });

  const frame = /** @type {HTMLIFrameElement} */ ($("panel"));
  window.addEventListener("message", (ev) => {
    // Only the panel we embedded may put words in the agent's mouth.
    if (ev.source !== frame.contentWindow || ev.origin !== location.origin) return;
    const data = ev.data;
    if (!data || data.type !== "copilot:insert" || typeof data.text !== "string") return;
    postTurn("agent", data.text);
  });
  const panel = new URLSearchParams({ conversation: conversationId, client, agent: agentId, lang, host_origin: location.origin });
  if (token) panel.set("token", token);
  frame.src = `/panel?${panel}`;
  document.body.dataset.ready = "1";
}

setUp();
