// The assistant's settings: the built-in assistant or the deployment's
// language model, and the merchant's instructions for the model. The model
// can be chosen only when this Baton has one (model_available).

import { $, $$, say } from "./dom.js";
import { api } from "./api.js";
import { t } from "./i18n.js";

const maxInstructions = 4000;


export class Assistant {
  constructor() {
    this.available = false;
    $("#assistant-form").addEventListener("submit", (e) => { e.preventDefault(); this.save(); });
    $("#assistant-instructions").addEventListener("input", () => this.count());
  }

  async load() {
    try {
      this.fill(await api("GET", "/v1/admin/assistant"));
      say($("#assistant-status"), "");
    } catch (e) {
      say($("#assistant-status"), t("assistant.loadFailed", { reason: e.message }), true);
    }
  }

  fill(a) {
    const mode = a.mode || "builtin";
    for (const r of $$("input[name=assistant-mode]")) r.checked = r.value === mode;
    $("#assistant-instructions").value = a.instructions || "";
    this.setAvailable(!!a.model_available);
    this.count();
  }

  // setAvailable disables the model's choice, saying why, when there is no
  // model (a mode kept from before stays visible as chosen).
  setAvailable(on) {
    this.available = on;
    const model = $("input[name=assistant-mode][value=model]");
    model.disabled = !on;
    $("#model-note").textContent = on ? "" : t("assistant.noModel");
    $("#model-note").hidden = on;
  }

  count() {
    const n = $("#assistant-instructions").value.length;
    $("#instructions-count").textContent = t("assistant.count", { n, max: maxInstructions });
  }

  async save() {
    const status = $("#assistant-status");
    const picked = $("input[name=assistant-mode]:checked");
    const mode = picked ? picked.value : "builtin";
    try {
      const a = await api("PUT", "/v1/admin/assistant", { mode, instructions: $("#assistant-instructions").value.trim() });
      this.fill(a);
      say(status, a.mode === "model" ? t("assistant.savedModel") : t("assistant.savedBuiltin"));
    } catch (e) {
      if (e.code === "model_unavailable") {
        this.setAvailable(false);
        say(status, t("assistant.refused"), true);
        return;
      }
      say(status, t("common.notSaved", { reason: e.message }), true);
    }
  }
}
