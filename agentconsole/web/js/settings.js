// Merchant settings for admins: the handoff method (with the helpdesk
// integrations and the custom message editor), Baton's messages, the widget
// snippet and allowed origins, webhooks and the export of a period. Office hours, the assistant and knowledge
// have their own files; the team and routing have their own view.

import { el, clear, $, $$, say, richText, safeURL } from "./dom.js";
import { api } from "./api.js";
import { t } from "./i18n.js";
import { Hours } from "./hours.js";
import { Knowledge } from "./knowledge.js";
import { Assistant } from "./assistant.js";
import { Webhooks } from "./webhooks.js";
import { BulkExport } from "./export.js";
import { renderBanner } from "./handoffs.js";
import { connectBrowser, oauthReturn, disconnect, integrationSummary, integrationWarning } from "./integrations.js";

const LINK_LINE = /^\[([^\]\n]{1,200})\]\((\S+)\)$/;

// splitMessage takes a custom message apart into its text and the links on
// its last lines, so the editor shows them as rows again.
export function splitMessage(msg) {
  const lines = String(msg || "").split("\n");
  const links = [];
  while (lines.length && LINK_LINE.test(lines[lines.length - 1].trim())) {
    const m = lines.pop().trim().match(LINK_LINE);
    links.unshift({ label: m[1], url: m[2] });
  }
  while (lines.length && !lines[lines.length - 1].trim()) lines.pop();
  return { text: lines.join("\n"), links };
}

export function joinMessage(text, links) {
  const rows = links.map((l) => "[" + l.label + "](" + l.url + ")");
  return [String(text || "").trim()].concat(rows.length ? ["", ...rows] : []).join("\n").trim();
}

export class View {
  constructor(app) {
    this.app = app;
    this.settings = null;
    this.merchant = null;
    this.integrations = null;
    this.editing = { zendesk: false, gorgias: false };
    this.hours = new Hours();
    this.knowledge = new Knowledge();
    this.assistant = new Assistant();
    this.webhooks = new Webhooks();
    this.bulkExport = new BulkExport();
    $("#handoff-form").addEventListener("submit", (e) => { e.preventDefault(); this.saveHandoff(); });
    for (const r of $$("input[name=method]")) r.addEventListener("change", () => this.showMethod());
    for (const b of $$("[data-connect]")) b.addEventListener("click", () => this.connect(b.dataset.connect));
    for (const b of $$("[data-change]")) b.addEventListener("click", () => this.change(b.dataset.change));
    for (const b of $$("[data-disconnect]")) b.addEventListener("click", () => this.disconnect(b.dataset.disconnect));
    for (const r of $$("input[name=zd-auth]")) r.addEventListener("change", () => this.showAuth());
    for (const b of $$("[data-cancel]")) {
      b.addEventListener("click", () => {
        const h = b.dataset.cancel;
        this.editing[h] = false;
        say($("[data-status=" + h + "]"), "");
        this.showMethod();
        $("#connected-" + h + " button").focus();
      });
    }
    // Enter in a connection field connects that helpdesk; it must not
    // submit the handoff form around it.
    for (const h of ["zendesk", "gorgias"]) {
      for (const i of $$("#integration-" + h + " input")) {
        i.addEventListener("keydown", (e) => {
          if (e.key === "Enter" && !e.isComposing) {
            e.preventDefault();
            this.connect(h);
          }
        });
      }
    }
    $("#add-link").addEventListener("click", () => { this.addLink({ label: "", url: "" }).querySelector("input").focus(); this.previewCustom(); });
    $("#custom-text").addEventListener("input", () => this.previewCustom());
    $("#messages-form").addEventListener("submit", (e) => { e.preventDefault(); this.saveMessages(); });
    for (const id of ["auto-response", "away-message"]) {
      $("#" + id).addEventListener("input", () => this.preview(id));
    }
    $("#widget-form").addEventListener("submit", (e) => { e.preventDefault(); this.saveOrigins(); });
    $("#copy-snippet").addEventListener("click", () => this.copySnippet());
    $("#reveal-secret").addEventListener("click", (e) => {
      const shown = e.currentTarget.getAttribute("aria-pressed") !== "true";
      e.currentTarget.setAttribute("aria-pressed", String(shown));
      $("#identity-secret").type = shown ? "text" : "password";
    });
  }

