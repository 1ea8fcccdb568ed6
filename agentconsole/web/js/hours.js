// The office hours editor: a time zone, several intervals per weekday,
// exceptions by date, and a preview line of what the saved schedule means
// right now.

import { el, clear, $, $$, say } from "./dom.js";
import { api } from "./api.js";
import { t, dateFormat } from "./i18n.js";

const DAYS = [["mon", "day.mon"], ["tue", "day.tue"], ["wed", "day.wed"], ["thu", "day.thu"],
  ["fri", "day.fri"], ["sat", "day.sat"], ["sun", "day.sun"]];
const CLOCK = /^([01]\d|2[0-3]):[0-5]\d$/;

function minutes(t) {
  return t === "24:00" ? 1440 : Number(t.slice(0, 2)) * 60 + Number(t.slice(3));
}

// checkIntervals returns what is wrong with a list of {open, close}, or "".
export function checkIntervals(ivs) {
  for (const iv of ivs) {
    if (!CLOCK.test(iv.open)) return t("hours.badOpen", { time: iv.open });
    if (!CLOCK.test(iv.close) && iv.close !== "24:00") return t("hours.badClose", { time: iv.close });
    if (minutes(iv.close) <= minutes(iv.open)) return t("hours.backwards", { open: iv.open, close: iv.close });
  }
  const s = ivs.slice().sort((a, b) => minutes(a.open) - minutes(b.open));
  for (let i = 1; i < s.length; i++) {
    if (minutes(s[i].open) < minutes(s[i - 1].close)) return t("hours.overlap");
  }
  return "";
}

export function previewText(now) {
  if (!now) return "";
  if (now.open) return t("hours.openNow");
  if (now.next_open_local) return t("hours.closedNow", { when: now.next_open_local });
  if (now.next_open) return t("hours.closedNow", { when: dateFormat({ dateStyle: "full", timeStyle: "short" }).format(new Date(now.next_open)) });
  return t("hours.closedYear");
}

export class Hours {
  constructor() {
    this.form = $("#hours-form");
    this.form.addEventListener("submit", (e) => { e.preventDefault(); this.save(); });
    $("#add-exception").addEventListener("click", () => {
      const row = this.addException({ date: "", closed: true });
      row.querySelector("input").focus();
    });
    this.zones();
  }

  zones() {
    let zones = [];
    try { zones = Intl.supportedValuesOf("timeZone"); } catch { zones = []; }
    this.zoneList = Array.from(new Set(["UTC"].concat(zones)));
    const sel = clear($("#timezone"));
    for (const z of this.zoneList) sel.append(el("option", { value: z, text: z.replace(/_/g, " ") }));
  }

  async load() {
    try {
      this.fill(await api("GET", "/v1/admin/office-hours"));
    } catch (e) {
      say($("#hours-status"), t("hours.loadFailed", { reason: e.message }), true);
    }
  }

  fill(h) {
    const sel = $("#timezone");
    if (!this.zoneList.includes(h.timezone)) {
      this.zoneList.push(h.timezone);
      sel.append(el("option", { value: h.timezone, text: h.timezone }));
    }
    sel.value = h.timezone;
    const week = clear($("#week"));
    for (const [key, name] of DAYS) week.append(this.dayRow(key, t(name), (h.weekly && h.weekly[key]) || []));
    clear($("#exceptions"));
    for (const ex of h.exceptions || []) this.addException(ex);
    say($("#hours-preview"), previewText(h.now));
  }

  dayRow(key, name, ivs) {
    const list = el("ul", { class: "intervals" });
    const closed = el("span", { class: "closed-note", text: t("hours.closed") });
    const err = el("p", { class: "error row-error", role: "alert" });
    const row = el("div", { class: "day", role: "group", "aria-labelledby": "day-" + key, "data-day": key }, [
      el("span", { class: "day-name", id: "day-" + key, text: name }), list, closed,
      el("button", { type: "button", class: "small", text: t("hours.addHours"), "aria-label": t("hours.addHoursOn", { name }),
        onclick: () => { this.addInterval(list, name, { open: "09:00", close: "17:00" }).querySelector("input").focus(); this.sync(row); } }),
      err]);
    if (key === "mon") {
      row.append(el("button", { type: "button", class: "small", text: t("hours.copyMonday"), onclick: () => this.copyMonday() }));
    }
    for (const iv of ivs) this.addInterval(list, name, iv);
    this.sync(row);
    return row;
  }

  addInterval(list, name, iv) {
    const n = () => Array.from(list.children).indexOf(li) + 1;
    const open = el("input", { type: "text", class: "open", value: iv.open, inputmode: "numeric", maxlength: "5", size: "5", placeholder: "09:00", autocomplete: "off" });
    const close = el("input", { type: "text", class: "close", value: iv.close, inputmode: "numeric", maxlength: "5", size: "5", placeholder: "17:00", autocomplete: "off" });
    const remove = el("button", { type: "button", class: "small", text: t("common.remove") });
    const li = el("li", {}, [open, el("span", { "aria-hidden": "true", text: "–" }), close, remove]);
    list.append(li);
    const label = () => {
      open.setAttribute("aria-label", t("hours.openLabel", { name, n: n() }));
      close.setAttribute("aria-label", t("hours.closeLabel", { name, n: n() }));
      remove.setAttribute("aria-label", t("hours.removeLabel", { name, n: n() }));
    };
    label();
    remove.addEventListener("click", () => {
      const row = list.closest(".day, .exception");
      const next = li.nextElementSibling || li.previousElementSibling;
      li.remove();
      for (const other of list.children) other.dispatchEvent(new Event("relabel"));
      this.sync(row);
      (next ? next.querySelector("input") : row.querySelector("button")).focus();
    });
    li.addEventListener("relabel", label);
    return li;
  }

