// The inbox: the live queue with how long each visitor has waited, the
// agent's own conversations, recent ones by status, the open panes, and
// the alerts (badge, sound, desktop notification) for every new handoff.

import { el, clear, $, fmtWait } from "./dom.js";
import { Pane, visitorName } from "./pane.js";
import { Recent } from "./recent.js";
import { api } from "./api.js";
import { t } from "./i18n.js";

const SOUND = "baton.console.sound";

export class Inbox {
  constructor(app) {
    this.app = app;
    this.queue = [];
    this.total = 0;
    this.queueVersion = null; // the snapshot's, while the queue follows deltas
    this.seen = new Set();
    this.first = true;
    this.fresh = new Set();
    this.panes = new Map();
    this.audio = null;
    this.queueList = $("#queue");
    this.mineList = $("#mine");
    this.panesNode = $("#panes");
    this.sound = localStorage.getItem(SOUND) !== "off";
    this.soundBtn = $("#sound");
    this.soundBtn.addEventListener("click", () => this.toggleSound());
    this.notifyBtn = $("#notify");
    this.notifyBtn.addEventListener("click", () => this.askNotifications());
    this.renderAlertsControls();
    this.recent = new Recent(this);
    this.ticker = setInterval(() => this.tick(), 1000);
    // Back in the tab, what is on screen has been seen.
    document.addEventListener("visibilitychange", () => {
      if (document.hidden) return;
      for (const p of this.panes.values()) if (p.node.isConnected) p.unread = 0;
      this.renderMine();
      this.app.badge();
    });
    // Browsers let a page play sound only after a gesture; any click will do.
    document.addEventListener("pointerdown", () => this.unlockAudio(), { once: true });
    document.addEventListener("keydown", () => this.unlockAudio(), { once: true });
  }

  // setQueue takes a snapshot. Conversations not seen before are new
  // handoffs, except in the very first snapshot after signing in. version
  // is the snapshot's place in the socket's stream of queue deltas.
  setQueue(list, total, version) {
    this.queueVersion = typeof version === "number" ? version : null;
    this.queue = list || [];
    this.total = total || this.queue.length;
    const arrived = this.queue.filter((c) => !this.seen.has(c.id));
    for (const c of this.queue) this.seen.add(c.id);
    if (!this.first) {
      for (const c of arrived) {
        this.fresh.add(c.id);
        this.alert(c);
      }
    }
    this.first = false;
    for (const c of this.queue) {
      const p = this.panes.get(c.id);
      if (p) {
        p.update(c);
        if (c.last_seq > p.lastSeq && p.loaded) p.refresh();
      }
    }
    this.renderQueue();
    this.app.badge();
  }

  // keepFocus re-renders a list without losing a keyboard user's place: the
  // focused control is found again by its conversation and its class.
  keepFocus(list, render) {
    const a = document.activeElement;
    const li = a && list.contains(a) ? a.closest("[data-conversation]") : null;
    const key = li ? [li.dataset.conversation, a.className] : null;
    render();
    if (!key) return;
    const again = list.querySelector('[data-conversation="' + CSS.escape(key[0]) + '"] ' + (key[1] ? "." + key[1].trim().split(/\s+/).map(CSS.escape).join(".") : "button"));
    (again || list.querySelector("button") || list.closest("aside")).focus();
  }

  // queueDelta applies one change of the queue (a queue_delta frame) to
  // the snapshot held. It returns false when a version is missing: what is
  // held can no longer be trusted, so deltas are ignored until the snapshot
  // the caller asks for (queue_sync) arrives.
  queueDelta(f) {
    if (this.queueVersion === null || f.version <= this.queueVersion) return true;
    if (f.version !== this.queueVersion + 1) {
      this.queueVersion = null;
      return false;
    }
    const list = this.queue.slice();
    const id = f.conversation && f.conversation.id;
    const at = list.findIndex((c) => c.id === id);
    if (at >= 0 && (f.op === "removed" || f.op === "added" || f.op === "changed")) list.splice(at, 1);
    if (f.op === "added" || f.op === "changed") {
      list.splice(Math.max(0, Math.min((f.position || 1) - 1, list.length)), 0, f.conversation);
    }
    // Positions are the order; deltas do not restate everyone's.
    list.forEach((c, i) => { c.queue_position = i + 1; });
    this.setQueue(list, f.total, f.version);
    return true;
  }

  renderQueue() {
    this.keepFocus(this.queueList, () => this.drawQueue());
  }

