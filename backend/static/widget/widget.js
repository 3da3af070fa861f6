// Parcelline chat widget. A carrier embeds it with one tag:
//   <script src="https://HOST/widget.js" data-parcelline-widget defer></script>
// It draws a launcher button and a chat panel inside a shadow root (the host page's CSS cannot
// reach it), and talks only to the backend that served it: a WebSocket, with HTTP POST and
// polling while the socket is down. Every text from the network is rendered with textContent.
"use strict";

(() => {
  const script = document.currentScript;
  if (!script || window.__parcellineWidget) return; // one widget per page
  window.__parcellineWidget = true;

  const BASE = new URL(script.src, window.location.href);
  const ORIGIN = BASE.origin;
  // Filled in by the backend when it serves this file.
  const APOLOGY = "__APOLOGY__";
  const CSS_VERSION = "__CSS_VERSION__";
  const STORAGE_KEY = "parcelline-conversation";
  const OPEN_KEY = "parcelline-open";
  const POLL_MS = 4000;
  const PING_MS = 25000;
  const BACKOFF_MIN_MS = 1000;
  const BACKOFF_MAX_MS = 30000;
  const ID_PATTERN = /^[A-Za-z0-9_-]{8,64}$/;
  const URL_PATTERN = /https?:\/\/[^\s<>"']+/g;
  const SPEAKERS = { customer: "You", bot: "Assistant", agent: "Agent", system: "Notice" };

  // ------------------------------------------------------------------ storage

  function stored(key, storage = window.localStorage) {
    try {
      return storage.getItem(key);
    } catch {
      return null; // storage disabled: the conversation lasts as long as the page
    }
  }

  function store(key, value, storage = window.localStorage) {
    try {
      if (value === null) storage.removeItem(key);
      else storage.setItem(key, value);
    } catch {
      /* see stored() */
    }
  }

  let conversationId = stored(STORAGE_KEY);
  if (conversationId && !ID_PATTERN.test(conversationId)) conversationId = null;

  // ------------------------------------------------------------------ DOM

  function el(tag, attrs = {}, text) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  const host = el("div", { "data-parcelline-root": "" });
  const root = host.attachShadow({ mode: "open" });
  const css = el("link", {
    rel: "stylesheet",
    href: `${ORIGIN}/static/widget/widget.css?v=${encodeURIComponent(CSS_VERSION)}`,
  });

  const launcher = el("button", {
    type: "button",
    class: "pl-launcher",
    "aria-expanded": "false",
    "aria-controls": "pl-panel",
    "aria-label": "Chat with us",
  });
  launcher.append(el("span", { class: "pl-launcher__icon", "aria-hidden": "true" }, "💬"));
  launcher.append(el("span", { class: "pl-launcher__text" }, "Chat with us"));
  const badge = el("span", { class: "pl-badge", hidden: "" });
  launcher.append(badge);

  const panel = el("section", {
    id: "pl-panel",
    class: "pl-panel",
    role: "dialog",
    "aria-labelledby": "pl-title",
    hidden: "",
  });
  const header = el("header", { class: "pl-header" });
  const titles = el("div");
  titles.append(el("h2", { id: "pl-title", class: "pl-title" }, "Parcel help"));
  titles.append(
    el("p", { class: "pl-subtitle" }, "Track a parcel, report a problem, change a delivery."),
  );
  const closeButton = el("button", { type: "button", class: "pl-close", "aria-label": "Close chat" }, "×");
  header.append(titles, closeButton);

  const log = el("div", {
    class: "pl-log",
    role: "log",
    "aria-live": "polite",
    "aria-relevant": "additions",
    "aria-label": "Conversation",
    tabindex: "0",
  });
  const typing = el("div", { class: "pl-typing", hidden: "", "aria-hidden": "true" });
  for (let i = 0; i < 3; i += 1) typing.append(el("span", { class: "pl-typing__dot" }));
  const status = el("p", { class: "pl-status", role: "status", "aria-live": "polite" });

  const form = el("form", { class: "pl-composer", autocomplete: "off" });
  const label = el("label", { for: "pl-message", class: "pl-visually-hidden" }, "Your message");
  const input = el("textarea", {
    id: "pl-message",
    rows: "1",
    placeholder: "Type your question",
    "aria-describedby": "pl-hint",
    maxlength: "4000",
  });
  const sendButton = el("button", { type: "submit", class: "pl-send" }, "Send");
  const hint = el("p", { id: "pl-hint", class: "pl-visually-hidden" }, "Enter sends, Shift+Enter starts a new line. Escape closes the chat.");
  const row = el("div", { class: "pl-row" });
  row.append(input, sendButton);
  form.append(label, row, hint);
  panel.append(header, log, typing, status, form);
  root.append(css, launcher, panel);

  // ------------------------------------------------------------------ rendering

  const seen = new Set(); // transcript ids already shown
  let lastId = 0;
  let unread = 0;
  let localPending = null; // the customer's own bubble, until the server gives it an id

  function scrollToEnd() {
    log.scrollTop = log.scrollHeight;
  }

  function safeUrl(raw) {
    try {
      const url = new URL(raw, window.location.href);
      return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
    } catch {
      return null;
    }
  }

  // Text with its http(s) links made clickable; everything else stays text nodes.
  function appendText(parent, text) {
    let last = 0;
    for (const match of text.matchAll(URL_PATTERN)) {
      let raw = match[0];
      const trailing = raw.match(/[.,;:!?)\]]+$/);
      if (trailing) raw = raw.slice(0, -trailing[0].length);
      const href = safeUrl(raw);
      if (!href) continue;
      parent.append(document.createTextNode(text.slice(last, match.index)));
      const link = el("a", { href, target: "_blank", rel: "noopener noreferrer" }, raw);
      parent.append(link);
      last = match.index + raw.length;
    }
    parent.append(document.createTextNode(text.slice(last)));
  }

  function timeLabel(iso) {
    const when = iso ? new Date(iso) : new Date();
    if (Number.isNaN(when.getTime())) return null;
    const node = el("time", { class: "pl-time", datetime: when.toISOString() });
    node.textContent = when.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    return node;
  }

  function addBubble(message, extraClass) {
    const sender = SPEAKERS[message.sender] ? message.sender : "bot";
    const bubble = el("div", { class: `pl-msg pl-msg--${sender}${extraClass ? ` ${extraClass}` : ""}` });
    const speaker = message.sender === "agent" && message.agent_name
      ? `${message.agent_name} (agent)`
      : SPEAKERS[sender];
    // Screen readers hear who spoke; sighted users see it from the bubble's side and colour.
    bubble.append(el("span", { class: sender === "agent" ? "pl-speaker" : "pl-visually-hidden" }, `${speaker}: `));
    const body = el("span", { class: "pl-text" });
    appendText(body, message.text || "");
    bubble.append(body);
    const src = message.image && safeUrl(message.image);
    if (src) bubble.append(el("img", { src, alt: "Image sent by the assistant" }));
    const stamp = timeLabel(message.created_at);
    if (stamp) bubble.append(stamp);
    log.append(bubble);
    scrollToEnd();
    return bubble;
  }

  function addQuickReplies(buttons, active) {
    const group = el("div", { class: "pl-replies", role: "group", "aria-label": "Suggested replies" });
    for (const button of buttons) {
      const choice = el("button", { type: "button", class: "pl-reply" }, String(button.title ?? ""));
      choice.disabled = !active;
      choice.addEventListener("click", () => {
        if (busy) return;
        // One choice per set: the others no longer apply once the customer has answered.
        for (const sibling of group.querySelectorAll("button")) sibling.disabled = true;
        // The title is the customer's words; the backend passes the payload on only if the
        // assistant offered it.
        const title = String(button.title ?? "");
        send(title || String(button.payload ?? ""), { payload: String(button.payload ?? "") });
      });
      group.append(choice);
    }
    log.append(group);
    scrollToEnd();
  }

  function disableOldReplies() {
    for (const button of log.querySelectorAll(".pl-reply")) button.disabled = true;
  }

  function render(message, { live = true } = {}) {
    if (message.id != null) {
      if (seen.has(message.id)) return;
      seen.add(message.id);
      lastId = Math.max(lastId, message.id);
    }
    if (message.sender === "customer") {
      // Our own message coming back (after a reconnect): give the local bubble its id.
      if (localPending && localPending.text === message.text) {
        localPending = null;
        return;
      }
      addBubble(message);
      disableOldReplies();
      return;
    }
    if (message.text || message.image) addBubble(message);
    if (Array.isArray(message.buttons) && message.buttons.length > 0) {
      disableOldReplies();
      addQuickReplies(message.buttons, live);
    }
    if (panel.hidden) {
      unread += 1;
      badge.textContent = String(unread);
      badge.hidden = false;
      launcher.setAttribute("aria-label", `Chat with us (${unread} new)`);
    }
  }

  // ------------------------------------------------------------------ state

  let busy = false;
  let waitingRef = null;
  let refCounter = 0;

  function setBusy(value) {
    busy = value;
    sendButton.disabled = value;
    typing.hidden = !value;
    log.setAttribute("aria-busy", String(value));
    status.textContent = value ? "The assistant is typing…" : "";
  }

  function remember(id) {
    if (!id || id === conversationId) return;
    conversationId = id;
    store(STORAGE_KEY, id);
    // A socket on another conversation (it opened while HTTP started this one) reconnects.
    if (socket && socketConversation && socketConversation !== id) socket.close();
  }

  function forgetConversation() {
    conversationId = null;
    store(STORAGE_KEY, null);
    lastId = 0;
  }

  // ------------------------------------------------------------------ WebSocket transport

  let socket = null;
  let socketOpen = false;
  let socketReady = false;
  let socketConversation = null;
  let backoff = BACKOFF_MIN_MS;
  let reconnectTimer = null;
  let pingTimer = null;
  let pollTimer = null;
  let readyWaiters = []; // sends waiting for a connecting socket's "ready"

  function socketUrl() {
    const url = new URL("/api/chat/ws", ORIGIN);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    if (conversationId) url.searchParams.set("conversation_id", conversationId);
    if (lastId) url.searchParams.set("after", String(lastId));
    return url.href;
  }

  function connect() {
    if (socket || typeof window.WebSocket !== "function") {
      if (!socket) startPolling();
      return;
    }
    window.clearTimeout(reconnectTimer);
    let ws;
    try {
      ws = new WebSocket(socketUrl());
    } catch {
      scheduleReconnect();
      return;
    }
    socket = ws;
    ws.addEventListener("open", () => {
      socketOpen = true;
      backoff = BACKOFF_MIN_MS;
      stopPolling();
      pingTimer = window.setInterval(() => sendFrame({ type: "ping" }), PING_MS);
      if (status.dataset.offline) {
        delete status.dataset.offline;
        status.textContent = busy ? status.textContent : "";
      }
    });
    ws.addEventListener("message", (event) => {
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return;
      }
      onFrame(frame);
    });
    ws.addEventListener("close", (event) => {
      const wasOpen = socketOpen;
      socket = null;
      socketOpen = false;
      socketReady = false;
      socketConversation = null;
      host.dataset.transport = "http";
      settleWaiters();
      window.clearInterval(pingTimer);
      if (event.code === 1008) forgetConversation(); // the id was refused: start afresh
      if (waitingRef !== null) {
        // The answer, if the turn ran, comes back from the transcript on reconnect.
        waitingRef = null;
        setBusy(false);
      }
      if (wasOpen) {
        status.dataset.offline = "1";
        status.textContent = "Connection lost — reconnecting…";
      }
      startPolling();
      scheduleReconnect();
    });
  }

  function scheduleReconnect() {
    window.clearTimeout(reconnectTimer);
    // Exponential backoff with jitter, so a restarted backend is not hit by every widget at once.
    const delay = backoff / 2 + Math.random() * (backoff / 2);
    backoff = Math.min(backoff * 2, BACKOFF_MAX_MS);
    reconnectTimer = window.setTimeout(connect, delay);
  }

  function settleWaiters() {
    const waiters = readyWaiters;
    readyWaiters = [];
    for (const resolve of waiters) resolve();
  }

  // A socket still connecting gets a moment, so the first message does not race its "ready".
  function socketSettled(timeoutMs = 3000) {
    if (!socket || socketReady) return Promise.resolve();
    return new Promise((resolve) => {
      readyWaiters.push(resolve);
      window.setTimeout(resolve, timeoutMs);
    });
  }

  function sendFrame(frame) {
    if (!socket || !socketReady) return false;
    try {
      socket.send(JSON.stringify(frame));
      return true;
    } catch {
      return false;
    }
  }

  function onFrame(frame) {
    if (!frame || typeof frame !== "object") return;
    if (frame.type === "ready") {
      if (conversationId && frame.conversation_id !== conversationId) {
        // The conversation started over HTTP while this socket was opening: use that one.
        socket?.close();
        return;
      }
      socketConversation = frame.conversation_id;
      remember(frame.conversation_id);
      socketReady = true;
      host.dataset.transport = "websocket"; // for the page's own diagnostics and tests
      settleWaiters();
    } else if (frame.type === "push") {
      for (const message of frame.messages || []) render(message);
    } else if (frame.type === "reply") {
      if (frame.customer_message_id != null) {
        seen.add(frame.customer_message_id);
        lastId = Math.max(lastId, frame.customer_message_id);
      }
      localPending = null;
      for (const message of frame.messages || []) render(message);
      if (frame.ref === waitingRef) {
        waitingRef = null;
        setBusy(false);
      }
    } else if (frame.type === "error" && waitingRef !== null) {
      waitingRef = null;
      setBusy(false);
      addBubble({ sender: "bot", text: frame.detail || APOLOGY }, "pl-msg--error");
    }
  }

  // ------------------------------------------------------------------ HTTP fallback

  function startPolling() {
    if (pollTimer === null) pollTimer = window.setInterval(poll, POLL_MS);
  }

  function stopPolling() {
    window.clearInterval(pollTimer);
    pollTimer = null;
  }

  async function poll() {
    if (!conversationId || document.hidden || socketOpen) return;
    try {
      const response = await fetch(
        `${ORIGIN}/api/chat/${encodeURIComponent(conversationId)}/messages`,
        { headers: { Accept: "application/json" } },
      );
      if (!response.ok) return;
      const data = await response.json();
      for (const message of data.messages) render(message);
    } catch {
      // Polling is best effort; the next tick tries again.
    }
  }

  async function postMessage(text, extra) {
    const body = { message: text, ...extra };
    if (conversationId) body.conversation_id = conversationId;
    const response = await fetch(`${ORIGIN}/api/chat`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    if (response.status === 422 && conversationId) forgetConversation();
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const data = await response.json();
    remember(data.conversation_id);
    if (data.customer_message_id != null) {
      seen.add(data.customer_message_id);
      lastId = Math.max(lastId, data.customer_message_id);
    }
    localPending = null;
    for (const message of data.messages) render(message);
  }

  async function loadHistory() {
    if (!conversationId) return;
    try {
      const response = await fetch(
        `${ORIGIN}/api/chat/${encodeURIComponent(conversationId)}/history`,
        { headers: { Accept: "application/json" } },
      );
      if (response.status === 422) {
        forgetConversation();
        return;
      }
      if (!response.ok) return;
      const data = await response.json();
      const messages = data.messages || [];
      messages.forEach((message, index) => {
        // Only the last message's quick replies still apply.
        render(message, { live: index === messages.length - 1 });
      });
      unread = 0;
      badge.hidden = true;
    } catch {
      // No history is no reason not to chat.
    }
  }

  // ------------------------------------------------------------------ sending

  // `text` is the customer's words (a quick reply's title); `extra` adds the reply's `payload`
  // or a survey link's `survey_token`, both sent beside the text, never inside it.
  async function send(text, extra = {}) {
    if (busy || !text.trim()) return;
    addBubble({ sender: "customer", text });
    disableOldReplies();
    localPending = { text };
    setBusy(true);
    refCounter += 1;
    const ref = `m${refCounter}`;
    await socketSettled();
    if (sendFrame({ type: "message", text, ref, ...extra })) {
      waitingRef = ref;
      return;
    }
    try {
      await postMessage(text, extra);
    } catch {
      addBubble({ sender: "bot", text: APOLOGY }, "pl-msg--error");
    } finally {
      setBusy(false);
      if (!panel.hidden) input.focus();
    }
  }

  // ------------------------------------------------------------------ opening and closing

  let started = false;

  function start() {
    if (started) return;
    started = true;
    loadHistory().finally(connect);
  }

  function openPanel() {
    panel.hidden = false;
    launcher.setAttribute("aria-expanded", "true");
    launcher.hidden = true;
    unread = 0;
    badge.hidden = true;
    launcher.setAttribute("aria-label", "Chat with us");
    store(OPEN_KEY, "1", window.sessionStorage);
    start();
    scrollToEnd();
    input.focus();
  }

  function closePanel() {
    panel.hidden = true;
    launcher.hidden = false;
    launcher.setAttribute("aria-expanded", "false");
    store(OPEN_KEY, null, window.sessionStorage);
    launcher.focus();
  }

  launcher.addEventListener("click", openPanel);
  closeButton.addEventListener("click", closePanel);
  panel.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      event.preventDefault();
      closePanel();
    }
  });

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value;
    if (!text.trim() || busy) return;
    input.value = "";
    send(text);
  });

  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });

  // A survey link (?survey=TOKEN from an SMS or e-mail) opens the chat and starts that survey.
  function surveyFromLink() {
    const params = new URLSearchParams(window.location.search);
    const token = params.get("survey");
    if (!token || !/^[A-Za-z0-9_-]{16,64}$/.test(token)) return null;
    // Forget the token in the address bar, so a reload does not start the survey again.
    params.delete("survey");
    const rest = params.toString();
    window.history.replaceState(null, "", window.location.pathname + (rest ? `?${rest}` : ""));
    return token;
  }

  function mount() {
    document.body.append(host);
    const survey = surveyFromLink();
    if (conversationId) start(); // earlier conversation: restore it and listen for news
    if (survey || stored(OPEN_KEY, window.sessionStorage)) openPanel();
    if (survey) send("I'd like to give feedback", { survey_token: survey });
  }

  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount);
})();
