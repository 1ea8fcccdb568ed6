// Helpdesk handoffs, for admins: whether Zendesk and Gorgias are connected
// (with the secret as Baton shows it, masked), and the conversations handed
// to them by the state of their ticket, failed ones first, with a retry for
// each failed one. Rows follow the merchant's conversation frames, so a
// retried ticket shows "Created" (or "Failed" again) where it was retried.
// The count of failed handoffs is the badge on the view's tab.

import { el, clear, $, say } from "./dom.js";
import { api } from "./api.js";
import { t, tn } from "./i18n.js";
import { providerName, stateWord, stateText, reasonText, ticketLink, timeNode, retryHandoff, retryError, laterTicket } from "./ticket.js";

const EMPTY = {
  failed: "handoffs.noneFailed",
  pending: "handoffs.nonePending",
  created: "handoffs.noneCreated",
  "": "handoffs.none",
};

const LISTED = { failed: "handoffs.countFailed", pending: "handoffs.countPending", created: "handoffs.countCreated", "": "handoffs.count" };

export class View {
  constructor(app) {
    this.app = app;
    this.rows = new Map(); // id -> {h, li}
    this.failed = new Set(); // ids of dead letters, for the badge
    // The newest ticket each frame told of: a list read while a ticket
    // changed may answer an older state than the frames already gave.
    this.heard = new Map();
    this.loading = 0;
    this.select = $("#handoff-state");
    this.list = $("#handoff-list");
    this.status = $("#handoffs-status");
    this.select.addEventListener("change", () => this.load());
    $("#handoffs-refresh").addEventListener("click", () => this.show());
    this.countFailed();
    this.checkIntegrations();
  }

  // checkIntegrations shows the banner when a helpdesk needs reconnecting,
  // from the start: this view is made when an admin signs in.
  async checkIntegrations() {
    try {
      renderBanner(await api("GET", "/v1/admin/integrations"));
    } catch {
      // The settings say what went wrong when opened.
    }
  }

  async show() {
    await Promise.all([this.loadIntegrations(), this.load()]);
  }

  // countFailed reads the dead letters for the badge, whatever is shown.
  async countFailed() {
    try {
      const r = await api("GET", "/v1/admin/handoffs?state=failed");
      this.failed = new Set((r.handoffs || []).map((h) => h.id));
      this.badge();
    } catch {
      // The badge is a hint; the view says what went wrong when opened.
    }
  }

  badge() {
    const b = $("#failed-badge");
    const n = this.failed.size;
    b.hidden = n === 0;
    // The number shows; "failed" is there for screen readers.
    clear(b).append(String(n), el("span", { class: "sr-only", text: " " + t("handoffs.failedBadge") }));
  }

  async loadIntegrations() {
    const list = $("#integration-list");
    try {
      const r = await api("GET", "/v1/admin/integrations");
      clear(list);
      for (const h of ["zendesk", "gorgias"]) list.append(integrationItem(h, r[h] || { provider: h, connected: false }));
      renderBanner(r);
    } catch (e) {
      clear(list).append(el("li", { class: "error", text: t("handoffs.helpdesksFailed", { reason: e.message }) }));
    }
  }

  async load() {
    const state = this.select.value;
    const n = ++this.loading;
    say(this.status, t("common.loading"));
    this.list.setAttribute("aria-busy", "true");
    try {
      const r = await api("GET", "/v1/admin/handoffs" + (state ? "?state=" + encodeURIComponent(state) : ""));
      if (n !== this.loading) return;
      const hs = r.handoffs || [];
      if (state === "failed") {
        this.failed = new Set(hs.map((h) => h.id));
        this.badge();
      }
      const old = this.rows;
      const a = document.activeElement;
      const focused = a && this.list.contains(a) ? [a.closest("[data-handoff]")?.dataset.handoff, a.className] : null;
      clear(this.list);
      this.rows = new Map();
      for (const h of hs) this.add(this.fresher(h), false, old.get(h.id));
      // A row retried while this list was being read stays: the list tells
      // of before the retry, and the admin follows the retry where they
      // pressed it. The next list read (Refresh, another state) lets it go.
      for (const [id, row] of old) {
        if (!this.rows.has(id) && row.retriedIn >= n) {
          this.rows.set(id, row);
          this.list.prepend(row.li);
        }
      }
      if (focused) {
        // A keyboard user stays where they were, or lands on the list.
        const row = this.rows.get(focused[0]);
        const again = row && (focused[1] ? row.li.querySelector("." + focused[1].trim().split(/\s+/).map(CSS.escape).join(".")) : null);
        (again || this.select).focus();
      }
      if (!this.rows.size) this.list.append(el("li", { class: "empty muted", text: t(EMPTY[state]) }));
      say(this.status, tn(LISTED[state], hs.length));
    } catch (e) {
      if (n === this.loading) say(this.status, t("handoffs.loadFailed", { reason: e.message }), true);
    } finally {
      if (n === this.loading) this.list.removeAttribute("aria-busy");
    }
  }

