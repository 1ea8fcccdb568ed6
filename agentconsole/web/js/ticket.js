// What a helpdesk handoff produced, in words: the provider, the state of
// the ticket, its id as a link into the helpdesk and, when it went wrong,
// the helpdesk's reason. Shared by the conversation pane and the admins'
// handoffs view. Every text goes in as text; a link is made only for an
// http(s) address.

import { el, fmtTime, safeURL } from "./dom.js";
import { api } from "./api.js";
import { t } from "./i18n.js";

const PROVIDERS = { zendesk: "Zendesk", gorgias: "Gorgias" };

export function providerName(p) {
  return PROVIDERS[p] || String(p || t("ticket.helpdesk"));
}

const STATES = { pending: "state.pending", created: "state.created", failed: "state.failed" };

// stateWord is the state alone: Pending, Created or Failed.
export function stateWord(state) {
  return STATES[state] ? t(STATES[state]) : String(state || t("state.unknown"));
}

// stateText says what the state means for the people reading it.
export function stateText(tk) {
  switch (tk.state) {
    case "pending":
      return tk.error ? t("state.pendingRetry") : t("state.pendingMaking");
    case "created":
      return t("state.created");
    case "failed":
      return t("state.failedNoTicket");
    default:
      return stateWord(tk.state);
  }
}

// laterTicket picks the newer of two states of a ticket: a retry's answer
// may come after the frame that says the ticket was made. At the same
// moment, an outcome beats "pending".
export function laterTicket(had, got) {
  if (!got) return had;
  if (!had) return got;
  const a = Date.parse(had.updated_at || ""), b = Date.parse(got.updated_at || "");
  if (isNaN(a) || isNaN(b) || b > a) return got;
  if (b < a) return had;
  return got.state === "pending" && had.state !== "pending" ? had : got;
}

// REASONS names every handoff reason (the contract's values) for people.
export const REASONS = {
  visitor_asked: "reason.visitor_asked",
  unsure: "reason.unsure",
  model_handoff: "reason.model_handoff",
  model_error: "reason.model_error",
};

export function reasonLabel(r) {
  return REASONS[r] ? t(REASONS[r]) : r || "";
}

export function reasonText(r, detail) {
  const s = reasonLabel(r);
  return detail ? s + " (" + detail + ")" : s;
}

// ticketLink is the ticket's id, linked into the helpdesk when its address
// is http(s); without an id there is nothing to show.
export function ticketLink(tk) {
  if (!tk || !tk.id) return null;
  const name = t("ticket.named", { provider: providerName(tk.provider), id: tk.id });
  if (!tk.url || !safeURL(tk.url)) return el("span", { class: "ticket-id", text: name });
  return el("a", { class: "ticket-id", href: tk.url, target: "_blank", rel: "noopener noreferrer", title: tk.url }, [
    name, el("span", { class: "sr-only", text: " " + t("common.newTab") })]);
}

export function timeNode(iso) {
  return iso ? el("time", { datetime: iso, text: fmtTime(iso) }) : null;
}

// facts appends the ticket's facts to a <dl>: provider, state, id and
// link, the next attempt while pending and the error when there is one.
export function ticketFacts(dl, tk) {
  const fact = (k, v, cls) => {
    if (v === null || v === undefined || v === "") return;
    dl.append(el("dt", { text: k }), el("dd", { class: cls }, [v]));
  };
  fact(t("ticket.helpdeskLabel"), providerName(tk.provider));
  fact(t("ticket.ticket"), stateText(tk), "ticket-state");
  fact(t("ticket.id"), ticketLink(tk));
  if (tk.state === "pending" && tk.next_attempt_at) fact(t("ticket.nextTry"), timeNode(tk.next_attempt_at));
  if (tk.error) fact(tk.state === "failed" ? t("ticket.error") : t("ticket.lastError"), tk.error, "ticket-error");
}

// retryHandoff asks Baton to make a failed ticket again; it answers the
// handoff, back to pending.
export async function retryHandoff(id) {
  const r = await api("POST", "/v1/admin/handoffs/" + encodeURIComponent(id) + "/retry");
  return r.handoff;
}

// retryError says in words why a retry was refused.
export function retryError(e) {
  if (e.code === "not_failed") return t("ticket.notFailed");
  if (e.status === 404) return t("ticket.gone");
  return t("ticket.notRetried", { reason: e.message });
}
