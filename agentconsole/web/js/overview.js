// The overview: how often the assistant resolved a question itself and how
// often it routed the visitor to the team, as counts and as a chart the page
// draws itself in SVG; how visitors rated the conversations people took
// part in, with its trend by day; why conversations went to the team; and
// the questions the assistant could not answer (knowledge gaps), each one a
// click away from the knowledge editor.

import { el, svg, clear, $, say } from "./dom.js";
import { api } from "./api.js";
import { REASONS, reasonLabel } from "./ticket.js";
import { t, tn, number, dateFormat } from "./i18n.js";

const W = 720, H = 260, L = 40, R = 48, T = 16, B = 32;

function pct(r) { return number(Math.round((r || 0) * 1000) / 10) + "%"; }

// rating shows an average rating with at most two decimals.
function rating(v) { return number(v || 0, { maximumFractionDigits: 2 }); }

function shiftDate(iso, days) {
  const d = new Date(iso + "T12:00:00Z");
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

function dayLabel(iso) { return dateFormat({ day: "numeric", month: "short", timeZone: "UTC" }).format(new Date(iso + "T12:00:00Z")); }

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
    say(status, t("common.loading"));
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
      say(status, t("overview.loadFailed", { reason: e.message }), true);
    }
  }

  render(m) {
    const k = clear($("#kpis"));
    const card = (label, value, note) => el("div", { class: "kpi" }, [
      el("span", { class: "kpi-label", text: label }), el("strong", { class: "kpi-value", text: String(value) }),
      note ? el("span", { class: "kpi-note", text: note }) : null]);
    const csat = m.csat || { responses: 0, average: 0 };
    k.append(
      card(t("overview.conversations"), m.conversations, t("overview.range", { from: m.from, to: m.to })),
      card(t("overview.rate"), pct(m.resolution_rate), t("overview.resolvedNote", { n: m.resolved_by_assistant })),
      card(t("overview.routed"), m.routed_to_team, t("overview.routedNote", { rate: pct(m.routed_rate) })),
      card(t("overview.open"), m.open, t("overview.openNote")),
    );
    const sat = card(t("overview.csat"), csat.responses ? t("overview.csatValue", { avg: rating(csat.average) }) : "–",
      csat.responses ? tn("overview.responses", csat.responses) : t("overview.noRatings"));
    sat.dataset.kpi = "csat";
    sat.dataset.responses = String(csat.responses || 0);
    sat.dataset.average = String(csat.average || 0);
    k.append(sat);
    const mod = m.model || {};
    if (mod.calls > 0) {
      const tokens = (mod.prompt_tokens || 0) + (mod.completion_tokens || 0);
      k.append(card(t("overview.modelCalls"), mod.calls, t("overview.modelNote", { errors: mod.errors || 0, tokens,
        prompt: mod.prompt_tokens || 0, completion: mod.completion_tokens || 0 })));
    }
    this.chart(m);
    this.csat(m);
    this.reasons(m);
    this.table(m);
  }

  // csat draws the average rating of each day that has ratings (a dot on a
  // 1 to 5 scale, joined across days) over bars of how many rated; days
  // without ratings have neither. Every figure is also in the summary and
  // in each day's title, and in the table.
  csat(m) {
    const days = m.days || [];
    const box = clear($("#csat-chart"));
    const c = m.csat || { responses: 0, average: 0 };
    const most = niceMax(Math.max(0, ...days.map((d) => (d.csat && d.csat.responses) || 0)));
    const band = (W - L - R) / Math.max(days.length, 1);
    const yr = (v) => T + (H - T - B) * (1 - (v - 1) / 4); // 1..5
    const yc = (n) => T + (H - T - B) * (1 - n / most);
    const summary = c.responses
      ? tn("overview.csatSummary", c.responses, { avg: rating(c.average), from: m.from, to: m.to })
      : t("overview.csatNone", { from: m.from, to: m.to });
    const root = svg("svg", { viewBox: "0 0 " + W + " " + H, role: "img", "aria-labelledby": "csat-caption csat-summary", class: "chart-svg csat-svg" });
    root.append(svg("desc", { id: "csat-summary", text: summary }));
    for (let i = 0; i <= 4; i++) {
      root.append(svg("line", { x1: L, x2: W - R, y1: yr(i + 1), y2: yr(i + 1), class: "grid" }));
      root.append(svg("text", { x: W - R + 6, y: yr(i + 1) + 4, class: "axis", text: String(i + 1) }));
      root.append(svg("text", { x: L - 6, y: yc((most / 4) * i) + 4, class: "axis", "text-anchor": "end", text: String((most / 4) * i) }));
    }
    const every = Math.ceil(days.length / 10);
    const points = [];
    days.forEach((d, i) => {
      const x = L + band * i + band * 0.15;
      const w = Math.max(1, band * 0.7);
      const dc = d.csat || { responses: 0, average: 0 };
      const g = svg("g", { class: "csat-day", "data-date": d.date, "data-responses": String(dc.responses || 0), "data-average": String(dc.average || 0) }, [
        svg("title", { text: dc.responses ? tn("overview.csatDay", dc.responses, { date: d.date, avg: rating(dc.average) }) : t("overview.csatDayNone", { date: d.date }) }),
      ]);
      if (dc.responses) g.append(svg("rect", { x, y: yc(dc.responses), width: w, height: yc(0) - yc(dc.responses), class: "bar ratings" }));
      root.append(g);
      if (i % every === 0) root.append(svg("text", { x: x + w / 2, y: H - B + 16, class: "axis", "text-anchor": "middle", text: dayLabel(d.date) }));
      if (dc.responses) points.push([x + w / 2, yr(dc.average)]);
    });
    if (points.length > 1) root.append(svg("polyline", { points: points.map((p) => p.join(",")).join(" "), class: "rate csat-line" }));
    for (const p of points) root.append(svg("circle", { cx: p[0], cy: p[1], r: 3.5, class: "rate-dot" }));
    box.append(root);
    box.append(el("div", { class: "legend" }, [
      el("span", { class: "key" }, [el("span", { class: "swatch rate", "aria-hidden": "true" }), el("span", { text: t("overview.legendAvg") })]),
      el("span", { class: "key" }, [el("span", { class: "swatch ratings", "aria-hidden": "true" }), el("span", { text: t("overview.legendRatings") })]),
    ]));
  }

  // reasons draws routed_to_team_by_reason as one bar per reason, every
  // count also written out, in the bar's row and in the chart's summary.
  reasons(m) {
    const by = m.routed_to_team_by_reason || {};
    const keys = Object.keys(REASONS).concat(Object.keys(by).filter((r) => !(r in REASONS)));
    const rows = keys.map((r) => ({ reason: r, label: reasonLabel(r), n: by[r] || 0 }));
    const max = Math.max(1, ...rows.map((r) => r.n));
    const RL = 250, RW = 720, RH = 34, CW = 60;
    const h = rows.length * RH + 8;
    const summary = t("overview.reasonsSummary", { n: m.routed_to_team, from: m.from, to: m.to,
      list: rows.map((r) => r.label.toLowerCase() + ": " + r.n).join("; ") });
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
    say(status, t("common.loading"));
    let gaps, entries;
    try {
      const q = "?from=" + encodeURIComponent(from) + "&to=" + encodeURIComponent(to);
      const [g, k] = await Promise.all([api("GET", "/v1/admin/knowledge/gaps" + q), api("GET", "/v1/admin/knowledge")]);
      gaps = g.gaps || [];
      entries = k.entries || [];
    } catch (e) {
      say(status, t("gaps.loadFailed", { reason: e.message }), true);
      return;
    }
    say(status, gaps.length ? "" : t("gaps.none"));
    gaps.forEach((g, i) => list.append(this.gap(g, i, entries)));
  }

  gap(g, i, entries) {
    const qid = "gap-q-" + i;
    const sel = el("select", { id: "gap-target-" + i, class: "gap-target" }, [el("option", { value: "", text: t("gaps.newEntry") })]);
    for (const e of entries) {
      const q = e.question.length > 80 ? e.question.slice(0, 79) + "…" : e.question;
      sel.append(el("option", { value: e.id, text: t("gaps.entry", { q }) }));
    }
    const add = el("button", { type: "button", class: "primary small", text: t("gaps.add"), "aria-describedby": qid });
    add.addEventListener("click", () => this.addToKnowledge(g, sel.value));
    const examples = (g.examples || []).filter((x) => x && x !== g.question);
    return el("li", { class: "gap", "data-count": String(g.count) }, [
      el("div", { class: "gap-top" }, [
        el("strong", { id: qid, class: "gap-question", text: g.question }),
        el("span", { class: "gap-count", text: tn("gaps.asked", g.count) }),
      ]),
      examples.length ? el("p", { class: "gap-label", text: t("gaps.alsoAsked") }) : null,
      examples.length ? el("ul", { class: "gap-examples" }, examples.map((x) => el("li", { text: x }))) : null,
      el("div", { class: "save-row" }, [el("label", { for: sel.id, class: "inline-label", text: t("gaps.addTo") }), sel, add]),
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
    const summary = t("overview.chartSummary", { n: m.conversations, from: m.from, to: m.to,
      resolved: m.resolved_by_assistant, routed: m.routed_to_team, rate: pct(m.resolution_rate) });
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
        svg("title", { text: t(d.conversations ? "overview.dayTitleRate" : "overview.dayTitle", { date: d.date,
          n: d.conversations, resolved: d.resolved_by_assistant, routed: d.routed_to_team, rate: pct(d.resolution_rate) }) }),
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
    for (const [cls, key] of [["resolved", "overview.legendResolved"], ["routed", "overview.legendRouted"], ["open", "overview.legendOpen"], ["rate", "overview.legendRate"]]) {
      legend.append(el("span", { class: "key" }, [el("span", { class: "swatch " + cls, "aria-hidden": "true" }), el("span", { text: t(key) })]));
    }
  }

  table(m) {
    const table = clear($("#metrics-table"));
    table.append(el("thead", {}, [el("tr", {}, ["overview.date", "overview.conversations", "overview.legendResolved", "overview.legendRouted", "overview.rate", "overview.ratings", "overview.avgRating"]
      .map((h) => el("th", { scope: "col", text: t(h) })))]));
    const body = el("tbody");
    for (const d of m.days || []) {
      const c = d.csat || { responses: 0, average: 0 };
      body.append(el("tr", {}, [el("th", { scope: "row", text: d.date }), el("td", { text: String(d.conversations) }),
        el("td", { text: String(d.resolved_by_assistant) }), el("td", { text: String(d.routed_to_team) }),
        el("td", { text: d.conversations ? pct(d.resolution_rate) : "–" }),
        el("td", { text: String(c.responses || 0) }), el("td", { text: c.responses ? rating(c.average) : "–" })]));
    }
    table.append(body);
  }
}
