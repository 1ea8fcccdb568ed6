// The console's entry point: its language, sign-in and sign-out, the
// header (presence, the agent's load, alerts, connection), the views and
// the socket that keeps them live.

import { $, $$, say, debounce } from "./dom.js";
import { api, setToken, token, setUnauthorizedHandler, pendingRenewal } from "./api.js";
import { Live } from "./live.js";
import { Inbox } from "./inbox.js";
import { t, use, pick, override, setOverride, browserLocale, lang } from "./i18n.js";

const NOTICE = "baton.console.notice";

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
  refreshLoad: () => {},
  hide: (p) => app.inbox.hide(p),
  changed: () => { app.inbox.renderMine(); badge(); },
};

let toastTimer = 0;
function toast(text, isError) {
  const el = $("#toast");
  say(el, text, isError);
  el.hidden = !text;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { el.hidden = true; }, 6000);
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
  b.setAttribute("aria-label", t("inbox.waitingCount", { n: waiting }));
  const n = waiting + unread;
  document.title = (n ? "(" + n + ") " : "") + t("page.title");
}

// --- language ----------------------------------------------------------------
// The console speaks what this browser chose, else (for admins) the shop's
// language, else the browser's.
function chosenLocale(merchantLocale) {
  return override() || pick(merchantLocale) || browserLocale() || "en";
}

function langSelects() {
  for (const sel of [$("#login-lang"), $("#console-lang")]) sel.value = override();
}

function changeLang(e) {
  setOverride(e.target.value);
  // A fresh page draws everything in the new language; the token stays.
  location.reload();
}

// --- sign-in -----------------------------------------------------------------
// showLogin shows the sign-in form, with why the last session ended
// (notice: {text, error}) when there is something to say.
function showLogin(notice) {
  $("#app").hidden = true;
  $("#login-view").hidden = false;
  document.title = t("page.title");
  const n = notice || {};
  say($("#login-error"), n.text || "", n.error !== false);
  $("#login-error").hidden = !n.text;
  $("#login-email").focus();
}

async function login(e) {
  e.preventDefault();
  const email = $("#login-email").value.trim();
  const password = $("#login-password").value;
  const err = $("#login-error");
  if (!email || !password) {
    say(err, t("login.missing"), true);
    err.hidden = false;
    return;
  }
  const btn = $("#login-form button[type=submit]");
  btn.disabled = true;
  try {
    const r = await api("POST", "/v1/auth/login", { email, password });
    setToken(r.token);
    $("#login-password").value = "";
    await start(r.agent);
  } catch (ex) {
    let msg = ex.message;
    if (ex.code === "account_disabled") msg = t("login.disabled");
    else if (ex.status === 401) msg = t("login.wrong");
    else if (ex.status === 429) msg = t("err.too_many_attempts");
    say(err, msg, true);
    err.hidden = false;
    $("#login-password").focus();
  } finally {
    btn.disabled = false;
  }
}

// end forgets this tab's session: a fresh page drops every conversation
// and timer of the old one, and the sign-in form says why.
// Only the first reason counts: requests still on their way when the
// session ends answer 401 too.
let ending = false;
let signingOut = false;
function end(message, error = true) {
  if (ending) return;
  ending = true;
  if (app.live) app.live.stop();
  setToken("");
  if (message) sessionStorage.setItem(NOTICE, JSON.stringify({ text: message, error }));
  location.replace(location.pathname);
}

// signOut ends the session on Baton first: the token stops working
// everywhere, not only in this tab.
async function signOut() {
  const btn = $("#logout");
  btn.disabled = true;
  signingOut = true;
  if (app.live) app.live.stop();
  try {
    await api("POST", "/v1/auth/logout");
  } catch (e) {
    // A token Baton already took back is signed out; any other failure
    // leaves it working elsewhere until it expires, which the agent must know.
    if (e.status !== 401) {
      end(t("signout.local", { reason: e.message }));
      return;
    }
  }
  end(t("signout.done"), false);
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
    announce(next === "available" ? t("presence.nowAvailable") : t("presence.nowAway"));
  } catch (e) {
    setPresence(app.presence);
    toast(t("presence.failed", { reason: e.message }), true);
  }
}

function connState(s) {
  const c = $("#conn");
  c.dataset.state = s;
  c.textContent = s === "live" ? t("conn.live") : s === "connecting" ? t("conn.connecting") : t("conn.reconnecting");
}

// showLoad says how many conversations the agent has of how many they may
// be given at once, as GET /v1/agent/me answers it.
function showLoad(r) {
  const n = $("#load");
  if (typeof r.load !== "number" || typeof r.capacity !== "number") {
    n.hidden = true;
    return;
  }
  n.hidden = false;
  n.dataset.load = String(r.load);
  n.dataset.capacity = String(r.capacity);
  n.textContent = t(r.capacity === 1 ? "load.one" : "load.other", { n: r.load, m: r.capacity });
}

