// The team, for admins: who is on it (role, capacity, whether the account
// is enabled, presence), adding a person, renaming, changing role and
// capacity, disabling and enabling, deleting (after a confirmation); and
// the routing settings: manual or automatic assignment, the default
// capacity and when a conversation is handed to someone else. Refusals
// (the last admin, a taken address, a bad field) are said next to what was
// refused.

import { el, clear, $, $$, say } from "./dom.js";
import { api, errText } from "./api.js";
import { t } from "./i18n.js";

// FIELD names the add form's field each refusal is about.
const FIELD = {
  invalid_name: "agent-name",
  invalid_email: "agent-email",
  email_taken: "agent-email",
  invalid_password: "agent-password",
  invalid_role: "agent-role",
  invalid_capacity: "agent-capacity",
};

// wholeNumber reads a number field: an integer, or null.
function wholeNumber(input) {
  const v = input.value.trim();
  return /^\d+$/.test(v) ? Number(v) : null;
}

export class View {
  constructor(app) {
    this.app = app;
    this.routing = null;
    this.agents = [];
    this.editing = "";    // the agent whose row is being edited
    this.confirming = ""; // the agent whose deletion waits for a confirmation
    this.notes = new Map(); // agent id -> {text, error}: what happened to the row
    $("#routing-form").addEventListener("submit", (e) => { e.preventDefault(); this.saveRouting(); });
    $("#agent-form").addEventListener("submit", (e) => { e.preventDefault(); this.addAgent(); });
    $("#team-refresh").addEventListener("click", () => this.loadTeam());
    for (const id of Object.values(FIELD)) $("#" + id).addEventListener("input", () => this.fieldError(id, ""));
  }

  async show() {
    await Promise.all([this.loadRouting(), this.loadTeam()]);
  }

  // --- routing ---------------------------------------------------------------
  async loadRouting() {
    try {
      this.fillRouting(await api("GET", "/v1/admin/routing"));
    } catch (e) {
      say($("#routing-status"), t("routing.loadFailed", { reason: errText(e) }), true);
    }
  }

  fillRouting(r) {
    this.routing = r;
    for (const i of $$("input[name=routing-mode]")) i.checked = i.value === r.mode;
    $("#routing-capacity").value = String(r.capacity);
    $("#routing-reassign").value = String(r.reassign_after_s);
    for (const id of ["routing-capacity", "routing-reassign"]) $("#" + id).removeAttribute("aria-invalid");
    this.renderTeam();
  }

  async saveRouting() {
    const status = $("#routing-status");
    const picked = $("input[name=routing-mode]:checked");
    const cap = $("#routing-capacity");
    const re = $("#routing-reassign");
    const capacity = wholeNumber(cap);
    const reassign = wholeNumber(re);
    cap.removeAttribute("aria-invalid");
    re.removeAttribute("aria-invalid");
    let problem = "", field = null;
    if (capacity === null || capacity < 1 || capacity > 100) [problem, field] = [t("routing.badCapacity"), cap];
    else if (reassign === null || (reassign !== 0 && (reassign < 10 || reassign > 86400))) [problem, field] = [t("routing.badReassign"), re];
    if (problem) {
      field.setAttribute("aria-invalid", "true");
      say(status, t("common.notSaved", { reason: problem }), true);
      field.focus();
      return;
    }
    const body = { mode: picked ? picked.value : "manual", capacity, reassign_after_s: reassign };
    try {
      this.fillRouting(await api("PUT", "/v1/admin/routing", body));
      say(status, body.mode === "auto" ? t("routing.savedAuto") : t("routing.savedManual"));
    } catch (e) {
      // The server names the field it refused.
      const m = e.message || "";
      const at = /reassign/.test(m) ? re : /capacity/.test(m) ? cap : null;
      if (at) at.setAttribute("aria-invalid", "true");
      say(status, t("common.notSaved", { reason: errText(e) }), true);
    }
  }

  // --- the team --------------------------------------------------------------
  async loadTeam() {
    const status = $("#team-status");
    try {
      const r = await api("GET", "/v1/admin/agents");
      this.agents = r.agents || [];
      // A failure to load is over; what an action said stays.
      if (status.classList.contains("error")) say(status, "");
      this.renderTeam();
    } catch (e) {
      say(status, t("team.loadFailed", { reason: errText(e) }), true);
    }
  }

  capacityText(a) {
    const def = this.routing ? this.routing.capacity : null;
    if (a.capacity > 0) return String(a.capacity);
    return def === null ? t("team.capacityDefault") : t("team.capacityDefaultN", { n: def });
  }

