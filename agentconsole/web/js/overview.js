// The overview: how often the assistant resolved a question itself and how
// often it routed the visitor to the team, as counts and as a chart the page
// draws itself in SVG; why conversations went to the team; and the
// questions the assistant could not answer (knowledge gaps), each one a
// click away from the knowledge editor.

import { el, svg, clear, $, say } from "./dom.js";
import { api } from "./api.js";
import { REASONS } from "./ticket.js";

const W = 720, H = 260, L = 40, R = 48, T = 16, B = 32;

function pct(r) { return Math.round((r || 0) * 1000) / 10 + "%"; }

function shiftDate(iso, days) {
  const d = new Date(iso + "T12:00:00Z");
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

const dayFmt = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "short", timeZone: "UTC" });
function dayLabel(iso) { return dayFmt.format(new Date(iso + "T12:00:00Z")); }

// niceMax rounds a largest count up to a scale of four whole-number steps.
export function niceMax(n) {
  if (n <= 4) return 4;
  const raw = n / 4;
  const p = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 3, 4, 5, 6, 8, 10].map((m) => m * p).find((s) => s >= raw && Number.isInteger(s));
  return 4 * (step || Math.ceil(raw));
}

export class View {
  constructor(app) {
    this.app = app;
    this.today = "";
    $("#range").addEventListener("change", () => this.show());
  }

  async show() {
    const days = Number($("#range").value) || 30;
    const status = $("#overview-status");
    say(status, "Loading…");
    try {
      let path = "/v1/admin/metrics";
      // The merchant's today comes from the server, which knows its zone.
      if (!this.today) this.today = (await api("GET", path)).to;
      path += "?from=" + shiftDate(this.today, 1 - days) + "&to=" + this.today;
      const m = await api("GET", path);
      this.today = m.to;
      this.render(m);
      say(status, "");
      await this.gaps(m.from, m.to);
    } catch (e) {
      say(status, "Could not load the figures: " + e.message, true);
    }
  }

  render(m) {
    const k = clear($("#kpis"));
    const card = (label, value, note) => el("div", { class: "kpi" }, [
      el("span", { class: "kpi-label", text: label }), el("strong", { class: "kpi-value", text: String(value) }),
      note ? el("span", { class: "kpi-note", text: note }) : null]);
    k.append(
      card("Conversations", m.conversations, m.from + " to " + m.to),
      card("Resolution rate", pct(m.resolution_rate), m.resolved_by_assistant + " resolved by the assistant"),
      card("Routed to the team", m.routed_to_team, pct(m.routed_rate) + " of conversations"),
      card("Still open", m.open, "no outcome yet"),
    );
    const mod = m.model || {};
    if (mod.calls > 0) {
      const tokens = (mod.prompt_tokens || 0) + (mod.completion_tokens || 0);
      k.append(card("Model calls", mod.calls, (mod.errors || 0) + " failed · " + tokens + " tokens (" +
        (mod.prompt_tokens || 0) + " prompt, " + (mod.completion_tokens || 0) + " completion)"));
    }
    this.chart(m);
    this.reasons(m);
    this.table(m);
  }

