// What a helpdesk handoff produced, in words: the provider, the state of
// the ticket, its id as a link into the helpdesk and, when it went wrong,
// the helpdesk's reason. Shared by the conversation pane and the admins'
// handoffs view. Every text goes in as text; a link is made only for an
// http(s) address.

import { el, fmtTime, safeURL } from "./dom.js";
import { api } from "./api.js";

const PROVIDERS = { zendesk: "Zendesk", gorgias: "Gorgias" };

export function providerName(p) {
  return PROVIDERS[p] || String(p || "helpdesk");
}

const STATES = { pending: "Pending", created: "Created", failed: "Failed" };

// stateWord is the state alone: Pending, Created or Failed.
export function stateWord(state) {
  return STATES[state] || String(state || "Unknown");
}

// stateText says what the state means for the people reading it.
export function stateText(t) {
  switch (t.state) {
    case "pending":
      return t.error ? "Pending: the last attempt failed, Baton tries again" : "Pending: the ticket is being made";
    case "created":
      return "Created";
    case "failed":
      return "Failed: no ticket was made";
    default:
      return stateWord(t.state);
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
  visitor_asked: "The visitor asked for a person",
  unsure: "The assistant had no answer",
  model_handoff: "The assistant handed over",
  model_error: "The assistant's model failed",
};

export function reasonText(r, detail) {
  const t = REASONS[r] || r || "";
  return detail ? t + " (" + detail + ")" : t;
}

// ticketLink is the ticket's id, linked into the helpdesk when its address
// is http(s); without an id there is nothing to show.
export function ticketLink(t) {
  if (!t || !t.id) return null;
  const name = providerName(t.provider) + " ticket " + t.id;
  if (!t.url || !safeURL(t.url)) return el("span", { class: "ticket-id", text: name });
  return el("a", { class: "ticket-id", href: t.url, target: "_blank", rel: "noopener noreferrer", title: t.url }, [
    name, el("span", { class: "sr-only", text: " (opens in a new tab)" })]);
}

export function timeNode(iso) {
  return iso ? el("time", { datetime: iso, text: fmtTime(iso) }) : null;
}

// facts appends the ticket's facts to a <dl>: provider, state, id and
// link, the next attempt while pending and the error when there is one.
export function ticketFacts(dl, t) {
  const fact = (k, v, cls) => {
    if (v === null || v === undefined || v === "") return;
    dl.append(el("dt", { text: k }), el("dd", { class: cls }, [v]));
  };
  fact("Helpdesk", providerName(t.provider));
  fact("Ticket", stateText(t), "ticket-state");
  fact("Ticket id", ticketLink(t));
  if (t.state === "pending" && t.next_attempt_at) fact("Next try", timeNode(t.next_attempt_at));
  if (t.error) fact(t.state === "failed" ? "Error" : "Last error", t.error, "ticket-error");
}

// retryHandoff asks Baton to make a failed ticket again; it answers the
// handoff, back to pending.
export async function retryHandoff(id) {
  const r = await api("POST", "/v1/admin/handoffs/" + encodeURIComponent(id) + "/retry");
  return r.handoff;
}

// retryError says in words why a retry was refused.
export function retryError(e) {
  if (e.code === "not_failed") return "Not retried: it is no longer failed (someone retried it already, or it was made).";
  if (e.status === 404) return "Not retried: this handoff is not there any more.";
  return "Not retried: " + e.message;
}