  // show reads everything afresh. Until it is in, the forms are inert (an
  // edit made meanwhile would be overwritten) and the view says it is busy.
  async show() {
    const view = $("#settings-view");
    const forms = $$("#settings-view .card");
    view.setAttribute("aria-busy", "true");
    for (const f of forms) f.inert = true;
    const settings = (async () => {
      const [s, m, i] = await Promise.all([api("GET", "/v1/admin/settings"), api("GET", "/v1/admin/merchant"), api("GET", "/v1/admin/integrations")]);
      this.merchant = m;
      this.integrations = i;
      this.editing = { zendesk: false, gorgias: false };
      this.fill(s);
      renderBanner(i);
      await this.oauthReturn();
    })().catch((e) => this.app.toast(t("settings.loadFailed", { reason: e.message }), true));
    await Promise.all([settings, this.hours.load(), this.assistant.load(), this.knowledge.load(), this.webhooks.load()]);
    for (const f of forms) f.inert = false;
    view.removeAttribute("aria-busy");
  }

  connected(method) {
    if (method !== "zendesk" && method !== "gorgias") return true;
    if (this.integrations && this.integrations[method]) return !!this.integrations[method].connected;
    return !!(this.merchant && this.merchant.integrations && this.merchant.integrations[method]);
  }

  fill(s) {
    this.version = s.version || 0;
    this.settings = s;
    const method = (s.handoff && s.handoff.method) || "inbox";
    for (const r of $$("input[name=method]")) r.checked = r.value === method;
    const parts = splitMessage(s.handoff && s.handoff.message);
    $("#custom-text").value = parts.text;
    clear($("#custom-links"));
    for (const l of parts.links) this.addLink(l);
    $("#auto-response").value = s.auto_response || "";
    $("#away-message").value = s.away_message || "";
    $("#locale").value = s.locale || "en";
    $("#origins").value = (s.allowed_origins || []).join("\n");
    const host = location.origin;
    $("#snippet").value = '<script src="' + host + '/widget.js" data-key="' + (this.merchant ? this.merchant.widget_key : "") + '" async></script>';
    $("#identity-secret").value = (this.merchant && this.merchant.identity_secret) || "";
    this.renderConnections();
    this.showMethod();
    this.previewCustom();
    this.preview("auto-response");
    this.preview("away-message");
  }

  account(h) { return (this.integrations && this.integrations[h]) || {}; }

  renderConnections() {
    for (const n of $$(".conn-state")) {
      const h = n.dataset.integration;
      const on = this.connected(h);
      const stuck = on && this.account(h).status === "needs_reconnect";
      n.textContent = stuck ? "Needs reconnecting" : on ? t("conn.connected") : t("conn.notYet");
      n.classList.toggle("on", on && !stuck);
      n.classList.toggle("warn", stuck);
    }
    for (const n of $$("[data-summary]")) {
      const h = n.dataset.summary;
      n.textContent = this.connected(h) ? integrationSummary(h, this.integrations && this.integrations[h]) : "";
    }
    for (const n of $$("[data-warn]")) {
      const w = this.connected(n.dataset.warn) ? integrationWarning(n.dataset.warn, this.account(n.dataset.warn)) : "";
      n.textContent = w;
      n.hidden = !w;
    }
    renderBanner(this.integrations);
  }

  // zdAuth is how Zendesk is to be connected: "browser", "oauth" or
  // "api_token".
  zdAuth() {
    const r = $("input[name=zd-auth]:checked");
    return r ? r.value : "browser";
  }

  // showAuth shows the fields the chosen way of connecting Zendesk needs.
  showAuth() {
    const mode = this.zdAuth();
    for (const g of $$("[data-zd-auth]")) g.hidden = g.dataset.zdAuth !== mode;
    const own = !this.account("zendesk").connect_with_zendesk;
    $("#zd-own-client").hidden = !own;
    $("#zd-redirect-url").textContent = location.origin + "/v1/admin/integrations/zendesk/oauth/callback";
    $("[data-connect=zendesk]").textContent = t(mode === "browser" ? "zendesk.authBrowser" : "zendesk.connectButton");
  }

  method() {
    const r = $("input[name=method]:checked");
    return r ? r.value : "inbox";
  }

  // showMethod shows the editor the chosen method needs: a helpdesk that is
  // not connected yet shows its connection form first.
  showMethod() {
    const m = this.method();
    $("#custom-message").hidden = m !== "message";
    for (const h of ["zendesk", "gorgias"]) {
      const on = this.connected(h);
      $("#integration-" + h).hidden = !(m === h && (!on || this.editing[h]));
      $("#connected-" + h).hidden = !(m === h && on && !this.editing[h]);
      $("[data-cancel=" + h + "]").hidden = !on;
      // Once connected, the secret may be left out: Baton keeps its own.
      const acc = this.account(h);
      const keeps = h === "zendesk"
        ? [["zendesk", "#zd-token", acc.auth === "api_token"], ["zendesk-oauth", "#zd-client-secret", acc.grant === "client_credentials"]]
        : [["gorgias", "#gg-key", true]];
      for (const [name, input, kept] of keeps) {
        const keep = $("[data-keep=" + name + "]");
        keep.hidden = !(on && kept);
        if (!keep.hidden) $(input).setAttribute("aria-describedby", keep.id);
        else $(input).removeAttribute("aria-describedby");
      }
    }
    this.showAuth();
    say($("#handoff-status"), "");
  }

