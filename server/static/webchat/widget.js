/*
 * Threadline web chat widget. Embed with one tag (see docs/webchat.md):
 *   <script src="https://HOST/webchat/widget.js" data-channel="ACCOUNT" async></script>
 * Plain JS, no build step. Renders inside a Shadow DOM so the host page's CSS cannot reach it.
 */
(function () {
  "use strict";
  if (window.Threadline && window.Threadline.version) return; // loaded twice: keep the first

  var script =
    document.currentScript ||
    document.querySelector('script[src*="/webchat/widget.js"]');
  var src = new URL(script.src, location.href);
  var BASE = src.origin + src.pathname.replace(/\/webchat\/widget\.js$/, "");
  var WS_URL = BASE.replace(/^http/, "ws") + "/channels/webchat/ws";
  var opts = script.dataset || {};
  var CHANNEL = opts.channel || "default";
  var DEFER = opts.deferStorage === "true";
  var PREFIX = "threadline:" + CHANNEL + ":";

  // --- storage: localStorage or sessionStorage; nothing written before consent when deferred --
  var backend = null;
  try {
    backend = opts.storage === "session" ? window.sessionStorage : window.localStorage;
  } catch (e) {
    backend = null; // storage blocked (privacy mode): the session lives as long as the page
  }
  var memory = {};
  var mayWrite = !DEFER;
  var store = {
    get: function (k) {
      if (k in memory) return memory[k];
      try {
        return backend ? backend.getItem(PREFIX + k) : null;
      } catch (e) {
        return null;
      }
    },
    set: function (k, v) {
      memory[k] = v;
      if (!mayWrite || !backend) return;
      try {
        backend.setItem(PREFIX + k, v);
      } catch (e) {
        /* quota or blocked: memory only */
      }
    },
    clear: function () {
      memory = {};
      if (!backend) return;
      ["token", "identity"].forEach(function (k) {
        try {
          backend.removeItem(PREFIX + k);
        } catch (e) {
          /* ignore */
        }
      });
    },
    flush: function () {
      Object.keys(memory).forEach(function (k) {
        if (memory[k] != null) store.set(k, memory[k]);
      });
    },
  };

  // --- state ---------------------------------------------------------------------------------
  var config = { title: "Chat with us", color: "#2f6fed", prechat: { fields: [] } };
  var ws = null;
  var ready = false; // the current socket has its session frame: frames may be sent
  var retryAfter = 60; // seconds the server asked to wait before a new session (rate_limited)
  var attempt = 0;
  var retryTimer = null;
  var stopped = false; // a policy refusal or reset: do not reconnect by ourselves
  var isOpen = false;
  var bySeq = {}; // seq -> element: the rendered history, deduplicated by seq
  var maxSeq = 0;
  var readSeq = 0;
  var agentReadSeq = 0; // the visitor's messages up to this seq were read by an agent
  var typingTimer = null;
  var pending = {}; // client_id -> {frame, el}: sent, not yet echoed back; resent on reconnect
  var prechatState = "none";
  var typingSent = 0;
  var listeners = {};

  function emit(name, data) {
    (listeners[name] || []).forEach(function (cb) {
      try {
        cb(data);
      } catch (e) {
        /* a host page callback must not break the widget */
      }
    });
  }

  // --- DOM -----------------------------------------------------------------------------------
  var host = document.createElement("div");
  host.setAttribute("data-threadline", CHANNEL);
  var root = host.attachShadow({ mode: "open" });
  root.innerHTML =
    "<style>" +
    // Inherited properties (letter-spacing, font, color, text-transform, direction...) cross
    // the shadow boundary from the host element, and a page rule such as `div {...}` matches
    // the host itself and beats a plain :host rule. An !important :host rule beats any page
    // rule, even !important ones, so the widget starts from initial values.
    ":host{all:initial !important}" +
    "*{box-sizing:border-box;font-family:system-ui,-apple-system,'Segoe UI',sans-serif}" +
    ".launcher,.panel{letter-spacing:normal;word-spacing:normal;text-transform:none;" +
    "text-indent:0;font-style:normal;font-weight:normal;direction:ltr;white-space:normal;" +
    "visibility:visible;text-shadow:none}" +
    ".launcher{position:fixed;right:20px;bottom:20px;width:56px;height:56px;border-radius:50%;" +
    "border:0;background:var(--tl-color);color:#fff;cursor:pointer;z-index:2147483000;" +
    "box-shadow:0 4px 14px rgba(0,0,0,.25);font-size:24px;line-height:56px}" +
    ".launcher:focus-visible,button:focus-visible,textarea:focus-visible,input:focus-visible," +
    "select:focus-visible{outline:3px solid #ffbf47;outline-offset:2px}" +
    ".badge{position:absolute;top:-4px;right:-4px;min-width:22px;height:22px;border-radius:11px;" +
    "background:#d93025;color:#fff;font-size:12px;line-height:22px;padding:0 6px}" +
    ".badge[hidden]{display:none}" +
    ".panel{position:fixed;right:20px;bottom:88px;width:370px;height:560px;max-height:calc(100vh - 110px);" +
    "background:#fff;color:#1d2430;border-radius:14px;box-shadow:0 8px 30px rgba(0,0,0,.25);" +
    "display:flex;flex-direction:column;overflow:hidden;z-index:2147483001;font-size:15px}" +
    ".panel[hidden]{display:none}" +
    "header{background:var(--tl-color);color:#fff;padding:12px 14px;display:flex;align-items:center;gap:8px}" +
    "header h2{font-size:16px;margin:0;flex:1}" +
    "header .sub{font-size:12px;opacity:.85}" +
    ".close{background:transparent;border:0;color:#fff;font-size:22px;cursor:pointer;width:36px;height:36px}" +
    ".log{flex:1;overflow-y:auto;padding:12px;display:flex;flex-direction:column;gap:8px;background:#f6f7f9}" +
    ".msg{max-width:82%;padding:8px 11px;border-radius:12px;white-space:pre-wrap;word-wrap:break-word;line-height:1.35}" +
    ".inbound{align-self:flex-end;background:var(--tl-color);color:#fff}" +
    ".outbound{align-self:flex-start;background:#fff;border:1px solid #e1e4e8}" +
    ".outbound.agent{border-left:3px solid var(--tl-color)}" +
    ".author{font-size:12px;font-weight:600;color:var(--tl-color);margin-bottom:2px}" +
    ".outbound.notice{align-self:center;max-width:90%;background:transparent;border:0;color:#5b6675;" +
    "font-size:13px;font-style:italic;text-align:center;padding:2px 6px}" +
    ".pending{opacity:.6}" +
    ".msg time{display:block;font-size:11px;opacity:.75;text-align:right;margin-top:2px}" +
    ".earlier,.conversation-earlier{display:flex;flex-direction:column;gap:8px}" +
    ".earlier:empty{display:none}" +
    ".divider{align-self:stretch;text-align:center;font-size:12px;color:#5b6675;margin:4px 0;" +
    "border-top:1px solid #d5d9df;padding-top:4px}" +
    ".welcome{align-self:center;text-align:center;color:#5b6675;font-size:14px;margin:auto 12px}" +
    ".log:has(.msg) .welcome{display:none}" +
    ".msg img{display:block;max-width:100%;max-height:220px;border-radius:8px;margin-top:4px}" +
    ".msg a{color:inherit}" +
    ".choices{display:flex;flex-wrap:wrap;gap:6px;margin-top:6px}" +
    ".choices button{border:1px solid var(--tl-color);background:#fff;color:var(--tl-color);" +
    "border-radius:999px;padding:5px 11px;cursor:pointer;font-size:14px}" +
    ".choices button:disabled{opacity:.5;cursor:default}" +
    ".typing{align-self:flex-start;color:#5b6675;font-size:13px;padding:2px 6px}" +
    ".typing[hidden]{display:none}" +
    ".msg.seen::after{content:'Seen';display:block;font-size:11px;opacity:.8;text-align:right;margin-top:2px}" +
    ".status{font-size:12px;color:#5b6675;text-align:center;padding:2px}" +
    ".error{color:#b3261e;font-size:13px;padding:4px 12px}" +
    ".error:empty{display:none}" +
    "form.compose{display:flex;gap:6px;padding:8px;border-top:1px solid #e1e4e8;align-items:flex-end}" +
    "textarea{flex:1;resize:none;border:1px solid #c9ced6;border-radius:8px;padding:8px;font-size:15px;max-height:120px}" +
    ".attach,.send{border:0;border-radius:8px;height:38px;min-width:38px;cursor:pointer;font-size:16px}" +
    ".attach{background:#eef0f3}" +
    ".send{background:var(--tl-color);color:#fff;padding:0 12px}" +
    "form.prechat{padding:14px;display:flex;flex-direction:column;gap:10px;overflow-y:auto;flex:1}" +
    "form.prechat label{display:flex;flex-direction:column;gap:4px;font-size:14px}" +
    "form.prechat input,form.prechat select,form.prechat textarea{border:1px solid #c9ced6;border-radius:8px;padding:8px;font-size:15px}" +
    "form.prechat button{background:var(--tl-color);color:#fff;border:0;border-radius:8px;padding:10px;font-size:15px;cursor:pointer}" +
    "form[hidden]{display:none}" +
    ".sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}" +
    "@media (max-width:480px){.panel{right:0;bottom:0;width:100vw;height:100%;max-height:none;border-radius:0}}" +
    "</style>" +
    '<button class="launcher" type="button" aria-haspopup="dialog" aria-expanded="false" ' +
    'aria-controls="tl-panel" aria-label="Open chat">' +
    '<svg width="26" height="26" viewBox="0 0 24 24" aria-hidden="true" style="vertical-align:middle">' +
    '<path fill="currentColor" d="M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H8l-4 4V6a2 2 0 0 1 2-2z"/></svg>' +
    '<span class="badge" hidden aria-hidden="true"></span></button>' +
    '<span class="sr unread-live" role="status" aria-live="polite"></span>' +
    '<section class="panel" id="tl-panel" role="dialog" aria-modal="false" aria-labelledby="tl-title" hidden>' +
    '<header><div style="flex:1"><h2 id="tl-title"></h2><div class="sub"></div></div>' +
    '<button class="close" type="button" aria-label="Close chat">&times;</button></header>' +
    '<form class="prechat" hidden novalidate aria-label="Before we start"></form>' +
    '<div class="log" role="log" aria-live="polite" aria-relevant="additions" tabindex="0" aria-label="Conversation">' +
    '<div class="earlier"></div><p class="welcome"></p>' +
    '<div class="typing" hidden aria-live="polite">Typing…</div></div>' +
    '<div class="status" role="status" aria-live="polite"></div>' +
    '<div class="error" role="alert"></div>' +
    '<form class="compose">' +
    '<button class="attach" type="button" aria-label="Attach a file">+</button>' +
    '<input class="file" type="file" hidden tabindex="-1" aria-hidden="true">' +
    '<label class="sr" for="tl-input">Message</label>' +
    '<textarea id="tl-input" rows="1" placeholder="Type a message…"></textarea>' +
    '<button class="send" type="submit">Send</button></form>' +
    "</section>";

  function $(sel) {
    return root.querySelector(sel);
  }
  var launcher = $(".launcher");
  var badge = $(".badge");
  var unreadLive = $(".unread-live");
  var panel = $(".panel");
  var log = $(".log");
  var typingEl = $(".typing");
  var earlierBox = $(".earlier"); // the visitor's earlier conversations, oldest first
  var welcomeEl = $(".welcome");
  var statusEl = $(".status");
  var errorEl = $(".error");
  var compose = $("form.compose");
  var input = $("textarea");
  var fileInput = $(".file");
  var prechatForm = $("form.prechat");

  function applyConfig() {
    host.style.setProperty("--tl-color", config.color || "#2f6fed");
    $("#tl-title").textContent = config.title || "Chat with us";
    $(".sub").textContent = config.subtitle || "";
    // Shown while the log is empty (CSS hides it once there is a message).
    welcomeEl.textContent = config.welcome || "Ask us anything, we are here to help.";
  }
  applyConfig();

  function mount() {
    if (!host.isConnected) document.body.appendChild(host);
  }
  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount);

  fetch(BASE + "/webchat/config?channel=" + encodeURIComponent(CHANNEL))
    .then(function (r) {
      return r.ok ? r.json() : null;
    })
    .then(function (c) {
      if (c) {
        config = c;
        applyConfig();
        renderPrechat();
      }
    })
    .catch(function () {
      /* the defaults are enough to chat */
    });

  // --- rendering -----------------------------------------------------------------------------
  function showError(text) {
    errorEl.textContent = text || "";
  }

  function newClientId() {
    var a = new Uint8Array(12);
    crypto.getRandomValues(a);
    return Array.prototype.map
      .call(a, function (b) {
        return ("0" + b.toString(16)).slice(-2);
      })
      .join("");
  }

  // Who wrote an outbound message, for its style: the bot, an agent (named), or Threadline's
  // own notices about the hand-off (author "system").
  function authorKind(m) {
    if (m.direction === "inbound") return "";
    if (m.author === "system") return "notice";
    return String(m.author || "").indexOf("agent:") === 0 ? "agent" : "bot";
  }

  function fillMessage(el, m) {
    el.textContent = "";
    var kind = authorKind(m);
    el.className = "msg " + (m.direction === "inbound" ? "inbound" : "outbound") + (kind ? " " + kind : "");
    if (kind === "agent" && m.author_name) {
      var who = document.createElement("div");
      who.className = "author";
      who.textContent = m.author_name; // plain text: a name never becomes markup
      el.appendChild(who);
    }
    if (m.text) {
      var t = document.createElement("div");
      t.textContent = m.text;
      el.appendChild(t);
    }
    (m.media || []).forEach(function (media) {
      if ((media.content_type || "").indexOf("image/") === 0) {
        var img = document.createElement("img");
        img.src = media.url;
        img.alt = media.filename || "image";
        el.appendChild(img);
      } else {
        var a = document.createElement("a");
        a.href = media.url;
        a.target = "_blank";
        a.rel = "noopener noreferrer";
        a.textContent = media.filename || "attachment";
        el.appendChild(a);
      }
    });
    if (m.choices && m.choices.length && m.direction === "outbound") {
      var box = document.createElement("div");
      box.className = "choices";
      box.setAttribute("role", "group");
      box.setAttribute("aria-label", "Choose an answer");
      m.choices.forEach(function (c) {
        var b = document.createElement("button");
        b.type = "button";
        b.textContent = c.label || c.title || c.id;
        b.addEventListener("click", function () {
          box.querySelectorAll("button").forEach(function (x) {
            x.disabled = true;
          });
          sendMessage({ text: b.textContent, choice_id: c.id });
        });
        box.appendChild(b);
      });
      el.appendChild(box);
    }
  }

  function insertBySeq(el, seq) {
    var after = null;
    var nodes = log.querySelectorAll(".msg[data-seq]");
    for (var i = 0; i < nodes.length; i++) {
      if (Number(nodes[i].getAttribute("data-seq")) > seq) {
        after = nodes[i];
        break;
      }
    }
    log.insertBefore(el, after || typingEl);
  }

  function disableOldChoices() {
    // Only the latest bot message's buttons still make sense.
    var groups = log.querySelectorAll(".choices");
    for (var i = 0; i < groups.length - 1; i++) {
      groups[i].querySelectorAll("button").forEach(function (b) {
        b.disabled = true;
      });
    }
    var last = bySeq[maxSeq];
    if (groups.length && last && last.classList.contains("inbound")) {
      groups[groups.length - 1].querySelectorAll("button").forEach(function (b) {
        b.disabled = true;
      });
    }
  }

  function render(m) {
    var el = bySeq[m.seq];
    var fresh = !el;
    if (m.client_id && pending[m.client_id]) {
      el = el || pending[m.client_id].el;
      delete pending[m.client_id];
      el.classList.remove("pending");
    }
    if (!el) el = document.createElement("div");
    fillMessage(el, m);
    showTime(el, m.time);
    el.setAttribute("data-seq", String(m.seq));
    el.setAttribute("data-id", m.id);
    if (fresh) {
      bySeq[m.seq] = el;
      if (el.parentNode) el.parentNode.removeChild(el);
      insertBySeq(el, m.seq);
    }
    if (m.seq > maxSeq) maxSeq = m.seq;
    if (m.direction === "outbound") showTyping("", false);
    if (agentReadSeq) showAgentRead();
    disableOldChoices();
    if (fresh) {
      log.scrollTop = log.scrollHeight;
      emit("message", m);
    }
    return fresh;
  }

  function showTime(el, time) {
    // The message's stored time, in the visitor's own clock; the date too if not today.
    var when = time ? new Date(time) : null;
    if (!when || isNaN(when.getTime())) return;
    var stamp = document.createElement("time");
    stamp.setAttribute("datetime", time);
    var format = { hour: "2-digit", minute: "2-digit" };
    if (when.toDateString() !== new Date().toDateString()) {
      format.month = "short";
      format.day = "numeric";
    }
    stamp.textContent = when.toLocaleString([], format);
    el.appendChild(stamp);
  }

  // --- earlier conversations -------------------------------------------------------------------
  // After an agent closes the conversation, the visitor's next message opens a new one (its seqs
  // start again at 1). What they read stays above it, read-only, after a divider; a new page
  // asks for it with `history` (the server names the conversation before each one).
  var MAX_EARLIER = 3; // conversations shown above the current one
  var NO_LIMIT_SEQ = 9007199254740991; // `before` for "the latest messages"
  var earlierIds = {}; // conversation id -> its section (or true while asked for)

  function earlierSection(conversationId, newest) {
    if (earlierIds[conversationId] && earlierIds[conversationId] !== true) {
      return earlierIds[conversationId];
    }
    var section = document.createElement("div");
    section.className = "conversation-earlier";
    section.setAttribute("data-conversation", conversationId);
    var divider = document.createElement("div");
    divider.className = "divider";
    divider.setAttribute("role", "separator");
    divider.textContent = "New conversation";
    section.appendChild(divider);
    earlierBox.insertBefore(section, newest ? null : earlierBox.firstChild);
    earlierIds[conversationId] = section;
    return section;
  }

  function freeze(el) {
    // A closed conversation's messages: no seq of the current one, no buttons to press.
    el.removeAttribute("data-seq");
    el.classList.remove("seen");
    el.querySelectorAll("button").forEach(function (b) {
      b.disabled = true;
    });
  }

  function archiveCurrent(conversationId) {
    if (!Object.keys(bySeq).length) return clearLog(); // nothing was shown: nothing to keep
    var section = earlierSection(conversationId, true);
    var divider = section.lastChild;
    Object.keys(bySeq)
      .map(Number)
      .sort(function (a, b) {
        return a - b;
      })
      .forEach(function (seq) {
        freeze(bySeq[seq]);
        section.insertBefore(bySeq[seq], divider);
      });
    bySeq = {};
    clearLog();
  }

  function loadEarlier(conversationId) {
    if (!conversationId || earlierIds[conversationId]) return;
    if (Object.keys(earlierIds).length >= MAX_EARLIER) return;
    earlierIds[conversationId] = true;
    send({ type: "history", conversation_id: conversationId, before: NO_LIMIT_SEQ, limit: 50 });
  }

  function renderEarlier(conversationId, messages) {
    if (!messages.length) return; // nothing to keep (its own earlier one is still asked for)
    var section = earlierSection(conversationId, false);
    if (section.querySelector(".msg")) return; // shown already
    messages.forEach(function (m) {
      var el = document.createElement("div");
      fillMessage(el, m);
      showTime(el, m.time);
      freeze(el);
      section.insertBefore(el, section.lastChild);
    });
  }

  function dropPending() {
    // Only when the visitor logs out or another user signs in: what was typed is not theirs.
    Object.keys(pending).forEach(function (k) {
      var el = pending[k].el;
      if (el.parentNode) el.parentNode.removeChild(el);
    });
    pending = {};
  }

  /* Forget the conversation shown; `all`: the earlier ones too. Messages typed and not yet
     confirmed stay, and are sent (again) on the next session frame: they are the visitor's. */
  function clearLog(all) {
    Object.keys(bySeq).forEach(function (s) {
      var el = bySeq[s];
      if (el.parentNode) el.parentNode.removeChild(el);
    });
    if (all) {
      earlierBox.textContent = "";
      earlierIds = {};
    }
    bySeq = {};
    maxSeq = 0;
    readSeq = 0;
    agentReadSeq = 0;
    showTyping("", false);
    updateUnread();
  }

  function showTyping(author, typing) {
    clearTimeout(typingTimer);
    typingEl.textContent = author === "agent" ? "Agent is typing…" : "Typing…";
    typingEl.hidden = !typing;
    // Desks repeat "typing" while the agent types; a desk that vanished must not leave it on.
    if (typing && author === "agent") {
      typingTimer = setTimeout(function () {
        typingEl.hidden = true;
      }, 6000);
    }
  }

  function showAgentRead() {
    // One "Seen" mark, under the visitor's latest message an agent has read.
    var latest = 0;
    Object.keys(bySeq).forEach(function (s) {
      var n = Number(s);
      bySeq[s].classList.remove("seen");
      if (n <= agentReadSeq && n > latest && bySeq[s].classList.contains("inbound")) latest = n;
    });
    if (latest) bySeq[latest].classList.add("seen");
  }

  function unreadCount() {
    var n = 0;
    Object.keys(bySeq).forEach(function (s) {
      if (Number(s) > readSeq && bySeq[s].classList.contains("outbound")) n++;
    });
    return n;
  }

  function updateUnread() {
    var n = isOpen ? 0 : unreadCount();
    badge.hidden = n === 0;
    badge.textContent = n > 9 ? "9+" : String(n);
    launcher.setAttribute("aria-label", n ? "Open chat, " + n + " unread" : "Open chat");
    unreadLive.textContent = n ? n + " unread chat messages" : "";
  }

  function markRead() {
    if (!isOpen || document.visibilityState === "hidden" || maxSeq <= readSeq) return;
    readSeq = maxSeq;
    send({ type: "read", seq: maxSeq });
    updateUnread();
  }

  // --- socket --------------------------------------------------------------------------------
  function send(frame) {
    if (ws && ws.readyState === 1 && ready) {
      ws.send(JSON.stringify(frame));
      return true;
    }
    return false;
  }

  function identity() {
    try {
      return JSON.parse(store.get("identity") || "null");
    } catch (e) {
      return null;
    }
  }

  function connect() {
    if (stopped || (ws && ws.readyState <= 1)) return;
    clearTimeout(retryTimer);
    var q = ["channel=" + encodeURIComponent(CHANNEL)];
    var token = store.get("token");
    if (token) q.push("token=" + encodeURIComponent(token));
    if (maxSeq > 0) q.push("after=" + maxSeq); // only what this page has not rendered
    var who = identity();
    if (who && who.userId) {
      q.push("user_id=" + encodeURIComponent(who.userId));
      q.push("user_hash=" + encodeURIComponent(who.userHash || ""));
    }
    statusEl.textContent = attempt ? "Reconnecting…" : "Connecting…";
    var socket = new WebSocket(WS_URL + "?" + q.join("&"));
    ws = socket;
    socket.onmessage = function (ev) {
      if (socket !== ws) return;
      var f;
      try {
        f = JSON.parse(ev.data);
      } catch (e) {
        return;
      }
      onFrame(f);
    };
    socket.onclose = function (ev) {
      if (socket !== ws) return;
      ws = null;
      ready = false;
      typingEl.hidden = true;
      if (ev.code === 4403) {
        stopped = true;
        statusEl.textContent = "Chat unavailable";
        return;
      }
      if (stopped) return;
      statusEl.textContent = "Offline, reconnecting…";
      // Exponential backoff with full jitter, so a restarted server is not stampeded.
      var ceiling = Math.min(30000, 500 * Math.pow(2, attempt));
      attempt++;
      var delay = Math.max(250, Math.random() * ceiling);
      if (ev.code === 4429) {
        // Too many new chats from this network: not before the server's delay (jittered).
        statusEl.textContent = "Chat is busy, retrying shortly…";
        delay = retryAfter * 1000 * (1 + Math.random() / 2);
      }
      retryTimer = setTimeout(connect, delay);
    };
  }

  function onFrame(f) {
    switch (f.type) {
      case "session":
        attempt = 0;
        if (!f.resumed) {
          clearLog(true); // another visitor's session: nothing shown is theirs
        } else if (lastConversation && f.conversation_id !== lastConversation) {
          archiveCurrent(lastConversation); // closed meanwhile (another tab may have a new one)
        }
        ready = true;
        lastConversation = f.conversation_id; // null until the visitor writes
        store.set("token", f.token);
        readSeq = Math.max(readSeq, f.read_seq || 0);
        prechatState = f.prechat || "none";
        statusEl.textContent = "";
        showPrechat(prechatState === "required");
        if (maxSeq === 0 && f.resumed) {
          // A new page: the server replays what was not acknowledged, the rest is history (and
          // its answer names the visitor's earlier conversation, shown above).
          send({ type: "history", before: (f.acked_seq || 0) + 1, limit: 50 });
        }
        if (isOpen) send({ type: "opened" }); // a greeting chat's flow speaks first
        Object.keys(pending).forEach(function (k) {
          send(pending[k].frame); // same client_id: the server stores it once
        });
        emit("session", { conversationId: f.conversation_id, userId: f.user_id || null });
        break;
      case "conversation":
        // The visitor's first message (or form, or opening a greeting chat) opened it; another
        // tab may have written first: fetch what it already holds. After the conversation shown
        // was closed, the visitor's next message opens a new one whose seqs start again at 1.
        if (lastConversation && f.conversation_id !== lastConversation) {
          archiveCurrent(lastConversation); // kept above the new one
        }
        lastConversation = f.conversation_id;
        if (f.last_seq > maxSeq) send({ type: "history", before: f.last_seq + 1, limit: 50 });
        emit("conversation", { conversationId: f.conversation_id });
        break;
      case "message":
        render(f);
        send({ type: "ack", seq: maxSeq });
        if (isOpen) markRead();
        else updateUnread();
        break;
      case "history":
        if (f.conversation_id && f.conversation_id !== lastConversation) {
          renderEarlier(f.conversation_id, f.messages);
        } else {
          f.messages.forEach(render);
          updateUnread();
        }
        if (!f.more) loadEarlier(f.previous_conversation_id);
        break;
      case "typing":
        if (f.author !== "visitor") showTyping(f.author, f.typing);
        if (f.typing) log.scrollTop = log.scrollHeight;
        break;
      case "read":
        if (f.reader === "visitor") {
          readSeq = Math.max(readSeq, f.seq);
          updateUnread();
        } else if (f.reader === "agent" && f.seq > agentReadSeq) {
          agentReadSeq = f.seq;
          showAgentRead();
        }
        emit("read", f);
        break;
      case "prechat_saved":
        prechatState = "done";
        showPrechat(false);
        input.focus();
        break;
      case "error":
        if (f.code === "invalid_token") clearLog(true);
        if (f.code === "rate_limited" && f.retry_after > 0) retryAfter = f.retry_after;
        showError(f.message);
        break;
    }
  }
  var lastConversation = null;

  function sendMessage(fields) {
    var clientId = newClientId();
    var frame = { type: "message", text: fields.text || "", client_id: clientId };
    if (fields.choice_id) frame.choice_id = fields.choice_id;
    if (fields.attachments) frame.attachments = fields.attachments;
    var el = document.createElement("div");
    fillMessage(el, { direction: "inbound", text: frame.text, media: fields.media });
    el.classList.add("pending");
    log.insertBefore(el, typingEl);
    log.scrollTop = log.scrollHeight;
    pending[clientId] = { frame: frame, el: el };
    showError("");
    if (!send(frame)) connect(); // queued: sent when the session frame arrives
  }

  // --- pre-chat form -------------------------------------------------------------------------
  function renderPrechat() {
    var fields = (config.prechat && config.prechat.fields) || [];
    prechatForm.textContent = "";
    if (!fields.length) return;
    var intro = document.createElement("p");
    intro.textContent = "Before we start, tell us a little about you.";
    prechatForm.appendChild(intro);
    fields.forEach(function (spec) {
      var label = document.createElement("label");
      label.textContent = spec.label + (spec.required ? " *" : "");
      var control;
      if (spec.type === "select") {
        control = document.createElement("select");
        [""].concat(spec.options || []).forEach(function (o) {
          var opt = document.createElement("option");
          opt.value = o;
          opt.textContent = o || "—";
          control.appendChild(opt);
        });
      } else if (spec.type === "textarea") {
        control = document.createElement("textarea");
      } else {
        control = document.createElement("input");
        control.type = spec.type || "text";
        if (spec.type === "email") control.autocomplete = "email";
        if (spec.name === "name") control.autocomplete = "name";
      }
      control.name = spec.name;
      if (spec.required) {
        control.required = true;
        control.setAttribute("aria-required", "true");
      }
      label.appendChild(control);
      prechatForm.appendChild(label);
    });
    var go = document.createElement("button");
    go.type = "submit";
    go.textContent = "Start chat";
    prechatForm.appendChild(go);
    showPrechat(prechatState === "required");
  }

  function showPrechat(show) {
    var fields = (config.prechat && config.prechat.fields) || [];
    var on = show && fields.length > 0;
    prechatForm.hidden = !on;
    log.hidden = on;
    compose.hidden = on;
    if (on && isOpen) {
      var first = prechatForm.querySelector("input,select,textarea");
      if (first) first.focus();
    }
  }

  prechatForm.addEventListener("submit", function (ev) {
    ev.preventDefault();
    if (!prechatForm.reportValidity()) return;
    var values = {};
    prechatForm.querySelectorAll("input,select,textarea").forEach(function (c) {
      values[c.name] = c.value;
    });
    send({ type: "prechat", fields: values });
  });

  // --- uploads -------------------------------------------------------------------------------
  function upload(file) {
    var token = store.get("token");
    if (!token) {
      showError("Not connected yet, try again in a moment.");
      return;
    }
    var max = config.uploads && config.uploads.max_bytes;
    if (max && file.size > max) {
      showError("That file is too large (max " + Math.round(max / 1048576) + " MB).");
      return;
    }
    var body = new FormData();
    body.append("file", file, file.name);
    statusEl.textContent = "Uploading " + file.name + "…";
    fetch(BASE + "/channels/webchat/uploads", {
      method: "POST",
      headers: { Authorization: "Bearer " + token },
      body: body,
    })
      .then(function (r) {
        return r.json().then(function (j) {
          return { ok: r.ok, body: j };
        });
      })
      .then(function (res) {
        statusEl.textContent = "";
        if (!res.ok) {
          showError((res.body.error && res.body.error.message) || "Upload failed.");
          return;
        }
        sendMessage({ text: "", attachments: [res.body.id], media: [res.body] });
      })
      .catch(function () {
        statusEl.textContent = "";
        showError("Upload failed, check your connection.");
      });
  }

  // --- events --------------------------------------------------------------------------------
  function open() {
    if (!mayWrite) {
      mayWrite = true; // the visitor interacted: storage and socket are now allowed
      store.flush();
    }
    stopped = false;
    isOpen = true;
    panel.hidden = false;
    launcher.setAttribute("aria-expanded", "true");
    connect();
    send({ type: "opened" }); // not connected yet: sent with the session frame
    showPrechat(prechatState === "required");
    if (prechatForm.hidden) input.focus();
    markRead();
    updateUnread();
    emit("open");
  }

  function close() {
    isOpen = false;
    panel.hidden = true;
    launcher.setAttribute("aria-expanded", "false");
    launcher.focus();
    updateUnread();
    emit("close");
  }

  launcher.addEventListener("click", function () {
    if (isOpen) close();
    else open();
  });
  $(".close").addEventListener("click", close);
  panel.addEventListener("keydown", function (ev) {
    if (ev.key === "Escape") {
      ev.stopPropagation();
      close();
    }
  });
  compose.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var text = input.value.trim();
    if (!text) return;
    input.value = "";
    send({ type: "typing", typing: false });
    typingSent = 0;
    sendMessage({ text: text });
  });
  input.addEventListener("keydown", function (ev) {
    if (ev.key === "Enter" && !ev.shiftKey) {
      ev.preventDefault();
      compose.requestSubmit();
    }
  });
  input.addEventListener("input", function () {
    var now = Date.now();
    if (now - typingSent > 3000 && input.value) {
      typingSent = now;
      send({ type: "typing", typing: true });
    }
  });
  $(".attach").addEventListener("click", function () {
    fileInput.click();
  });
  fileInput.addEventListener("change", function () {
    if (fileInput.files && fileInput.files[0]) upload(fileInput.files[0]);
    fileInput.value = "";
  });
  document.addEventListener("visibilitychange", markRead);
  window.addEventListener("online", function () {
    if (!ws && !stopped && (isOpen || store.get("token"))) {
      attempt = 0;
      connect();
    }
  });

  // A returning visitor (token stored) reconnects at once, for history and the unread count;
  // a new visitor opens no socket until they open the widget.
  if (store.get("token")) connect();

  // --- public API ----------------------------------------------------------------------------
  function dropSocket() {
    stopped = true;
    clearTimeout(retryTimer);
    if (ws) {
      var old = ws;
      ws = null;
      old.close();
    }
    ready = false;
  }

  window.Threadline = {
    version: "1",
    open: open,
    close: close,
    toggle: function () {
      if (isOpen) close();
      else open();
    },
    send: function (text) {
      if (text) sendMessage({ text: String(text) });
    },
    /* Log out: forget the session, close the socket; the next open starts a new session. */
    reset: function () {
      dropSocket();
      store.clear();
      clearLog(true);
      dropPending();
      lastConversation = null;
      prechatState = "none";
      showPrechat(false);
      stopped = false;
      if (isOpen) connect();
    },
    /* Sign the visitor in: userHash = hex HMAC-SHA256(userId, channel secret), made by your server. */
    identify: function (who) {
      var next = who && who.userId ? { userId: String(who.userId), userHash: String(who.userHash || "") } : null;
      var current = identity();
      if (JSON.stringify(current) === JSON.stringify(next)) return;
      store.set("identity", next ? JSON.stringify(next) : "");
      var wasLive = !!ws || isOpen;
      dropSocket();
      clearLog(true); // the next session may be another user's: never show this one's messages
      dropPending();
      stopped = false;
      if (wasLive || store.get("token")) connect();
    },
    on: function (name, cb) {
      (listeners[name] = listeners[name] || []).push(cb);
    },
    /* For tests and debugging: drop the socket as a network failure would. */
    _dropConnection: function () {
      if (ws) ws.close(4000, "dropped");
    },
  };
  emit("ready");
})();
