// REST calls with the agent's token. Tokens stay in this tab's
// sessionStorage: out of URLs and gone when the tab is closed.

import { t } from "./i18n.js";

const TOKEN = "baton.console.token";

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message || code || "request failed (" + status + ")");
    this.status = status;
    this.code = code || "";
  }
}

let onUnauthorized = () => {};
const OWN_401 = new Set(["/v1/auth/login", "/v1/auth/logout", "/v1/agent/password"]);
// While the password changes, the token does too: every earlier one stops
// working the moment the server takes the new password, so a request that
// went out with the old one is sent again with the new one.
let renewal = null;

export function setUnauthorizedHandler(fn) { onUnauthorized = fn; }

export function token() { return sessionStorage.getItem(TOKEN) || ""; }

export function setToken(tok) {
  if (tok) sessionStorage.setItem(TOKEN, tok);
  else sessionStorage.removeItem(TOKEN);
}

// renewing says that p (resolving true once a new token is stored) may
// replace the token; requests refused meanwhile wait for it.
export function renewing(p) {
  renewal = p;
  p.finally(() => { if (renewal === p) renewal = null; });
}

export function pendingRenewal() { return renewal; }

export async function api(method, path, body, again) {
  const headers = { Accept: "application/json" };
  const sent = token();
  if (sent) headers.Authorization = "Bearer " + sent;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let res;
  try {
    res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: "no-store" });
  } catch {
    throw new ApiError(0, "network", t("err.network"));
  }
  let data = null;
  const text = await res.text();
  if (text) {
    try { data = JSON.parse(text); } catch { data = null; }
  }
  if (!res.ok) {
    const e = (data && data.error) || {};
    const err = new ApiError(res.status, e.code, e.message);
    // Signing in, signing out and a wrong current password answer 401
    // for themselves; any other 401 means the session is over.
    if (res.status === 401 && !OWN_401.has(path)) {
      if (renewal && !again) await renewal.catch(() => false);
      if (!again && token() && token() !== sent) return api(method, path, body, true);
      onUnauthorized(err);
    }
    throw err;
  }
  return data || {};
}

// download fetches a file with the agent's token in the Authorization
// header (never in the URL, where it would end up in logs and history)
// and saves it through a Blob: the browser's own download, named as the
// server says or fallback. It answers the Blob, for a look at its end; an
// empty one is not saved when skipEmpty says so.
export async function download(path, fallback, skipEmpty) {
  const headers = {};
  if (token()) headers.Authorization = "Bearer " + token();
  let res;
  try {
    res = await fetch(path, { headers, cache: "no-store" });
  } catch {
    throw new ApiError(0, "network", t("err.network"));
  }
  if (!res.ok) {
    let e = {};
    try { e = ((await res.json()) || {}).error || {}; } catch { /* not JSON */ }
    const err = new ApiError(res.status, e.code, e.message);
    if (res.status === 401) onUnauthorized(err);
    throw err;
  }
  let blob;
  try {
    blob = await res.blob();
  } catch {
    throw new ApiError(0, "network", t("err.network"));
  }
  if (skipEmpty && !blob.size) return blob;
  const m = /filename="([^"\/]+)"/.exec(res.headers.get("Content-Disposition") || "");
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = m ? m[1] : fallback;
  a.hidden = true;
  document.body.append(a);
  a.click();
  a.remove();
  // The browser has the file once the click is handled; later, the URL
  // only holds memory.
  setTimeout(() => URL.revokeObjectURL(url), 60000);
  return blob;
}

// CODES are the refusals the console can say in its own language; any
// other keeps the server's words.
const CODES = {
  network: "err.network",
  forbidden: "err.forbidden",
  last_admin: "err.last_admin",
  email_taken: "err.email_taken",
  invalid_email: "err.invalid_email",
  invalid_name: "err.invalid_name",
  invalid_password: "err.invalid_password",
  invalid_role: "err.invalid_role",
  invalid_capacity: "err.invalid_capacity",
  invalid_credentials: "err.invalid_credentials",
  too_many_attempts: "err.too_many_attempts",
  not_found: "err.not_found",
  unavailable: "err.unavailable",
  already_claimed: "err.already_claimed",
  not_queued: "err.not_queued",
  not_assigned: "err.not_assigned",
  conversation_closed: "err.conversation_closed",
  invalid_range: "err.invalid_range",
  invalid_format: "err.invalid_format",
  url_not_allowed: "err.url_not_allowed",
  invalid_url: "err.invalid_url",
  invalid_events: "err.invalid_events",
  too_many_endpoints: "err.too_many_endpoints",
  not_failed: "err.not_failed",
};

// errText says why a request was refused, in the console's language when
// the console knows the reason.
export function errText(e) {
  const key = e && CODES[e.code];
  if (key) return t(key);
  if (e && e.status === 404) return t("err.not_found");
  return (e && e.message) || "";
}
