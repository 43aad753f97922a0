// Threadline agent desk: a plain-JS client of the agent WebSocket (docs/agent-protocol.md).
//
// Sequenced frames are processed once (seq above the last one processed), then acknowledged;
// the last processed seq survives a reload in sessionStorage and goes into hello, so the server
// replays only what this desk has not seen. After a reload, conversations listed in welcome are
// rebuilt with `context` frames.
"use strict";

(() => {
  const STORE = window.sessionStorage;
  const $ = (id) => document.getElementById(id);

  const state = {
    token: STORE.getItem("tl.token") || "",
    lastSeq: Number(STORE.getItem("tl.lastSeq") || 0),
    agent: null,
    config: null,
    conversations: new Map(), // id -> conversation view model
    selected: null,
    socket: null,
    attempts: 0,
    reconnectTimer: null,
    pingTimer: null,
    statsTimer: null,
    view: "desk",
    agentNames: new Map(),
    lastStats: null,
    clientCounter: 0,
    typingFor: null, // conversation the agent's typing was last announced for
    typingSentAt: 0,
    monitor: null, // the conversation a supervisor watches read-only (see openMonitor)
  };

  // The customer's typing indicator goes away this long after the last customer_typing frame.
  const TYPING_SHOWN_MS = 6000;
  // The agent's typing frames are throttled to one per this interval while they type.
  const TYPING_EVERY_MS = 2000;

  // --- small DOM helpers ------------------------------------------------------------------

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function timeOf(value) {
    if (value === null || value === undefined) return "";
    const date = typeof value === "number" ? new Date(value * 1000) : new Date(value);
    return isNaN(date) ? "" : date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  function duration(seconds) {
    if (seconds === null || seconds === undefined) return "—";
    const s = Math.max(0, Math.round(seconds));
    return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, "0")}s`;
  }

  function showBanner(text) {
    const banner = $("banner");
    banner.textContent = text;
    banner.hidden = !text;
  }

  function isSupervisor() {
    const roles = (state.agent && state.agent.roles) || [];
    return roles.includes("supervisor") || roles.includes("admin");
  }

  function agentName(id) {
    if (state.agent && id === state.agent.id) return "You";
    return state.agentNames.get(id) || id;
  }

  // --- login ------------------------------------------------------------------------------

  async function signIn(event) {
    event.preventDefault();
    const error = $("login-error");
    error.hidden = true;
    const token = $("login-token").value.trim();
    let chosen = token;
    if (!chosen) {
      const response = await fetch("/api/v1/login", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ login: $("login-name").value.trim(), password: $("login-password").value }),
      });
      const body = await response.json().catch(() => ({}));
      if (!response.ok) {
        error.textContent = body.message || "Sign-in failed";
        error.hidden = false;
        return;
      }
      chosen = body.token;
    }
    state.token = chosen;
    STORE.setItem("tl.token", chosen);
    STORE.setItem("tl.lastSeq", "0");
    state.lastSeq = 0;
    await start();
  }

  function signOut() {
    STORE.removeItem("tl.token");
    STORE.removeItem("tl.lastSeq");
    state.token = "";
    if (state.socket) {
      state.socket.onclose = null;
      state.socket.close();
    }
    clearTimeout(state.reconnectTimer);
    window.location.reload();
  }

  async function loadConfig() {
    const response = await fetch("/api/v1/desk/config", {
      headers: { Authorization: `Bearer ${state.token}` },
    });
    if (!response.ok) throw new Error("unauthenticated");
    state.config = await response.json();
    for (const agent of state.config.agents) state.agentNames.set(agent.id, agent.name);
  }

  async function start() {
    try {
      await loadConfig();
    } catch (err) {
      STORE.removeItem("tl.token");
      $("login-error").textContent = "That token is not valid. Sign in again.";
      $("login-error").hidden = false;
      $("login-view").hidden = false;
      $("app").hidden = true;
      return;
    }
    $("login-view").hidden = true;
    $("app").hidden = false;
    fillControls();
    connect();
  }

  function fillControls() {
    const availability = $("availability");
    availability.replaceChildren(
      ...state.config.activities.map((a) => el("option", { value: a.name, text: a.name })),
    );
    $("disposition").replaceChildren(
      ...state.config.dispositions.map((d) => el("option", { value: d, text: d })),
    );
    $("canned").replaceChildren(
      el("option", { value: "", text: "Insert a canned response…" }),
      ...state.config.canned_responses.map((c, i) => el("option", { value: String(i), text: c.title })),
    );
  }

  // --- connection -------------------------------------------------------------------------

  function setConnection(text, kind) {
    const pill = $("connection");
    pill.textContent = text;
    pill.className = `pill ${kind || ""}`;
  }

  function connect() {
    clearTimeout(state.reconnectTimer);
    const scheme = window.location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${window.location.host}/agents/ws`);
    state.socket = socket;
    setConnection("Connecting…");
    socket.onopen = () => {
      socket.send(JSON.stringify({ v: 1, type: "hello", token: state.token, last_seq: state.lastSeq }));
    };
    socket.onmessage = (event) => {
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch (err) {
        return;
      }
      receive(frame);
    };
    socket.onclose = (event) => {
      clearInterval(state.pingTimer);
      if (state.socket !== socket) return;
      if (event.code === 4401) {
        setConnection("Signed out", "offline");
        signOut();
        return;
      }
      const delay = reconnectDelay(state.attempts);
      state.attempts += 1;
      setConnection(`Reconnecting in ${Math.ceil(delay / 1000)}s…`, "offline");
      state.reconnectTimer = setTimeout(connect, delay);
    };
  }

  // For about a minute (40 attempts) the desk retries every 1.5 s at most: after a server
  // restart the agent's assigned work is only kept for the routing grace period (60 s by
  // default), and new hand-offs wait for agents within it. Later attempts back off to 15 s so a
  // server down for long is not stampeded; the jitter spreads a room of desks reconnecting.
  function reconnectDelay(attempts) {
    const cap = attempts < 40 ? 1500 : 15000;
    return Math.min(cap, 250 * 2 ** attempts) * (0.75 + Math.random() * 0.5);
  }

  function send(type, fields) {
    const socket = state.socket;
    if (!socket || socket.readyState !== WebSocket.OPEN) {
      showBanner("Not connected: the action was not sent. Reconnecting…");
      return false;
    }
    socket.send(JSON.stringify({ v: 1, type, ...fields }));
    return true;
  }

  function receive(frame) {
    if (typeof frame.seq === "number") {
      if (frame.seq <= state.lastSeq) {
        send("ack", { seq: frame.seq }); // a replay of something already shown
        return;
      }
      handle(frame);
      state.lastSeq = frame.seq;
      STORE.setItem("tl.lastSeq", String(frame.seq));
      send("ack", { seq: frame.seq });
      return;
    }
    handle(frame);
  }

  // --- frames -----------------------------------------------------------------------------

  function conversation(id) {
    let item = state.conversations.get(id);
    if (!item) {
      item = {
        id,
        status: "unknown",
        queue: null,
        channel: null,
        context: null,
        entries: [],
        expiresAt: null,
        reason: "",
        unread: 0,
        disposition: "",
        customerTyping: false,
        typingTimer: null,
        customerReadSeq: 0, // the customer has seen messages up to this seq (customer_read)
        customerReadId: null,
        readSent: 0, // the highest customer message seq this desk reported with `read`
      };
      state.conversations.set(id, item);
    }
    return item;
  }

  function adoptContext(item, context) {
    item.context = context;
    item.channel = (context.channel && context.channel.kind) || item.channel;
    item.queue = context.queue || item.queue;
    const entries = (context.transcript || []).map((m) => ({ kind: "message", ...m }));
    for (const note of context.notes || []) entries.push({ kind: "note", ...note });
    // Keep local replies the server has not echoed in the transcript yet.
    const known = new Set(entries.filter((e) => e.id).map((e) => e.id));
    for (const entry of item.entries) {
      if (entry.kind === "message" && entry.id && known.has(entry.id)) continue;
      if (entry.kind === "message" && entry.local) entries.push(entry);
    }
    item.entries = entries;
  }

  const handlers = {
    welcome(frame) {
      state.agent = frame.agent;
      state.attempts = 0;
      setConnection("Connected", "online");
      showBanner("");
      $("who").textContent = `${frame.agent.name} (${frame.agent.roles.join(", ")})`;
      applyRole();
      const listed = new Set();
      for (const c of frame.conversations) {
        listed.add(c.conversation_id);
        const item = conversation(c.conversation_id);
        item.status = c.status;
        item.queue = c.queue;
        item.channel = c.channel || item.channel;
        if (!item.context) send("context", { conversation_id: c.conversation_id });
      }
      // Anything we still show as open that the server no longer lists is gone.
      for (const item of state.conversations.values()) {
        if (!listed.has(item.id) && item.status !== "closed") {
          if (item.status === "offered") state.conversations.delete(item.id);
          else item.status = "closed";
        }
      }
      clearInterval(state.pingTimer);
      state.pingTimer = setInterval(() => send("ping", {}), 20000);
      // Monitoring belongs to a socket: a new socket must ask again.
      if (state.monitor && isSupervisor()) startMonitoring(state.monitor.id);
      render();
    },
    context(frame) {
      if (state.monitor && state.monitor.awaitingContext && state.monitor.id === frame.conversation_id) {
        adoptMonitorContext(frame);
        return;
      }
      const item = conversation(frame.conversation_id);
      item.status = frame.status;
      item.queue = frame.queue || item.queue;
      if (frame.status === "offered") item.expiresAt = frame.expires_at;
      adoptContext(item, frame.context);
      if (!state.selected && frame.status !== "offered") state.selected = item.id;
      render();
    },
    offer(frame) {
      const item = conversation(frame.conversation_id);
      item.status = "offered";
      item.expiresAt = frame.expires_at;
      item.reason = frame.reason;
      adoptContext(item, frame.context);
      item.queue = frame.queue || item.queue;
      announce(`New offer from ${contactName(item)}`);
      render();
    },
    offer_rescinded(frame) {
      const item = state.conversations.get(frame.conversation_id);
      if (item && item.status === "offered") state.conversations.delete(frame.conversation_id);
      render();
    },
    assigned(frame) {
      const item = conversation(frame.conversation_id);
      item.status = "assigned";
      item.queue = frame.queue;
      item.expiresAt = null;
      adoptContext(item, frame.context);
      if (!state.selected || !state.conversations.has(state.selected)) select(item.id);
      render();
    },
    removed(frame) {
      const item = state.conversations.get(frame.conversation_id);
      if (item) {
        state.conversations.delete(frame.conversation_id);
        if (state.selected === frame.conversation_id) state.selected = null;
        announce(`Conversation with ${contactName(item)} was ${frame.reason || "removed"}`);
      }
      render();
    },
    message(frame) {
      if (frame.monitoring) {
        monitorMessage(frame);
        return;
      }
      const item = conversation(frame.conversation_id);
      const message = frame.message;
      if (!item.entries.some((e) => e.kind === "message" && e.id === message.id)) {
        item.entries.push({ kind: "message", ...message });
        if (state.selected !== item.id) item.unread += 1;
      }
      if (message.direction === "inbound") setCustomerTyping(item, false);
      render();
    },
    // The customer edited or deleted a message already shown: show it as now stored.
    message_updated(frame) {
      if (frame.monitoring) {
        monitorMessage(frame);
        return;
      }
      const item = state.conversations.get(frame.conversation_id);
      const entry = item && item.entries.find((e) => e.kind === "message" && e.id === frame.message.id);
      if (entry) Object.assign(entry, frame.message);
      render();
    },
    message_status(frame) {
      const item = state.conversations.get(frame.conversation_id);
      if (!item) return;
      const entry = item.entries.find(
        (e) =>
          e.kind === "message" &&
          ((frame.client_id && e.client_id === frame.client_id) || e.id === frame.message_id),
      );
      if (entry) {
        entry.id = frame.message_id;
        entry.status = frame.status;
        entry.error_message = frame.error;
      }
      render();
    },
    note_added(frame) {
      const item = conversation(frame.conversation_id);
      item.entries.push({ kind: "note", ...frame.note });
      render();
    },
    wrapup_started(frame) {
      const item = conversation(frame.conversation_id);
      item.status = "wrapup";
      item.disposition = frame.disposition;
      render();
    },
    closed(frame) {
      const item = conversation(frame.conversation_id);
      item.status = "closed";
      item.disposition = frame.disposition;
      item.entries.push({ kind: "system", text: `Closed (${frame.disposition || "no disposition"}) by ${byName(frame.by)}` });
      render();
    },
    agent_state(frame) {
      $("availability").value = frame.activity;
      if ($("availability").value !== frame.activity) {
        $("availability").append(el("option", { value: frame.activity, text: frame.activity }));
        $("availability").value = frame.activity;
      }
    },
    stats(frame) {
      state.lastStats = frame;
      renderStats();
    },
    error(frame) {
      showBanner(`${frame.ref ? frame.ref + ": " : ""}${frame.message}`);
    },
    pong() {},
    typing(frame) {
      // Another agent's typing reaches supervisors monitoring the conversation.
      const watched = state.monitor;
      if (!watched || watched.id !== frame.conversation_id) return;
      setMonitorTyping("agentTyping", frame.typing);
    },
    customer_typing(frame) {
      const item = state.conversations.get(frame.conversation_id);
      if (item) {
        setCustomerTyping(item, frame.typing);
        if (state.selected === item.id) renderTyping(item);
      }
      if (state.monitor && state.monitor.id === frame.conversation_id) {
        setMonitorTyping("customerTyping", frame.typing);
      }
    },
    customer_read(frame) {
      const item = state.conversations.get(frame.conversation_id);
      if (item && frame.message_seq >= item.customerReadSeq) {
        item.customerReadSeq = frame.message_seq;
        item.customerReadId = frame.message_id;
        if (state.selected === item.id) renderConversation();
      }
    },
  };

  function setCustomerTyping(item, typing) {
    clearTimeout(item.typingTimer);
    item.customerTyping = Boolean(typing);
    if (!typing) return;
    // Typing frames can be lost (the customer closes the tab): the indicator must not stick.
    item.typingTimer = setTimeout(() => {
      item.customerTyping = false;
      if (state.selected === item.id) renderTyping(item);
    }, TYPING_SHOWN_MS);
  }

  function handle(frame) {
    const handler = handlers[frame.type];
    if (handler) handler(frame);
  }

  // --- rendering --------------------------------------------------------------------------

  function contactName(item) {
    const context = item.context || {};
    const contact = context.contact || {};
    const channel = context.channel || {};
    if (contact.display_name) return contact.display_name;
    // No name from the channel or the pre-chat form: the contact's attributes (a CRM look-up
    // merges its fields there), then a name a CRM look-up of this conversation returned.
    const attributes = contact.attributes || {};
    const full = [attributes.first_name, attributes.last_name].filter(Boolean).join(" ");
    const crmName = Object.values(context.crm || {}).map((fields) => (fields || {}).name).find(Boolean);
    const named = attributes.name || full || crmName;
    if (named) return String(named);
    // Addresses of web chat visitors are long random ids: a short tail tells them apart.
    const address = String(channel.customer_address || contact.id || item.id);
    const kind = { webchat: "Web chat visitor", app: "App user" }[channel.kind || item.channel];
    return kind ? `${kind} …${address.slice(-6)}` : address;
  }

  function announce(text) {
    // Screen readers hear it; sighted agents see it in the tab title for a few seconds.
    $("announcer").textContent = text;
    document.title = `• ${text} — Threadline desk`;
    clearTimeout(state.titleTimer);
    state.titleTimer = setTimeout(() => (document.title = "Threadline agent desk"), 4000);
  }

  function render() {
    renderOffers();
    renderList();
    renderConversation();
  }

  function renderOffers() {
    const offers = [...state.conversations.values()].filter((c) => c.status === "offered");
    $("no-offers").hidden = offers.length > 0;
    const list = $("offers");
    list.replaceChildren(
      ...offers.map((item) => {
        const last = [...item.entries].reverse().find((e) => e.kind === "message" && e.direction === "inbound");
        return el(
          "li",
          { class: "offer", "aria-label": `Offer from ${contactName(item)}`, "data-conversation": item.id },
          el("div", { class: "who-line", text: contactName(item) }),
          el("div", { class: "muted" }, `${item.channel || ""} · queue ${item.queue || "—"}`),
          item.reason ? el("p", { class: "muted reason", text: `Routed: ${item.reason}` }) : null,
          intentLine(item.context && item.context.intent),
          last ? el("p", { class: "preview", text: last.text }) : null,
          el(
            "p",
            { class: "muted" },
            "Expires in ",
            el("span", { class: "countdown", "data-expires": item.expiresAt || "", role: "timer" }, countdownText(item.expiresAt)),
          ),
          el(
            "div",
            { class: "buttons" },
            el("button", { type: "button", class: "primary", onclick: () => send("accept", { conversation_id: item.id }) }, "Accept"),
            el("button", {
              type: "button",
              onclick: () => {
                if (send("reject", { conversation_id: item.id, reason: "rejected" })) {
                  state.conversations.delete(item.id);
                  render();
                }
              },
            }, "Reject"),
          ),
        );
      }),
    );
  }

  function countdownText(expiresAt) {
    if (!expiresAt) return "—";
    return duration(expiresAt - Date.now() / 1000);
  }

  function tickCountdowns() {
    for (const node of document.querySelectorAll(".countdown[data-expires]")) {
      const expires = Number(node.dataset.expires);
      if (!expires) continue;
      const left = expires - Date.now() / 1000;
      node.textContent = duration(left);
      node.classList.toggle("urgent", left < 10);
    }
  }

  const STATUS_LABEL = { assigned: "active", wrapup: "wrap-up", closed: "closed" };

  function renderList() {
    const items = [...state.conversations.values()].filter((c) => c.status !== "offered");
    const order = { assigned: 0, wrapup: 1, closed: 2 };
    items.sort((a, b) => (order[a.status] ?? 1) - (order[b.status] ?? 1));
    $("no-conversations").hidden = items.length > 0;
    $("conversations").replaceChildren(
      ...items.map((item) => {
        const last = [...item.entries].reverse().find((e) => e.kind === "message");
        return el(
          "li",
          {},
          el(
            "button",
            {
              type: "button",
              "aria-current": state.selected === item.id ? "true" : "false",
              onclick: () => select(item.id),
            },
            el(
              "span",
              { class: "name" },
              contactName(item),
              el("span", { class: "badge", text: STATUS_LABEL[item.status] || item.status }),
              item.unread ? el("span", { class: "badge unread", "aria-label": `${item.unread} unread` }, String(item.unread)) : null,
            ),
            el("span", { class: "meta", text: last ? last.text.slice(0, 60) : item.channel || "" }),
          ),
        );
      }),
    );
  }

  function select(id) {
    if (state.typingFor && state.typingFor !== id) stopTyping();
    state.selected = id;
    const item = state.conversations.get(id);
    if (item) item.unread = 0;
    render();
    const box = $("reply-text");
    if (!box.disabled) box.focus();
  }

  function authorOf(entry) {
    if (entry.kind === "note") return ["note", `Internal note · ${byName(entry.by)}`];
    if (entry.kind === "system") return ["system", ""];
    if (entry.direction === "inbound") return ["contact", "Customer"];
    const author = String(entry.author || "");
    if (author.startsWith("agent:")) return ["agent", agentName(author.slice(6))];
    // Threadline's hand-off notices ("connecting you to an agent"): what the customer was told.
    if (author === "system") return ["notice", "Notice to the customer"];
    return ["bot", "Bot"];
  }

  function byName(by) {
    const [role, id] = String(by || "").split(":");
    if (!id) return by || "";
    return role === "supervisor" ? `${agentName(id)} (supervisor)` : agentName(id);
  }

  // The agent's latest message the customer has seen: an agent message at or before the last
  // message the customer's read mark covers (local replies have no seq until the transcript is
  // reloaded, hence list order rather than seq).
  function seenEntry(item) {
    const isRead = (e) =>
      e.kind === "message" &&
      ((item.customerReadSeq && typeof e.seq === "number" && e.seq <= item.customerReadSeq) ||
        (item.customerReadId && e.id === item.customerReadId) ||
        (e.direction === "outbound" && e.status === "read"));
    let lastRead = -1;
    item.entries.forEach((e, i) => {
      if (isRead(e)) lastRead = i;
    });
    for (let i = lastRead; i >= 0; i -= 1) {
      if (authorOf(item.entries[i])[0] === "agent") return item.entries[i];
    }
    return null;
  }

  // `monitored`: a supervisor's read-only copy, which gets no delivery statuses to show.
  function renderEntry(entry, seen, monitored) {
    const [kind, who] = authorOf(entry);
    if (kind === "system") return el("li", { class: "msg system", text: entry.text });
    const when = timeOf(entry.created_at || entry.at);
    const status =
      kind === "agent" && !monitored
        ? el("span", { class: `status ${entry.status || ""}`, "data-status": entry.status || "" }, statusText(entry))
        : null;
    return el(
      "li",
      { class: `msg ${kind}`, "data-kind": kind },
      el("div", { class: "by" }, el("span", { text: who }), when ? el("span", { text: when }) : null, status, revisionOf(entry)),
      el("div", { class: "text", text: entry.text || describeParts(entry.parts) }),
      attachmentsOf(entry.parts),
      seen ? el("div", { class: "seen", "aria-label": "Seen by the customer", text: "Seen" }) : null,
    );
  }

  // A customer's deleted message stays readable, marked; an edited one names what it said before.
  function revisionOf(entry) {
    if (entry.deleted_at) return el("span", { class: "revision deleted", text: "deleted by the customer" });
    const edits = entry.edits || [];
    if (!edits.length) return null;
    const before = edits.map((e) => e.text || describeParts(e.parts)).join(" → ");
    return el("span", { class: "revision edited", title: `Before: ${before}`, text: "edited" });
  }

  function statusText(entry) {
    const status = entry.status || "sending";
    const labels = { accepted: "sending", sending: "sending", queued: "queued", sent: "✓ sent", delivered: "✓✓ delivered", read: "✓✓ read", failed: "failed", undelivered: "undelivered" };
    const label = labels[status] || status;
    return entry.error_message ? `${label}: ${entry.error_message}` : label;
  }

  // Media parts as links (a new tab, never this page's origin running the file: it is served
  // sandboxed) with a thumbnail for images; a file Threadline could not download says why.
  function attachmentsOf(parts) {
    const media = (parts || []).filter((p) => p.kind === "media");
    if (!media.length) return null;
    return el(
      "div",
      { class: "attachments" },
      media.map((p) => {
        if (p.status === "failed" || !p.url) {
          return el("div", { class: "attachment failed", text: `${p.media_kind || "file"} not available${p.error ? ": " + p.error : ""}` });
        }
        const label = p.filename || p.media_kind || "file";
        const thumb = p.media_kind === "image" || p.media_kind === "sticker" ? el("img", { src: p.url, alt: label }) : null;
        return el("a", { class: "attachment", href: p.url, target: "_blank", rel: "noopener noreferrer" }, thumb, el("span", { text: label }));
      }),
    );
  }

  function describeParts(parts) {
    return (parts || []).map((p) => p.text || p.filename || p.url || p.kind).join(" ");
  }

  function renderConversation() {
    const item = state.selected && state.conversations.get(state.selected);
    $("empty-conversation").hidden = Boolean(item);
    $("conversation-pane").hidden = !item;
    if (!item) {
      $("context-body").replaceChildren(el("p", { class: "muted", text: "No conversation selected." }));
      return;
    }
    $("conversation-title").textContent = contactName(item);
    $("conversation-meta").textContent = `${item.channel || ""} · queue ${item.queue || "—"} · ${STATUS_LABEL[item.status] || item.status}${item.disposition ? " · " + item.disposition : ""}`;
    const open = item.status === "assigned" || item.status === "wrapup";
    for (const id of ["open-transfer", "close-conversation", "disposition", "reply-text", "send", "canned", "as-note"]) {
      $(id).disabled = !open;
    }
    $("open-transfer").disabled = item.status !== "assigned";
    $("wrapup").disabled = item.status !== "assigned";
    $("dismiss").hidden = item.status !== "closed";
    const transcript = $("transcript");
    const atBottom = transcript.scrollHeight - transcript.scrollTop - transcript.clientHeight < 40;
    const seen = seenEntry(item);
    transcript.replaceChildren(...item.entries.map((entry) => renderEntry(entry, entry === seen)));
    if (atBottom || transcript.dataset.conversation !== item.id) transcript.scrollTop = transcript.scrollHeight;
    transcript.dataset.conversation = item.id;
    renderTyping(item);
    renderContext(item);
    markRead(item);
  }

  function renderTyping(item) {
    $("customer-typing").hidden = !item.customerTyping;
  }

  // Tell the customer the agent has seen their messages: only for the conversation on screen,
  // while the desk is visible, once per new customer message.
  function markRead(item) {
    if (state.view !== "desk" || document.visibilityState !== "visible") return;
    if (!state.socket || state.socket.readyState !== WebSocket.OPEN) return; // welcome re-renders
    if (item.status !== "assigned" && item.status !== "wrapup") return;
    const latest = Math.max(
      0,
      ...item.entries.filter((e) => e.kind === "message" && e.direction === "inbound" && typeof e.seq === "number").map((e) => e.seq),
    );
    if (latest > item.readSent && send("read", { conversation_id: item.id, message_seq: latest })) {
      item.readSent = latest;
    }
  }

  function keyValues(object) {
    const entries = Object.entries(object || {});
    if (!entries.length) return el("p", { class: "muted", text: "None" });
    return el(
      "dl",
      {},
      ...entries.map(([k, v]) => [el("dt", { text: k }), el("dd", { text: typeof v === "object" && v !== null ? JSON.stringify(v) : String(v) })]),
    );
  }

  function percent(confidence) {
    const value = Number(confidence);
    return Number.isFinite(value) ? `${Math.round(value * 100)}%` : "—";
  }

  // The offer card's one line about the bot's reading of the customer: "Intent: billing (92%)".
  function intentLine(intent) {
    if (!intent || !intent.intent) return null;
    return el("p", { class: "intent" }, `Intent: ${intent.intent} (${percent(intent.confidence)})`);
  }

  // The bot-triage outputs: the best intent, what was classified, and the ranking as a list.
  function intentView(intent) {
    const { ranking, intent: best, confidence, widget, ...rest } = intent;
    const summary = keyValues({
      intent: best || "none (fallback)",
      confidence: percent(confidence),
      ...rest,
      ...(widget ? { widget } : {}),
    });
    if (!Array.isArray(ranking) || !ranking.length) return summary;
    return el(
      "div",
      {},
      summary,
      el(
        "ol",
        { class: "ranking", "aria-label": "Intent ranking" },
        ...ranking.map((r) => el("li", { text: `${r.name} — ${percent(r.confidence)}` })),
      ),
    );
  }

  function renderContext(item) {
    const context = item.context || {};
    const contact = context.contact || {};
    const channel = context.channel || {};
    const sections = [
      el("h3", { text: "Contact" }),
      keyValues({
        name: contact.display_name || "—",
        id: contact.id || "—",
        channel: `${channel.kind || ""} ${channel.account || ""}`.trim(),
        address: channel.customer_address || "—",
        ...(contact.attributes || {}),
      }),
      el("h3", { text: "Identities" }),
      (contact.identities || []).length
        ? el("ul", {}, ...contact.identities.map((i) => el("li", { text: `${i.kind}: ${i.value}` })))
        : el("p", { class: "muted", text: "None" }),
      el("h3", { text: "Intent" }),
      context.intent ? intentView(context.intent) : el("p", { class: "muted", text: "None" }),
      el("h3", { text: "CRM" }),
      keyValues(Object.fromEntries(Object.entries(context.crm || {}).flatMap(([w, f]) => Object.entries(f || {}).map(([k, v]) => [`${w}.${k}`, v])))),
      el("h3", { text: "Handoff fields" }),
      keyValues(context.fields),
      el("h3", { text: "Flow variables" }),
      keyValues(context.variables),
      el("h3", { text: "Journey" }),
      (context.journey || []).length
        ? el("ol", { class: "journey" }, ...context.journey.map((e) => el("li", { text: `${timeOf(e.time)} ${e.type}${e.channel ? " · " + e.channel : ""}` })))
        : el("p", { class: "muted", text: "None" }),
    ];
    $("context-body").replaceChildren(...sections);
  }

  // --- supervisor -------------------------------------------------------------------------

  function applyRole() {
    const allowed = isSupervisor();
    for (const node of document.querySelectorAll("[data-role='supervisor']")) {
      if (!allowed) node.hidden = true;
      else if (node.id === "tab-supervisor") node.hidden = false;
    }
    if (!allowed) showView("desk");
    clearInterval(state.statsTimer);
    if (allowed) {
      loadAgentNames();
      state.statsTimer = setInterval(() => {
        if (state.view === "supervisor") send("stats", {});
      }, 2000);
    }
  }

  async function loadAgentNames() {
    const response = await fetch("/api/v1/agents", { headers: { Authorization: `Bearer ${state.token}` } });
    if (!response.ok) return;
    const body = await response.json();
    for (const agent of body.agents) state.agentNames.set(agent.id, agent.name);
  }

  function showView(view) {
    state.view = view === "supervisor" && isSupervisor() ? "supervisor" : "desk";
    $("desk-view").hidden = state.view !== "desk";
    if (state.view === "desk") renderConversation(); // reads held back while away are sent now
    $("supervisor-view").hidden = state.view !== "supervisor";
    $("tab-desk").setAttribute("aria-pressed", String(state.view === "desk"));
    $("tab-supervisor").setAttribute("aria-pressed", String(state.view === "supervisor"));
    if (state.view === "supervisor") send("stats", {});
  }

  function renderStats() {
    const stats = state.lastStats;
    if (!stats) return;
    $("queues-table").tBodies[0].replaceChildren(
      ...stats.queues.map((q) =>
        el(
          "tr",
          {},
          el("th", { scope: "row", text: q.queue }),
          el("td", { text: q.waiting }),
          el("td", { text: duration(q.longest_wait) }),
          el("td", { text: q.offered }),
          el("td", { text: q.assigned }),
          el("td", { text: q.agents_online }),
        ),
      ),
    );
    const online = stats.agents.filter((a) => a.connected);
    $("agents-table").tBodies[0].replaceChildren(
      ...stats.agents.map((a) => {
        const load = Object.entries(a.used || {}).map(([k, v]) => `${k} ${v}`).join(", ") || "idle";
        return el(
          "tr",
          {},
          el("th", { scope: "row", text: agentName(a.agent_id) }),
          el("td", { text: `${a.activity}${a.connected ? "" : " (disconnected)"}` }),
          el("td", { text: `${a.tasks.length} assigned, ${a.offers.length} offered · ${load}` }),
          el("td", {}, ...a.tasks.map((task) => taskControls(task, a.agent_id, online))),
        );
      }),
    );
    $("stats-at").textContent = `Updated ${new Date(stats.at * 1000).toLocaleTimeString()}`;
  }

  function taskControls(task, owner, online) {
    const selectId = `reassign-${task}`;
    const targets = online.filter((a) => a.agent_id !== owner);
    const picker = el(
      "select",
      { id: selectId },
      ...targets.map((a) => el("option", { value: a.agent_id, text: agentName(a.agent_id) })),
    );
    return el(
      "div",
      { class: "task-row" },
      el("code", { text: task }),
      el("button", {
        type: "button",
        "aria-pressed": String(Boolean(state.monitor && state.monitor.id === task)),
        onclick: () => openMonitor(task),
      }, "Monitor"),
      el("label", { for: selectId, class: "visually-hidden", text: `Reassign ${task} to` }),
      picker,
      el("button", {
        type: "button",
        disabled: targets.length === 0,
        onclick: () => send("reassign", { conversation_id: task, agent_id: picker.value }),
      }, "Reassign"),
      el("button", {
        type: "button",
        class: "danger",
        onclick: () => {
          if (window.confirm(`Force-close ${task}?`)) send("force_close", { conversation_id: task, disposition: "force-closed" });
        },
      }, "Force close"),
    );
  }

  // --- monitoring (supervisors, read-only) -------------------------------------------------

  // `monitor` makes the server copy the conversation's new messages (and typing/read frames)
  // to this socket with "monitoring": true; `context` brings the transcript so far. Messages
  // that arrive in between are in both and are merged by id.
  function openMonitor(id) {
    if (state.monitor && state.monitor.id !== id) send("unmonitor", { conversation_id: state.monitor.id });
    if (!state.monitor || state.monitor.id !== id) {
      state.monitor = { id, entries: [], context: null, customerTyping: false, agentTyping: false, timers: {} };
    }
    startMonitoring(id);
    renderMonitor();
    renderStats();
  }

  function startMonitoring(id) {
    state.monitor.awaitingContext = true;
    send("monitor", { conversation_id: id });
    send("context", { conversation_id: id });
  }

  function closeMonitor() {
    if (!state.monitor) return;
    send("unmonitor", { conversation_id: state.monitor.id });
    for (const timer of Object.values(state.monitor.timers)) clearTimeout(timer);
    state.monitor = null;
    renderMonitor();
    renderStats();
  }

  function adoptMonitorContext(frame) {
    const watched = state.monitor;
    watched.awaitingContext = false;
    watched.context = frame.context || {};
    watched.status = frame.status;
    watched.agentId = frame.agent_id;
    const entries = (watched.context.transcript || []).map((m) => ({ kind: "message", ...m }));
    for (const note of frame.context.notes || []) entries.push({ kind: "note", ...note });
    const known = new Set(entries.filter((e) => e.id).map((e) => e.id));
    watched.entries = entries.concat(watched.entries.filter((e) => !known.has(e.id)));
    renderMonitor();
  }

  function monitorMessage(frame) {
    const watched = state.monitor;
    if (!watched || watched.id !== frame.conversation_id) return;
    const message = frame.message;
    const existing = watched.entries.find((e) => e.kind === "message" && e.id === message.id);
    if (existing) Object.assign(existing, message);
    else watched.entries.push({ kind: "message", ...message });
    setMonitorTyping(message.direction === "inbound" ? "customerTyping" : "agentTyping", false);
  }

  function setMonitorTyping(who, typing) {
    const watched = state.monitor;
    clearTimeout(watched.timers[who]);
    watched[who] = Boolean(typing);
    if (typing) {
      watched.timers[who] = setTimeout(() => {
        watched[who] = false;
        if (state.monitor === watched) renderMonitor();
      }, TYPING_SHOWN_MS);
    }
    renderMonitor();
  }

  function renderMonitor() {
    const watched = state.monitor;
    $("monitor-pane").hidden = !watched;
    if (!watched) return;
    const owner = watched.agentId ? ` · with ${agentName(watched.agentId)}` : "";
    $("monitor-title").textContent = `Monitoring ${contactName({ id: watched.id, context: watched.context })}`;
    $("monitor-meta").textContent = `${watched.id}${owner} · read-only, updates live`;
    const transcript = $("monitor-transcript");
    const atBottom = transcript.scrollHeight - transcript.scrollTop - transcript.clientHeight < 40;
    transcript.replaceChildren(...watched.entries.map((entry) => renderEntry(entry, false, true)));
    if (atBottom) transcript.scrollTop = transcript.scrollHeight;
    const typing = [watched.customerTyping ? "Customer is typing…" : "", watched.agentTyping ? "Agent is typing…" : ""];
    $("monitor-typing").textContent = typing.filter(Boolean).join(" ");
  }

  // --- actions ----------------------------------------------------------------------------

  // The agent's typing reaches the customer: at most one frame per TYPING_EVERY_MS while they
  // type, and typing:false when the box empties, on send, or when they switch conversations.
  function announceTyping() {
    const id = state.selected;
    const box = $("reply-text");
    if (!id || $("as-note").checked || !box.value.trim()) {
      stopTyping();
      return;
    }
    if (state.typingFor !== id) stopTyping();
    const now = Date.now();
    if (state.typingFor !== id || now - state.typingSentAt >= TYPING_EVERY_MS) {
      if (send("typing", { conversation_id: id, typing: true })) {
        state.typingFor = id;
        state.typingSentAt = now;
      }
    }
  }

  function stopTyping() {
    if (!state.typingFor) return;
    const id = state.typingFor;
    state.typingFor = null;
    state.typingSentAt = 0;
    const item = state.conversations.get(id);
    if (item && (item.status === "assigned" || item.status === "wrapup")) send("typing", { conversation_id: id, typing: false });
  }

  function sendReply(event) {
    if (event) event.preventDefault();
    const item = state.selected && state.conversations.get(state.selected);
    const box = $("reply-text");
    const text = box.value.trim();
    if (!item || !text) return;
    stopTyping();
    if ($("as-note").checked) {
      if (send("note", { conversation_id: item.id, text })) box.value = "";
      return;
    }
    state.clientCounter += 1;
    const clientId = `d${Date.now().toString(36)}${state.clientCounter}`;
    if (!send("reply", { conversation_id: item.id, client_id: clientId, text })) return;
    item.entries.push({
      kind: "message",
      local: true,
      client_id: clientId,
      direction: "outbound",
      author: `agent:${state.agent.id}`,
      text,
      status: "sending",
      created_at: new Date().toISOString(),
    });
    box.value = "";
    render();
  }

  function openTransfer() {
    fillTransferTargets();
    $("transfer-note").value = "";
    $("transfer-dialog").showModal();
  }

  function fillTransferTargets() {
    const kind = document.querySelector("input[name='target-kind']:checked").value;
    const options =
      kind === "queue"
        ? state.config.queues.map((q) => el("option", { value: q, text: q }))
        : state.config.agents.map((a) => el("option", { value: a.id, text: a.name }));
    $("transfer-target").replaceChildren(...options);
  }

  function submitTransfer(event) {
    event.preventDefault();
    const item = state.selected && state.conversations.get(state.selected);
    const target = $("transfer-target").value;
    if (!item || !target) return;
    const kind = document.querySelector("input[name='target-kind']:checked").value;
    const fields = { conversation_id: item.id, note: $("transfer-note").value.trim() };
    fields[kind === "queue" ? "to_queue" : "to_agent"] = target;
    if (!fields.note) delete fields.note;
    if (send("transfer", fields)) $("transfer-dialog").close();
  }

  function bind() {
    $("login-form").addEventListener("submit", (e) => signIn(e).catch((err) => {
      $("login-error").textContent = `Sign-in failed: ${err.message}`;
      $("login-error").hidden = false;
    }));
    $("logout").addEventListener("click", signOut);
    $("tab-desk").addEventListener("click", () => showView("desk"));
    $("tab-supervisor").addEventListener("click", () => showView("supervisor"));
    $("availability").addEventListener("change", (e) => send("set_availability", { activity: e.target.value }));
    $("reply-form").addEventListener("submit", sendReply);
    $("reply-text").addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) sendReply(e);
    });
    $("reply-text").addEventListener("input", announceTyping);
    $("monitor-close").addEventListener("click", closeMonitor);
    document.addEventListener("visibilitychange", () => {
      const item = state.selected && state.conversations.get(state.selected);
      if (item) markRead(item);
    });
    $("as-note").addEventListener("change", (e) => {
      // Make the mode obvious: a note must never be mistaken for a reply, nor the reverse.
      $("send").textContent = e.target.checked ? "Add note" : "Send";
      if (e.target.checked) stopTyping(); // a note is never announced to the customer
      $("reply-text").classList.toggle("note-mode", e.target.checked);
    });
    $("canned").addEventListener("change", (e) => {
      const chosen = state.config.canned_responses[Number(e.target.value)];
      if (e.target.value !== "" && chosen) {
        const box = $("reply-text");
        box.value = box.value ? `${box.value} ${chosen.text}` : chosen.text;
        box.focus();
      }
      e.target.value = "";
    });
    $("wrapup").addEventListener("click", () => {
      if (state.selected) send("wrapup", { conversation_id: state.selected, disposition: $("disposition").value });
    });
    $("close-conversation").addEventListener("click", () => {
      if (state.selected) send("close", { conversation_id: state.selected, disposition: $("disposition").value });
    });
    $("dismiss").addEventListener("click", () => {
      state.conversations.delete(state.selected);
      state.selected = null;
      render();
    });
    $("open-transfer").addEventListener("click", openTransfer);
    for (const radio of document.querySelectorAll("input[name='target-kind']")) {
      radio.addEventListener("change", fillTransferTargets);
    }
    $("transfer-form").addEventListener("submit", submitTransfer);
    $("transfer-cancel").addEventListener("click", () => $("transfer-dialog").close());
    setInterval(tickCountdowns, 250);
  }

  bind();
  if (state.token) start();
})();
