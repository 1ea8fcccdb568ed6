// Baton chat widget. Served by /widget.js with I18N (one JSON file per
// language in widget/i18n) passed in by the server. Everything lives in an
// open shadow root so the shop's CSS and ours never meet, and every text is
// put into the page as text, never as HTML.
(function (I18N, CSS) {
  "use strict";
  if (window.Baton && window.Baton.__loaded) return;

  var script = document.currentScript ||
    document.querySelector('script[src*="widget.js"][data-key]');
  if (!script) return;
  var KEY = script.getAttribute("data-key");
  if (!KEY) return;
  var BASE = new URL(script.src, location.href);
  var WS_URL = (BASE.protocol === "https:" ? "wss://" : "ws://") + BASE.host +
    "/v1/widget/ws?key=" + encodeURIComponent(KEY);
  var STORE = "baton:" + KEY;

  function pickLocale(l) {
    l = String(l || "").toLowerCase().split(/[-_]/)[0];
    return I18N[l] ? l : "";
  }
  var locale = pickLocale(script.getAttribute("data-locale")) ||
    pickLocale(document.documentElement.lang) || "en";
  function t(k, vars) {
    var s = (I18N[locale] && I18N[locale][k]) || I18N.en[k] || k;
    if (vars) for (var v in vars) s = s.split("{" + v + "}").join(String(vars[v]));
    return s;
  }

  // --- storage: the conversation survives reloads --------------------------
  function load() {
    try { return JSON.parse(localStorage.getItem(STORE) || "null"); } catch (e) { return null; }
  }
  function save(s) {
    try { if (s) localStorage.setItem(STORE, JSON.stringify(s)); else localStorage.removeItem(STORE); } catch (e) { /* private mode */ }
  }

  // --- DOM -----------------------------------------------------------------
  function el(tag, attrs, kids) {
    var n = document.createElement(tag);
    if (attrs) for (var a in attrs) {
      if (a === "text") n.textContent = attrs[a];
      else if (a === "class") n.className = attrs[a];
      else if (a.slice(0, 2) === "on") n.addEventListener(a.slice(2), attrs[a]);
      else n.setAttribute(a, attrs[a]);
    }
    (kids || []).forEach(function (k) { if (k) n.appendChild(k); });
    return n;
  }

  // Text with http(s) links made clickable, and [label](url) links shown by
  // label. Nothing is ever parsed as HTML.
  function richText(text) {
    var frag = document.createDocumentFragment();
    var re = /\[([^\]\n]{1,200})\]\((https?:\/\/[^\s)]+)\)|(https?:\/\/[^\s<>"']+[^\s<>"'.,;:!?)\]])/g;
    var last = 0, m;
    while ((m = re.exec(text))) {
      if (m.index > last) frag.appendChild(document.createTextNode(text.slice(last, m.index)));
      var href = m[2] || m[3], label = m[1] || m[3], ok = false;
      try { var u = new URL(href); ok = u.protocol === "http:" || u.protocol === "https:"; } catch (e) { ok = false; }
      if (ok) {
        frag.appendChild(el("a", { href: href, target: "_blank", rel: "noopener noreferrer nofollow", text: label }));
      } else {
        frag.appendChild(document.createTextNode(m[0]));
      }
      last = re.lastIndex;
    }
    if (last < text.length) frag.appendChild(document.createTextNode(text.slice(last)));
    return frag;
  }

  var host = el("div", { id: "baton-chat", "data-baton": "" });
  var root = host.attachShadow({ mode: "open" });
  root.appendChild(el("style", { text: CSS }));

  var badge = el("span", { class: "badge", hidden: "", "aria-hidden": "true" });
  var launcher = el("button", { class: "launcher", type: "button", "aria-label": t("launcher"),
    "aria-expanded": "false", "aria-controls": "baton-panel", part: "launcher" }, [
    el("span", { class: "icon", "aria-hidden": "true", text: "💬" }), badge]);
  var log = el("div", { class: "log", role: "log", "aria-live": "polite", "aria-label": t("title"), tabindex: "0" });
  var statusLine = el("div", { class: "status", role: "status", "aria-live": "polite" });
  var typingLine = el("div", { class: "typing", "aria-live": "polite" });
  var input = el("textarea", { class: "input", rows: "1", "aria-label": t("composer"), placeholder: t("composer"), maxlength: "4000" });
  var sendBtn = el("button", { class: "send", type: "submit", "aria-label": t("send"), text: "➤" });
  var form = el("form", { class: "composer", onsubmit: function (e) { e.preventDefault(); submit(); } }, [input, sendBtn]);
  var personBtn = el("button", { class: "person", type: "button", text: t("person"), onclick: function () { send({ type: "handoff_request" }); } });
  var endBtn = el("button", { class: "end", type: "button", text: t("endChat"), onclick: function () { send({ type: "close" }); } });
  var closeBtn = el("button", { class: "x", type: "button", "aria-label": t("close"), text: "×", onclick: function () { toggle(false); } });
  var actions = el("div", { class: "actions" }, [personBtn, endBtn]);
  var panel = el("div", { class: "panel", id: "baton-panel", role: "dialog", "aria-label": t("title"), hidden: "" }, [
    el("div", { class: "head" }, [el("h2", { text: t("title") }), closeBtn]),
    log, typingLine, statusLine, actions, form]);
  root.appendChild(launcher);
  root.appendChild(panel);

  launcher.addEventListener("click", function () { toggle(panel.hidden); });
  panel.addEventListener("keydown", function (e) {
    if (e.key === "Escape") { toggle(false); }
  });
  input.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); submit(); }
  });
  input.addEventListener("input", function () { typing(input.value.length > 0); });

  // --- state ---------------------------------------------------------------
  var saved = load();
  var conv = saved && saved.conversation_id ? saved : null;
  var lastSeq = 0;          // highest seq shown in this page
  var shown = {};           // seq -> true
  var pending = {};         // client_id -> {text, node}
  var ws = null, attempts = 0, timer = null, started = false, wantOpen = false;
  var identity = script.getAttribute("data-identity") || "";
  var status = "", unread = 0, agentName = "", handoffAvailable = true, ended = false;
  var typingTimer = null, typingSent = false, typingRemote = null;

  function toggle(open) {
    panel.hidden = !open;
    launcher.setAttribute("aria-expanded", String(open));
    launcher.setAttribute("aria-label", open ? t("launcherClose") : t("launcher"));
    if (open) {
      wantOpen = true;
      unread = 0; renderBadge();
      connect();
      setTimeout(function () { input.focus(); }, 0);
    } else {
      launcher.focus();
    }
  }

  function renderBadge() {
    badge.hidden = unread === 0;
    badge.textContent = unread > 9 ? "9+" : String(unread);
    launcher.setAttribute("aria-label", (panel.hidden ? t("launcher") : t("launcherClose")) +
      (unread ? " (" + t("unread", { n: unread }) + ")" : ""));
  }

  function scrollDown() { log.scrollTop = log.scrollHeight; }

  function roleLabel(m) {
    if (m.role === "visitor") return t("you");
    if (m.role === "agent") return m.author || t("agent");
    if (m.role === "assistant") return t("assistant");
    return t("system");
  }

  function renderMessage(m) {
    if (shown[m.seq]) return;
    shown[m.seq] = true;
    if (m.seq > lastSeq) lastSeq = m.seq;
    if (m.client_id && pending[m.client_id]) {
      var p = pending[m.client_id];
      if (p.node.parentNode) p.node.parentNode.removeChild(p.node);
      delete pending[m.client_id];
    }
    var node = el("div", { class: "msg " + m.role, "data-seq": String(m.seq), "data-role": m.role }, [
      el("span", { class: "who", text: roleLabel(m) }),
      el("p", { class: "text" }, [richText(m.text)])]);
    // Entries arrive in seq order; pending bubbles stay below them.
    var firstPending = log.querySelector(".msg.pending");
    log.insertBefore(node, firstPending);
    if (panel.hidden && m.role !== "visitor") { unread++; renderBadge(); }
    scrollDown();
    if (conv) { conv.last_seq = lastSeq; save(conv); }
  }

  function removePrompt() {
    var p = log.querySelectorAll(".prompt");
    for (var i = 0; i < p.length; i++) p[i].parentNode.removeChild(p[i]);
  }

  function showOffer(text) {
    removePrompt();
    var yes = el("button", { type: "button", class: "yes", text: t("yes"), onclick: function () { send({ type: "handoff_reply", accept: true }); removePrompt(); } });
    var no = el("button", { type: "button", class: "no", text: t("no"), onclick: function () { send({ type: "handoff_reply", accept: false }); removePrompt(); } });
    log.appendChild(el("div", { class: "prompt offer", role: "group", "aria-label": text }, [
      el("p", { text: text }), el("div", { class: "buttons" }, [yes, no])]));
    scrollDown();
    if (!panel.hidden) yes.focus();
  }

  function showEmailRequest(text) {
    removePrompt();
    var field = el("input", { type: "email", class: "email", required: "", autocomplete: "email", "aria-label": t("emailLabel"), placeholder: t("emailLabel") });
    var err = el("p", { class: "field-error", role: "alert", hidden: "" });
    field.setAttribute("aria-describedby", "baton-email-error");
    err.id = "baton-email-error";
    var f = el("form", { class: "prompt email-form", onsubmit: function (e) {
      e.preventDefault();
      err.hidden = true;
      field.removeAttribute("aria-invalid");
      send({ type: "email", email: field.value.trim() });
    } }, [el("p", { text: text }), field, el("button", { type: "submit", text: t("emailSend") }), err]);
    log.appendChild(f);
    scrollDown();
    if (!panel.hidden) field.focus();
  }

  function emailError(msg) {
    var err = root.getElementById("baton-email-error");
    var field = root.querySelector(".email");
    if (!err) { setStatus(msg); return; }
    err.textContent = msg;
    err.hidden = false;
    if (field) { field.setAttribute("aria-invalid", "true"); field.focus(); }
  }

  function setStatus(text) { statusLine.textContent = text || ""; }

  function showEnded(reason) {
    ended = true;
    removePrompt();
    form.hidden = true;
    actions.hidden = true;
    var again = el("button", { type: "button", class: "new", text: t("newChat"), onclick: newConversation });
    log.appendChild(el("div", { class: "ended prompt" }, [el("p", { text: reason === "ticketed" ? t("ticketed") : t("ended") }), again]));
    setStatus("");
    scrollDown();
  }

  function newConversation() {
    save(null);
    conv = null; lastSeq = 0; shown = {}; pending = {}; ended = false; status = "";
    while (log.firstChild) log.removeChild(log.firstChild);
    greet();
    form.hidden = false; actions.hidden = false;
    if (ws) { try { ws.close(1000); } catch (e) { /* closed */ } }
    ws = null; started = false;
    connect();
    input.focus();
  }

  function greet() {
    log.appendChild(el("div", { class: "msg assistant greeting" }, [
      el("span", { class: "who", text: t("assistant") }), el("p", { class: "text", text: t("greeting") })]));
  }

  // --- socket ----------------------------------------------------------------
  function connect() {
    if (ws || timer) return;
    if (navigator.onLine === false) { setStatus(t("offline")); return; }
    var s;
    try { s = new WebSocket(WS_URL); } catch (e) { retry(); return; }
    ws = s;
    s.onopen = function () {
      var hello = { type: "hello", locale: locale, page: location.href.slice(0, 2000) };
      if (conv) {
        hello.conversation_id = conv.conversation_id;
        hello.resume_token = conv.resume_token;
        hello.last_seq = lastSeq;
      }
      if (identity) hello.identity = identity;
      s.send(JSON.stringify(hello));
    };
    s.onmessage = function (ev) {
      var f;
      try { f = JSON.parse(ev.data); } catch (e) { return; }
      onFrame(f);
    };
    s.onclose = function (ev) {
      if (ws !== s) return;
      ws = null; started = false;
      if (ev.code === 1000 && ended) return;
      if (ev.code === 1008 && !conv) return; // refused outright
      retry(ev.code === 1012 || ev.code === 1013);
    };
    s.onerror = function () { /* onclose follows */ };
  }

  function retry(soon) {
    if (timer) return;
    setStatus(t("reconnecting"));
    var base = soon ? 250 : Math.min(15000, 500 * Math.pow(2, attempts));
    attempts++;
    var delay = base / 2 + Math.random() * base / 2; // jitter: never all at once
    timer = setTimeout(function () { timer = null; connect(); }, delay);
  }

  window.addEventListener("online", function () { if (!ws && (wantOpen || conv)) connect(); });

  function send(f) {
    if (ws && started && ws.readyState === 1) { ws.send(JSON.stringify(f)); return true; }
    return false;
  }

  function onFrame(f) {
    switch (f.type) {
      case "welcome":
        attempts = 0; started = true;
        if (!conv || conv.conversation_id !== f.conversation_id) {
          conv = { conversation_id: f.conversation_id, resume_token: f.resume_token, last_seq: 0 };
        }
        if (f.recovered === false) { lastSeq = 0; shown = {}; clearMessages(); }
        save(conv);
        handoffAvailable = f.handoff_available !== false;
        personBtn.hidden = !handoffAvailable;
        status = f.status;
        setStatus(f.office && !f.office.open && f.office.next_open ? t("closedHours") : "");
        // Messages typed while the socket was down go now, with the same
        // client_id: the gateway stores each once.
        Object.keys(pending).forEach(function (id) { send({ type: "message", client_id: id, text: pending[id].text }); });
        break;
      case "message":
        if (f.role === "agent" || f.role === "assistant") showTyping(null);
        renderMessage(f);
        break;
      case "handoff_offer":
        showOffer(f.text); break;
      case "email_request":
        showEmailRequest(f.text); break;
      case "status":
        status = f.status;
        if (f.status !== "handoff_offered" && f.status !== "awaiting_email") removePrompt();
        if (f.status === "queued") setStatus(f.queue_position ? t("queued", { n: f.queue_position }) : t("queuedNoPos"));
        else if (f.status === "assigned") setStatus(agentName ? t("joined", { name: agentName }) : "");
        else if (f.status === "assistant") setStatus("");
        personBtn.hidden = !handoffAvailable || f.status !== "assistant";
        break;
      case "agent_joined":
        agentName = (f.agent && f.agent.name) || t("agent");
        setStatus(t("joined", { name: agentName })); break;
      case "agent_left":
        setStatus(t("left", { name: (f.agent && f.agent.name) || t("agent") })); agentName = ""; break;
      case "typing":
        showTyping(f.active ? f.role : null); break;
      case "closed":
        showEnded(f.reason); break;
      case "error":
        onError(f); break;
    }
  }

  function clearMessages() {
    var ms = log.querySelectorAll(".msg:not(.greeting):not(.pending)");
    for (var i = 0; i < ms.length; i++) ms[i].parentNode.removeChild(ms[i]);
  }

  function onError(f) {
    switch (f.code) {
      case "invalid_resume_token":
      case "not_found":
        if (!started) { // the stored conversation is gone: start afresh
          save(null); conv = null; lastSeq = 0; shown = {}; clearMessages();
          if (ws) ws.send(JSON.stringify({ type: "hello", locale: locale, page: location.href.slice(0, 2000), identity: identity || undefined }));
        }
        break;
      case "invalid_email":
        emailError(t("invalidEmail")); break;
      case "rate_limited":
        setStatus(t("rateLimited"));
        if (f.client_id) markFailed(f.client_id);
        break;
      case "conversation_closed":
        showEnded(""); break;
      default:
        if (f.client_id) markFailed(f.client_id);
    }
  }

  function markFailed(clientID) {
    var p = pending[clientID];
    if (!p) return;
    p.node.classList.add("failed");
    if (!p.node.querySelector(".retry")) {
      p.node.appendChild(el("button", { type: "button", class: "retry", text: t("retry"), onclick: function () {
        p.node.classList.remove("failed");
        var r = p.node.querySelector(".retry"); if (r) r.parentNode.removeChild(r);
        send({ type: "message", client_id: clientID, text: p.text });
      } }));
      p.node.setAttribute("aria-label", t("sendFailed"));
    }
  }

  function showTyping(role) {
    clearTimeout(typingRemote);
    if (!role) { typingLine.textContent = ""; return; }
    typingLine.textContent = role === "agent" ? t("typingAgent", { name: agentName || t("agent") }) : t("typingAssistant");
    typingRemote = setTimeout(function () { typingLine.textContent = ""; }, 8000);
  }

  function typing(active) {
    clearTimeout(typingTimer);
    if (active !== typingSent) { typingSent = active; send({ type: "typing", active: active }); }
    if (active) typingTimer = setTimeout(function () { typing(false); }, 4000);
  }

  function newClientID() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return "c" + Date.now().toString(36) + Math.random().toString(36).slice(2);
  }

  function submit() {
    var text = input.value.trim();
    if (!text || ended) return;
    input.value = "";
    typing(false);
    var id = newClientID();
    var node = el("div", { class: "msg visitor pending", "data-client-id": id }, [
      el("span", { class: "who", text: t("you") }), el("p", { class: "text" }, [richText(text)])]);
    log.appendChild(node);
    pending[id] = { text: text, node: node };
    scrollDown();
    if (!send({ type: "message", client_id: id, text: text })) connect();
  }

  greet();
  document.body.appendChild(host);
  if (conv) connect(); // a conversation under way: show its news at once

  window.Baton = {
    __loaded: true,
    open: function () { toggle(true); },
    close: function () { toggle(false); },
    identify: function (token) {
      identity = String(token || "");
      if (!send({ type: "identify", identity: identity })) connect();
    }
  };
})(/*I18N*/, /*CSS*/);
