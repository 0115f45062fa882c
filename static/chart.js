// Click rate per minute as plain SVG (no chart library): faint bars for impressions, a line
// for the click rate, drawn from `stats.timeline`.

import { clear, s } from "./dom.js";

const W = 320;
const H = 128;
const PAD = { left: 34, right: 8, top: 10, bottom: 20 };
const MIN_SLOTS = 10;
const MAX_SLOTS = 30;

const pad2 = (n) => String(n).padStart(2, "0");

function minuteKey(iso) {
  const t = Date.parse(iso);
  return Number.isFinite(t) ? Math.floor(t / 60000) : null;
}

function niceMax(value) {
  const steps = [0.05, 0.1, 0.2, 0.25, 0.4, 0.5, 0.75, 1];
  return steps.find((step) => value <= step) || 1;
}

function clockLabel(minute) {
  const d = new Date(minute * 60000);
  return `${pad2(d.getHours())}:${pad2(d.getMinutes())}`;
}

/** Draw (or redraw) the chart into `svg` from a stats timeline. */
export function drawClickRateChart(svg, timeline) {
  clear(svg);
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  const points = (timeline || [])
    .map((p) => ({ minute: minuteKey(p.minute), impressions: p.impressions || 0, clicks: p.clicks || 0 }))
    .filter((p) => p.minute !== null);
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const bottom = PAD.top + plotH;

  if (!points.length) {
    svg.append(s("text", { x: W / 2, y: H / 2, class: "chart-empty", "text-anchor": "middle" },
      "No traffic yet: open a title or simulate visitors"));
    svg.setAttribute("aria-label", "Click rate over time: no traffic yet");
    return;
  }

  const last = Math.max(...points.map((p) => p.minute));
  const first = Math.min(...points.map((p) => p.minute));
  const slots = Math.min(MAX_SLOTS, Math.max(MIN_SLOTS, last - first + 1));
  const start = last - slots + 1;
  const byMinute = new Map(points.filter((p) => p.minute >= start).map((p) => [p.minute, p]));
  const rates = [...byMinute.values()].filter((p) => p.impressions > 0).map((p) => p.clicks / p.impressions);
  const yMax = niceMax(Math.max(0.01, ...rates) * 1.1);
  const maxImpressions = Math.max(1, ...[...byMinute.values()].map((p) => p.impressions));
  const slotW = plotW / slots;
  const x = (minute) => PAD.left + (minute - start + 0.5) * slotW;
  const y = (rate) => bottom - (rate / yMax) * plotH;

  // Grid and axis labels.
  for (const frac of [0, 0.5, 1]) {
    const gy = bottom - frac * plotH;
    svg.append(s("line", { x1: PAD.left, x2: W - PAD.right, y1: gy, y2: gy, class: "chart-grid" }));
    svg.append(s("text", { x: PAD.left - 5, y: gy + 3, class: "chart-label", "text-anchor": "end" },
      `${Math.round(100 * yMax * frac)}%`));
  }
  svg.append(s("text", { x: PAD.left, y: H - 5, class: "chart-label", "text-anchor": "start" }, clockLabel(start)));
  svg.append(s("text", { x: W - PAD.right, y: H - 5, class: "chart-label", "text-anchor": "end" }, clockLabel(last)));

  // Impressions per minute, as faint bars scaled to the busiest minute.
  for (const p of byMinute.values()) {
    const bh = Math.max(1, (p.impressions / maxImpressions) * plotH * 0.9);
    svg.append(s("rect", {
      x: x(p.minute) - slotW * 0.35, y: bottom - bh, width: slotW * 0.7, height: bh, rx: 1.5, class: "chart-bar",
    }, s("title", {}, `${clockLabel(p.minute)}: ${p.impressions} impressions, ${p.clicks} clicks`)));
  }

  // Click rate: a line through the minutes that had impressions.
  const withTraffic = [...byMinute.values()].filter((p) => p.impressions > 0).sort((a, b) => a.minute - b.minute);
  const coords = withTraffic.map((p) => [x(p.minute), y(p.clicks / p.impressions)]);
  if (coords.length > 1) {
    const d = coords.map(([cx, cy], i) => `${i ? "L" : "M"}${cx.toFixed(1)},${cy.toFixed(1)}`).join(" ");
    const area = `${d} L${coords[coords.length - 1][0].toFixed(1)},${bottom} L${coords[0][0].toFixed(1)},${bottom} Z`;
    svg.append(s("path", { d: area, class: "chart-area" }));
    svg.append(s("path", { d, class: "chart-line" }));
  }
  for (const [cx, cy] of coords) svg.append(s("circle", { cx, cy, r: 2.6, class: "chart-dot" }));

  const latest = withTraffic[withTraffic.length - 1];
  const latestRate = latest ? `${(100 * latest.clicks / latest.impressions).toFixed(1)}%` : "none";
  svg.setAttribute("aria-label",
    `Click rate per minute over the last ${slots} minutes; latest minute ${latestRate} of ${latest ? latest.impressions : 0} impressions`);
}