  // fresher brings a handoff up to what the frames said since.
  fresher(h) {
    const t = this.heard.get(h.id);
    if (!t || laterTicket(h.ticket, t) !== t) return h;
    return Object.assign({}, h, fromTicket(t));
  }

  // add shows a handoff; a row shown before is used again, with its
  // retry's note and whatever that retry is waiting for.
  add(h, first, was) {
    const row = was || { li: el("li", { class: "handoff", "data-handoff": h.id }),
      note: el("p", { class: "form-status", role: "status", tabindex: "-1" }), noteFor: "" };
    row.h = h;
    this.rows.set(h.id, row);
    this.draw(row);
    this.list.querySelector(".empty")?.remove();
    if (first) this.list.prepend(row.li);
    else this.list.append(row.li);
  }

  // draw renders one handoff. The row's note (its retry's feedback) is
  // kept across redraws.
  draw(row) {
    const h = row.h;
    const tk = h.ticket || {};
    const who = h.email || t("visitor.anonymous");
    row.li.dataset.state = h.state;
    const head = el("div", { class: "handoff-top" }, [
      el("a", { href: "#inbox/" + encodeURIComponent(h.conversation_id || h.id), class: "handoff-conv", text: who }),
      el("span", { class: "state-badge " + h.state, text: stateWord(h.state) }),
    ]);
    head.firstChild.setAttribute("aria-label", t("recent.open", { name: who }));
    const dl = el("dl", { class: "handoff-facts" });
    const fact = (k, v, cls) => {
      if (v === null || v === undefined || v === "") return;
      dl.append(el("dt", { text: k }), el("dd", { class: cls }, [v]));
    };
    fact(t("ticket.helpdeskLabel"), providerName(h.provider));
    fact(t("ticket.ticket"), h.state === "created" ? ticketLink(tk) || stateText(h) : stateText(h));
    fact(t("handoffs.attempts"), String(h.attempts || 0));
    if (h.error) fact(h.state === "failed" ? t("ticket.error") : t("ticket.lastError"), h.error, "ticket-error");
    fact(t("pane.why"), reasonText(h.reason));
    fact(t("handoffs.handedOff"), timeNode(h.created_at));
    fact(t("handoffs.lastChange"), timeNode(h.updated_at));
    if (h.state === "pending" && h.next_attempt_at) fact(t("ticket.nextTry"), timeNode(h.next_attempt_at));
    const focusWasIn = row.li.contains(document.activeElement) ? document.activeElement : null;
    clear(row.li).append(head, dl);
    const tools = el("div", { class: "save-row" });
    if (h.state === "failed") {
      const btn = el("button", { type: "button", class: "primary small retry-btn", text: t("common.retry") });
      btn.setAttribute("aria-label", t("ticket.retryFor", { provider: providerName(h.provider), name: who }));
      btn.addEventListener("click", () => this.retry(row, btn));
      tools.append(btn);
    }
    tools.append(row.note);
    row.li.append(tools);
    if (focusWasIn) {
      // A redraw must not drop a keyboard user: back to the same control,
      // or to the note that says what happened.
      const again = focusWasIn.classList.contains("handoff-conv") ? head.firstChild
        : focusWasIn.classList.contains("retry-btn") ? row.li.querySelector(".retry-btn") : null;
      (again || row.note).focus();
    }
  }

  async retry(row, btn) {
    row.retriedIn = this.loading;
    btn.disabled = true;
    say(row.note, t("ticket.retrying"));
    try {
      const h = await retryHandoff(row.h.id);
      this.failed.delete(row.h.id);
      this.badge();
      // The frames may have told the row already; the note says where the
      // retry stands now, and follows it to its end.
      this.set(row, h);
      row.noteFor = "retry";
      this.outcome(row);
      row.note.focus();
    } catch (e) {
      btn.disabled = false;
      say(row.note, retryError(e), true);
      if (e.code === "not_failed") this.refreshOne(row.h.id);
    }
  }

  async refreshOne(id) {
    try {
      const r = await api("GET", "/v1/admin/handoffs/" + encodeURIComponent(id));
      const row = this.rows.get(id);
      if (row) this.set(row, r.handoff);
    } catch {
      // The row stays as it was; Refresh reads everything again.
    }
  }

  // set takes a newer state of a row's handoff and says how a retry ended.
  set(row, h) {
    const t = laterTicket(row.h.ticket, h.ticket);
    if (t !== h.ticket && row.h.ticket) return; // older than what is shown
    row.h = Object.assign({}, row.h, h);
    this.draw(row);
    if (row.noteFor === "retry") this.outcome(row);
  }