  // drawQueue updates the list in place, keyed by conversation: a row the
  // agent is pressing is the same element before and after an update (a
  // list rebuilt between a button's mousedown and mouseup loses the click).
  drawQueue() {
    $("#queue-count").textContent = String(this.total);
    if (!this.rows) this.rows = new Map();
    const keep = new Set(this.queue.map((c) => c.id));
    for (const [id, row] of this.rows) {
      if (!keep.has(id)) { row.li.remove(); this.rows.delete(id); }
    }
    let empty = this.queueList.querySelector("li.empty");
    if (!this.queue.length) {
      if (!empty) this.queueList.append(el("li", { class: "empty", text: t("inbox.nobody") }));
      return;
    }
    if (empty) empty.remove();
    let at = this.queueList.firstElementChild;
    for (const c of this.queue) {
      let row = this.rows.get(c.id);
      if (!row) {
        row = this.queueRow(c);
        this.rows.set(c.id, row);
      }
      row.c = c;
      const name = visitorName(c);
      row.name.textContent = name;
      row.fresh.hidden = !this.fresh.has(c.id);
      row.wait.dataset.since = c.queued_at || "";
      const last = c.last_message ? c.last_message.text : "";
      row.last.textContent = last.length > 120 ? last.slice(0, 120) + "…" : last;
      row.last.hidden = !last;
      row.pos.textContent = "#" + (c.queue_position || "");
      row.claim.setAttribute("aria-label", t("inbox.claimWith", { name }));
      // Moved only when out of place: a node taken out of the page, even
      // for a moment, loses a press under way.
      if (row.li !== at) this.queueList.insertBefore(row.li, at);
      else at = at.nextElementSibling;
    }
    this.tick();
  }

  queueRow(c) {
    const row = {};
    row.name = el("span", { class: "name" });
    row.fresh = el("span", { class: "new", text: t("inbox.new") });
    row.wait = el("span", { class: "wait" });
    row.last = el("p", { class: "last" });
    row.pos = el("span", { class: "muted" });
    row.claim = el("button", { type: "button", class: "primary small", text: t("pane.claim"), onclick: () => this.claim(row.c) });
    const open = el("button", { type: "button", class: "link", onclick: () => this.open(row.c, true) }, [row.name, row.fresh]);
    row.li = el("li", { class: "queue-item", "data-conversation": c.id }, [
      el("div", { class: "row" }, [open, row.wait]), row.last, el("div", { class: "row" }, [row.pos, row.claim])]);
    return row;
  }

  tick() {
    const now = Date.now();
    for (const w of this.queueList.querySelectorAll(".wait")) {
      const since = Date.parse(w.dataset.since);
      w.textContent = isNaN(since) ? "" : t("inbox.waiting", { time: fmtWait((now - since) / 1000) });
    }
  }

  // conversation takes one changed conversation from the socket.
  conversation(c) {
    const p = this.panes.get(c.id);
    const mine = c.status === "assigned" && c.agent_id === this.app.me.id;
    if (p) {
      p.update(c);
      if (!p.node.isConnected && !p.mine()) this.panes.delete(c.id);
    } else if (mine) {
      this.open(c, false);
    }
    this.recent.conversation(c);
    this.renderMine();
  }

  // resync reads back what may have been missed while the socket was down:
  // the agent's conversations and every open transcript.
  async resync() {
    this.recent.load();
    try {
      const r = await api("GET", "/v1/agent/conversations?status=assigned");
      for (const c of r.conversations || []) {
        if (c.agent_id === this.app.me.id) this.conversation(c);
      }
      for (const p of this.panes.values()) p.refresh();
    } catch (e) {
      this.app.toast(t("inbox.resyncFailed", { reason: e.message }), true);
    }
  }

  message(convID, m) {
    const p = this.panes.get(convID);
    if (p) p.addMessage(m, true);
  }

  typing(convID, role, active) {
    const p = this.panes.get(convID);
    if (p && role === "visitor") p.showTyping(active);
  }

  // open shows a conversation's pane, reading its transcript unless data
  // (what GET /v1/agent/conversations/:id answered) is at hand.
  open(c, focus, data) {
    let p = this.panes.get(c.id);
    if (!p) {
      p = new Pane(this.app, c);
      this.panes.set(c.id, p);
      if (data) p.apply(data);
      else p.refresh();
    }
    if (!p.node.isConnected) this.panesNode.prepend(p.node);
    p.unread = 0;
    this.fresh.delete(c.id);
    this.renderMine();
    this.app.badge();
    if (focus) p.focus();
    return p;
  }

