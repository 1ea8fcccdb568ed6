// The helpdesk connections of the settings view: "Connect with Zendesk"
// (the browser goes to Zendesk and comes back), disconnecting, and what
// the view says of a connection.

import { $, $$, say, safeURL, fmtTime } from "./dom.js";
import { api } from "./api.js";
import { providerName } from "./ticket.js";

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
    say(status, "Fill in the subdomain.", true);
    sub.focus();
    return;
  }
  sub.removeAttribute("aria-invalid");
  q.set("subdomain", sub.value.trim());
  const base = $("#zd-base").value.trim();
  if (base && !safeURL(base)) {
    say(status, "The base URL must start with https:// or http://.", true);
    return;
  }
  if (base) q.set("base_url", base);
  if (!$("#zd-own-client").hidden) {
    const own = $("#zd-browser-client");
    if (!own.value.trim()) {
      own.setAttribute("aria-invalid", "true");
      say(status, "Fill in your OAuth client's unique identifier.", true);
      own.focus();
      return;
    }
    own.removeAttribute("aria-invalid");
    q.set("client_id", own.value.trim());
  }
  const btn = $("[data-connect=zendesk]");
  btn.disabled = true;
  say(status, "Taking you to Zendesk…");
  try {
    const r = await api("GET", "/v1/admin/integrations/zendesk/oauth/start?" + q.toString());
    sessionStorage.setItem(OAUTH_INTENT, JSON.stringify({ method: view.method() }));
    location.assign(r.url);
  } catch (e) {
    btn.disabled = false;
    say(status, "Zendesk is not connected: " + e.message, true);
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
    view.app.announce("Zendesk is connected.");
    if (intent.method === "zendesk") await view.saveHandoff();
    say($("#handoff-status"), "Zendesk is connected." + (intent.method === "zendesk" ? " The assistant now uses Zendesk." : ""));
    if (!$("#connected-zendesk").hidden) $("#connected-zendesk button").focus();
    return;
  }
  view.editing.zendesk = view.connected("zendesk");
  view.showMethod();
  say($("[data-status=zendesk]"), "Zendesk is not connected: " + reason, true);
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
    say(status, name + " is disconnected: Baton no longer keeps its credentials.");
  } catch (e) {
    say(status, name + " is still connected: " + e.message, true);
  }
}

// integrationSummary says which account a connected helpdesk uses, with
// its secret as Baton shows it (masked) and when it was last checked.
export function integrationSummary(h, acc) {
  if (!acc || !acc.connected) return providerName(h) + " is connected.";
  const site = acc.subdomain || acc.domain;
  const secret = acc.api_token || acc.api_key;
  const parts = [providerName(h) + " is connected" + (site ? " to " + site : "") + (acc.email ? " as " + acc.email : "")];
  if (acc.base_url) parts.push("through " + acc.base_url);
  if (acc.grant === "authorization_code") parts.push("signed in with Zendesk (OAuth)");
  if (acc.grant === "client_credentials") parts.push("OAuth client " + acc.client_id + (acc.client_secret ? ", secret " + acc.client_secret : ""));
  if (secret) parts.push((h === "zendesk" ? "API token " : "API key ") + secret);
  if (acc.verified_at) parts.push("checked " + fmtTime(acc.verified_at));
  return parts.join("; ") + ".";
}

// integrationWarning is what an admin must know of a connection: that it
// needs reconnecting, or that its Zendesk API token will stop.
export function integrationWarning(h, acc) {
  if (!acc || !acc.connected) return "";
  if (acc.status === "needs_reconnect") {
    return providerName(h) + " needs reconnecting: " + (acc.reason || "it refused Baton's credentials") +
      ". Conversations handed to it wait, and are sent once it is connected again.";
  }
  if (h === "zendesk" && acc.auth === "api_token") {
    return "Zendesk stops API tokens on 30 April 2027, and deactivates a token unused for 30 days: change this connection to \"Connect with Zendesk\" or an OAuth client.";
  }
  return "";
}