let loadAsked = 0;
async function readLoad() {
  const n = ++loadAsked;
  try {
    const r = await api("GET", "/v1/agent/me");
    if (n !== loadAsked) return; // a newer answer is on its way
    showLoad(r);
    if (app.views.account) app.views.account.me(r);
  } catch {
    // The load is a hint; it is read again with the next change.
  }
}

// --- views -------------------------------------------------------------------
const VIEWS = ["inbox", "settings", "team", "overview", "handoffs", "account"];
const EVERYONE = new Set(["inbox", "account"]);

// Views are loaded when first needed.
const MODULES = {
  settings: () => import("./settings.js"),
  team: () => import("./team.js"),
  overview: () => import("./overview.js"),
  handoffs: () => import("./handoffs.js"),
  account: () => import("./account.js"),
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
  if (!VIEWS.includes(view) || (!EVERYONE.has(view) && app.me.role !== "admin")) view = "inbox";
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

function mineNowOrBefore(c) {
  const p = app.inbox.panes.get(c.id);
  return (p && p.mine()) || (c.status === "assigned" && c.agent_id === app.me.id);
}

function onFrame(f) {
  switch (f.type) {
    case "ready":
      app.me = Object.assign(app.me || {}, f.agent);
      setPresence(f.presence);
      // Anything missed while the socket was down is read back.
      app.inbox.resync();
      app.refreshLoad();
      break;
    case "queue": app.inbox.setQueue(f.conversations, f.total, f.version); break;
    case "queue_delta": if (!app.inbox.queueDelta(f)) app.live.send({ type: "queue_sync" }); break;
    case "conversation": {
      const load = mineNowOrBefore(f.conversation);
      app.inbox.conversation(f.conversation);
      if (load) app.refreshLoad();
      if (app.views.handoffs) app.views.handoffs.ticket(f.conversation);
      break;
    }
    case "message": app.inbox.message(f.conversation_id, f.message); break;
    case "typing": app.inbox.typing(f.conversation_id, f.role, f.active); break;
    case "presence": setPresence(f.status); app.refreshLoad(); break;
    case "error": {
      // A refused line is its pane's to send again or show as failed.
      const p = f.client_id && app.inbox.panes.get(f.conversation_id);
      if (p && p.refused(f.client_id, f.code, f.message)) break;
      if (f.code !== "rate_limited") toast(f.message || f.code, true);
      break;
    }
  }
}

// revoked hears that the console socket was closed because its token was
// taken back. This page's own password change does that to its socket too:
// once the new token is in, the console goes on with it.
async function revoked(used) {
  const renewal = pendingRenewal();
  if (renewal) await renewal.catch(() => false);
  return !!token() && token() !== used;
}

async function start(me) {
  app.me = me;
  // Admins' consoles speak the shop's language unless this browser chose.
  if (me.role === "admin" && !override()) {
    try {
      const s = await api("GET", "/v1/admin/settings");
      if (chosenLocale(s.locale) !== lang()) await use(chosenLocale(s.locale));
    } catch {
      // The browser's language stands.
    }
  }
  $("#login-view").hidden = true;
  $("#app").hidden = false;
  $("#me-name").textContent = me.name;
  for (const n of $$("[data-admin]")) n.hidden = me.role !== "admin";
  app.inbox = new Inbox(app);
  app.inbox.renderMine();
  badge();
  app.refreshLoad = debounce(readLoad, 250);
  // The queue comes as changes, not the whole of it on every change.
  const auth = () => ({ type: "auth", token: token(), cursors: app.inbox.cursors(), queue_deltas: true });
  app.live = new Live(auth, onFrame, connState,
    (f) => end(f && f.code === "token_revoked" ? t("session.revoked") : t("session.ended")), revoked);
  app.live.start();
  go(location.hash.slice(1) || "inbox");
  // Admins see the count of failed handoffs on their tab from the start.
  if (me.role === "admin") loadView("handoffs").catch(() => {});
}

async function boot() {
  await use(chosenLocale(""));
  langSelects();
  $("#login-form").addEventListener("submit", login);
  $("#logout").addEventListener("click", signOut);
  $("#presence").addEventListener("change", changePresence);
  for (const sel of [$("#login-lang"), $("#console-lang")]) sel.addEventListener("change", changeLang);
  window.addEventListener("hashchange", () => { if (app.me) go(location.hash.slice(1)); });
  setUnauthorizedHandler((e) => {
    // Signing out revokes the token before this page forgets it.
    if (!signingOut) end(e && e.code === "token_revoked" ? t("session.revoked") : t("session.ended"));
  });
  let notice = null;
  try { notice = JSON.parse(sessionStorage.getItem(NOTICE) || "null"); } catch { notice = null; }
  sessionStorage.removeItem(NOTICE);
  if (!token()) {
    showLogin(notice);
    return;
  }
  try {
    const r = await api("GET", "/v1/agent/me");
    await start(r.agent);
    setPresence(r.presence);
    showLoad(r);
  } catch (e) {
    if (e.status !== 401) showLogin({ text: e.message });
  }
}

boot();
