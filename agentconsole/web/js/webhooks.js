// The webhooks card: the merchant's endpoints, each with its events, a
// test delivery and a new secret on demand, the form that adds or edits
// one, the secret shown the one time the server shows it, and the
// deliveries that failed for good, each to be sent again.

import { el, clear, $, $$, say, safeURL, fmtTime } from "./dom.js";
import { api, errText } from "./api.js";
import { t, tn, number, dateFormat } from "./i18n.js";

// when is a moment with its day, for one that may be tomorrow.
function when(iso) {
  const d = new Date(iso || "");
  return isNaN(d) ? "" : dateFormat({ day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" }).format(d);
}

const EVENTS = {
  "conversation.started": "webhooks.event.conversation.started",
  "conversation.handoff": "webhooks.event.conversation.handoff",
  "conversation.assigned": "webhooks.event.conversation.assigned",
  "conversation.closed": "webhooks.event.conversation.closed",
  "conversation.ticketed": "webhooks.event.conversation.ticketed",
  "csat.submitted": "webhooks.event.csat.submitted",
};

// eventLabel names an event in the console's language; one the console
// does not know yet keeps its own name.
function eventLabel(ev) {
  return EVENTS[ev] ? t(EVENTS[ev]) : ev;
}

// detail is what an error adds to the status the endpoint answered: the
// server writes "HTTP 500: its body"; the body is the endpoint's own words.
function detail(status, error) {
  const e = String(error || "");
  if (!status) return e;
  const head = "HTTP " + status;
  if (e === head) return "";
  return e.startsWith(head + ": ") ? e.slice(head.length + 2) : e;
}

export class Webhooks {
  constructor() {
    this.endpoints = [];
    this.failed = [];
    this.editing = "";   // the id of the endpoint in the form; "" adds one
    this.form = $("#webhook-form");
    this.url = $("#webhook-url");
    this.form.addEventListener("submit", (e) => { e.preventDefault(); this.save(); });
    $("#webhook-cancel").addEventListener("click", () => { this.edit(null); this.url.focus(); });
    $("#webhook-secret-copy").addEventListener("click", () => this.copySecret());
    $("#webhook-secret-done").addEventListener("click", () => this.hideSecret());
    $("#deliveries-refresh").addEventListener("click", () => this.loadDeliveries(true));
    this.url.addEventListener("input", () => this.fieldError("url", ""));
    for (const c of $$("#webhook-events input")) c.addEventListener("change", () => this.fieldError("events", ""));
  }

  async load() {
    try {
      const [h, d] = await Promise.all([api("GET", "/v1/admin/webhooks"), api("GET", "/v1/admin/webhooks/deliveries?state=failed")]);
      this.endpoints = h.endpoints || [];
      this.failed = d.deliveries || [];
      say($("#webhooks-status"), "");
    } catch (e) {
      say($("#webhooks-status"), t("webhooks.loadFailed", { reason: errText(e) }), true);
    }
    this.render();
    this.renderDeliveries();
  }

  async loadDeliveries(announce) {
    const status = $("#deliveries-status");
    try {
      const d = await api("GET", "/v1/admin/webhooks/deliveries?state=failed");
      this.failed = d.deliveries || [];
      this.renderDeliveries();
      this.render();
      if (announce) say(status, tn("webhooks.failedCount", this.failed.length));
    } catch (e) {
      say(status, t("webhooks.loadFailed", { reason: errText(e) }), true);
    }
  }

  render() {
    const list = clear($("#webhook-list"));
    $("#webhooks-empty").hidden = this.endpoints.length > 0;
    for (const ep of this.endpoints) list.append(this.item(ep));
  }

  item(ep) {
    const result = el("p", { class: "form-status test-result", role: "status" });
    const failed = this.failed.filter((d) => d.endpoint_id === ep.id).length;
    const state = [t("webhooks.active")];
    const grace = ep.previous_secret_until;
    if (grace) state.push(t("webhooks.graceUntil", { when: when(grace) }));
    if (failed) state.push(tn("webhooks.failedCount", failed));
    const btn = (key, forKey, fn, cls) => el("button", { type: "button", class: cls || "small", text: t(key),
      "aria-label": t(forKey, { url: ep.url }), onclick: fn });
    const li = el("li", { class: "webhook", "data-endpoint": ep.id }, [
      el("p", { class: "webhook-url", text: ep.url }),
      el("p", { class: "webhook-events" }, [el("span", { class: "label-inline", text: t("webhooks.events") + ": " }),
        (ep.events || []).map(eventLabel).join(", ")]),
      el("p", { class: "webhook-state" + (failed ? " warn" : ""), text: state.join(" · ") }),
      el("div", { class: "save-row" }, [
        btn("webhooks.test", "webhooks.testFor", (e) => this.test(ep, e.currentTarget, result)),
        btn("webhooks.edit", "webhooks.editFor", () => this.edit(ep)),
        btn("webhooks.rotate", "webhooks.rotateFor", (e) => this.rotate(ep, e.currentTarget, result)),
        btn("webhooks.remove", "webhooks.removeFor", () => this.confirmRemove(ep, li), "small danger"),
      ]),
      result,
    ]);
    return li;
  }

  // edit puts ep in the form (null: the form adds a new endpoint).
  edit(ep) {
    this.editing = ep ? ep.id : "";
    this.url.value = ep ? ep.url : "";
    for (const c of $$("#webhook-events input")) c.checked = ep ? (ep.events || []).includes(c.value) : false;
    this.fieldError("url", "");
    this.fieldError("events", "");
    say($("#webhook-form-status"), "");
    $("#webhook-form-h").textContent = t(ep ? "webhooks.editTitle" : "webhooks.addTitle");
    this.form.querySelector("button[type=submit]").textContent = t(ep ? "webhooks.saveEdit" : "webhooks.add");
    $("#webhook-cancel").hidden = !ep;
    if (ep) this.url.focus();
  }

  fieldError(field, text) {
    const err = $("#webhook-" + field + "-error");
    err.textContent = text;
    err.hidden = !text;
    const target = field === "url" ? this.url : $("#webhook-events");
    if (text) target.setAttribute("aria-invalid", "true");
    else target.removeAttribute("aria-invalid");
  }

  // put sends the whole list, as the server wants it; secrets are left
  // out, so every endpoint keeps its own.
  async put(list) {
    const body = { endpoints: list.map((e) => ({ id: e.id || undefined, url: e.url, events: e.events })) };
    const r = await api("PUT", "/v1/admin/webhooks", body);
    this.endpoints = r.endpoints || [];
    this.render();
    return this.endpoints;
  }

  async save() {
    const status = $("#webhook-form-status");
    const url = this.url.value.trim();
    const events = $$("#webhook-events input:checked").map((c) => c.value);
    let bad = false;
    if (!safeURL(url)) { this.fieldError("url", t("err.invalid_url")); bad = true; }
    if (!events.length) { this.fieldError("events", t("err.invalid_events")); bad = true; }
    if (bad) {
      say(status, "");
      (safeURL(url) ? $("#webhook-events input") : this.url).focus();
      return;
    }
    const list = this.endpoints.map((e) => (e.id === this.editing ? { id: e.id, url, events } : e));
    const index = this.editing ? list.findIndex((e) => e.id === this.editing) : list.length;
    if (!this.editing) list.push({ url, events });
    const btn = this.form.querySelector("button[type=submit]");
    btn.disabled = true;
    say(status, t("webhooks.saving"));
    try {
      const eps = await this.put(list);
      const added = eps.find((e) => e.secret);
      const was = this.editing;
      this.edit(null);
      say(status, t(was ? "webhooks.saved" : "webhooks.added"));
      if (added) this.showSecret(added, false);
    } catch (e) {
      say(status, "");
      this.showError(e, index, status);
    } finally {
      btn.disabled = false;
    }
  }

  // showError puts a refusal next to the field it is about; a refusal of
  // another endpoint than the form's (its address no longer allowed) is
  // said in the form's status, naming that endpoint.
  showError(e, index, status) {
    const m = /^endpoint (\d+):/.exec(e.message || "");
    const other = m && Number(m[1]) !== index ? this.endpoints[Number(m[1])] : null;
    if (other) {
      say(status, t("webhooks.otherRefused", { url: other.url, reason: errText(e) }), true);
      return;
    }
    if (e.code === "url_not_allowed" || e.code === "invalid_url") {
      this.fieldError("url", errText(e));
      this.url.focus();
    } else if (e.code === "invalid_events") {
      this.fieldError("events", errText(e));
      $("#webhook-events input").focus();
    } else {
      say(status, t("common.notSaved", { reason: errText(e) }), true);
    }
  }

  confirmRemove(ep, li) {
    const row = li.querySelector(".save-row");
    const keep = el("button", { type: "button", class: "small", text: t("webhooks.keep") });
    const yes = el("button", { type: "button", class: "small danger", text: t("webhooks.removeYes") });
    const ask = el("div", { class: "confirm", role: "group", "aria-label": t("webhooks.removeAsk", { url: ep.url }) }, [
      el("p", { text: t("webhooks.removeAsk", { url: ep.url }) }), yes, keep]);
    row.hidden = true;
    li.insertBefore(ask, row);
    keep.addEventListener("click", () => { ask.remove(); row.hidden = false; row.querySelector(".danger").focus(); });
    yes.addEventListener("click", async () => {
      yes.disabled = true;
      try {
        await this.put(this.endpoints.filter((e) => e.id !== ep.id));
        if (this.editing === ep.id) this.edit(null);
        say($("#webhooks-status"), t("webhooks.removed", { url: ep.url }));
        $("#webhook-url").focus();
      } catch (e) {
        yes.disabled = false;
        say($("#webhooks-status"), t("common.notSaved", { reason: errText(e) }), true);
      }
    });
    yes.focus();
  }

  async test(ep, btn, result) {
    btn.disabled = true;
    say(result, t("webhooks.testing"));
    try {
      const r = (await api("POST", "/v1/admin/webhooks/" + encodeURIComponent(ep.id) + "/test")).result || {};
      const ms = number(r.took_ms || 0);
      if (r.ok) say(result, t("webhooks.testOK", { status: r.status, ms }));
      else if (r.status) say(result, t("webhooks.testStatus", { status: r.status, ms, error: detail(r.status, r.error) }).trim(), true);
      else say(result, t("webhooks.testError", { error: r.error || "", ms }), true);
    } catch (e) {
      say(result, t("webhooks.testFailed", { reason: errText(e) }), true);
    } finally {
      btn.disabled = false;
    }
  }

  async rotate(ep, btn, result) {
    btn.disabled = true;
    say(result, "");
    try {
      const r = await api("POST", "/v1/admin/webhooks/" + encodeURIComponent(ep.id) + "/rotate");
      const next = r.endpoint || {};
      this.endpoints = this.endpoints.map((e) => (e.id === ep.id ? Object.assign({}, next, { secret: undefined }) : e));
      this.render();
      this.showSecret(next, true);
    } catch (e) {
      say(result, t("webhooks.rotateFailed", { reason: errText(e) }), true);
      btn.disabled = false;
    }
  }

  // showSecret shows a secret the one time the server gives it; the page
  // keeps it nowhere else and forgets it when the admin is done.
  showSecret(ep, rotated) {
    const box = $("#webhook-secret");
    $("#webhook-secret-for").textContent = t("webhooks.secretFor", { url: ep.url });
    $("#webhook-secret-value").value = ep.secret || "";
    const grace = $("#webhook-secret-grace");
    grace.hidden = !rotated;
    grace.textContent = rotated ? t("webhooks.grace", { when: when(ep.previous_secret_until) || t("webhooks.aDay") }) : "";
    say($("#webhook-secret-status"), "");
    box.hidden = false;
    $("#webhook-secret-value").focus();
    $("#webhook-secret-value").select();
  }

  hideSecret() {
    $("#webhook-secret-value").value = "";
    $("#webhook-secret").hidden = true;
    this.url.focus();
  }

  async copySecret() {
    const box = $("#webhook-secret-value");
    try {
      await navigator.clipboard.writeText(box.value);
    } catch {
      box.select();
      document.execCommand("copy");
    }
    say($("#webhook-secret-status"), t("webhooks.copied"));
  }

  renderDeliveries() {
    const list = clear($("#delivery-list"));
    $("#deliveries-empty").hidden = this.failed.length > 0;
    for (const d of this.failed) {
      const status = el("p", { class: "form-status", role: "status" });
      const why = d.last_status ? t("webhooks.lastStatus", { status: d.last_status }) : "";
      const retry = el("button", { type: "button", class: "small", text: t("webhooks.retry"),
        "aria-label": t("webhooks.retryFor", { type: d.type, url: d.url }) });
      retry.addEventListener("click", () => this.retry(d, retry, status));
      list.append(el("li", { class: "delivery", "data-delivery": d.id }, [
        el("p", { class: "delivery-head" }, [el("b", { text: d.type }), " → ", d.url]),
        el("p", { class: "hint", text: [tn("webhooks.attempts", d.attempts || 0), why, detail(d.last_status, d.last_error), fmtTime(d.created_at)].filter(Boolean).join(" · ") }),
        el("div", { class: "save-row" }, [retry, status]),
      ]));
    }
  }

  async retry(d, btn, status) {
    btn.disabled = true;
    say(status, t("webhooks.retrying"));
    try {
      await api("POST", "/v1/admin/webhooks/deliveries/" + encodeURIComponent(d.id) + "/retry");
      say(status, t("webhooks.retried"));
      btn.hidden = true;
      this.failed = this.failed.filter((x) => x.id !== d.id);
      this.render();
    } catch (e) {
      say(status, t("webhooks.retryFailed", { reason: errText(e) }), true);
      btn.disabled = false;
    }
  }
}
