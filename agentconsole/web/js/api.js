// REST calls with the agent's token. Tokens stay in this tab's
// sessionStorage: out of URLs and gone when the tab is closed.

const TOKEN = "baton.console.token";

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message || code || "request failed (" + status + ")");
    this.status = status;
    this.code = code || "";
  }
}

let onUnauthorized = () => {};

export function setUnauthorizedHandler(fn) { onUnauthorized = fn; }

export function token() { return sessionStorage.getItem(TOKEN) || ""; }

export function setToken(t) {
  if (t) sessionStorage.setItem(TOKEN, t);
  else sessionStorage.removeItem(TOKEN);
}

export async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  const t = token();
  if (t) headers.Authorization = "Bearer " + t;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let res;
  try {
    res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: "no-store" });
  } catch {
    throw new ApiError(0, "network", "Baton cannot be reached. Check the connection and try again.");
  }
  let data = null;
  const text = await res.text();
  if (text) {
    try { data = JSON.parse(text); } catch { data = null; }
  }
  if (!res.ok) {
    const e = (data && data.error) || {};
    const err = new ApiError(res.status, e.code, e.message);
    if (res.status === 401 && path !== "/v1/auth/login") onUnauthorized(err);
    throw err;
  }
  return data || {};
}
