// Recent conversations by status, in the inbox's sidebar: those sent to a
// helpdesk (with what became of the ticket), those closed, and those with
// an agent. Opening one shows its pane with the whole transcript; ended
// ones are read-only there. The list follows the merchant's conversation
// frames, so a ticket that is made while the list is open shows at once.

import { el, clear, $, say, fmtTime } from "./dom.js";
import { api } from "./api.js";
import { t } from "./i18n.js";
import { visitorName } from "./pane.js";
import { providerName, stateWord, laterTicket } from "./ticket.js";

const PAGE = 50;

const EMPTY = {
  ticketed: "recent.noneTicketed",
  closed: "recent.noneClosed",
  assigned: "recent.noneAssigned",
};

export class Recent {
  // inbox: the Inbox, for opening panes and keeping focus.
  constructor(inbox) {
    this.inbox = inbox;
    this.list = $("#recent");
    this.select = $("#recent-status");
    this.line = $("#recent-line");
    this.more = $("#recent-more");
    this.items = [];
    this.shownCount = PAGE;
    this.loading = 0;
    this.select.addEventListener("change", () => this.load());
    $("#recent-refresh").addEventListener("click", () => this.load());
    this.more.addEventListener("click", () => {
      const first = this.shownCount;
      this.shownCount += PAGE;
      this.render();
      // The first of the newly shown is where a keyboard user goes on.
      const next = this.list.children[first];
      if (next) next.querySelector("button").focus();
    });
  }

  status() { return this.select.value; }

  async load() {
    const status = this.status();
    const n = ++this.loading;
    say(this.line, t("common.loading"));
    this.list.setAttribute("aria-busy", "true");
    try {
      const r = await api("GET", "/v1/agent/conversations?status=" + encodeURIComponent(status));
      if (n !== this.loading) return; // a newer choice won
      this.items = r.conversations || [];
      this.shownCount = PAGE;
      say(this.line, "");
      this.render();
    } catch (e) {
      if (n === this.loading) say(this.line, t("recent.loadFailed", { reason: e.message }), true);
    } finally {
      if (n === this.loading) this.list.removeAttribute("aria-busy");
    }
  }

  // conversation takes a changed conversation from the socket: it joins,
  // moves up in, or leaves the list shown.
  conversation(c) {
    const at = this.items.findIndex((x) => x.id === c.id);
    if (c.status !== this.status()) {
      if (at >= 0) {
        this.items.splice(at, 1);
        this.render();
      }
      return;
    }
    let next = c;
    if (at >= 0) {
      const had = this.items[at];
      next = Object.assign({}, had, c, { ticket: laterTicket(had.ticket, c.ticket) });
      this.items.splice(at, 1);
    }
    this.items.unshift(next);
    this.items.sort((a, b) => (Date.parse(b.updated_at) || 0) - (Date.parse(a.updated_at) || 0));
    this.render();
  }

  render() {
    this.inbox.keepFocus(this.list, () => this.draw());
  }

  draw() {
    clear(this.list);
    $("#recent-count").textContent = String(this.items.length);
    if (!this.items.length) {
      this.list.append(el("li", { class: "empty", text: t(EMPTY[this.status()] || "recent.none") }));
    }
    for (const c of this.items.slice(0, this.shownCount)) {
      const name = visitorName(c);
      const open = el("button", { type: "button", class: "link", text: name, onclick: () => this.inbox.open(c, true) });
      open.setAttribute("aria-label", c.ticket ? t("recent.openTicket", { name, ticket: summary(c.ticket) }) : t("recent.open", { name }));
      const when = c.closed_at || c.updated_at;
      this.list.append(el("li", { class: "recent-item", "data-conversation": c.id }, [
        el("div", { class: "row" }, [open, when ? el("time", { class: "muted when", datetime: when, text: fmtTime(when) }) : null]),
        c.ticket ? el("p", { class: "ticket-line", "data-state": c.ticket.state || "" }, [
          el("span", { class: "state-badge " + (c.ticket.state || ""), text: stateWord(c.ticket.state) }),
          " " + (c.ticket.id ? t("ticket.named", { provider: providerName(c.ticket.provider), id: c.ticket.id }) : providerName(c.ticket.provider))]) : null,
      ]));
    }
    const rest = this.items.length - Math.min(this.shownCount, this.items.length);
    this.more.hidden = rest <= 0;
    this.more.textContent = t("recent.more", { n: Math.min(rest, PAGE) });
  }
}

function summary(tk) {
  return t(tk.id ? "recent.ticketSummary" : "recent.ticketSummaryNoID",
    { provider: providerName(tk.provider), id: tk.id, state: stateWord(tk.state).toLowerCase() });
}
