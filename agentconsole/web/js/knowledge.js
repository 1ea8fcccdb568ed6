// The knowledge editor: the questions the assistant can answer, other ways
// visitors ask them (phrasings), and the answers it gives, exactly as
// written. Every text is set as text, never parsed as HTML.

import { el, clear, $, $$, say, debounce } from "./dom.js";
import { api } from "./api.js";
import { t, tn } from "./i18n.js";

const maxPhrasings = 50;

export class Knowledge {
  constructor() {
    $("#knowledge-form").addEventListener("submit", (e) => { e.preventDefault(); this.save(); });
    $("#add-entry").addEventListener("click", () => {
      $("#knowledge-filter").value = "";
      this.filter();
      const row = this.add({ question: "", answer: "" });
      row.scrollIntoView({ block: "nearest" });
      row.querySelector("textarea").focus();
    });
    $("#knowledge-filter").addEventListener("input", debounce(() => this.filter(), 150));
  }

  async load() {
    try {
      const r = await api("GET", "/v1/admin/knowledge");
      this.fill(r.entries || []);
    } catch (e) {
      say($("#knowledge-status"), t("knowledge.loadFailed", { reason: e.message }), true);
    }
  }

  fill(entries) {
    clear($("#knowledge-list"));
    for (const e of entries) this.add(e);
    this.count();
  }

  add(e) {
    const list = $("#knowledge-list");
    const q = el("textarea", { class: "q", rows: "2", maxlength: "1000" });
    const a = el("textarea", { class: "a", rows: "3", maxlength: "4000" });
    q.value = e.question;
    a.value = e.answer;
    const phrasings = el("ul", { class: "phrasings" });
    const addPhrasing = el("button", { type: "button", class: "small add-phrasing", text: t("knowledge.addPhrasing"), onclick: () => {
      this.addPhrasing(phrasings, addPhrasing, "").focus();
    } });
    for (const p of e.phrasings || []) this.addPhrasing(phrasings, addPhrasing, p);
    const row = el("li", { class: "entry", "data-id": e.id || "" }, [
      el("label", {}, [el("span", { text: t("knowledge.question") }), q]),
      el("div", { class: "phrasing-box", role: "group", "aria-label": t("knowledge.phrasings") }, [
        el("span", { class: "phrasing-title", text: t("knowledge.phrasings") }),
        phrasings,
        addPhrasing,
      ]),
      el("label", {}, [el("span", { text: t("knowledge.answer") }), a]),
      el("button", { type: "button", class: "small", text: t("common.delete"), onclick: () => {
        const next = row.nextElementSibling || row.previousElementSibling;
        row.remove();
        this.count();
        (next ? next.querySelector("textarea") : $("#add-entry")).focus();
      } }),
    ]);
    list.append(row);
    this.count();
    return row;
  }

  // addPhrasing adds one phrasing's input to an entry's list and returns
  // it; the add button is disabled at the limit the server keeps.
  addPhrasing(list, addButton, text) {
    const input = el("input", { type: "text", class: "ph", maxlength: "1000", "aria-label": t("knowledge.phrasing") });
    input.value = text;
    const item = el("li", {}, [
      input,
      el("button", { type: "button", class: "small", text: t("common.remove"), "aria-label": t("knowledge.removePhrasing"), onclick: () => {
        const next = item.nextElementSibling || item.previousElementSibling;
        item.remove();
        addButton.disabled = list.children.length >= maxPhrasings;
        (next ? next.querySelector("input") : addButton).focus();
      } }),
    ]);
    list.append(item);
    addButton.disabled = list.children.length >= maxPhrasings;
    return input;
  }

  // prefill opens the editor on a knowledge gap: a new entry with the
  // gap's wording as its question and the other wordings as phrasings, or
  // those wordings as more phrasings of the entry entryID. Nothing is
  // saved until the admin writes what is missing and saves.
  prefill(gap, entryID) {
    $("#knowledge-filter").value = "";
    this.filter();
    const status = $("#knowledge-status");
    const wordings = [gap.question].concat(gap.examples || []).map((w) => String(w || "").trim()).filter(Boolean);
    const row = entryID ? $$("#knowledge-list .entry").find((r) => r.dataset.id === entryID) : null;
    let focus, text;
    if (row) {
      const known = new Set([row.querySelector(".q").value].concat($$(".ph", row).map((i) => i.value)).map((w) => w.trim().toLowerCase()));
      const list = row.querySelector(".phrasings");
      const button = row.querySelector(".add-phrasing");
      let added = 0;
      for (const w of wordings) {
        if (known.has(w.toLowerCase()) || list.children.length >= maxPhrasings) continue;
        known.add(w.toLowerCase());
        focus = this.addPhrasing(list, button, w);
        added++;
      }
      focus = focus || row.querySelector(".q");
      const q = row.querySelector(".q").value.trim();
      text = added === 0 ? t("knowledge.hasWordings", { q }) : tn("knowledge.addedPhrasings", added, { q });
      row.classList.add("prefilled");
      row.scrollIntoView({ block: "center" });
    } else {
      const [question, ...rest] = wordings;
      const seen = new Set([question.toLowerCase()]);
      const phrasings = rest.filter((w) => !seen.has(w.toLowerCase()) && seen.add(w.toLowerCase())).slice(0, maxPhrasings);
      const fresh = this.add({ question, phrasings, answer: "" });
      fresh.classList.add("prefilled");
      fresh.scrollIntoView({ block: "center" });
      focus = fresh.querySelector(".a");
      text = (entryID ? t("knowledge.entryGone") + " " : "") + t("knowledge.newEntry", { q: question });
    }
    say(status, text);
    focus.focus();
  }

  count() {
    const n = $$("#knowledge-list .entry").length;
    say($("#knowledge-status"), tn("knowledge.count", n));
  }

  filter() {
    const f = $("#knowledge-filter").value.trim().toLowerCase();
    for (const row of $$("#knowledge-list .entry")) {
      const phrasings = $$(".ph", row).map((i) => i.value).join(" ");
      const text = (row.querySelector(".q").value + " " + phrasings + " " + row.querySelector(".a").value).toLowerCase();
      row.hidden = !!f && !text.includes(f);
    }
  }

  async save() {
    const entries = [];
    let bad = null;
    for (const row of $$("#knowledge-list .entry")) {
      const question = row.querySelector(".q").value.trim();
      const answer = row.querySelector(".a").value.trim();
      // Blank phrasings are dropped: an empty input is not a way to ask.
      const phrasings = $$(".ph", row).map((i) => i.value.trim()).filter((p) => p !== "");
      if (!question && !answer && phrasings.length === 0) continue;
      if (!question || !answer) { bad = bad || row; continue; }
      const e = { question, phrasings, answer };
      if (row.dataset.id) e.id = row.dataset.id;
      entries.push(e);
    }
    const status = $("#knowledge-status");
    if (bad) {
      bad.hidden = false;
      say(status, t("knowledge.incomplete"), true);
      bad.querySelector(bad.querySelector(".q").value.trim() ? ".a" : ".q").focus();
      return;
    }
    try {
      const r = await api("PUT", "/v1/admin/knowledge", { entries });
      this.fill(r.entries || []);
      this.filter();
      say(status, tn("knowledge.saved", entries.length));
    } catch (e) {
      say(status, t("common.notSaved", { reason: e.message }), true);
    }
  }
}
