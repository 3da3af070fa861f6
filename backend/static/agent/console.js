// Agent console: plain pages talking to the backend's /api/agent endpoints with the session
// cookie. Every text from the network goes in with textContent, never as markup.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const page = document.body.dataset.page;

  function el(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  }

  function link(href, text) {
    const a = el("a", text);
    a.href = href;
    return a;
  }

  class ApiError extends Error {
    constructor(status, detail) {
      super(detail);
      this.status = status;
    }
  }

  async function api(path, { method = "GET", body } = {}) {
    const options = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    const response = await fetch(path, options);
    if (response.status === 401 && page !== "login") {
      window.location.assign("/agent/login");
      throw new ApiError(401, "signed out");
    }
    if (response.status === 204) return null;
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      const detail = typeof data.detail === "string" ? data.detail : `HTTP ${response.status}`;
      throw new ApiError(response.status, detail);
    }
    return data;
  }

  function minutesText(minutes) {
    const sign = minutes < 0 ? "overdue by " : "";
    const m = Math.abs(minutes);
    const text = m >= 120 ? `${Math.floor(m / 60)} h ${m % 60} min` : `${m} min`;
    return sign + text;
  }

  function row(tbody, cells) {
    const tr = tbody.insertRow();
    for (const cell of cells) {
      const td = tr.insertCell();
      if (cell instanceof Node) td.appendChild(cell);
      else td.textContent = cell === null || cell === undefined ? "—" : String(cell);
    }
    return tr;
  }

  let me = null;

  async function header() {
    me = await api("/api/agent/me");
    $("who").textContent = `${me.display_name} (${me.role})`;
    $("crm-link").hidden = me.role !== "manager";
    $("logout").addEventListener("click", async () => {
      await api("/api/agent/logout", { method: "POST" }).catch(() => null);
      window.location.assign("/agent/login");
    });
  }

  // ------------------------------------------------------------------ login

  function safeNext() {
    const next = new URLSearchParams(window.location.search).get("next") || "/agent";
    return next.startsWith("/") && !next.startsWith("//") ? next : "/agent";
  }

  function loginPage() {
    $("login-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      $("login-error").textContent = "";
      try {
        await api("/api/agent/login", {
          method: "POST",
          body: { username: $("username").value, password: $("password").value },
        });
        window.location.assign(safeNext());
      } catch (error) {
        $("password").value = "";
        $("login-error").textContent = error.message;
      }
    });
    $("username").focus();
  }

  // ------------------------------------------------------------------ queues, search, assist

  async function loadHandoffs() {
    const data = await api("/api/agent/handoffs");
    const tbody = $("handoff-table").tBodies[0];
    tbody.replaceChildren();
    for (const h of data.waiting) {
      const take = el("button", "Take");
      take.type = "button";
      take.dataset.handoff = h.id;
      take.addEventListener("click", async () => {
        try {
          await api(`/api/agent/handoffs/${h.id}/take`, { method: "POST" });
          window.location.assign(`/agent/conversations/${encodeURIComponent(h.conversation_id)}`);
        } catch (error) {
          take.replaceWith(el("span", error.message, "error"));
        }
      });
      const callback = el("span", minutesText(h.minutes_to_callback), h.minutes_to_callback < 0 ? "overdue" : "");
      row(tbody, [
        link(`/agent/conversations/${encodeURIComponent(h.conversation_id)}`, h.reference),
        h.reason.replace("_", " "),
        `P${h.priority}${h.tier ? ` (tier ${h.tier})` : ""}`,
        h.customer_name || "unknown",
        `${h.waiting_minutes} min`,
        callback,
        h.note,
        take,
      ]);
    }
    if (!data.waiting.length) {
      const td = tbody.insertRow().insertCell();
      td.colSpan = 8;
      td.textContent = "Nobody is waiting.";
    }
    const mine = $("mine");
    mine.replaceChildren();
    for (const h of data.mine) {
      const li = el("li");
      li.appendChild(link(`/agent/conversations/${encodeURIComponent(h.conversation_id)}`, h.reference));
      li.appendChild(el("span", ` ${h.reason.replace("_", " ")}, ${h.customer_name || "unknown customer"}`));
      mine.appendChild(li);
    }
  }

  async function loadComplaints() {
    const tickets = await api("/api/agent/complaints?limit=30");
    const tbody = $("complaint-table").tBodies[0];
    tbody.replaceChildren();
    for (const t of tickets) {
      row(tbody, [
        t.reference,
        t.category.replace("_", " "),
        t.tier,
        t.status.replaceAll("_", " "),
        t.tracking_number,
        el("span", minutesText(t.minutes_to_sla), t.minutes_to_sla < 0 ? "overdue" : ""),
      ]);
    }
  }

  function customerItem(c) {
    const li = el("li");
    li.appendChild(link(`/agent/customers/${encodeURIComponent(c.code)}`, `${c.name} (${c.code})`));
    if (c.contact_name) li.appendChild(el("span", ` — ${c.contact_name}`));
    return li;
  }

  async function search(event) {
    event.preventDefault();
    const q = $("search-input").value.trim();
    const list = $("search-results");
    list.replaceChildren();
    if (q.length < 2) return;
    const found = await api(`/api/agent/customers?q=${encodeURIComponent(q)}`);
    for (const c of found) list.appendChild(customerItem(c));
    if (!found.length) list.appendChild(el("li", "No customer matches."));
  }

  let assistSeq = 0;
  let lastForm = null;

  async function runAssist() {
    const text = $("assist-input").value.trim();
    const seq = ++assistSeq;
    if (!text) {
      $("assist-body").hidden = true;
      $("assist-empty").hidden = false;
      return;
    }
    const data = await api("/api/agent/assist", { method: "POST", body: { text } });
    if (seq !== assistSeq) return; // a newer keystroke's answer wins
    $("assist-empty").hidden = true;
    $("assist-body").hidden = false;
    $("assist-intent").textContent = data.intent || (data.nlu_available ? "none" : "assistant unavailable");
    $("assist-confidence").textContent = data.confidence ? `(${Math.round(data.confidence * 100)} %)` : "";
    $("assist-entities").textContent = data.entities.length
      ? data.entities.map((e) => `${e.entity}: ${e.value}`).join(", ")
      : "none";

    const shipments = $("assist-shipments");
    shipments.replaceChildren();
    for (const s of data.shipments) {
      const box = el("div", null, "shipment");
      box.dataset.tracking = s.tracking_number;
      box.appendChild(el("h3", `Shipment ${s.tracking_number}: ${s.status_text}`));
      box.appendChild(el("p", `To ${s.destination_city}, ${s.service_level.replace("_", " ")}, declared £${s.declared_value}`));
      shipments.appendChild(box);
    }
    const customers = $("assist-customers");
    customers.replaceChildren();
    if (data.customers.length) {
      customers.appendChild(el("h3", "Customer records"));
      const list = el("ul");
      for (const c of data.customers) list.appendChild(customerItem(c));
      customers.appendChild(list);
    }
    $("assist-reply-box").hidden = !data.suggested_reply;
    $("assist-reply").textContent = data.suggested_reply || "";
    $("copy-status").textContent = "";

    lastForm = data.form;
    $("assist-form-box").hidden = !data.form;
    if (data.form) {
      const names = { complaint: "Open the complaint form", address_change: "Open the address change form", survey: "Open the survey form" };
      $("open-form").textContent = names[data.form.kind] || "Open the form";
    }
    const passages = $("assist-passages");
    passages.replaceChildren();
    for (const p of data.passages) {
      const li = el("li");
      li.appendChild(el("strong", p.title));
      li.appendChild(el("span", ` (source: ${p.source || p.id})`, "muted"));
      li.appendChild(el("p", p.text));
      passages.appendChild(li);
    }
  }

  function openForm() {
    if (!lastForm) return;
    for (const id of ["complaint-form", "address-form", "survey-form"]) $(id).hidden = true;
    if (lastForm.kind === "complaint") {
      $("cf-category").value = lastForm.category || "other";
      $("cf-tracking").value = lastForm.tracking_number || "";
      $("cf-description").value = lastForm.description || "";
      $("complaint-form").hidden = false;
      $("cf-description").focus();
    } else if (lastForm.kind === "address_change") {
      $("af-tracking").value = lastForm.tracking_number || "";
      $("address-form").hidden = false;
      $("af-address").focus();
    } else {
      $("sf-tracking").value = lastForm.tracking_number || "";
      $("survey-form").hidden = false;
      $("sf-tracking").focus();
    }
  }

  async function sendSurvey(event) {
    event.preventDefault();
    $("sf-result").textContent = "";
    try {
      const done = await api("/api/agent/surveys", {
        method: "POST",
        body: { tracking_number: $("sf-tracking").value.trim() },
      });
      $("sf-result").textContent = done.note;
    } catch (error) {
      $("sf-result").textContent = error.message;
    }
  }

  async function fileComplaint(event) {
    event.preventDefault();
    $("cf-result").textContent = "";
    try {
      const ticket = await api("/api/agent/complaints", {
        method: "POST",
        body: {
          category: $("cf-category").value,
          tracking_number: $("cf-tracking").value.trim() || null,
          description: $("cf-description").value,
          contact: $("cf-contact").value.trim(),
          callback_channel: $("cf-contact").value.includes("@") ? "email" : "phone",
        },
      });
      $("cf-result").textContent = `Filed ${ticket.reference}: answer due within the SLA (${minutesText(ticket.minutes_to_sla)}).`;
      loadComplaints().catch(() => null);
    } catch (error) {
      $("cf-result").textContent = error.message;
    }
  }

  async function changeAddress(event) {
    event.preventDefault();
    $("af-result").textContent = "";
    try {
      const done = await api("/api/agent/address-changes", {
        method: "POST",
        body: { tracking_number: $("af-tracking").value.trim(), new_address: $("af-address").value },
      });
      $("af-result").textContent = `Requested ${done.reference}: ${done.tracking_number} to ${done.new_address}.`;
    } catch (error) {
      $("af-result").textContent = error.message;
    }
  }

  function consolePage() {
    let timer = null;
    $("assist-input").addEventListener("input", () => {
      window.clearTimeout(timer);
      timer = window.setTimeout(() => runAssist().catch((e) => { $("assist-intent").textContent = e.message; }), 250);
    });
    $("copy-reply").addEventListener("click", async () => {
      const text = $("assist-reply").textContent;
      try {
        await navigator.clipboard.writeText(text);
        $("copy-status").textContent = "Copied.";
      } catch {
        const range = document.createRange();
        range.selectNodeContents($("assist-reply"));
        window.getSelection().removeAllRanges();
        window.getSelection().addRange(range);
        $("copy-status").textContent = "Selected: press Ctrl+C.";
      }
    });
    $("open-form").addEventListener("click", openForm);
    $("complaint-form").addEventListener("submit", fileComplaint);
    $("address-form").addEventListener("submit", changeAddress);
    $("survey-form").addEventListener("submit", sendSurvey);
    $("search-form").addEventListener("submit", (e) => search(e).catch(() => null));
    const refresh = () => Promise.all([loadHandoffs(), loadComplaints()])
      .then(() => { document.body.dataset.ready = "true"; })
      .catch(() => null);
    refresh();
    window.setInterval(refresh, 5000);
  }

  // ------------------------------------------------------------------ conversation

  function conversationPage() {
    const id = decodeURIComponent(window.location.pathname.split("/").pop());
    $("conversation-id").textContent = id;
    let after = 0;
    let handoff = null;
    const transcript = $("transcript");

    function render(message) {
      const who = message.sender === "agent" ? (message.agent_name || "agent") : message.sender;
      const box = el("div", null, `msg msg--${message.sender}`);
      box.dataset.sender = message.sender;
      box.appendChild(el("small", `${who} · ${new Date(message.created_at).toLocaleTimeString()}`));
      box.appendChild(el("span", message.text));
      transcript.appendChild(box);
      transcript.scrollTop = transcript.scrollHeight;
    }

    function showState() {
      // The holder works the conversation; a manager may step in (backend/agents/permissions.py).
      const mine = handoff && handoff.status === "held" && me &&
        (handoff.agent_username === me.username || me.role === "manager");
      $("take").hidden = !(handoff && handoff.status === "waiting");
      $("hand-back").hidden = !mine;
      $("close").hidden = !mine;
      $("reply-form").hidden = !mine;
      if (!handoff) {
        $("handoff-status").textContent = "No handoff: the bot has this conversation.";
        return;
      }
      const parts = [`${handoff.reference}: ${handoff.status}`, `reason ${handoff.reason.replace("_", " ")}`,
        `priority ${handoff.priority}`];
      if (handoff.agent_name) parts.push(`agent ${handoff.agent_name}`);
      $("handoff-status").textContent = parts.join(", ");
      if (handoff.customer_code) {
        $("customer-link").href = `/agent/customers/${encodeURIComponent(handoff.customer_code)}`;
        $("customer-link").textContent = `Customer record: ${handoff.customer_name}`;
        $("customer-link").hidden = false;
      }
    }

    async function poll() {
      const data = await api(`/api/agent/conversations/${encodeURIComponent(id)}?after=${after}`);
      for (const message of data.messages) {
        if (message.id <= after) continue; // two polls in flight may bring the same message
        render(message);
        after = message.id;
      }
      handoff = data.handoff;
      showState();
      document.body.dataset.ready = "true";
    }

    async function act(path) {
      $("conversation-error").textContent = "";
      try {
        await api(`/api/agent/handoffs/${handoff.id}/${path}`, { method: "POST" });
        await poll();
      } catch (error) {
        $("conversation-error").textContent = error.message;
      }
    }

    $("take").addEventListener("click", () => act("take"));
    $("hand-back").addEventListener("click", () => act("hand-back"));
    $("close").addEventListener("click", () => act("close"));
    $("reply-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const text = $("reply-input").value.trim();
      if (!text) return;
      try {
        await api(`/api/agent/handoffs/${handoff.id}/reply`, { method: "POST", body: { text } });
        $("reply-input").value = "";
        await poll();
      } catch (error) {
        $("conversation-error").textContent = error.message;
      }
    });
    $("reply-input").addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey) {
        event.preventDefault();
        $("reply-form").requestSubmit();
      }
    });
    poll().catch((e) => { $("conversation-error").textContent = e.message; });
    window.setInterval(() => poll().catch(() => null), 2000);
  }

  // ------------------------------------------------------------------ customer 360

  async function customerPage() {
    const code = decodeURIComponent(window.location.pathname.split("/").pop());
    const c = await api(`/api/agent/customers/${encodeURIComponent(code)}`);
    $("customer-name").textContent = `${c.name} (${c.code})`;
    const facts = $("customer-facts");
    const add = (term, value) => {
      facts.appendChild(el("dt", term));
      facts.appendChild(el("dd", value === null || value === undefined ? "—" : value));
    };
    add("Tier", c.tier ? `${c.tier} (value score ${c.value_score})` : "not scored yet");
    add("Contact", `${c.contact_name}, ${c.phone}, ${c.email}`);
    add("Kind", c.kind);
    add("City", c.city);
    add("Account manager", c.account_manager);

    const churn = $("churn");
    if (c.churn) {
      churn.appendChild(el("p", `${c.churn.level} risk (score ${c.churn.score})` +
        (c.churn.suggested_action ? `; suggested: ${c.churn.suggested_action.replaceAll("_", " ")}` : "")));
      const list = el("ul");
      for (const reason of c.churn.reasons) list.appendChild(el("li", reason.text || reason.detail || reason.code || JSON.stringify(reason)));
      churn.appendChild(list);
    } else {
      churn.appendChild(el("p", "No churn-risk figures for this customer.", "muted"));
    }
    const shipments = $("shipments").tBodies[0];
    for (const s of c.shipments) row(shipments, [s.tracking_number, s.status_text, s.destination_city, s.summary]);
    const complaints = $("complaints").tBodies[0];
    for (const t of c.open_complaints) {
      row(complaints, [t.reference, t.category.replace("_", " "), t.status.replaceAll("_", " "),
        el("span", minutesText(t.minutes_to_sla), t.minutes_to_sla < 0 ? "overdue" : "")]);
    }
    if (!c.open_complaints.length) row(complaints, ["none open", "", "", ""]);
    const surveys = $("surveys");
    for (const a of c.survey_answers) {
      surveys.appendChild(el("li", `${a.question}: ${a.score ?? ""} ${a.text ?? ""} (${new Date(a.answered_at).toLocaleDateString()})`));
    }
    if (!c.survey_answers.length) surveys.appendChild(el("li", "No survey answers yet."));
    const conversations = $("conversations");
    for (const id of c.conversations) {
      const li = el("li");
      li.appendChild(link(`/agent/conversations/${encodeURIComponent(id)}`, id));
      conversations.appendChild(li);
    }
    if (!c.conversations.length) conversations.appendChild(el("li", "No recorded conversations."));
    document.body.dataset.ready = "true";
  }

  document.addEventListener("DOMContentLoaded", () => {
    if (page === "login") {
      loginPage();
      return;
    }
    header()
      .then(() => {
        if (page === "console") consolePage();
        else if (page === "conversation") conversationPage();
        else if (page === "customer") return customerPage();
        return null;
      })
      .catch(() => null);
  });
})();
