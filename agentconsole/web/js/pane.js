// One open conversation: who the visitor is, the whole transcript (the
// assistant's part too), the helpdesk ticket it became, and for the agent
// it is assigned to a composer with a typing indicator, release and close.
// Ended conversations (closed, sent to a helpdesk) are shown read-only.

import { el, clear, richText, fmtTime, uid, say, safeURL } from "./dom.js";
import { api } from "./api.js";
import { t } from "./i18n.js";
import { exportTools } from "./export.js";
import { ticketFacts, retryHandoff, retryError, providerName, laterTicket, reasonText } from "./ticket.js";

// Lines the socket refuses for a passing reason are sent again after these
// waits (ms, a little jitter added); one refused after the last shows as
// failed. An echo that does not come within ACK_WAIT is asked for over REST.
const RESEND = [400, 800, 1600, 3200, 6400];
const PASSING = new Set(["rate_limited", "unavailable", "network"]);
const ACK_WAIT = 5000;

const STATUS = {
  assistant: "status.assistant",
  handoff_offered: "status.handoff_offered",
  awaiting_email: "status.awaiting_email",
  queued: "status.queued",
  assigned: "status.assigned",
  closed: "status.closed",
  ticketed: "status.ticketed",
};

export function visitorName(c) {
  return (c.visitor && c.visitor.email) || t("visitor.anonymous");
}

export class Pane {
  // app: {me, live, toast(text, isError), hide(pane), changed(pane)}
  constructor(app, conv) {
    this.app = app;
    this.id = conv.id;
    this.conv = conv;
    this.lastSeq = 0;
    this.shown = new Set();
    this.pending = new Map(); // client_id -> {node, text, tries, timer}
    this.outbox = [];         // client_ids not yet stored, in the order written
    this.inflight = "";       // the one line out (or waiting to go again)
    this.ackTimer = 0;
    this.unread = 0;
    this.loaded = false;
    this.refreshing = null;
    this.again = false;
    this.typingSent = false;
    this.typingAt = 0;
    this.typingIdle = 0;
    this.typingShown = 0;
    this.ticketKey = "";
    this.whyKey = "";
    this.build();
    this.update(conv);
  }

  mine() {
    return this.conv.status === "assigned" && this.conv.agent_id === this.app.me.id;
  }