  // openByID opens a conversation known by its id alone (a link from the
  // handoffs view).
  async openByID(id) {
    const known = this.panes.get(id);
    if (known) {
      this.open(known.conv, true);
      return;
    }
    try {
      const r = await api("GET", "/v1/agent/conversations/" + encodeURIComponent(id));
      this.open(r.conversation, true, r);
    } catch (e) {
      this.app.toast(e.status === 404 ? t("inbox.notThere") : t("inbox.openFailed", { reason: e.message }), true);
    }
  }

  hide(p) {
    p.node.remove();
    if (!p.mine()) this.panes.delete(p.id);
    this.renderMine();
  }

  async claim(c) {
    const p = this.open(c, false);
    await p.claim();
    this.renderMine();
  }

  mine() {
    return Array.from(this.panes.values()).filter((p) => p.mine());
  }

  renderMine() {
    this.keepFocus(this.mineList, () => this.drawMine());
  }

  drawMine() {
    clear(this.mineList);
    const mine = this.mine();
    $("#mine-count").textContent = String(mine.length);
    if (!mine.length) {
      this.mineList.append(el("li", { class: "empty", text: t("inbox.noneMine") }));
    }
    for (const p of mine) {
      const label = p.unread ? t("inbox.unread", { name: visitorName(p.conv), n: p.unread }) : visitorName(p.conv);
      this.mineList.append(el("li", { "data-conversation": p.id }, [
        el("button", { type: "button", class: "link" + (p.node.isConnected ? " current" : ""), text: label, onclick: () => this.open(p.conv, true) }),
      ]));
    }
    const empty = $("#panes-empty");
    empty.hidden = this.panesNode.children.length > 0;
  }

  // cursors: how far each of the agent's transcripts has been shown.
  cursors() {
    const out = {};
    for (const p of this.panes.values()) if (p.mine() && p.loaded) out[p.id] = p.lastSeq;
    return out;
  }

  unreadTotal() {
    let n = 0;
    for (const p of this.panes.values()) n += p.unread;
    return n;
  }

  // --- alerts ----------------------------------------------------------------
  alert(c) {
    if (this.sound) this.beep();
    if ("Notification" in window && Notification.permission === "granted") {
      try {
        const n = new Notification(t("inbox.notifyTitle"), {
          body: visitorName(c) + (c.last_message ? ": " + c.last_message.text.slice(0, 140) : ""),
          tag: "baton-" + c.id,
        });
        n.onclick = () => {
          window.focus();
          this.app.go("inbox");
          this.open(c, true);
          n.close();
        };
      } catch {
        // Some browsers allow notifications only from a service worker.
      }
    }
    this.app.announce(t("inbox.newFrom", { name: visitorName(c) }));
  }

  unlockAudio() {
    try {
      if (!this.audio) this.audio = new AudioContext();
      if (this.audio.state === "suspended") this.audio.resume();
    } catch {
      this.audio = null;
    }
  }

  // beep plays two short tones made on the spot: no sound file to fetch.
  beep() {
    this.unlockAudio();
    const a = this.audio;
    if (!a) return;
    const t = a.currentTime;
    for (const [freq, at] of [[880, 0], [1175, 0.16]]) {
      const o = a.createOscillator();
      const g = a.createGain();
      o.type = "sine";
      o.frequency.value = freq;
      g.gain.setValueAtTime(0.0001, t + at);
      g.gain.exponentialRampToValueAtTime(0.25, t + at + 0.02);
      g.gain.exponentialRampToValueAtTime(0.0001, t + at + 0.14);
      o.connect(g).connect(a.destination);
      o.start(t + at);
      o.stop(t + at + 0.15);
    }
  }

  toggleSound() {
    this.sound = !this.sound;
    localStorage.setItem(SOUND, this.sound ? "on" : "off");
    this.renderAlertsControls();
    if (this.sound) this.beep();
  }

  async askNotifications() {
    if (!("Notification" in window)) return;
    try {
      await Notification.requestPermission();
    } catch {
      // Older browsers take a callback instead; the button stays.
    }
    this.renderAlertsControls();
  }

  renderAlertsControls() {
    // A toggle keeps its name; aria-pressed (and the style) say the state.
    this.soundBtn.setAttribute("aria-pressed", String(this.sound));
    const can = "Notification" in window;
    this.notifyBtn.hidden = !can || Notification.permission !== "default";
  }
}
