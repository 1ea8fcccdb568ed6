// Baton chat widget. Served by /widget.js with I18N (one JSON file per
// language in widget/i18n) and CSS passed in by the server. Everything lives
// in an open shadow root so the shop's CSS and ours never meet, and every
// text is put into the page as text, never as HTML.
(function (I18N, CSS) {
  "use strict";
  var early = window.Baton;
  if (early && early.__loaded) return;

  var script = document.currentScript ||
    document.querySelector('script[src*="widget.js"][data-key]');
  if (!script) return;
  var KEY = script.getAttribute("data-key");
  if (!KEY) return;
  var BASE = new URL(script.src, location.href);
  var WS_URL = (BASE.protocol === "https:" ? "wss://" : "ws://") + BASE.host +
    "/v1/widget/ws?key=" + encodeURIComponent(KEY);
  var STORE = "baton:" + KEY;

  // --- language: the page's, else the merchant's (learnt from welcome) ------
  function pickLocale(l) {
    l = String(l || "").toLowerCase().split(/[-_]/)[0];
    return I18N[l] ? l : "";
  }
  var pageLocale = pickLocale(script.getAttribute("data-locale")) ||
    pickLocale(document.documentElement.lang);
  var locale = pageLocale || "en";
  function t(k, vars) {
    var s = (I18N[locale] && I18N[locale][k]) || I18N.en[k] || k;
    if (vars) for (var v in vars) s = s.split("{" + v + "}").join(String(vars[v]));
    return s;
  }
  // Dates in the visitor's own regional format when it is of our language.
  function fmtLocale() {
    var nav = navigator.language || "";
    return nav.toLowerCase().indexOf(locale) === 0 ? nav : locale;
  }
  function fmt(iso, opts) {
    try { return new Intl.DateTimeFormat(fmtLocale(), opts).format(new Date(iso)); } catch (e) { return ""; }
  }

  // --- storage: the conversation survives reloads; the open panel per tab ---
  function load(store, k) {
    try { return JSON.parse(store.getItem(k) || "null"); } catch (e) { return null; }
  }
  function save(store, k, v) {
    try { if (v) store.setItem(k, JSON.stringify(v)); else store.removeItem(k); } catch (e) { /* private mode */ }
  }
  function persist() {
    if (!conv) { save(localStorage, STORE, null); return; }
    conv.pending = Object.keys(pending).map(function (id) { return { id: id, text: pending[id].text }; });
    save(localStorage, STORE, conv);
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
  function icon(d) {
    var ns = "http://www.w3.org/2000/svg";
    var s = document.createElementNS(ns, "svg");
    s.setAttribute("viewBox", "0 0 24 24");
    s.setAttribute("aria-hidden", "true");
    s.setAttribute("focusable", "false");
    var p = document.createElementNS(ns, "path");
    p.setAttribute("d", d);
    s.appendChild(p);
    return s;
  }
  var ICON_CHAT = "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z";
  var ICON_SEND = "M3 20.5 21 12 3 3.5V10l12 2-12 2z";

  function safeURL(href) {
    try { var u = new URL(href); return u.protocol === "http:" || u.protocol === "https:"; } catch (e) { return false; }
  }

  // Merchant-side text with http(s) links made clickable, and [label](url)
  // shown by label. Nothing is ever parsed as HTML; any other scheme stays
  // plain text.
  function richText(text) {
    var frag = document.createDocumentFragment();
    var re = /\[([^\]\n]{1,200})\]\(([^)\s]+)\)|(https?:\/\/[^\s<>"']+[^\s<>"'.,;:!?)\]])/g;
    var last = 0, m;
    while ((m = re.exec(text))) {
      if (m.index > last) frag.appendChild(document.createTextNode(text.slice(last, m.index)));
      var href = m[2] || m[3];
      if (safeURL(href)) {
        frag.appendChild(el("a", { href: href, target: "_blank", rel: "noopener noreferrer nofollow", text: m[1] || m[3] }));
      } else {
        frag.appendChild(document.createTextNode(m[0]));
      }
      last = re.lastIndex;
    }
    if (last < text.length) frag.appendChild(document.createTextNode(text.slice(last)));
    return frag;
  }

  // Static labels are registered so a change of language relabels them.
  var labels = [];
  function label(node, attr, key) { labels.push([node, attr, key]); return node; }
  function applyTexts() {
    labels.forEach(function (l) {
      if (l[1] === "text") l[0].textContent = t(l[2]); else l[0].setAttribute(l[1], t(l[2]));
    });
    renderBadge();
    renderStatus();
  }

  var host = el("div", { id: "baton-chat", "data-baton": "" });
  var root = host.attachShadow({ mode: "open" });
  // A constructed sheet is not blocked by a shop's style-src policy; a
  // <style> element is the fallback for older browsers.
  try {
    var sheet = new CSSStyleSheet();
    sheet.replaceSync(CSS);
    root.adoptedStyleSheets = [sheet];
  } catch (e) {
    root.appendChild(el("style", { text: CSS }));
  }

  var badge = el("span", { class: "badge", hidden: "", "aria-hidden": "true" });
  var launcher = el("button", { class: "launcher", type: "button", "aria-expanded": "false",
    "aria-controls": "baton-panel", part: "launcher" }, [icon(ICON_CHAT), badge]);
  var title = label(el("h2", { id: "baton-title" }), "text", "title");
  var log = label(el("div", { class: "log", role: "log", "aria-live": "polite", tabindex: "0" }), "aria-label", "transcript");
  var typingLine = el("div", { class: "typing", "aria-live": "polite" });
  var statusLine = el("div", { class: "status", role: "status" });
  var input = label(label(el("textarea", { class: "input", rows: "1", maxlength: "4000" }), "aria-label", "composer"), "placeholder", "composer");
  var sendBtn = label(el("button", { class: "send", type: "submit" }, [icon(ICON_SEND)]), "aria-label", "send");
  var form = el("form", { class: "composer", onsubmit: function (e) { e.preventDefault(); submit(); } }, [input, sendBtn]);
  var personBtn = label(el("button", { class: "person", type: "button", onclick: function () { intent({ type: "handoff_request" }); } }), "text", "person");
  var endBtn = label(el("button", { class: "end", type: "button", onclick: function () { intent({ type: "close" }); } }), "text", "endChat");
  var closeBtn = label(el("button", { class: "x", type: "button", text: "×", onclick: function () { toggle(false); } }), "aria-label", "close");
  var actions = el("div", { class: "actions" }, [personBtn, endBtn]);
  var panel = el("div", { class: "panel", id: "baton-panel", role: "dialog", "aria-labelledby": "baton-title", hidden: "" }, [
    el("div", { class: "head" }, [title, closeBtn]), log, typingLine, statusLine, actions, form]);
  root.appendChild(launcher);
  root.appendChild(panel);

  launcher.addEventListener("click", function () { toggle(panel.hidden); });
  panel.addEventListener("keydown", function (e) { if (e.key === "Escape") toggle(false); });
  input.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); submit(); }
  });
  input.addEventListener("input", function () {
    input.style.height = "auto";
    input.style.height = Math.min(input.scrollHeight, 120) + "px";
    typing(input.value.trim().length > 0);
  });

  // --- state ---------------------------------------------------------------
  var saved = load(localStorage, STORE);
  var conv = saved && saved.conversation_id ? saved : null;
  // An email's link lands here with #baton-reopen=TOKEN. The token opens
  // that conversation instead of the stored one; it leaves the address bar
  // at once, so it stays out of the history, bookmarks and the page sent
  // in hello.
  var reopen = "", reopenFailed = false;
  var reopenMatch = /^#baton-reopen=([A-Za-z0-9._~%-]+)$/.exec(location.hash || "");
  if (reopenMatch) {
    try { reopen = decodeURIComponent(reopenMatch[1]); } catch (e) { reopen = reopenMatch[1]; }
    try { history.replaceState(history.state, "", location.pathname + location.search); } catch (e) { /* a sandboxed page: the token stays */ }
    conv = null;
  }
  var lastSeq = 0;          // highest seq shown in this page
  var historySeq = 0;       // entries up to here were history when we connected
  var shown = {};           // seq -> true
  var pending = {};         // client_id -> {text, node, n}
  var kept = [];            // presses made while not ready: {f, n}, sent after welcome
  var order = 0;            // n: the order of what the visitor did
  var answering = "";       // "offer"/"email": a kept answer went; its prompt's replay is not shown
  var emailText = "";       // the last email request, to ask again after a bad kept address
  var ws = null, started = false, attempts = 0, timer = null;
  var identity = script.getAttribute("data-identity") || "";
  var status = "", queuePos = 0, office = null, agentName = "";
  var waitS = null;         // the wait estimate while queued, in seconds; null: none the gateway can back
  var handoffAvailable = true, ended = false, conn = "", unread = 0;
  var typingTimer = null, typingSent = false, typingRemote = null;
  var pingSent = 0, welcomed = false;
  var drafts = {};          // draft_id -> node: answers the model is still writing
  var stale = {};           // draft_id -> true: drafts dropped on a reconnect; their late deltas are not shown

  // quiet: restoring the panel on page load must not steal the focus.
  function toggle(open, quiet) {
    panel.hidden = !open;
    launcher.setAttribute("aria-expanded", String(open));
    save(sessionStorage, STORE + ":open", open ? 1 : null);
    if (open) {
      unread = 0;
      connect();
      setTimeout(function () { if (!quiet) (ended ? log : input).focus(); scrollDown(); }, 0);
    } else if (!quiet) {
      launcher.focus();
    }
    renderBadge();
  }

  function renderBadge() {
    badge.hidden = unread === 0;
    badge.textContent = unread > 9 ? "9+" : String(unread);
    launcher.setAttribute("aria-label", t(panel.hidden ? "launcher" : "launcherClose") +
      (unread ? " (" + t("unread", { n: unread }) + ")" : ""));
  }

  function scrollDown() { log.scrollTop = log.scrollHeight; }

  function roleLabel(m) {
    if (m.role === "visitor") return t("you");
    if (m.role === "agent") return m.author || t("agent");
    if (m.role === "assistant") return t("assistant");
    return t("system");
  }

  function bubble(role, who, text, ts) {
    var meta = el("div", { class: "meta" }, [el("span", { class: "who", text: who })]);
    if (ts) meta.appendChild(el("time", { datetime: ts, text: fmt(ts, { hour: "2-digit", minute: "2-digit" }) }));
    var body = el("p", { class: "text" });
    // The visitor's own words are never made into links.
    if (role === "visitor") body.textContent = text; else body.appendChild(richText(text));
    return el("div", { class: "msg " + role }, [meta, body]);
  }

  // Messages sit in seq order above pending bubbles and prompts, whatever
  // order they arrive in.
  function place(node, seq) {
    var kids = log.children;
    for (var i = 0; i < kids.length; i++) {
      var s = Number(kids[i].getAttribute("data-seq"));
      if (s ? s > seq : !kids[i].classList.contains("greeting")) { log.insertBefore(node, kids[i]); return; }
    }
    log.appendChild(node);
  }

  function renderMessage(m) {
    // The finished answer takes its draft's place: never both.
    if (m.draft_id) dropDraft(m.draft_id);
    if (!m.seq || shown[m.seq]) return;
    shown[m.seq] = true;
    if (m.seq > lastSeq) lastSeq = m.seq;
    if (m.client_id && pending[m.client_id]) {
      var p = pending[m.client_id];
      if (p.node.parentNode) p.node.parentNode.removeChild(p.node);
      delete pending[m.client_id];
      persist();
    }
    var node = bubble(m.role, roleLabel(m), m.text, m.ts);
    node.setAttribute("data-seq", String(m.seq));
    node.setAttribute("data-role", m.role);
    place(node, m.seq);
    if (panel.hidden && m.role !== "visitor" && m.seq > historySeq) { unread++; renderBadge(); }
    scrollDown();
  }

  // A draft is the model's answer as it is written. It is shown as plain
  // text and hidden from assistive technology, so the log announces the
  // finished message once rather than every word; it sits below the
  // transcript and above pending lines and prompts.
  function draftDelta(id, text) {
    if (!id || stale[id] || ended) return;
    var node = drafts[id];
    if (!node) {
      node = bubble("assistant", t("assistant"), "", "");
      node.classList.add("draft");
      node.setAttribute("data-draft", id);
      node.setAttribute("aria-hidden", "true");
      place(node, Infinity);
      drafts[id] = node;
      showTyping(null);
    }
    node.lastChild.textContent += String(text || "");
    scrollDown();
  }

  function dropDraft(id) {
    var node = drafts[id];
    delete drafts[id];
    if (node && node.parentNode) node.parentNode.removeChild(node);
  }

  // Resume replays stored messages only: drafts of before are let go.
  function dropDrafts() {
    for (var id in drafts) { stale[id] = true; dropDraft(id); }
  }

  function removePrompt() {
    var p = log.querySelectorAll(".prompt");
    var had = false;
    for (var i = 0; i < p.length; i++) {
      had = had || p[i].contains(root.activeElement);
      p[i].parentNode.removeChild(p[i]);
    }
    // The focus was in what just went away: keep it in the chat.
    if (had && !panel.hidden) (ended ? log : input).focus();
  }

  function showOffer(text) {
    if (answering === "offer") return;
    removePrompt();
    function reply(accept) { return function () { intent({ type: "handoff_reply", accept: accept }); removePrompt(); }; }
    var yes = el("button", { type: "button", class: "yes", text: t("yes"), onclick: reply(true) });
    var no = el("button", { type: "button", class: "no", text: t("no"), onclick: reply(false) });
    log.appendChild(el("div", { class: "prompt offer", role: "group", "aria-labelledby": "baton-offer" }, [
      el("p", { id: "baton-offer", text: text }), el("div", { class: "buttons" }, [yes, no])]));
    scrollDown();
    // To the answer, unless the visitor is in the middle of typing.
    if (!panel.hidden && !(root.activeElement === input && input.value.trim())) yes.focus();
  }

  function showEmailRequest(text) {
    emailText = text;
    if (answering === "email") return;
    removePrompt();
    var field = el("input", { type: "email", class: "email", id: "baton-email", required: "", autocomplete: "email",
      "aria-label": t("emailLabel"), placeholder: t("emailLabel"), "aria-describedby": "baton-email-error" });
    var err = el("p", { class: "field-error", id: "baton-email-error", role: "alert", hidden: "" });
    var f = el("form", { class: "prompt email-form", novalidate: "", onsubmit: function (e) {
      e.preventDefault();
      var v = field.value.trim();
      if (!v) { emailError(t("invalidEmail")); return; }
      err.hidden = true;
      field.removeAttribute("aria-invalid");
      // A kept address goes after welcome; the form would only ask again.
      if (!intent({ type: "email", email: v })) removePrompt();
    } }, [el("p", { text: text }), field, el("button", { type: "submit", text: t("emailSend") }), err]);
    log.appendChild(f);
    scrollDown();
    if (!panel.hidden) field.focus();
  }

  function emailError(msg) {
    var err = root.getElementById("baton-email-error");
    var field = root.getElementById("baton-email");
    if (!err) { setNotice(msg); return; }
    err.textContent = msg;
    err.hidden = false;
    if (field) { field.setAttribute("aria-invalid", "true"); field.focus(); }
  }

  // A notice replaces the status line until the state next changes.
  var notice = "";
  function setNotice(text) { notice = text; renderStatus(); }

  function awayText() {
    if (!office || office.open || (office.next_open && Date.parse(office.next_open) <= Date.now())) return "";
    var s = t("closedHours");
    if (office.next_open) s += " " + t("opensAt", { when: fmt(office.next_open, { weekday: "long", day: "numeric", month: "long", hour: "2-digit", minute: "2-digit" }) });
    return s;
  }

  // The widget's readiness, for the shop's page, its tests and assistive
  // technology: idle (no socket wanted yet), connecting, ready, offline,
  // unavailable (never got in), ended.
  function readiness() {
    if (ended) return "ended";
    if (conn === "offline" || conn === "unavailable") return conn;
    if (ws && started) return "ready";
    return ws || timer ? "connecting" : "idle";
  }

  function waiting() { return kept.length > 0 || Object.keys(pending).length > 0; }

  function renderStatus() {
    var state = readiness();
    if (host.getAttribute("data-state") !== state) {
      host.setAttribute("data-state", state);
      panel.setAttribute("data-state", state);
      // On the transcript, not the panel: the status line must still be
      // heard saying what is going on.
      if (state === "connecting") log.setAttribute("aria-busy", "true"); else log.removeAttribute("aria-busy");
    }
    var s;
    if (conn) s = t(conn);
    else if (state === "connecting" && waiting()) s = t("connecting");
    else if (notice) s = notice;
    else if (ended) s = "";
    else if (status === "queued") s = [queuePos ? t("queued", { n: queuePos }) : t("queuedNoPos"), waitText(), awayText()].filter(Boolean).join(" ");
    else if (status === "assigned") s = agentName ? t("joined", { name: agentName }) : "";
    else s = awayText();
    if (statusLine.textContent !== s) statusLine.textContent = s;
    personBtn.hidden = !handoffAvailable || ended || (status !== "assistant" && status !== "");
    actions.hidden = ended;
    form.hidden = ended;
  }

  // The wait in whole minutes, rounded up; nothing without an estimate.
  function waitText() {
    if (typeof waitS !== "number" || waitS < 0) return "";
    if (waitS < 60) return t("waitShort");
    var n = Math.ceil(waitS / 60);
    return n === 1 ? t("waitOne") : t("waitMinutes", { n: n });
  }

  // The rating of an ended conversation a person took part in: a 1 to 5
  // radio group (arrow keys move and choose), an optional comment and a
  // send button, below the ended notice.
  var rating = null;
  function showRating(text) {
    if (rating || !ended) return;
    var scale = el("div", { class: "scale" });
    for (var i = 1; i <= 5; i++) {
      scale.appendChild(el("label", { class: "score" }, [
        el("input", { type: "radio", name: "baton-csat", value: String(i), "aria-label": t("csatScore", { n: i }), "aria-describedby": "baton-csat-hint" }),
        el("span", { "aria-hidden": "true", text: String(i) })]));
    }
    var comment = el("textarea", { id: "baton-csat-comment", class: "comment", rows: "2", maxlength: "1000" });
    var err = el("p", { class: "field-error", role: "alert", hidden: "" });
    var btn = el("button", { type: "submit", class: "rate", text: t("csatSend") });
    // Sending once is enough; the button keeps the focus (a disabled one
    // would drop it) until the thanks take its place.
    rating = el("form", { class: "csat", novalidate: "", onsubmit: function (e) {
      e.preventDefault();
      if (rating.sending) return;
      var picked = rating.querySelector("input:checked");
      if (!picked) { ratingError(t("csatChoose")); rating.querySelector("input").focus(); return; }
      err.hidden = true;
      var f = { type: "csat", score: Number(picked.value) };
      if (comment.value.trim()) f.comment = comment.value.trim();
      if (!send(f)) { ratingError(t("csatFailed")); return; }
      rating.sending = true;
      btn.setAttribute("aria-disabled", "true");
    } }, [el("fieldset", {}, [el("legend", { text: text }), scale, el("p", { class: "hint", id: "baton-csat-hint", text: t("csatHint") })]),
      el("label", { for: "baton-csat-comment", text: t("csatComment") }), comment, btn, err]);
    log.appendChild(rating);
    scrollDown();
  }

  function ratingError(msg) {
    if (!rating || rating.tagName !== "FORM") return;
    var err = rating.querySelector(".field-error");
    err.textContent = msg;
    err.hidden = false;
    rating.querySelector(".rate").removeAttribute("aria-disabled");
    rating.sending = false;
  }

  // Rated (here, or before in another tab): the form makes way for thanks.
  function showThanks() {
    if (!rating || rating.tagName !== "FORM") return;
    var had = rating.contains(root.activeElement);
    var thanks = el("p", { class: "csat-thanks", role: "status", tabindex: "-1", text: t("csatThanks") });
    log.replaceChild(thanks, rating);
    rating = thanks;
    if (had) thanks.focus();
    scrollDown();
  }

  function showEnded(reason) {
    if (ended) return;
    ended = true;
    removePrompt();
    dropDrafts();
    showTyping(null);
    kept = [];
    answering = "";
    var again = el("button", { type: "button", class: "new", text: t("newChat"), onclick: newConversation });
    log.appendChild(el("div", { class: "ended prompt" }, [el("p", { text: reason === "ticketed" ? t("ticketed") : t("ended") }), again]));
    renderStatus();
    scrollDown();
    if (!panel.hidden) again.focus();
    // The next page load starts afresh; this page keeps the transcript.
    pending = {};
    conv = null;
    persist();
  }

  function clearLog() {
    drafts = {};
    rating = null;
    while (log.firstChild) log.removeChild(log.firstChild);
    greet();
    for (var id in pending) log.appendChild(pending[id].node);
  }

  function newConversation() {
    conv = null; lastSeq = 0; historySeq = 0; shown = {}; pending = {}; kept = []; answering = ""; ended = false;
    status = ""; queuePos = 0; waitS = null; agentName = ""; notice = "";
    persist();
    clearLog();
    if (ws) { var s = ws; ws = null; started = false; try { s.close(1000); } catch (e) { /* closed */ } }
    renderStatus();
    connect();
    input.focus();
  }

  function greet() {
    log.appendChild(el("div", { class: "msg assistant greeting" }, [
      el("div", { class: "meta" }, [el("span", { class: "who", text: t("assistant") })]),
      el("p", { class: "text", text: t("greeting") })]));
  }

  // --- socket ----------------------------------------------------------------
  function hello() {
    var h = { type: "hello", page: location.href.slice(0, 2000) };
    if (pageLocale) h.locale = pageLocale;
    if (reopen) h.reopen = reopen;
    else if (conv) { h.conversation_id = conv.conversation_id; h.resume_token = conv.resume_token; h.last_seq = lastSeq; }
    if (identity) h.identity = identity;
    return h;
  }

  function connect() {
    if (ws || timer || ended) return;
    if (navigator.onLine === false) { conn = "offline"; renderStatus(); return; }
    var s;
    try { s = new WebSocket(WS_URL); } catch (e) { retry(false); return; }
    ws = s;
    if (conn === "offline") conn = "reconnecting";
    renderStatus();
    s.onopen = function () { s.send(JSON.stringify(hello())); };
    s.onmessage = function (ev) {
      if (ws !== s) return;
      pingSent = 0;
      var f;
      try { f = JSON.parse(ev.data); } catch (e) { return; }
      onFrame(f);
    };
    s.onclose = function (ev) {
      if (ws !== s) return;
      ws = null; started = false;
      retry(ev.code === 1012 || ev.code === 1013);
    };
  }

  // Reconnect with exponential backoff and jitter, so that a restarted node
  // is not hit by every widget at the same instant.
  function retry(soon) {
    if (timer || ended) return;
    // A widget that never got in (a wrong key, an origin the shop did not
    // allow) says so rather than promising a reconnect.
    conn = !welcomed && attempts >= 3 ? "unavailable" : "reconnecting";
    var base = soon ? 500 : Math.min(30000, 500 * Math.pow(2, attempts));
    attempts++;
    timer = setTimeout(function () { timer = null; connect(); }, base / 2 + Math.random() * base / 2);
    renderStatus();
  }

  window.addEventListener("online", function () { if (!ws && conn) { clearTimeout(timer); timer = null; connect(); } });
  window.addEventListener("offline", function () { if (ws) ws.close(); });

  // A socket that has gone quiet (a sleeping laptop, a dead proxy) is
  // noticed by a ping that gets no answer.
  setInterval(function () {
    if (!ws || !started) return;
    if (pingSent && Date.now() - pingSent > 10000) { ws.close(); return; }
    if (!pingSent) { pingSent = Date.now(); send({ type: "ping" }); }
  }, 20000);

  function send(f) {
    if (ws && started && ws.readyState === 1) { ws.send(JSON.stringify(f)); return true; }
    return false;
  }

  // A press while the socket is not ready is kept and done right after
  // welcome: nothing the visitor did is lost. One of each kind: pressing
  // twice asks once. Reports whether it went at once.
  function intent(f) {
    if (send(f)) return true;
    kept = kept.filter(function (k) { return k.f.type !== f.type; });
    kept.push({ f: f, n: ++order });
    kick();
    renderStatus();
    return false;
  }

  // The visitor is waiting: a socket waiting to retry tries now.
  function kick() {
    if (!ws && timer) { clearTimeout(timer); timer = null; }
    connect();
  }

  // A kept answer goes only while its question is still open, so one
  // answered meanwhile (in another tab, by Baton.identify) is not sent again.
  var ASKS = { handoff_request: "assistant", handoff_reply: "handoff_offered", email: "awaiting_email" };
  function stillWanted(type) {
    if (type === "close") return status !== "closed" && status !== "ticketed";
    return !ASKS[type] || ASKS[type] === status;
  }

  // Messages typed and buttons pressed while the socket was down go now,
  // in the order they were made. Messages keep their client_id: the
  // gateway stores each once.
  function flush() {
    var todo = kept.filter(function (k) { return stillWanted(k.f.type); });
    kept = [];
    Object.keys(pending).forEach(function (id) {
      todo.push({ f: { type: "message", client_id: id, text: pending[id].text }, n: pending[id].n || 0 });
    });
    todo.sort(function (a, b) { return a.n - b.n; });
    todo.forEach(function (k) {
      if (k.f.type === "handoff_reply") answering = "offer";
      if (k.f.type === "email") answering = "email";
      send(k.f);
    });
  }

  function onFrame(f) {
    switch (f.type) {
      case "welcome": onWelcome(f); break;
      case "message":
        if (f.role === "agent" || f.role === "assistant") showTyping(null);
        renderMessage(f);
        break;
      case "handoff_offer": showOffer(f.text); break;
      case "email_request": showEmailRequest(f.text); break;
      case "status":
        status = f.status; notice = ""; answering = "";
        if (f.status !== "handoff_offered" && f.status !== "awaiting_email") removePrompt();
        if (f.status === "queued") {
          queuePos = f.queue_position || queuePos;
          waitS = typeof f.wait_estimate_s === "number" ? f.wait_estimate_s : null;
        } else {
          queuePos = 0;
          waitS = null;
        }
        if (f.status === "closed" || f.status === "ticketed") showEnded(f.status);
        renderStatus();
        break;
      case "agent_joined": agentName = (f.agent && f.agent.name) || t("agent"); renderStatus(); break;
      case "agent_left": agentName = ""; renderStatus(); break;
      case "message_delta": draftDelta(f.draft_id, f.text); break;
      case "draft_dropped": dropDraft(f.draft_id); break;
      // The draft shows the assistant at work; a late "typing" adds nothing.
      case "typing": if (!(f.role === "assistant" && f.active && Object.keys(drafts).length)) showTyping(f.active ? f.role : null); break;
      case "closed": showEnded(f.reason); break;
      case "csat_request": showRating(f.text || ""); break;
      case "csat_thanks": showThanks(); break;
      case "error": onError(f); break;
    }
  }

  function onWelcome(f) {
    attempts = 0; started = true; welcomed = true; conn = ""; notice = ""; waitS = null;
    dropDrafts();
    showTyping(null);
    if (!conv || conv.conversation_id !== f.conversation_id) {
      conv = { conversation_id: f.conversation_id, resume_token: f.resume_token };
    } else if (f.resume_token) {
      conv.resume_token = f.resume_token;
    }
    // A reopened conversation is resumed like any other from now on: its
    // link is used once.
    reopen = "";
    if (f.recovered === false) { lastSeq = 0; shown = {}; clearLog(); }
    if (reopenFailed) {
      // In the log, not the status line: it stays until read.
      reopenFailed = false;
      var note = bubble("system", t("system"), t("reopenInvalid"), "");
      note.classList.add("reopen-failed");
      note.setAttribute("role", "alert");
      log.appendChild(note);
    }
    historySeq = Math.max(historySeq, f.last_seq || 0);
    if (!pageLocale && f.locale && I18N[f.locale] && f.locale !== locale) { locale = f.locale; applyTexts(); }
    handoffAvailable = f.handoff_available !== false;
    status = f.status; office = f.office || null;
    persist();
    flush();
    renderStatus();
  }

  function onError(f) {
    answering = "";
    switch (f.code) {
      case "invalid_reopen_link":
        // The link is wrong or too old: say so, and start the way the
        // widget would have without it.
        if (!started && ws) {
          reopen = "";
          conv = saved && saved.conversation_id ? saved : null;
          reopenFailed = true;
          ws.send(JSON.stringify(hello()));
        }
        break;
      case "invalid_resume_token":
      case "not_found":
        if (!started && ws) { // the stored conversation is gone: start afresh
          conv = null; lastSeq = 0; historySeq = 0; shown = {}; persist(); clearLog();
          ws.send(JSON.stringify(hello()));
        }
        break;
      case "invalid_email":
        // A kept address took the form away: ask again.
        if (!root.getElementById("baton-email") && emailText) showEmailRequest(emailText);
        emailError(t("invalidEmail"));
        break;
      case "rate_limited":
        setNotice(t("rateLimited"));
        if (f.client_id) markFailed(f.client_id);
        break;
      case "conversation_closed": showEnded(""); break;
      case "already_rated": showThanks(); break;
      case "not_rateable": if (rating) { rating.parentNode.removeChild(rating); rating = null; } break;
      case "invalid_score":
      case "comment_too_long":
        ratingError(f.message || t("csatFailed"));
        break;
      default:
        if (f.client_id) markFailed(f.client_id);
    }
  }

  function markFailed(clientID) {
    var p = pending[clientID];
    if (!p || p.node.classList.contains("failed")) return;
    p.node.classList.add("failed");
    p.node.setAttribute("aria-label", t("sendFailed"));
    var again = el("button", { type: "button", class: "retry", text: t("retry"), onclick: function () {
      p.node.classList.remove("failed");
      p.node.removeAttribute("aria-label");
      again.parentNode.removeChild(again);
      if (!send({ type: "message", client_id: clientID, text: p.text })) { kick(); renderStatus(); }
    } });
    p.node.appendChild(again);
  }

  function showTyping(role) {
    clearTimeout(typingRemote);
    if (!role) { typingLine.textContent = ""; return; }
    typingLine.textContent = role === "agent" ? t("typingAgent", { name: agentName || t("agent") }) : t("typingAssistant");
    // The assistant's ends with its answer (or welcome, on a reconnect); a
    // model may think longer than a person pauses.
    typingRemote = setTimeout(function () { typingLine.textContent = ""; }, role === "agent" ? 8000 : 60000);
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

  function addPending(id, text) {
    var node = bubble("visitor", t("you"), text, "");
    node.classList.add("pending");
    node.setAttribute("data-client-id", id);
    log.appendChild(node);
    pending[id] = { text: text, node: node, n: ++order };
  }

  function submit() {
    var text = input.value.trim();
    if (!text || ended) return;
    input.value = "";
    input.style.height = "";
    typing(false);
    var id = newClientID();
    addPending(id, text);
    persist();
    scrollDown();
    if (!send({ type: "message", client_id: id, text: text })) { kick(); renderStatus(); }
  }

  greet();
  if (conv && conv.pending) conv.pending.forEach(function (p) { if (p && p.id) addPending(p.id, String(p.text)); });
  applyTexts();
  (document.body || document.documentElement).appendChild(host);
  // A conversation under way shows its news at once; an open panel stays
  // open across the shop's page loads.
  if (reopen) toggle(true);
  else if (load(sessionStorage, STORE + ":open")) toggle(true, true);
  else if (conv) connect();

  var api = {
    __loaded: true,
    open: function () { toggle(true); },
    close: function () { toggle(false); },
    identify: function (token) {
      identity = String(token || "");
      // Not ready: the next hello carries the identity.
      if (!send({ type: "identify", identity: identity })) kick();
    }
  };
  window.Baton = api;
  // Calls made before the script loaded: window.Baton = {q: [["identify", [jwt]]]}.
  if (early && early.q && early.q.forEach) {
    early.q.forEach(function (c) { if (api[c[0]]) api[c[0]].apply(null, c[1] || []); });
  }
})(/*I18N*/, /*CSS*/);