  // renderTeam draws every row, keeping a keyboard user where they were.
  renderTeam() {
    const body = $("#team-list");
    const a = document.activeElement;
    const was = a && body.contains(a) ? [a.closest("tr")?.dataset.agent, a.dataset.act] : null;
    clear(body);
    for (const ag of this.agents) body.append(this.row(ag));
    if (was) {
      const row = body.querySelector('tr[data-agent="' + CSS.escape(was[0] || "") + '"]');
      const again = row && (row.querySelector('[data-act="' + was[1] + '"]') || row.querySelector("button, input"));
      (again || $("#team-refresh")).focus();
    }
  }

  row(a) {
    const me = this.app.me && a.id === this.app.me.id;
    const tr = el("tr", { "data-agent": a.id, "data-disabled": a.disabled ? "true" : "false" });
    const note = el("p", { class: "form-status row-note", role: "status" });
    const n = this.notes.get(a.id);
    if (n) say(note, n.text, n.error);
    const nameCell = el("td", { class: "agent-name" });
    const roleCell = el("td", { class: "agent-role" });
    const capCell = el("td", { class: "agent-capacity" });
    const tools = el("div", { class: "row-tools" });
    if (this.editing === a.id) {
      const name = el("input", { value: a.name, maxlength: "100", "aria-label": t("team.nameOf", { name: a.name }), "data-act": "name" });
      const role = el("select", { "aria-label": t("team.roleOf", { name: a.name }), "data-act": "role" }, [
        el("option", { value: "agent", text: t("role.agent") }), el("option", { value: "admin", text: t("role.admin") })]);
      role.value = a.role;
      const cap = el("input", { type: "number", min: "0", max: "100", step: "1", value: String(a.capacity || 0),
        "aria-label": t("team.capacityOf", { name: a.name }), "data-act": "capacity" });
      nameCell.append(name);
      roleCell.append(role);
      capCell.append(cap, el("span", { class: "hint", text: t("team.zeroDefault") }));
      const save = () => this.saveRow(a, { name: name.value.trim(), role: role.value, capacity: cap }, note);
      for (const i of [name, cap]) i.addEventListener("keydown", (e) => { if (e.key === "Enter" && !e.isComposing) { e.preventDefault(); save(); } });
      tools.append(
        el("button", { type: "button", class: "primary small", text: t("common.save"), "data-act": "save", onclick: save }),
        el("button", { type: "button", class: "small", text: t("common.cancel"), "data-act": "cancel", onclick: () => { this.editing = ""; this.renderTeam(); this.focusAct(a.id, "edit"); } }));
    } else if (this.confirming === a.id) {
      nameCell.append(a.name);
      roleCell.append(a.role === "admin" ? t("role.admin") : t("role.agent"));
      capCell.append(this.capacityText(a));
      tools.append(
        el("span", { class: "confirm-text", text: t("team.confirmDelete", { name: a.name }) }),
        el("button", { type: "button", class: "danger small", text: t("team.deleteConfirm"), "data-act": "confirm-delete",
          "aria-label": t("team.deleteConfirmOf", { name: a.name }), onclick: () => this.remove(a, note) }),
        el("button", { type: "button", class: "small", text: t("common.cancel"), "data-act": "cancel-delete",
          onclick: () => { this.confirming = ""; this.renderTeam(); this.focusAct(a.id, "delete"); } }));
    } else {
      nameCell.append(a.name);
      if (me) nameCell.append(el("span", { class: "you-tag", text: " " + t("team.youTag") }));
      roleCell.append(a.role === "admin" ? t("role.admin") : t("role.agent"));
      capCell.append(this.capacityText(a));
      tools.append(
        el("button", { type: "button", class: "small", text: t("team.edit"), "data-act": "edit", "aria-label": t("team.editOf", { name: a.name }),
          onclick: () => { this.editing = a.id; this.confirming = ""; this.renderTeam(); this.focusAct(a.id, "name"); } }),
        el("button", { type: "button", class: "small", text: a.disabled ? t("team.enable") : t("team.disable"), "data-act": "toggle",
          "aria-label": t(a.disabled ? "team.enableOf" : "team.disableOf", { name: a.name }),
          onclick: () => this.saveRow(a, { disabled: !a.disabled }, note) }),
        el("button", { type: "button", class: "danger small", text: t("common.delete"), "data-act": "delete", "aria-label": t("team.deleteOf", { name: a.name }),
          onclick: () => { this.confirming = a.id; this.editing = ""; this.renderTeam(); this.focusAct(a.id, "confirm-delete"); } }));
    }
    tools.append(note);
    const presence = !a.online ? t("presence.offline") : a.presence === "away" ? t("presence.away") : t("presence.available");
    tr.append(nameCell, el("td", { text: a.email }), roleCell, capCell,
      el("td", { class: "agent-state", text: a.disabled ? t("team.disabled") : t("team.enabled") }),
      el("td", { class: "agent-presence", "data-online": a.online ? "true" : "false", text: presence }),
      el("td", {}, [tools]));
    return tr;
  }

