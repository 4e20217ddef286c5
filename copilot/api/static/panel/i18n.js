// Interface text of the panel in Spanish, English and Portuguese.

const STRINGS = {
  es: {
    title: "Copiloto",
    "conn.connecting": "Conectando…",
    "conn.connected": "Conectado",
    "conn.reconnecting": "Reconectando…",
    "conn.reconnectingIn": "Sin conexión con el servicio; reintento en {s} s",
    "conn.offline": "Sin conexión",
    "conn.denied": "Acceso denegado: revise la clave del panel",
    "conn.retryNow": "Reintentar ahora",
    "queue.pending": "{n} acción(es) en cola",
    "ui.language": "Idioma de la interfaz",
    "conv.label": "Conversación",
    "conv.none": "Abra el panel con ?conversation=ID o escriba el identificador de la conversación.",
    "conv.open": "Abrir",
    "conv.empty": "Esperando el primer mensaje del cliente…",
    "speaker.customer": "Cliente",
    "speaker.agent": "Agente",
    "speaker.interim": "(transcribiendo)",
    "sugg.heading": "Sugerencias",
    "sugg.new": "{n} sugerencias nuevas",
    "sugg.none": "Sin sugerencias para este mensaje.",
    "sugg.gap": "La base de conocimiento no tiene una buena respuesta: confirme con el cliente.",
    "sugg.n": "Sugerencia {n}",
    "kind.grounded": "Base de conocimiento",
    "kind.memory": "Memoria del equipo",
    "kind.clarify": "Pregunta aclaratoria",
    "sugg.confidence": "Confianza {p}%",
    "sugg.language": "Idioma: {l}",
    "sugg.origin": "Origen: {o}",
    "act.accept": "Aceptar",
    "act.edit": "Editar",
    "act.reject": "Rechazar",
    "act.send": "Enviar",
    "act.cancel": "Cancelar",
    "act.insert": "Insertar",
    "edit.label": "Editar la sugerencia {n} (Intro envía, Mayús+Intro nueva línea, Esc cancela)",
    "reject.label": "Motivo del rechazo (opcional)",
    "reject.confirm": "Confirmar rechazo",
    "status.accepted": "Aceptada",
    "status.edited": "Editada",
    "status.rejected": "Rechazada",
    "status.queued": "en cola",
    "status.sent": "enviada",
    "status.failed": "no registrada",
    "evidence.summary": "Evidencia ({n})",
    "evidence.section": "Sección",
    "evidence.source": "Fuente",
    "evidence.open": "Abrir el documento",
    "search.heading": "Buscar en la base de conocimiento",
    "search.label": "Pregunta o palabras clave",
    "search.submit": "Buscar",
    "search.none": "Sin resultados.",
    "search.error": "La búsqueda falló.",
    "copied": "Texto copiado y enviado al chat",
    "keys.help": "Atajos: Alt+1, Alt+2, Alt+3 aceptan; Esc rechaza.",
    "doc.back": "Volver",
    "doc.notFound": "Documento no encontrado.",
    "demo.title": "Chat del cliente (simulado)",
    "demo.client": "Cliente de la base",
    "demo.new": "Nueva conversación",
    "demo.conversation": "Conversación",
    "demo.intro": "Escriba como si fuera el cliente: el panel de la derecha recibe el mensaje y sugiere respuestas. Lo que el agente acepta aparece aquí como respuesta.",
    "demo.samples": "Ejemplos",
    "demo.write": "Mensaje del cliente",
    "demo.send": "Enviar",
    "demo.sending": "enviando…",
    "demo.sent": "entregado",
    "demo.failed": "no se pudo enviar",
  },
  en: {
    title: "Copilot",
    "conn.connecting": "Connecting…",
    "conn.connected": "Connected",
    "conn.reconnecting": "Reconnecting…",
    "conn.reconnectingIn": "Service unreachable; retrying in {s} s",
    "conn.offline": "Offline",
    "conn.denied": "Access denied: check the panel's key",
    "conn.retryNow": "Retry now",
    "queue.pending": "{n} action(s) queued",
    "ui.language": "Interface language",
    "conv.label": "Conversation",
    "conv.none": "Open the panel with ?conversation=ID or type the conversation id.",
    "conv.open": "Open",
    "conv.empty": "Waiting for the customer's first message…",
    "speaker.customer": "Customer",
    "speaker.agent": "Agent",
    "speaker.interim": "(transcribing)",
    "sugg.heading": "Suggestions",
    "sugg.new": "{n} new suggestions",
    "sugg.none": "No suggestions for this message.",
    "sugg.gap": "The knowledge base has no good answer: check with the customer.",
    "sugg.n": "Suggestion {n}",
    "kind.grounded": "Knowledge base",
    "kind.memory": "Team memory",
    "kind.clarify": "Clarifying question",
    "sugg.confidence": "Confidence {p}%",
    "sugg.language": "Language: {l}",
    "sugg.origin": "Origin: {o}",
    "act.accept": "Accept",
    "act.edit": "Edit",
    "act.reject": "Reject",
    "act.send": "Send",
    "act.cancel": "Cancel",
    "act.insert": "Insert",
    "edit.label": "Edit suggestion {n} (Enter sends, Shift+Enter new line, Esc cancels)",
    "reject.label": "Reason for rejecting (optional)",
    "reject.confirm": "Confirm reject",
    "status.accepted": "Accepted",
    "status.edited": "Edited",
    "status.rejected": "Rejected",
    "status.queued": "queued",
    "status.sent": "sent",
    "status.failed": "not recorded",
    "evidence.summary": "Evidence ({n})",
    "evidence.section": "Section",
    "evidence.source": "Source",
    "evidence.open": "Open the document",
    "search.heading": "Search the knowledge base",
    "search.label": "Question or keywords",
    "search.submit": "Search",
    "search.none": "No results.",
    "search.error": "The search failed.",
    "copied": "Text copied and sent to the chat",
    "keys.help": "Shortcuts: Alt+1, Alt+2, Alt+3 accept; Esc rejects.",
    "doc.back": "Back",
    "doc.notFound": "Document not found.",
    "demo.title": "Customer chat (simulated)",
    "demo.client": "KB client",
    "demo.new": "New conversation",
    "demo.conversation": "Conversation",
    "demo.intro": "Type as the customer: the panel on the right gets the message and suggests replies. What the agent accepts shows up here as the reply.",
    "demo.samples": "Examples",
    "demo.write": "Customer message",
    "demo.send": "Send",
    "demo.sending": "sending…",
    "demo.sent": "delivered",
    "demo.failed": "could not be sent",
  },
  pt: {
    title: "Copiloto",
    "conn.connecting": "Conectando…",
    "conn.connected": "Conectado",
    "conn.reconnecting": "Reconectando…",
    "conn.reconnectingIn": "Sem conexão com o serviço; nova tentativa em {s} s",
    "conn.offline": "Sem conexão",
    "conn.denied": "Acesso negado: verifique a chave do painel",
    "conn.retryNow": "Tentar agora",
    "queue.pending": "{n} ação(ões) na fila",
    "ui.language": "Idioma da interface",
    "conv.label": "Conversa",
    "conv.none": "Abra o painel com ?conversation=ID ou digite o identificador da conversa.",
    "conv.open": "Abrir",
    "conv.empty": "Aguardando a primeira mensagem do cliente…",
    "speaker.customer": "Cliente",
    "speaker.agent": "Agente",
    "speaker.interim": "(transcrevendo)",
    "sugg.heading": "Sugestões",
    "sugg.new": "{n} sugestões novas",
    "sugg.none": "Sem sugestões para esta mensagem.",
    "sugg.gap": "A base de conhecimento não tem uma boa resposta: confirme com o cliente.",
    "sugg.n": "Sugestão {n}",
    "kind.grounded": "Base de conhecimento",
    "kind.memory": "Memória da equipe",
    "kind.clarify": "Pergunta de esclarecimento",
    "sugg.confidence": "Confiança {p}%",
    "sugg.language": "Idioma: {l}",
    "sugg.origin": "Origem: {o}",
    "act.accept": "Aceitar",
    "act.edit": "Editar",
    "act.reject": "Rejeitar",
    "act.send": "Enviar",
    "act.cancel": "Cancelar",
    "act.insert": "Inserir",
    "edit.label": "Editar a sugestão {n} (Enter envia, Shift+Enter nova linha, Esc cancela)",
    "reject.label": "Motivo da rejeição (opcional)",
    "reject.confirm": "Confirmar rejeição",
    "status.accepted": "Aceita",
    "status.edited": "Editada",
    "status.rejected": "Rejeitada",
    "status.queued": "na fila",
    "status.sent": "enviada",
    "status.failed": "não registrada",
    "evidence.summary": "Evidência ({n})",
    "evidence.section": "Seção",
    "evidence.source": "Fonte",
    "evidence.open": "Abrir o documento",
    "search.heading": "Buscar na base de conhecimento",
    "search.label": "Pergunta ou palavras-chave",
    "search.submit": "Buscar",
    "search.none": "Nenhum resultado.",
    "search.error": "A busca falhou.",
    "copied": "Texto copiado e enviado ao chat",
    "keys.help": "Atalhos: Alt+1, Alt+2, Alt+3 aceitam; Esc rejeita.",
    "doc.back": "Voltar",
    "doc.notFound": "Documento não encontrado.",
    "demo.title": "Chat do cliente (simulado)",
    "demo.client": "Cliente da base",
    "demo.new": "Nova conversa",
    "demo.conversation": "Conversa",
    "demo.intro": "Escreva como se fosse o cliente: o painel à direita recebe a mensagem e sugere respostas. O que o agente aceita aparece aqui como resposta.",
    "demo.samples": "Exemplos",
    "demo.write": "Mensagem do cliente",
    "demo.send": "Enviar",
    "demo.sending": "enviando…",
    "demo.sent": "entregue",
    "demo.failed": "não foi possível enviar",
  },
};