  // reasons draws routed_to_team_by_reason as one bar per reason, every
  // count also written out, in the bar's row and in the chart's summary.
  reasons(m) {
    const by = m.routed_to_team_by_reason || {};
    const keys = Object.keys(REASONS).concat(Object.keys(by).filter((r) => !(r in REASONS)));
    const rows = keys.map((r) => ({ reason: r, label: REASONS[r] || r, n: by[r] || 0 }));
    const max = Math.max(1, ...rows.map((r) => r.n));
    const RL = 250, RW = 720, RH = 34, CW = 60;
    const h = rows.length * RH + 8;
    const summary = m.routed_to_team + " conversations went to the team from " + m.from + " to " + m.to + ": " +
      rows.map((r) => r.label.toLowerCase() + ": " + r.n).join("; ") + ".";
    const root = svg("svg", { viewBox: "0 0 " + RW + " " + h, role: "img", "aria-labelledby": "reasons-caption reasons-summary", class: "chart-svg reasons-svg" });
    root.append(svg("desc", { id: "reasons-summary", text: summary }));
    rows.forEach((r, i) => {
      const y = 4 + i * RH;
      const w = (RW - RL - CW) * (r.n / max);
      root.append(svg("g", { class: "reason", "data-reason": r.reason }, [
        svg("title", { text: r.label + ": " + r.n }),
        svg("text", { x: RL - 10, y: y + RH / 2 + 5, class: "reason-label", "text-anchor": "end", text: r.label }),
        svg("rect", { x: RL, y: y + 6, width: Math.max(r.n ? 2 : 0, w), height: RH - 12, rx: 3, class: "bar reason-bar " + r.reason }),
        svg("text", { x: RL + w + 8, y: y + RH / 2 + 5, class: "reason-count", text: String(r.n) }),
      ]));
    });
    clear($("#reasons-chart")).append(root);
  }

  // gaps lists what visitors asked that the assistant could not answer in
  // the period, with the way into the knowledge editor for each.
  async gaps(from, to) {
    const list = clear($("#gaps-list"));
    const status = $("#gaps-status");
    say(status, "Loading…");
    let gaps, entries;
    try {
      const q = "?from=" + encodeURIComponent(from) + "&to=" + encodeURIComponent(to);
      const [g, k] = await Promise.all([api("GET", "/v1/admin/knowledge/gaps" + q), api("GET", "/v1/admin/knowledge")]);
      gaps = g.gaps || [];
      entries = k.entries || [];
    } catch (e) {
      say(status, "Could not load the knowledge gaps: " + e.message, true);
      return;
    }
    say(status, gaps.length ? "" : "No unanswered questions in this period.");
    gaps.forEach((g, i) => list.append(this.gap(g, i, entries)));
  }

  gap(g, i, entries) {
    const qid = "gap-q-" + i;
    const sel = el("select", { id: "gap-target-" + i, class: "gap-target" }, [el("option", { value: "", text: "A new entry" })]);
    for (const e of entries) {
      const q = e.question.length > 80 ? e.question.slice(0, 79) + "…" : e.question;
      sel.append(el("option", { value: e.id, text: "Entry: " + q }));
    }
    const add = el("button", { type: "button", class: "primary small", text: "Add to knowledge", "aria-describedby": qid });
    add.addEventListener("click", () => this.addToKnowledge(g, sel.value));
    const examples = (g.examples || []).filter((x) => x && x !== g.question);
    return el("li", { class: "gap", "data-count": String(g.count) }, [
      el("div", { class: "gap-top" }, [
        el("strong", { id: qid, class: "gap-question", text: g.question }),
        el("span", { class: "gap-count", text: g.count === 1 ? "asked once" : "asked " + g.count + " times" }),
      ]),
      examples.length ? el("p", { class: "gap-label", text: "Also asked as:" }) : null,
      examples.length ? el("ul", { class: "gap-examples" }, examples.map((x) => el("li", { text: x }))) : null,
      el("div", { class: "save-row" }, [el("label", { for: sel.id, class: "inline-label", text: "Add to" }), sel, add]),
    ]);
  }

  // addToKnowledge opens the knowledge editor with the gap filled in: a new
  // entry (its wordings as the question and phrasings) or more phrasings of
  // an entry. Nothing is saved until the admin saves the knowledge.
  async addToKnowledge(g, entryID) {
    await this.app.go("settings");
    const v = this.app.views.settings;
    if (v) v.knowledge.prefill(g, entryID);
  }

