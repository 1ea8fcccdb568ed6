// The assistant's settings: the built-in assistant or the deployment's
// language model, and the merchant's instructions for the model. The model
// can be chosen only when this Baton has one (model_available).

import { $, $$, say } from "./dom.js";
import { api } from "./api.js";

const maxInstructions = 4000;

const TEXTS = {
  noModel: "Not available: this Baton has no language model. Whoever runs it can add one (BATON_MODEL_BASE_URL and BATON_MODEL_NAME); until then the built-in assistant answers.",
  refused: "Not saved: this Baton has no language model, so the built-in assistant keeps answering.",
  savedModel: "Saved. The language model writes the answers.",
  savedBuiltin: "Saved. The built-in assistant answers.",
};

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
      say($("#assistant-status"), "Could not load the assistant's settings: " + e.message, true);
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
    $("#model-note").textContent = on ? "" : TEXTS.noModel;
    $("#model-note").hidden = on;
  }

  count() {
    const n = $("#assistant-instructions").value.length;
    $("#instructions-count").textContent = n + " of " + maxInstructions + " characters";
  }

  async save() {
    const status = $("#assistant-status");
    const picked = $("input[name=assistant-mode]:checked");
    const mode = picked ? picked.value : "builtin";
    try {
      const a = await api("PUT", "/v1/admin/assistant", { mode, instructions: $("#assistant-instructions").value.trim() });
      this.fill(a);
      say(status, a.mode === "model" ? TEXTS.savedModel : TEXTS.savedBuiltin);
    } catch (e) {
      if (e.code === "model_unavailable") {
        this.setAvailable(false);
        say(status, TEXTS.refused, true);
        return;
      }
      say(status, "Not saved: " + e.message, true);
    }
  }
}