export const LANGUAGES = Object.freeze(["es", "en", "pt"]);
const STORED = "copilot:lang";

/**
 * The interface language: `?lang=`, then the agent's last choice, then the browser's, then Spanish.
 * @param {URLSearchParams} params
 * @returns {"es"|"en"|"pt"}
 */
export function pickLanguage(params) {
  const candidates = [params.get("lang"), safeGet(STORED), ...(navigator.languages || [navigator.language])];
  for (const c of candidates) {
    const base = (c || "").slice(0, 2).toLowerCase();
    if (LANGUAGES.includes(base)) return /** @type {"es"|"en"|"pt"} */ (base);
  }
  return "es";
}

/** Remember the agent's choice for the next time the panel opens. */
export function rememberLanguage(lang) {
  try {
    localStorage.setItem(STORED, lang);
  } catch {
    /* storage disabled: the choice lasts for this page only */
  }
}

function safeGet(key) {
  try {
    return localStorage.getItem(key);
  } catch {
    return null;
  }
}

/**
 * A translator for one language; `{name}` placeholders are filled from `vars`.
 * @param {string} lang
 * @returns {(key: string, vars?: Record<string, string|number>) => string}
 */
export function translator(lang) {
  const table = STRINGS[lang] || STRINGS.es;
  return (key, vars = {}) =>
    (table[key] ?? STRINGS.en[key] ?? key).replace(/\{(\w+)\}/g, (_, name) => String(vars[name] ?? ""));
}

/** Fill every `[data-i18n]` element's text (and `[data-i18n-label]`'s aria-label) under `root`. */
export function translatePage(root, t) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-label]")) el.setAttribute("aria-label", t(el.dataset.i18nLabel));
  for (const el of root.querySelectorAll("[data-i18n-placeholder]"))
    el.setAttribute("placeholder", t(el.dataset.i18nPlaceholder));
}