  build() {
    const hid = "pane-h-" + this.id;
    this.title = el("h2", { id: hid, class: "pane-title" });
    this.details = el("dl", { class: "facts" });
    // Why the conversation came to the team and what it is about: the
    // first thing the person taking over reads.
    this.why = el("dl", { class: "why-facts" });
    this.whyBox = el("section", { class: "why", "aria-label": t("pane.whyBox"), hidden: true }, [this.why]);
    // The ticket's box stays put and is polite-live: a ticket being made
    // while the pane is open is read out once it is made (or failed).
    this.ticketBox = el("section", { class: "ticket", "aria-label": t("pane.ticketBox"), "aria-live": "polite", tabindex: "-1", hidden: true });
    this.claimBtn = el("button", { type: "button", class: "primary", text: t("pane.claim"), onclick: () => this.claim() });
    this.releaseBtn = el("button", { type: "button", text: t("pane.release"), onclick: () => this.release() });
    this.closeBtn = el("button", { type: "button", class: "danger", text: t("pane.close"), onclick: () => this.closeConversation() });
    this.hideBtn = el("button", { type: "button", class: "icon", text: "×", onclick: () => this.app.hide(this) });
    this.hideBtn.setAttribute("aria-label", t("pane.hide"));
    this.log = el("div", { class: "transcript", role: "log", tabindex: "0" });
    this.log.setAttribute("aria-label", t("pane.transcript"));
    this.typingLine = el("p", { class: "typing", "aria-live": "polite" });
    this.status = el("p", { class: "pane-status", role: "status" });
    this.input = el("textarea", { rows: "2", maxlength: "4000", class: "reply" });
    this.input.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        this.submit();
      }
    });
    this.input.addEventListener("input", () => this.typing(this.input.value.trim() !== ""));
    this.composer = el("form", { class: "composer", onsubmit: (e) => { e.preventDefault(); this.submit(); } }, [
      this.input, el("button", { type: "submit", class: "primary", text: t("pane.send") })]);
    this.node = el("section", { class: "pane", "aria-labelledby": hid, "data-conversation": this.id }, [
      el("header", { class: "pane-head" }, [
        el("div", { class: "pane-top" }, [this.title, this.hideBtn]),
        this.details,
        this.ticketBox,
        el("div", { class: "pane-tools" }, [this.claimBtn, this.releaseBtn, this.closeBtn]),
        // The export is an admin route: agents are not shown buttons that
        // would only be refused.
        this.app.me.role === "admin" ? exportTools(this.id, visitorName(this.conv)) : null,
      ]),
      this.whyBox, this.log, this.typingLine, this.status, this.composer,
    ]);
  }

  update(conv) {
    const wasMine = this.mine();
    const before = this.conv.ticket;
    this.conv = Object.assign({}, this.conv, conv);
    this.conv.ticket = laterTicket(before, conv.ticket);
    const c = this.conv;
    const name = visitorName(c);
    this.title.textContent = c.visitor && c.visitor.authenticated ? t("pane.signedIn", { name }) : name;
    clear(this.details);
    const fact = (k, v) => { if (v) this.details.append(el("dt", { text: k }), el("dd", {}, [v])); };
    fact(t("pane.email"), (c.visitor && c.visitor.email) || t("pane.notGiven"));
    fact(t("pane.profile"), (c.visitor && c.visitor.profile_id) || t("pane.none"));
    let st = STATUS[c.status] ? t(STATUS[c.status]) : c.status;
    if (c.status === "assigned" && c.agent) st = c.agent_id === this.app.me.id ? t("pane.withYou") : t("pane.withAgent", { name: c.agent.name });
    fact(t("pane.status"), st);
    if (c.rating) fact(t("pane.rating"), c.rating.comment ? t("pane.ratingComment", { score: c.rating.score, comment: c.rating.comment })
      : t("pane.ratingValue", { score: c.rating.score }));
    if (c.page) fact(t("pane.page"), safeURL(c.page) ? el("a", { href: c.page, target: "_blank", rel: "noopener noreferrer", text: c.page }) : c.page);
    this.renderWhy(c);
    this.renderTicket(c.ticket);
    const live = c.status !== "closed" && c.status !== "ticketed";
    this.claimBtn.hidden = c.status !== "queued";
    this.releaseBtn.hidden = !(c.status === "assigned" && (this.mine() || this.app.me.role === "admin"));
    this.closeBtn.hidden = !live || (c.status === "assigned" && !this.mine() && this.app.me.role !== "admin");
    this.composer.hidden = !this.mine();
    this.input.setAttribute("aria-label", t("pane.replyTo", { name }));
    this.log.setAttribute("aria-label", t("pane.transcriptWith", { name }));
    if (!live) say(this.status, c.status === "ticketed" ? t("pane.wentToHelpdesk") : t("pane.ended"));
    else if (c.status === "assigned" && !this.mine()) say(this.status, t("pane.otherAgent"));
    else if (c.status === "queued") say(this.status, t("pane.claimToReply"));
    else if (c.status !== "assigned") say(this.status, t("pane.withAssistant"));
    else say(this.status, "");
    if (!this.mine()) this.showTyping(false);
    if (wasMine !== this.mine() && this.loaded) this.refresh();
  }

  // renderWhy shows the handoff's reason (with the model's own words) and
  // its summary above the transcript, once the conversation has one.
  renderWhy(c) {
    const h = c.handoff;
    const reason = h ? h.reason : c.handoff_reason;
    const key = JSON.stringify([reason || "", (h && h.detail) || "", (h && h.summary) || ""]);
    if (key === this.whyKey) return;
    this.whyKey = key;
    clear(this.why);
    if (reason) this.why.append(el("dt", { text: t("pane.why") }), el("dd", { class: "why-reason", "data-reason": reason, text: reasonText(reason, h && h.detail) }));
    if (h && h.summary) this.why.append(el("dt", { text: t("pane.summary") }), el("dd", { class: "why-summary", text: h.summary }));
    this.whyBox.hidden = !this.why.firstChild;
  }

  // renderTicket shows the helpdesk ticket, redrawn only when it changed so
  // that a screen reader hears each change once. Admins may retry a failed
  // one here.
  renderTicket(tk) {
    const key = tk ? JSON.stringify(tk) : "";
    if (key === this.ticketKey) return;
    this.ticketKey = key;
    const box = clear(this.ticketBox);
    box.hidden = !tk;
    if (!tk) return;
    box.dataset.state = tk.state || "";
    const dl = el("dl", { class: "ticket-facts" });
    ticketFacts(dl, tk);
    box.append(dl);
    if (tk.state === "failed" && this.app.me.role === "admin") {
      const status = el("p", { class: "form-status", role: "status", tabindex: "-1" });
      const btn = el("button", { type: "button", class: "small", text: t("ticket.retry") });
      btn.setAttribute("aria-label", t("ticket.retryFor", { provider: providerName(tk.provider), name: visitorName(this.conv) }));
      btn.addEventListener("click", async () => {
        btn.disabled = true;
        say(status, t("ticket.retrying"));
        try {
          const h = await retryHandoff(this.id);
          const next = h && h.ticket ? h.ticket : Object.assign({}, tk, { state: "pending", error: "" });
          this.update({ ticket: next });
          // The button is gone with the failure; the box says what happens.
          this.ticketBox.focus();
        } catch (e) {
          btn.disabled = false;
          say(status, retryError(e), true);
        }
      });
      box.append(el("div", { class: "save-row" }, [btn, status]));
    }
  }

  async refresh() {
    if (this.refreshing) {
      this.again = true;
      return this.refreshing;
    }
    this.refreshing = (async () => {
      try {
        this.apply(await api("GET", "/v1/agent/conversations/" + encodeURIComponent(this.id)));
      } catch (e) {
        say(this.status, t("pane.loadFailed", { reason: e.message }), true);
      }
    })();
    await this.refreshing;
    this.refreshing = null;
    if (this.again) {
      this.again = false;
      await this.refresh();
    }
  }

  // apply shows a conversation as GET /v1/agent/conversations/:id answers
  // it: the conversation and its whole transcript.
  apply(r) {
    this.update(r.conversation);
    for (const m of r.messages || []) this.addMessage(m);
    this.loaded = true;
  }

  who(m) {
    if (m.role === "visitor") return t("who.visitor");
    if (m.role === "assistant") return t("who.assistant");
    if (m.role === "agent") return m.author_id === this.app.me.id ? t("who.you") : (m.author || t("who.agent"));
    return t("who.system");
  }

  bubble(m) {
    const body = el("p", { class: "text" });
    // What visitors write is never made into links.
    if (m.role === "visitor") body.textContent = m.text;
    else body.append(richText(m.text));
    return el("div", { class: "msg " + m.role }, [
      el("div", { class: "meta" }, [el("span", { class: "who", text: this.who(m) }),
        m.ts ? el("time", { datetime: m.ts, text: fmtTime(m.ts) }) : null]),
      body]);
  }

  // addMessage shows an entry once, in seq order. A hole in the seqs means
  // frames were missed: the transcript is read again.
  addMessage(m, live) {
    if (!m || !m.seq || this.shown.has(m.seq)) return;
    if (live && this.loaded && m.seq > this.lastSeq + 1) this.refresh();
    this.shown.add(m.seq);
    this.lastSeq = Math.max(this.lastSeq, m.seq);
    if (m.client_id && this.pending.has(m.client_id)) this.stored(m.client_id);
    const node = this.bubble(m);
    node.dataset.seq = String(m.seq);
    node.dataset.role = m.role;
    const after = Array.from(this.log.children).find((k) => !k.dataset.seq || Number(k.dataset.seq) > m.seq);
    this.log.insertBefore(node, after || null);
    if (m.role === "visitor") this.showTyping(false);
    if (live && m.role === "visitor" && (!this.node.isConnected || document.hidden)) {
      this.unread++;
      this.app.changed(this);
    }
    this.log.scrollTop = this.log.scrollHeight;
  }

  showTyping(active) {
    clearTimeout(this.typingShown);
    this.typingLine.textContent = active ? t("pane.visitorTyping") : "";
    if (active) this.typingShown = setTimeout(() => this.showTyping(false), 8000);
  }

  // typing tells the visitor, at most every few seconds, and stops by
  // itself when the agent pauses.
  typing(active) {
    clearTimeout(this.typingIdle);
    const now = Date.now();
    if (active !== this.typingSent || (active && now - this.typingAt > 3000)) {
      this.typingSent = active;
      this.typingAt = now;
      this.app.live.send({ type: "typing", conversation_id: this.id, active });
    }
    if (active) this.typingIdle = setTimeout(() => this.typing(false), 3000);
  }

  async submit() {
    const text = this.input.value.trim();
    if (!text || !this.mine()) return;
    this.input.value = "";
    this.typing(false);
    this.post(uid(), text);
  }

  // post writes a line. Lines go out one at a time, in the order written:
  // over the socket while it is live (the line's echo on the conversation's
  // feed says it is stored), else over REST. The same client_id is stored
  // once, so sending a line again is always safe.
  post(clientID, text) {
    let p = this.pending.get(clientID);
    if (!p) {
      const node = this.bubble({ role: "agent", author_id: this.app.me.id, text });
      node.classList.add("pending");
      node.dataset.clientId = clientID;
      this.log.append(node);
      p = { node, text, tries: 0, timer: 0 };
      this.pending.set(clientID, p);
      this.log.scrollTop = this.log.scrollHeight;
    }
    p.tries = 0;
    p.node.classList.remove("failed");
    p.node.querySelector(".retry")?.remove();
    if (!this.outbox.includes(clientID)) this.outbox.push(clientID);
    this.pump();
  }

  pump() {
    while (!this.inflight && this.outbox.length) {
      const id = this.outbox[0];
      if (this.pending.has(id)) this.sendLine(id);
      else this.outbox.shift();
    }
  }

  sendLine(id) {
    const p = this.pending.get(id);
    this.inflight = id;
    clearTimeout(this.ackTimer);
    if (this.app.live.send({ type: "message", conversation_id: this.id, client_id: id, text: p.text })) {
      this.ackTimer = setTimeout(() => this.viaREST(id), ACK_WAIT);
    } else {
      this.viaREST(id);
    }
  }

  async viaREST(id) {
    const p = this.pending.get(id);
    if (!p || this.inflight !== id) return;
    clearTimeout(this.ackTimer);
    try {
      const r = await api("POST", "/v1/agent/conversations/" + encodeURIComponent(this.id) + "/messages", { client_id: id, text: p.text });
      this.addMessage(r.message);
    } catch (e) {
      this.refused(id, e.code || (e.status === 429 ? "rate_limited" : e.status >= 500 ? "unavailable" : ""), e.message);
    }
  }

  // stored takes a line off the outbox: its entry came back.
  stored(id) {
    const p = this.pending.get(id);
    p.node.remove();
    clearTimeout(p.timer);
    this.pending.delete(id);
    this.outbox = this.outbox.filter((x) => x !== id);
    if (this.inflight === id) {
      clearTimeout(this.ackTimer);
      this.inflight = "";
      this.pump();
    }
  }

  // refused hears that a line was not stored (an error frame naming it, or
  // REST's answer). For a passing reason it goes again after a short wait,
  // still ahead of the lines written after it; it shows as failed only when
  // that keeps happening, or when the reason will not pass. Reports whether
  // the line was this pane's.
  refused(id, code, message) {
    const p = this.pending.get(id);
    if (!p) return false;
    if (this.inflight === id) clearTimeout(this.ackTimer);
    if (PASSING.has(code) && p.tries < RESEND.length) {
      const wait = RESEND[p.tries++];
      this.inflight = id;
      clearTimeout(p.timer);
      p.timer = setTimeout(() => { if (this.inflight === id && this.pending.has(id)) this.sendLine(id); }, wait + Math.random() * wait / 4);
      return true;
    }
    p.node.classList.add("failed");
    p.node.querySelector(".retry")?.remove();
    p.node.append(el("p", { class: "retry" }, [
      el("span", { text: t("pane.notSent", { reason: message || code }) + " " }),
      el("button", { type: "button", text: t("common.retry"), onclick: () => this.post(id, p.text) })]));
    this.outbox = this.outbox.filter((x) => x !== id);
    if (this.inflight === id) {
      this.inflight = "";
      this.pump();
    }
    return true;
  }

  async act(what, done) {
    try {
      const r = await api("POST", "/v1/agent/conversations/" + encodeURIComponent(this.id) + "/" + what);
      this.update(r.conversation);
      if (done) done(r.conversation);
    } catch (e) {
      say(this.status, e.message, true);
      this.app.toast(e.message, true);
    }
  }

  claim() {
    return this.act("claim", () => {
      this.refresh();
      this.input.focus();
    });
  }

  release() { return this.act("release"); }

  closeConversation() {
    if (this.closeBtn.dataset.confirm !== "1") {
      this.closeBtn.dataset.confirm = "1";
      this.closeBtn.textContent = t("pane.confirmClose");
      setTimeout(() => {
        this.closeBtn.dataset.confirm = "";
        this.closeBtn.textContent = t("pane.close");
      }, 5000);
      return;
    }
    this.closeBtn.dataset.confirm = "";
    this.closeBtn.textContent = t("pane.close");
    return this.act("close");
  }

  focus() {
    (this.mine() ? this.input : this.log).focus();
  }
}