  sync(row) {
    if (!row) return;
    const list = row.querySelector(".intervals");
    const note = row.querySelector(".closed-note");
    if (note) note.hidden = list.children.length > 0;
  }

  copyMonday() {
    const mon = this.intervals($("#week [data-day=mon] .intervals"));
    for (const [key, name] of DAYS.slice(1, 5)) {
      const row = $("#week [data-day=" + key + "]");
      const list = clear(row.querySelector(".intervals"));
      for (const iv of mon) this.addInterval(list, t(name), iv);
      this.sync(row);
    }
    say($("#hours-status"), t("hours.copied"));
  }

  addException(ex) {
    const n = $("#exceptions").children.length + 1;
    const date = el("input", { type: "date", class: "ex-date", value: ex.date || "", "aria-label": t("hours.exDate", { n }) });
    const kind = el("select", { class: "ex-kind", "aria-label": t("hours.exKind", { n }) }, [
      el("option", { value: "closed", text: t("hours.closedAllDay") }), el("option", { value: "hours", text: t("hours.otherHours") })]);
    kind.value = ex.closed || !(ex.hours && ex.hours.length) ? "closed" : "hours";
    const list = el("ul", { class: "intervals" });
    const add = el("button", { type: "button", class: "small", text: t("hours.addHours"), "aria-label": t("hours.addHoursOnEx", { n }) });
    const err = el("p", { class: "error row-error", role: "alert" });
    const row = el("li", { class: "exception" }, [date, kind, list, add,
      el("button", { type: "button", class: "small", text: t("common.remove"), "aria-label": t("hours.removeEx", { n }), onclick: () => { row.remove(); $("#add-exception").focus(); } }),
      err]);
    const name = t("hours.exName", { n });
    add.addEventListener("click", () => this.addInterval(list, name, { open: "09:00", close: "13:00" }).querySelector("input").focus());
    const show = () => {
      const hours = kind.value === "hours";
      list.hidden = !hours;
      add.hidden = !hours;
      if (hours && !list.children.length) this.addInterval(list, name, { open: "09:00", close: "13:00" });
    };
    kind.addEventListener("change", show);
    for (const iv of ex.hours || []) this.addInterval(list, name, iv);
    show();
    $("#exceptions").append(row);
    return row;
  }

  intervals(list) {
    return Array.from(list.children).map((li) => ({
      open: li.querySelector(".open").value.trim(),
      close: li.querySelector(".close").value.trim(),
    }));
  }

  // collect reads the form, marking every row with a problem; it returns
  // null when there is one.
  collect() {
    let ok = true;
    const weekly = {};
    for (const row of $$("#week .day")) {
      const ivs = this.intervals(row.querySelector(".intervals"));
      const problem = checkIntervals(ivs);
      row.querySelector(".row-error").textContent = problem ? t("hours.dayProblem", { day: row.querySelector(".day-name").textContent, problem }) : "";
      if (problem) ok = false;
      if (ivs.length) weekly[row.dataset.day] = ivs;
    }
    const exceptions = [];
    const dates = new Set();
    for (const row of $$("#exceptions .exception")) {
      const date = row.querySelector(".ex-date").value;
      const hours = row.querySelector(".ex-kind").value === "hours";
      const ivs = hours ? this.intervals(row.querySelector(".intervals")) : [];
      let problem = "";
      if (!/^\d{4}-\d{2}-\d{2}$/.test(date)) problem = t("hours.chooseDate");
      else if (dates.has(date)) problem = t("hours.twice", { date });
      else if (hours && !ivs.length) problem = t("hours.addOrClosed");
      else if (hours) problem = checkIntervals(ivs);
      row.querySelector(".row-error").textContent = problem ? t("hours.exProblem", { problem }) : "";
      if (problem) { ok = false; continue; }
      dates.add(date);
      exceptions.push(hours ? { date, hours: ivs } : { date, closed: true });
    }
    return ok ? { timezone: $("#timezone").value, weekly, exceptions } : null;
  }

  async save() {
    const status = $("#hours-status");
    const h = this.collect();
    if (!h) {
      say(status, t("hours.fixFirst"), true);
      const first = $$("#hours-form .row-error").find((e) => e.textContent);
      if (first) first.closest(".day, .exception").querySelector("input, select").focus();
      return;
    }
    try {
      this.fill(await api("PUT", "/v1/admin/office-hours", h));
      say(status, t("common.saved"));
    } catch (e) {
      say(status, t("common.notSaved", { reason: e.message }), true);
    }
  }
}