  focusAct(id, act) {
    const row = $('#team-list tr[data-agent="' + CSS.escape(id) + '"]');
    const n = row && row.querySelector('[data-act="' + act + '"]');
    if (n) n.focus();
  }

  // saveRow changes what the patch names; capacity comes as its input.
  async saveRow(a, patch, note) {
    const body = {};
    if (patch.name !== undefined) {
      if (!patch.name) { say(note, t("err.invalid_name"), true); return; }
      if (patch.name !== a.name) body.name = patch.name;
    }
    if (patch.role !== undefined && patch.role !== a.role) body.role = patch.role;
    if (patch.capacity !== undefined) {
      const c = wholeNumber(patch.capacity);
      if (c === null || c > 100) {
        patch.capacity.setAttribute("aria-invalid", "true");
        say(note, t("err.invalid_capacity"), true);
        patch.capacity.focus();
        return;
      }
      if (c !== (a.capacity || 0)) body.capacity = c;
    }
    if (patch.disabled !== undefined) body.disabled = patch.disabled;
    if (!Object.keys(body).length) {
      this.editing = "";
      this.renderTeam();
      this.focusAct(a.id, "edit");
      return;
    }
    for (const b of note.parentNode.querySelectorAll("button")) b.disabled = true;
    try {
      await api("PUT", "/v1/admin/agents/" + encodeURIComponent(a.id), body);
      // An admin who made themselves an agent has no admin views any more.
      if (this.app.me && a.id === this.app.me.id && body.role === "agent") {
        history.replaceState(null, "", "#inbox");
        location.reload();
        return;
      }
      this.editing = "";
      let text = t("team.saved", { name: body.name || a.name });
      if (body.disabled === true) text = t("team.disabledNote", { name: a.name });
      if (body.disabled === false) text = t("team.enabledNote", { name: a.name });
      this.notes.set(a.id, { text, error: false });
      await this.loadTeam();
      this.focusAct(a.id, body.disabled === undefined ? "edit" : "toggle");
    } catch (e) {
      for (const b of note.parentNode.querySelectorAll("button")) b.disabled = false;
      say(note, t("common.notSaved", { reason: errText(e) }), true);
    }
  }

  async remove(a, note) {
    for (const b of note.parentNode.querySelectorAll("button")) b.disabled = true;
    try {
      await api("DELETE", "/v1/admin/agents/" + encodeURIComponent(a.id));
      this.confirming = "";
      this.notes.delete(a.id);
      say($("#team-status"), t("team.deleted", { name: a.name }));
      await this.loadTeam();
      $("#team-refresh").focus();
    } catch (e) {
      this.confirming = "";
      this.notes.set(a.id, { text: t("team.notDeleted", { reason: errText(e) }), error: true });
      this.renderTeam();
      this.focusAct(a.id, "delete");
    }
  }

  // --- adding a person -------------------------------------------------------
  fieldError(id, text) {
    const input = $("#" + id);
    const err = $("#" + id + "-error");
    err.textContent = text;
    err.hidden = !text;
    if (text) input.setAttribute("aria-invalid", "true");
    else input.removeAttribute("aria-invalid");
  }

  async addAgent() {
    const status = $("#agent-status");
    for (const id of Object.values(FIELD)) this.fieldError(id, "");
    const capacity = wholeNumber($("#agent-capacity"));
    const body = {
      name: $("#agent-name").value.trim(),
      email: $("#agent-email").value.trim(),
      password: $("#agent-password").value,
      role: $("#agent-role").value,
      capacity: capacity === null ? -1 : capacity,
    };
    const missing = [];
    if (!body.name) missing.push(["agent-name", t("team.needName")]);
    if (!body.email) missing.push(["agent-email", t("team.needEmail")]);
    if (!body.password) missing.push(["agent-password", t("team.needPassword")]);
    if (capacity === null || capacity > 100) missing.push(["agent-capacity", t("err.invalid_capacity")]);
    if (missing.length) {
      for (const [id, text] of missing) this.fieldError(id, text);
      say(status, t("team.fixFirst"), true);
      $("#" + missing[0][0]).focus();
      return;
    }
    try {
      await api("POST", "/v1/admin/agents", body);
      for (const id of ["agent-name", "agent-email", "agent-password"]) $("#" + id).value = "";
      $("#agent-role").value = "agent";
      $("#agent-capacity").value = "0";
      say(status, t("team.added", { name: body.name }));
      this.loadTeam();
    } catch (e) {
      const id = FIELD[e.code];
      if (id) {
        this.fieldError(id, errText(e));
        $("#" + id).focus();
      }
      say(status, t("team.notAdded", { reason: errText(e) }), true);
    }
  }
}
