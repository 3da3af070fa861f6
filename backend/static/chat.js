// Chat widget: talks only to the backend (/api/chat), never to Rasa directly.
// Every text from the network is rendered with textContent, so markup in a message shows as text.
"use strict";

(() => {
  const STORAGE_KEY = "parcel-chat-conversation-id";
  const POLL_MS = 4000;
  const FALLBACK_APOLOGY =
    "Sorry, I'm having trouble answering right now. Please try again in a minute.";

  const log = document.getElementById("log");
  const form = document.getElementById("composer");
  const input = document.getElementById("message");
  const sendButton = document.getElementById("send");
  const status = document.getElementById("status");
  const apology = document.body.dataset.apology || FALLBACK_APOLOGY;

  let conversationId = readConversationId();
  let busy = false;

  function readConversationId() {
    try {
      return localStorage.getItem(STORAGE_KEY);
    } catch {
      return null; // storage disabled (private mode): the conversation lasts as long as the page
    }
  }

  function rememberConversationId(id) {
    conversationId = id;
    try {
      localStorage.setItem(STORAGE_KEY, id);
    } catch {
      /* see readConversationId */
    }
  }

  function scrollToEnd() {
    log.scrollTop = log.scrollHeight;
  }

  function addBubble(text, who, extraClass) {
    const bubble = document.createElement("div");
    bubble.className = `msg msg--${who}` + (extraClass ? ` ${extraClass}` : "");
    // Screen readers announce who spoke; sighted users see it from the bubble's side.
    const speaker = document.createElement("span");
    speaker.className = "visually-hidden";
    speaker.textContent = who === "user" ? "You: " : "Assistant: ";
    bubble.append(speaker, document.createTextNode(text));
    log.appendChild(bubble);
    scrollToEnd();
    return bubble;
  }

  function safeImageUrl(raw) {
    try {
      const url = new URL(raw, window.location.href);
      return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
    } catch {
      return null;
    }
  }

  function addQuickReplies(buttons) {
    const group = document.createElement("div");
    group.className = "quick-replies";
    group.setAttribute("role", "group");
    group.setAttribute("aria-label", "Suggested replies");
    for (const button of buttons) {
      const el = document.createElement("button");
      el.type = "button";
      el.textContent = button.title;
      el.addEventListener("click", () => {
        if (busy) return;
        // One choice per set: the others no longer apply once the customer has answered.
        for (const sibling of group.querySelectorAll("button")) sibling.disabled = true;
        send(button.payload, button.title);
      });
      group.appendChild(el);
    }
    log.appendChild(group);
    scrollToEnd();
  }

  function renderBotMessage(message) {
    if (message.text || message.image) {
      const bubble = addBubble(message.text || "", "bot");
      const src = message.image && safeImageUrl(message.image);
      if (src) {
        const img = document.createElement("img");
        img.src = src;
        img.alt = "Image sent by the assistant";
        bubble.appendChild(img);
      }
    }
    if (Array.isArray(message.buttons) && message.buttons.length > 0) {
      addQuickReplies(message.buttons);
    }
  }

  function setBusy(value) {
    busy = value;
    sendButton.disabled = value;
    log.setAttribute("aria-busy", String(value));
    status.textContent = value ? "The assistant is typing…" : "";
  }

  // `shown` is what the customer sees in their bubble: the button title for a quick reply.
  async function send(text, shown) {
    if (busy || !text.trim()) return;
    addBubble(shown ?? text, "user");
    setBusy(true);
    try {
      const body = { message: text };
      if (conversationId) body.conversation_id = conversationId;
      const response = await fetch("/api/chat", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
      if (response.status === 422 && conversationId) {
        // A stored id the backend refuses (edited by hand): start a fresh conversation.
        conversationId = null;
        try { localStorage.removeItem(STORAGE_KEY); } catch { /* ignore */ }
      }
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const data = await response.json();
      rememberConversationId(data.conversation_id);
      for (const message of data.messages) renderBotMessage(message);
    } catch (error) {
      addBubble(apology, "bot", "msg--error");
    } finally {
      setBusy(false);
      input.focus();
    }
  }

  async function poll() {
    if (!conversationId || document.hidden) return;
    try {
      const response = await fetch(
        `/api/chat/${encodeURIComponent(conversationId)}/messages`,
        { headers: { Accept: "application/json" } },
      );
      if (!response.ok) return;
      const data = await response.json();
      for (const message of data.messages) renderBotMessage(message);
    } catch {
      // Polling is best effort; the next tick tries again.
    }
  }

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

  // A survey link (/?survey=TOKEN from an SMS or e-mail) starts that survey in the chat.
  function startSurveyFromLink() {
    const params = new URLSearchParams(window.location.search);
    const token = params.get("survey");
    if (!token || !/^[A-Za-z0-9_-]{16,64}$/.test(token)) return;
    // Forget the token in the address bar, so a reload does not start the survey again.
    params.delete("survey");
    const rest = params.toString();
    window.history.replaceState(null, "", window.location.pathname + (rest ? `?${rest}` : ""));
    send(`/give_feedback{"survey_token":"${token}"}`, "I'd like to give feedback");
  }

  window.setInterval(poll, POLL_MS);
  poll();
  startSurveyFromLink();
  input.focus();
})();
