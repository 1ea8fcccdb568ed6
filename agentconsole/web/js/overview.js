// The overview: how often the assistant resolved a question itself and how
// often it routed the visitor to the team, as counts and as a chart the page
// draws itself in SVG.

import { el, svg, clear, $, say } from "./dom.js";
import { api } from "./api.js";

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
    this.chart(m);
    this.table(m);
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
