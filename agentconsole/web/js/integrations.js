// The helpdesk connections of the settings view: "Connect with Zendesk"
// (the browser goes to Zendesk and comes back), disconnecting, and what
// the view says of a connection.

import { $, $$, say, safeURL, fmtTime } from "./dom.js";
import { api } from "./api.js";
import { providerName } from "./ticket.js";
import { t } from "./i18n.js";

const OAUTH_INTENT = "baton.console.oauth";

// connectBrowser sends the admin to Zendesk to allow Baton ("Connect
// with Zendesk"); Zendesk sends them back to Baton, which brings them
// back here (oauthReturn).
export async function connectBrowser(view) {
  const status = $("[data-status=zendesk]");
  const sub = $("#zd-subdomain");
  const q = new URLSearchParams();
  if (!sub.value.trim()) {
    sub.setAttribute("aria-invalid", "true");
    say(status, t("oauth.fillSubdomain"), true);
    sub.focus();
    return;
  }
  sub.removeAttribute("aria-invalid");
  q.set("subdomain", sub.value.trim());
  const base = $("#zd-base").value.trim();
  if (base && !safeURL(base)) {
    say(status, t("oauth.badBase"), true);
    return;
  }
  if (base) q.set("base_url", base);
  if (!$("#zd-own-client").hidden) {
    const own = $("#zd-browser-client");
    if (!own.value.trim()) {
      own.setAttribute("aria-invalid", "true");
      say(status, t("oauth.fillClient"), true);
      own.focus();
      return;
    }
    own.removeAttribute("aria-invalid");
    q.set("client_id", own.value.trim());
  }
  const btn = $("[data-connect=zendesk]");
  btn.disabled = true;
  say(status, t("oauth.going"));
  try {
    const r = await api("GET", "/v1/admin/integrations/zendesk/oauth/start?" + q.toString());
    sessionStorage.setItem(OAUTH_INTENT, JSON.stringify({ method: view.method() }));
    location.assign(r.url);
  } catch (e) {
    btn.disabled = false;
    say(status, t("oauth.notConnected", { reason: e.message }), true);
  }
}

// oauthReturn shows how "Connect with Zendesk" went when Baton brought
// the admin back (?zendesk=connected, or failed with a reason), and saves
// Zendesk as the handoff method if that is what they set out to do.
export async function oauthReturn(view) {
  const q = new URLSearchParams(location.search);
  const result = q.get("zendesk");
  if (!result) return;
  const reason = q.get("reason") || "";
  history.replaceState(null, "", location.pathname + location.hash);
  let intent = {};
  try { intent = JSON.parse(sessionStorage.getItem(OAUTH_INTENT) || "{}"); } catch { intent = {}; }
  sessionStorage.removeItem(OAUTH_INTENT);
  for (const r of $$("input[name=method]")) r.checked = r.value === "zendesk";
  if (result === "connected") {
    view.editing.zendesk = false;
    view.showMethod();
    view.app.announce(t("oauth.connected"));
    if (intent.method === "zendesk") await view.saveHandoff();
    say($("#handoff-status"), t(intent.method === "zendesk" ? "oauth.nowUses" : "oauth.connected"));
    if (!$("#connected-zendesk").hidden) $("#connected-zendesk button").focus();
    return;
  }
  view.editing.zendesk = view.connected("zendesk");
  view.showMethod();
  say($("[data-status=zendesk]"), t("oauth.notConnected", { reason }), true);
  $("[data-connect=zendesk]").focus();
}

// disconnect removes a helpdesk's connection (Baton refuses while it is
// the handoff method).
export async function disconnect(view, h, name) {
  const status = $("#handoff-status");
  try {
    const acc = await api("DELETE", "/v1/admin/integrations/" + h);
    view.integrations = Object.assign({}, view.integrations, { [h]: acc });
    if (view.merchant) view.merchant.integrations = Object.assign({}, view.merchant.integrations, { [h]: false });
    view.editing[h] = false;
    view.renderConnections();
    view.showMethod();
    say(status, t("integration.disconnected", { name }));
  } catch (e) {
    say(status, t("integration.stillConnected", { name, reason: e.message }), true);
  }
}

// integrationSummary says which account a connected helpdesk uses, with
// its secret as Baton shows it (masked), how it signs in and when it was
// last checked.
export function integrationSummary(h, acc) {
  const name = providerName(h);
  if (!acc || !acc.connected) return t("handoff.connected", { name });
  const site = acc.subdomain || acc.domain;
  const secret = acc.api_token || acc.api_key;
  let head = t("summary.connected", { name });
  if (site && acc.email) head = t("summary.connectedToAs", { name, site, email: acc.email });
  else if (site) head = t("summary.connectedTo", { name, site });
  else if (acc.email) head = t("summary.connectedAs", { name, email: acc.email });
  const parts = [head];
  if (acc.base_url) parts.push(t("summary.through", { url: acc.base_url }));
  if (acc.grant === "authorization_code") parts.push(t("summary.oauthBrowser"));
  if (acc.grant === "client_credentials") {
    parts.push(acc.client_secret ? t("summary.oauthClientSecret", { id: acc.client_id, secret: acc.client_secret }) : t("summary.oauthClient", { id: acc.client_id }));
  }
  if (secret) parts.push(t(h === "zendesk" ? "summary.token" : "summary.key", { secret }));
  if (acc.verified_at) parts.push(t("summary.checked", { when: fmtTime(acc.verified_at) }));
  return parts.join("; ") + ".";
}

// integrationWarning is what an admin must know of a connection: that it
// needs reconnecting, or that its Zendesk API token will stop.
export function integrationWarning(h, acc) {
  if (!acc || !acc.connected) return "";
  if (acc.status === "needs_reconnect") {
    return t("warning.reconnect", { name: providerName(h), reason: acc.reason || t("warning.refused") });
  }
  if (h === "zendesk" && acc.auth === "api_token") {
    return t("warning.tokenEnds");
  }
  return "";
}
