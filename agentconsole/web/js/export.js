// Taking conversations out of Baton, for admins: one conversation from its
// pane, as JSON or as a vCon, and every conversation begun in a period as
// NDJSON. The files come through download() so the token stays in a
// header.

import { el, $, say } from "./dom.js";
import { download, errText } from "./api.js";
import { t, number } from "./i18n.js";

const FORMATS = [["json", "export.json", "export.jsonFor"], ["vcon", "export.vcon", "export.vconFor"]];

// exportTools are a pane's two download buttons and the line that says how
// the download went.
export function exportTools(convID, visitor) {
  const status = el("p", { class: "form-status export-status", role: "status" });
  const buttons = FORMATS.map(([format, key, forKey]) => {
    const b = el("button", { type: "button", class: "small", "data-export": format, text: t(key),
      "aria-label": t(forKey, { name: visitor }) });
    b.addEventListener("click", async () => {
      b.disabled = true;
      say(status, t("export.preparing"));
      try {
        await download("/v1/admin/conversations/" + encodeURIComponent(convID) + "/export?format=" + format,
          "conversation-" + convID + "." + format + ".json");
        say(status, t("export.done"));
      } catch (e) {
        say(status, t("export.failed", { reason: errText(e) }), true);
      } finally {
        b.disabled = false;
      }
    });
    return b;
  });
  return el("div", { class: "pane-export", role: "group", "aria-label": t("export.group") }, [...buttons, status]);
}

function isoDay(d) {
  return d.toISOString().slice(0, 10);
}

// BulkExport is the admin's form for a period's conversations.
export class BulkExport {
  constructor() {
    this.form = $("#export-form");
    this.from = $("#export-from");
    this.to = $("#export-to");
    const today = new Date();
    this.to.value = isoDay(today);
    this.from.value = isoDay(new Date(today.getTime() - 29 * 86400000));
    for (const i of [this.from, this.to]) i.addEventListener("input", () => this.fieldError(i, ""));
    this.form.addEventListener("submit", (e) => { e.preventDefault(); this.run(); });
  }

  fieldError(input, text) {
    const err = $("#" + input.id + "-error");
    err.textContent = text;
    err.hidden = !text;
    if (text) input.setAttribute("aria-invalid", "true");
    else input.removeAttribute("aria-invalid");
  }

  async run() {
    const status = $("#export-status");
    const from = this.from.value;
    const to = this.to.value;
    this.fieldError(this.from, from ? "" : t("export.needDate"));
    this.fieldError(this.to, to ? "" : t("export.needDate"));
    if (!from || !to) {
      say(status, "");
      (from ? this.to : this.from).focus();
      return;
    }
    if (from > to) {
      this.fieldError(this.to, t("export.toBeforeFrom"));
      say(status, "");
      this.to.focus();
      return;
    }
    const format = (this.form.querySelector("input[name=export-format]:checked") || {}).value || "json";
    const btn = this.form.querySelector("button[type=submit]");
    btn.disabled = true;
    say(status, t("export.preparing"));
    try {
      const q = new URLSearchParams({ from, to, format });
      const blob = await download("/v1/admin/conversations/export?" + q, "conversations." + format + ".ndjson", true);
      if (!blob.size) {
        say(status, t("export.empty"));
      } else if (await cutShort(blob)) {
        say(status, t("export.cut"), true);
      } else {
        say(status, t("export.bulkDone", { size: size(blob.size) }));
      }
    } catch (e) {
      if (e.code === "invalid_range") {
        this.fieldError(this.to, errText(e));
        say(status, "");
      } else {
        say(status, t("export.failed", { reason: errText(e) }), true);
      }
    } finally {
      btn.disabled = false;
    }
  }
}

// cutShort says whether the export's last line is the error the server
// writes when it fails after the first conversation.
async function cutShort(blob) {
  const tail = (await blob.slice(Math.max(0, blob.size - 8192)).text()).trimEnd();
  const line = tail.slice(tail.lastIndexOf("\n") + 1);
  try {
    const v = JSON.parse(line);
    return !!(v && v.error && !v.conversation);
  } catch {
    return false;
  }
}

function size(bytes) {
  if (bytes < 1024) return t("export.bytes", { n: number(bytes) });
  if (bytes < 1024 * 1024) return t("export.kb", { n: number(bytes / 1024, { maximumFractionDigits: 1 }) });
  return t("export.mb", { n: number(bytes / 1024 / 1024, { maximumFractionDigits: 1 }) });
}