  // change opens a connected helpdesk's form with what Baton has; the
  // secret is never sent to the page, so its field starts empty.
  change(h) {
    const acc = this.account(h);
    const box = $("#integration-" + h);
    for (const i of box.querySelectorAll("input:not([type=radio])")) {
      let v = i.name === "subdomain" || i.name === "domain" ? acc.subdomain || acc.domain : acc[i.name];
      if (i.id === "zd-client-id" && acc.grant !== "client_credentials") v = "";
      // Connecting through the browser may reuse either kind of saved
      // client: Baton sends its kept secret, to the same address only.
      if (i.id === "zd-browser-client" && acc.auth !== "oauth") v = "";
      i.value = i.type === "password" ? "" : v || "";
      i.removeAttribute("aria-invalid");
    }
    if (h === "zendesk") {
      const mode = acc.grant === "client_credentials" ? "oauth" : acc.grant === "authorization_code" ? "browser" : acc.auth === "api_token" ? "api_token" : "browser";
      for (const r of $$("input[name=zd-auth]")) r.checked = r.value === mode;
    }
    if (acc.base_url) box.querySelector("details").open = true;
    this.editing[h] = true;
    this.showMethod();
    say($("[data-status=" + h + "]"), "");
    box.querySelector("input").focus();
  }

  addLink(l) {
    const n = $("#custom-links").children.length + 1;
    const label = el("input", { type: "text", value: l.label, class: "link-label", maxlength: "200", "aria-label": t("custom.linkText", { n }) });
    const url = el("input", { type: "url", value: l.url, class: "link-url", placeholder: "https://", "aria-label": t("custom.linkURL", { n }) });
    const err = el("span", { class: "error row-error", role: "alert" });
    const row = el("li", { class: "link-row" }, [label, url,
      el("button", { type: "button", text: t("common.remove"), "aria-label": t("custom.removeLink", { n }), onclick: () => { row.remove(); this.previewCustom(); } }), err]);
    label.addEventListener("input", () => this.previewCustom());
    url.addEventListener("input", () => this.previewCustom());
    $("#custom-links").append(row);
    return row;
  }

  // links reads the link rows, marking the ones that are not http(s).
  links() {
    const out = [];
    let ok = true;
    for (const row of $$("#custom-links li")) {
      const label = row.querySelector(".link-label").value.trim().replace(/[\[\]\n]/g, "");
      const url = row.querySelector(".link-url").value.trim();
      const err = row.querySelector(".row-error");
      if (!label && !url) { err.textContent = ""; continue; }
      if (!safeURL(url)) {
        ok = false;
        err.textContent = t("custom.badURL");
        row.querySelector(".link-url").setAttribute("aria-invalid", "true");
        continue;
      }
      err.textContent = "";
      row.querySelector(".link-url").removeAttribute("aria-invalid");
      out.push({ label: label || url, url });
    }
    return { ok, links: out };
  }

  previewCustom() {
    const p = clear($("#custom-preview"));
    const msg = joinMessage($("#custom-text").value, this.links().links);
    p.append(msg ? richText(msg) : t("custom.empty"));
  }

  preview(id) {
    const p = clear($("[data-preview=" + id + "]"));
    const v = $("#" + id).value;
    p.hidden = !v.trim();
    p.append(richText(v));
  }

  async saveHandoff() {
    const method = this.method();
    const status = $("#handoff-status");
    if (!this.connected(method)) {
      this.showMethod();
      say(status, t("handoff.connectFirst", { name: label(method) }), true);
      $("#integration-" + method + " input").focus();
      return;
    }
    const body = { handoff: { method } };
    if (method === "message") {
      const { ok, links } = this.links();
      if (!ok) { say(status, t("custom.fixLinks"), true); return; }
      const message = joinMessage($("#custom-text").value, links);
      if (!message) { say(status, t("custom.write"), true); $("#custom-text").focus(); return; }
      body.handoff.message = message;
    }
    try {
      const s = await api("PUT", "/v1/admin/settings", body);
      this.fill(s);
      say(status, t("handoff.saved", { name: label(method) }));
    } catch (e) {
      if (e.code === "integration_required") {
        if (this.merchant && this.merchant.integrations) this.merchant.integrations[method] = false;
        this.renderConnections();
        this.showMethod();
        say(status, t("handoff.connectFirst", { name: label(method) }), true);
        return;
      }
      say(status, t("common.notSaved", { reason: e.message }), true);
    }
  }

