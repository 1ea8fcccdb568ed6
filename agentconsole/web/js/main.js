// The console's entry point: sign-in, the header (presence, alerts,
// connection), the views and the socket that keeps them live.

import { $, $$, say } from "./dom.js";
import { api, setToken, token, setUnauthorizedHandler } from "./api.js";
import { Live } from "./live.js";
import { Inbox } from "./inbox.js";

const app = {
  me: null,
  live: null,
  inbox: null,
  presence: "available",
  views: {},
  toast,
  announce,
  badge,
  go,
  hide: (p) => app.inbox.hide(p),
  changed: () => { app.inbox.renderMine(); badge(); },
};

let toastTimer = 0;
function toast(text, isError) {
  const t = $("#toast");
  say(t, text, isError);
  t.hidden = !text;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { t.hidden = true; }, 6000);
}

function announce(text) {
  const a = $("#announce");
  a.textContent = "";
  // A new node each time, so screen readers read a repeated text again.
  setTimeout(() => { a.textContent = text; }, 50);
}

function badge() {
  const waiting = app.inbox ? app.inbox.total : 0;
  const unread = app.inbox ? app.inbox.unreadTotal() : 0;
  const b = $("#queue-badge");
  b.hidden = waiting === 0;
  b.textContent = String(waiting);
  b.setAttribute("aria-label", waiting + " waiting");
  const n = waiting + unread;
  document.title = (n ? "(" + n + ") " : "") + "Baton console";
}

// --- sign-in -----------------------------------------------------------------
function showLogin(message) {
  $("#app").hidden = true;
  $("#login-view").hidden = false;
  say($("#login-error"), message || "", true);
  $("#login-error").hidden = !message;
  $("#login-email").focus();
}

async function login(e) {
  e.preventDefault();
  const email = $("#login-email").value.trim();
  const password = $("#login-password").value;
  const err = $("#login-error");
  if (!email || !password) {
    say(err, "Enter your email address and password.", true);
    err.hidden = false;
    return;
  }
  const btn = $("#login-form button[type=submit]");
  btn.disabled = true;
  try {
    const r = await api("POST", "/v1/auth/login", { email, password });
    setToken(r.token);
    $("#login-password").value = "";
    start(r.agent);
  } catch (ex) {
    say(err, ex.status === 401 ? "That email address and password do not match." : ex.message, true);
    err.hidden = false;
    $("#login-password").focus();
  } finally {
    btn.disabled = false;
  }
}

function logout(message) {
  if (app.live) app.live.stop();
  setToken("");
  // A fresh page drops every conversation and timer of the old session.
  if (message) sessionStorage.setItem("baton.console.notice", message);
  location.replace(location.pathname);
}

// --- header ------------------------------------------------------------------
function setPresence(status) {
  app.presence = status;
  const sel = $("#presence");
  sel.value = status;
  sel.classList.toggle("away", status !== "available");
}

async function changePresence() {
  const next = $("#presence").value;
  try {
    const r = await api("PUT", "/v1/agent/presence", { status: next });
    setPresence(r.status || next);
    announce(next === "available" ? "You are available." : "You are away.");
  } catch (e) {
    setPresence(app.presence);
    toast("Could not change your presence: " + e.message, true);
  }
}

function connState(s) {
  const c = $("#conn");
  c.dataset.state = s;
  c.textContent = s === "live" ? "Live" : s === "connecting" ? "Connecting…" : "Reconnecting…";
}

// --- views -------------------------------------------------------------------
const VIEWS = ["inbox", "settings", "overview", "handoffs"];

// Admins' views are loaded when first needed.
const MODULES = {
  settings: () => import("./settings.js"),
  overview: () => import("./overview.js"),
  handoffs: () => import("./handoffs.js"),
};

// loadView makes each view once, however many ask for it at once.
const making = {};
function loadView(name) {
  if (!making[name]) {
    making[name] = MODULES[name]().then((mod) => {
      app.views[name] = new mod.View(app);
      return app.views[name];
    });
    making[name].catch(() => { delete making[name]; });
  }
  return making[name];
}

// go shows a view: "#inbox", "#settings", … and "#inbox/ID", which opens
// that conversation in the inbox.
async function go(target) {
  const [name, arg] = String(target || "").split("/");
  let view = name;
  if (!VIEWS.includes(view) || (view !== "inbox" && app.me.role !== "admin")) view = "inbox";
  if (location.hash !== "#" + view) history.replaceState(null, "", "#" + view);
  for (const v of VIEWS) {
    $("#" + v + "-view").hidden = v !== view;
    const link = $("#nav-" + v);
    if (v === view) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  if (view === "inbox") {
    if (name === "inbox" && arg) {
      let id = "";
      try { id = decodeURIComponent(arg); } catch { id = ""; }
      if (/^[\w-]{1,100}$/.test(id)) app.inbox.openByID(id);
    }
    return;
  }
  return (await loadView(view)).show();
}

function onFrame(f) {
  switch (f.type) {
    case "ready":
      app.me = Object.assign(app.me || {}, f.agent);
      setPresence(f.presence);
      // Anything missed while the socket was down is read back.
      app.inbox.resync();
      break;
    case "queue": app.inbox.setQueue(f.conversations, f.total); break;
    case "conversation":
      app.inbox.conversation(f.conversation);
      if (app.views.handoffs) app.views.handoffs.ticket(f.conversation);
      break;
    case "message": app.inbox.message(f.conversation_id, f.message); break;
    case "typing": app.inbox.typing(f.conversation_id, f.role, f.active); break;
    case "presence": setPresence(f.status); break;
    case "error": {
      // A refused line is its pane's to send again or show as failed.
      const p = f.client_id && app.inbox.panes.get(f.conversation_id);
      if (p && p.refused(f.client_id, f.code, f.message)) break;
      if (f.code !== "rate_limited") toast(f.message || f.code, true);
      break;
    }
  }
}

function start(me) {
  app.me = me;
  $("#login-view").hidden = true;
  $("#app").hidden = false;
  $("#me-name").textContent = me.name;
  for (const n of $$("[data-admin]")) n.hidden = me.role !== "admin";
  app.inbox = new Inbox(app);
  app.inbox.renderMine();
  const auth = () => ({ type: "auth", token: token(), cursors: app.inbox.cursors() });
  app.live = new Live(auth, onFrame, connState, () => logout("Your session has ended. Please sign in again."));
  app.live.start();
  go(location.hash.slice(1) || "inbox");
  // Admins see the count of failed handoffs on their tab from the start.
  if (me.role === "admin") loadView("handoffs").catch(() => {});
}

async function boot() {
  $("#login-form").addEventListener("submit", login);
  $("#logout").addEventListener("click", () => logout());
  $("#presence").addEventListener("change", changePresence);
  window.addEventListener("hashchange", () => { if (app.me) go(location.hash.slice(1)); });
  setUnauthorizedHandler(() => logout("Your session has ended. Please sign in again."));
  const notice = sessionStorage.getItem("baton.console.notice");
  sessionStorage.removeItem("baton.console.notice");
  if (!token()) {
    showLogin(notice);
    return;
  }
  try {
    const r = await api("GET", "/v1/agent/me");
    start(r.agent);
    setPresence(r.presence);
  } catch (e) {
    if (e.status !== 401) showLogin(e.message);
  }
}

boot();