  // outcome says how a retry stands: on its way, made, or failed again.
  outcome(row) {
    const h = row.h;
    if (h.state === "pending") {
      say(row.note, t("handoffs.retried"));
      return;
    }
    row.noteFor = "";
    if (h.state === "created") say(row.note, t("handoffs.created", { provider: providerName(h.provider), id: (h.ticket && h.ticket.id) || "" }));
    else say(row.note, t("handoffs.failedAgain", { reason: h.error || t("handoffs.refused") }), true);
  }

  // ticket takes a conversation frame: a row shown follows its ticket, a
  // handoff that fails counts in the badge, and one that comes into the
  // state shown joins the top of the list.
  ticket(c) {
    const tk = c.ticket;
    if (!tk) return;
    const known = laterTicket(this.heard.get(c.id), tk);
    this.heard.delete(c.id); // and in again: the oldest are dropped first
    this.heard.set(c.id, known);
    if (this.heard.size > 1000) this.heard.delete(this.heard.keys().next().value);
    const had = this.failed.size;
    if (tk.state === "failed") this.failed.add(c.id);
    else this.failed.delete(c.id);
    if (had !== this.failed.size) this.badge();
    const row = this.rows.get(c.id);
    if (row) {
      this.set(row, fromTicket(tk));
      return;
    }
    const state = this.select.value;
    if (!$("#handoffs-view").hidden && (state === "" || state === tk.state)) this.fetchNew(c.id);
  }

  async fetchNew(id) {
    try {
      const r = await api("GET", "/v1/admin/handoffs/" + encodeURIComponent(id));
      const state = this.select.value;
      const h = this.fresher(r.handoff);
      if (this.rows.has(id)) this.set(this.rows.get(id), h);
      else if (state === "" || h.state === state) this.add(h, true);
    } catch {
      // Refresh reads everything again.
    }
  }
}

// fromTicket is what a conversation's ticket says of its handoff.
function fromTicket(tk) {
  const out = { state: tk.state, attempts: tk.attempts, error: tk.error || "", next_attempt_at: tk.next_attempt_at, ticket: tk };
  if (tk.updated_at) out.updated_at = tk.updated_at;
  return out;
}

function integrationItem(h, acc) {
  const name = providerName(h);
  const dl = el("dl", { class: "handoff-facts" });
  const fact = (k, v) => { if (v) dl.append(el("dt", { text: k }), el("dd", {}, [v])); };
  const stuck = acc.connected && acc.status === "needs_reconnect";
  if (acc.connected) {
    fact(h === "zendesk" ? t("zendesk.subdomain") : t("gorgias.domain"), acc.subdomain || acc.domain);
    fact(t("pane.email"), acc.email);
    fact("Signs in with", acc.grant === "authorization_code" ? "Zendesk sign-in (OAuth)" : acc.grant === "client_credentials" ? "OAuth client " + acc.client_id : h === "zendesk" ? t("zendesk.token") : t("gorgias.key"));
    fact(h === "zendesk" ? t("zendesk.token") : t("gorgias.key"), acc.api_token || acc.api_key);
    fact(t("handoffs.baseURL"), acc.base_url);
    fact(t("handoffs.checked"), timeNode(acc.verified_at));
    if (stuck) fact("Needs reconnecting", acc.reason);
  }
  const state = stuck ? "Needs reconnecting" : acc.connected ? t("conn.connected") : t("conn.notConnected");
  return el("li", { class: "integration-item", "data-integration-status": h }, [
    el("div", { class: "handoff-top" }, [el("strong", { text: name }),
      el("span", { class: "conn-state" + (stuck ? " warn" : acc.connected ? " on" : ""), text: state })]),
    acc.connected ? dl : null,
  ]);
}

// renderBanner tells admins, on every view, of a helpdesk that needs
// reconnecting: its handoffs wait until it is.
export function renderBanner(integrations) {
  const b = $("#helpdesk-banner");
  if (!b || !integrations) return;
  const stuck = ["zendesk", "gorgias"].filter((h) => integrations[h] && integrations[h].connected && integrations[h].status === "needs_reconnect");
  clear(b);
  b.hidden = stuck.length === 0;
  if (!stuck.length) return;
  const names = stuck.map(providerName).join(" and ");
  const why = stuck.map((h) => integrations[h].reason).filter(Boolean).join("; ");
  b.append(names + " needs reconnecting" + (why ? " (" + why + ")" : "") + ". Conversations handed to it wait, and are sent once it is connected again. ",
    el("a", { href: "#settings", text: "Reconnect under Settings" }), ".");
}
