// The agent's own account: who they are, how many conversations they have
// of how many they may be given, a new password (every other session ends;
// this one goes on with the token the answer carries) and the console's
// language.

import { el, clear, $, say } from "./dom.js";
import { api, errText, setToken, renewing } from "./api.js";
import { t } from "./i18n.js";

export class View {
  constructor(app) {
    this.app = app;
    $("#password-form").addEventListener("submit", (e) => { e.preventDefault(); this.changePassword(); });
  }

  async show() {
    try {
      this.me(await api("GET", "/v1/agent/me"));
    } catch (e) {
      this.app.toast(errText(e), true);
    }
  }

  // me shows GET /v1/agent/me's answer.
  me(r) {
    const a = r.agent || this.app.me || {};
    const dl = clear($("#me-facts"));
    const fact = (k, v) => { if (v !== undefined && v !== null && v !== "") dl.append(el("dt", { text: k }), el("dd", { text: String(v) })); };
    fact(t("team.name"), a.name);
    fact(t("team.email"), a.email);
    fact(t("team.role"), a.role === "admin" ? t("role.admin") : t("role.agent"));
    if (typeof r.load === "number") fact(t("account.load"), t(r.capacity === 1 ? "load.one" : "load.other", { n: r.load, m: r.capacity }));
  }

  async changePassword() {
    const status = $("#password-status");
    const cur = $("#password-current");
    const next = $("#password-new");
    for (const i of [cur, next]) i.removeAttribute("aria-invalid");
    if (!cur.value) {
      cur.setAttribute("aria-invalid", "true");
      say(status, t("account.needCurrent"), true);
      cur.focus();
      return;
    }
    if (next.value.length < 8 || new TextEncoder().encode(next.value).length > 72) {
      next.setAttribute("aria-invalid", "true");
      say(status, t("err.invalid_password"), true);
      next.focus();
      return;
    }
    const btn = $("#password-form button[type=submit]");
    btn.disabled = true;
    // The server ends every earlier session the moment it takes the new
    // password, this page's socket too: until the new token is stored, the
    // console waits for it rather than signing out.
    let done;
    const renewal = new Promise((resolve) => { done = resolve; });
    renewing(renewal);
    try {
      const r = await api("PUT", "/v1/agent/password", { current: cur.value, new: next.value });
      setToken(r.token);
      done(true);
      cur.value = "";
      next.value = "";
      say(status, t("account.changed"));
    } catch (e) {
      done(false);
      if (e.code === "invalid_credentials") {
        cur.setAttribute("aria-invalid", "true");
        say(status, t("account.wrongCurrent"), true);
        cur.focus();
      } else {
        if (e.code === "invalid_password") next.setAttribute("aria-invalid", "true");
        say(status, t("account.notChanged", { reason: errText(e) }), true);
      }
    } finally {
      btn.disabled = false;
    }
  }
}