  // connect sends the helpdesk's credentials; once they are accepted the
  // chosen method is saved, which is what the admin set out to do.
  async connect(h) {
    if (h === "zendesk" && this.zdAuth() === "browser") return this.connectBrowser();
    const box = $("#integration-" + h);
    const status = $("[data-status=" + h + "]");
    const body = {};
    let missing = null;
    // A connected helpdesk's secret may stay empty (Baton keeps its own)
    // when it was given for the same way of signing in.
    const prev = this.account(h);
    const kept = (i) => this.connected(h) && (h === "gorgias" || (i.name === "api_token" && prev.auth === "api_token") ||
      (i.name === "client_secret" && prev.grant === "client_credentials"));
    const optional = (i) => i.name === "base_url" || (i.type === "password" && kept(i));
    // Only the fields of the chosen way of signing in.
    const inputs = Array.from(box.querySelectorAll("input:not([type=radio])")).filter((i) => !i.closest("[data-zd-auth][hidden]"));
    if (h === "zendesk" && this.zdAuth() === "oauth") body.auth = "oauth";
    for (const i of inputs) {
      const v = i.value.trim();
      if (v) body[i.name] = v;
      else if (!optional(i) && !missing) missing = i;
      if (!v && !optional(i)) i.setAttribute("aria-invalid", "true");
      else i.removeAttribute("aria-invalid");
    }
    if (missing) {
      say(status, t("handoff.fillAll"), true);
      missing.focus();
      return;
    }
    if (body.base_url && !safeURL(body.base_url)) {
      say(status, t("handoff.badBase"), true);
      return;
    }
    say(status, t("handoff.checking", { name: label(h) }));
    const btn = box.querySelector("[data-connect]");
    btn.disabled = true;
    let acc;
    try {
      acc = await api("PUT", "/v1/admin/integrations/" + h, body);
    } catch (e) {
      say(status, t("handoff.notConnected", { name: label(h), reason: e.message }), true);
      return;
    } finally {
      btn.disabled = false;
    }
    for (const i of box.querySelectorAll("input[type=password]")) i.value = "";
    if (this.merchant) this.merchant.integrations = Object.assign({}, this.merchant.integrations, { [h]: true });
    this.integrations = Object.assign({}, this.integrations, { [h]: acc });
    this.editing[h] = false;
    this.renderConnections();
    say(status, t("handoff.connected", { name: label(h) }));
    await this.saveHandoff();
    // The form made way for the summary; the save's answer is next to it.
    if (!$("#connected-" + h).hidden) $("#connected-" + h + " button").focus();
  }

  connectBrowser() { return connectBrowser(this); }
  oauthReturn() { return oauthReturn(this); }
  disconnect(h) { return disconnect(this, h, label(h)); }

  async saveMessages() {
    const status = $("#messages-status");
    try {
      const s = await api("PUT", "/v1/admin/settings", {
        auto_response: $("#auto-response").value.trim(),
        away_message: $("#away-message").value.trim(),
        locale: $("#locale").value,
        version: this.version,
      });
      this.fill(s);
      say(status, t("common.saved"));
    } catch (e) {
      if (await this.stale(e, status)) return;
      say(status, t("common.notSaved", { reason: e.message }), true);
    }
  }

  async saveOrigins() {
    const status = $("#widget-status");
    const origins = $("#origins").value.split(/\s+/).map((s) => s.trim()).filter(Boolean);
    const bad = origins.find((o) => !safeURL(o));
    if (bad) {
      say(status, t("widget.badOrigin", { origin: bad }), true);
      $("#origins").focus();
      return;
    }
    try {
      const s = await api("PUT", "/v1/admin/settings", { allowed_origins: origins, version: this.version });
      this.fill(s);
      say(status, origins.length ? t("common.saved") : t("widget.savedAny"));
    } catch (e) {
      if (await this.stale(e, status)) return;
      say(status, t("common.notSaved", { reason: e.message }), true);
    }
  }

  // stale handles a save refused because another admin saved meanwhile:
  // nothing of theirs was overwritten and nothing typed here is lost; a
  // second save, now knowingly, replaces theirs.
  async stale(e, status) {
    if (e.code !== "stale_settings") return false;
    try {
      const s = await api("GET", "/v1/admin/settings");
      this.settings = s;
      this.version = s.version || 0;
    } catch (_) { /* the message below still stands */ }
    say(status, t("settings.stale"), true);
    return true;
  }

  async copySnippet() {
    const box = $("#snippet");
    try {
      await navigator.clipboard.writeText(box.value);
    } catch {
      box.select();
      document.execCommand("copy");
    }
    say($("#copy-status"), t("widget.copied"));
  }
}

const METHODS = { inbox: "method.inbox", zendesk: "method.zendesk", gorgias: "method.gorgias", message: "method.message" };

function label(method) {
  return METHODS[method] ? t(METHODS[method]) : method;
}