  chart(m) {
    const days = m.days || [];
    const box = clear($("#chart"));
    const max = niceMax(Math.max(0, ...days.map((d) => d.conversations)));
    const band = (W - L - R) / Math.max(days.length, 1);
    const y = (v) => T + (H - T - B) * (1 - v / max);
    const yr = (r) => T + (H - T - B) * (1 - r);
    const summary = m.conversations + " conversations from " + m.from + " to " + m.to + ": " +
      m.resolved_by_assistant + " resolved by the assistant, " + m.routed_to_team + " routed to the team, resolution rate " + pct(m.resolution_rate) + ".";
    const root = svg("svg", { viewBox: "0 0 " + W + " " + H, role: "img", "aria-labelledby": "chart-caption chart-summary", class: "chart-svg" });
    root.append(svg("desc", { id: "chart-summary", text: summary }));
    for (let i = 0; i <= 4; i++) {
      const v = (max / 4) * i;
      root.append(svg("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), class: "grid" }));
      root.append(svg("text", { x: L - 6, y: y(v) + 4, class: "axis", "text-anchor": "end", text: String(v) }));
      root.append(svg("text", { x: W - R + 6, y: yr(i / 4) + 4, class: "axis rate-axis", text: (i * 25) + "%" }));
    }
    const every = Math.ceil(days.length / 10);
    const points = [];
    days.forEach((d, i) => {
      const x = L + band * i + band * 0.15;
      const w = Math.max(1, band * 0.7);
      const other = Math.max(0, d.conversations - d.resolved_by_assistant - d.routed_to_team);
      const g = svg("g", { class: "day", "data-date": d.date }, [
        svg("title", { text: d.date + ": " + d.conversations + " conversations, " + d.resolved_by_assistant +
          " resolved by the assistant, " + d.routed_to_team + " routed to the team" +
          (d.conversations ? ", resolution rate " + pct(d.resolution_rate) : "") }),
      ]);
      let base = 0;
      for (const [v, cls] of [[d.resolved_by_assistant, "resolved"], [d.routed_to_team, "routed"], [other, "open"]]) {
        if (!v) continue;
        g.append(svg("rect", { x, y: y(base + v), width: w, height: y(base) - y(base + v), class: "bar " + cls }));
        base += v;
      }
      root.append(g);
      if (i % every === 0) {
        root.append(svg("text", { x: x + w / 2, y: H - B + 16, class: "axis", "text-anchor": "middle", text: dayLabel(d.date) }));
      }
      points.push(d.conversations ? [x + w / 2, yr(d.resolution_rate)] : null);
    });
    // The rate line is broken on days without conversations: no rate there.
    let run = [];
    const flush = () => {
      if (run.length > 1) root.append(svg("polyline", { points: run.map((p) => p.join(",")).join(" "), class: "rate" }));
      for (const p of run) root.append(svg("circle", { cx: p[0], cy: p[1], r: 3, class: "rate-dot" }));
      run = [];
    };
    for (const p of points) { if (p) run.push(p); else flush(); }
    flush();
    box.append(root);
    const legend = clear($("#legend"));
    for (const [cls, text] of [["resolved", "Resolved by the assistant"], ["routed", "Routed to the team"], ["open", "No outcome yet"], ["rate", "Resolution rate (right axis)"]]) {
      legend.append(el("span", { class: "key" }, [el("span", { class: "swatch " + cls, "aria-hidden": "true" }), el("span", { text })]));
    }
  }

  table(m) {
    const t = clear($("#metrics-table"));
    t.append(el("thead", {}, [el("tr", {}, ["Date", "Conversations", "Resolved by the assistant", "Routed to the team", "Resolution rate"]
      .map((h) => el("th", { scope: "col", text: h })))]));
    const body = el("tbody");
    for (const d of m.days || []) {
      body.append(el("tr", {}, [el("th", { scope: "row", text: d.date }), el("td", { text: String(d.conversations) }),
        el("td", { text: String(d.resolved_by_assistant) }), el("td", { text: String(d.routed_to_team) }),
        el("td", { text: d.conversations ? pct(d.resolution_rate) : "–" })]));
    }
    t.append(body);
  }
}
