// The experiment panel: the running experiment (else the newest), filling up as people visit,
// read from GET /api/v1/demo/experiment every few seconds. Each arm's click rate with its
// always-valid interval, the lift over control drawn against 0 and the guardrail's margin, the
// guardrail's state, and what offline evaluation said beside what each arm earned live.

import { api } from "./api.js";
import { $, clear, formatInt, h, s } from "./dom.js";

const EVERY_MS = 2000;
const W = 320;
const H = 46;

const pct = (v, digits = 1) => (v === null || v === undefined ? "n/a" : `${v > 0 ? "+" : ""}${(100 * v).toFixed(digits)}%`);
const rate = (v) => (v === null || v === undefined ? "n/a" : `${(100 * v).toFixed(2)}%`);

/** The lift's intervals as one SVG line: the confidence sequence (thin), the fixed interval
 * (thick), the estimate (dot), 0 and the guardrail's margin (dashed). */
function liftChart(lift, margin) {
  const ends = [lift.ci_low, lift.ci_high, lift.value, -margin, 0].filter((v) => v !== null && v !== undefined);
  const lo = Math.min(-0.25, ...ends) - 0.05;
  const hi = Math.max(0.5, ...ends) + 0.05;
  const x = (v) => 8 + ((v - lo) / (hi - lo)) * (W - 16);
  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", class: "lift-chart",
    "aria-label": `lift ${pct(lift.value)}, 95% confidence sequence ${pct(lift.ci_low)} to ${pct(lift.ci_high)}` });
  svg.append(
    s("line", { x1: x(0), x2: x(0), y1: 4, y2: H - 14, class: "lift-zero" }),
    s("line", { x1: x(-margin), x2: x(-margin), y1: 4, y2: H - 14, class: "lift-margin" }),
    s("text", { x: x(0) + 3, y: H - 2, class: "chart-label", "text-anchor": "start" }, "0"),
    s("text", { x: x(-margin) - 3, y: H - 2, class: "chart-label", "text-anchor": "end" }, `\u2212${Math.round(margin * 100)}%`),
    s("text", { x: W - 8, y: H - 2, class: "chart-label", "text-anchor": "end" }, pct(hi, 0)),
  );
  if (lift.ci_low !== null && lift.ci_low !== undefined) {
    svg.append(s("line", { x1: x(lift.ci_low), x2: x(lift.ci_high), y1: 18, y2: 18, class: "lift-cs" }));
  }
  if (lift.fixed_ci_low !== null && lift.fixed_ci_low !== undefined) {
    svg.append(s("line", { x1: x(lift.fixed_ci_low), x2: x(lift.fixed_ci_high), y1: 18, y2: 18, class: "lift-fixed" }));
  }
  if (lift.value !== null && lift.value !== undefined) {
    svg.append(s("circle", { cx: x(lift.value), cy: 18, r: 4, class: "lift-dot" }));
  }
  return svg;
}

function verdict(lift, margin) {
  if (!lift || lift.ci_low === null || lift.ci_low === undefined) return "Collecting people (30 per arm before any interval)\u2026";
  if (lift.ci_low > 0) return "Better than control, with confidence.";
  if (lift.ci_high < -margin) return "Worse than control by more than the margin: the guardrail stops it.";
  if (lift.ci_high < 0) return "Worse than control, with confidence (within the margin).";
  return "No difference shown yet: the interval still holds 0.";
}

function render(data) {
  const body = clear($("#experiment-body"));
  const card = $("#experiment-card");
  const experiment = data.experiment;
  if (!experiment) {
    card.dataset.state = "none";
    body.append(
      h("p", { class: "small muted" }, "No experiment yet. Start personalized against default artwork (admin), then simulate visitors:"),
      h("pre", { class: "command" }, "artwork experiment create demo \\\n  --arm personalized=bandit --arm default=default \\\n  --control default\nartwork experiment start demo"),
    );
    return;
  }
  card.dataset.state = experiment.state;
  const margin = experiment.guardrail.margin;
  $("#experiment-name").textContent = `${experiment.name} \u00b7 ${experiment.state}`;
  const offline = new Map((data.offline_beside_live || []).map((row) => [row.arm, row]));
  for (const arm of experiment.arms) {
    const stopped = arm.stopped;
    const row = h("div", { class: ["arm", arm.control && "is-control", stopped && "is-stopped"], dataset: { arm: arm.name } },
      h("div", { class: "arm-head" },
        h("strong", {}, arm.name), h("span", { class: "muted small" }, ` ${arm.policy}${arm.control ? " \u00b7 control" : ""}`),
        stopped ? h("span", { class: "badge badge-stopped" }, "stopped") : null),
      h("p", { class: "small arm-numbers" },
        `${formatInt(arm.people)} people \u00b7 ${formatInt(arm.decisions)} decisions \u00b7 click rate `,
        h("b", { class: "arm-rate" }, rate(arm.click_rate)),
        ` [${rate(arm.click_rate_ci.ci_low)}, ${rate(arm.click_rate_ci.ci_high)}]`),
    );
    if (arm.policy === "candidate") {
      const model = arm.model;
      // one unbreakable piece per option with its value, so a line never breaks inside "-q GA"
      const options = arm.vw_args.split(/\s+(?=-)/)
        .flatMap((option, i) => [i ? " " : null, h("span", { class: "vw-option" }, option)]).filter(Boolean);
      row.append(h("p", { class: "small muted arm-model" }, h("code", {}, ...options), " \u00b7 ",
        !model ? (experiment.state === "draft" ? "learns the whole log once started" : "model deleted")
          : `learned the log up to event ${formatInt(model.learned)}${model.behind ? `, ${formatInt(model.behind)} behind` : ""}`));
    }
    if (arm.lift) {
      row.append(
        h("p", { class: "small" }, "Lift over control ", h("b", { class: "arm-lift" }, pct(arm.lift.value)),
          ` \u00b7 95% CS [${pct(arm.lift.ci_low)}, ${pct(arm.lift.ci_high)}]`),
        liftChart(arm.lift, margin),
        h("p", { class: "small verdict" }, stopped ? `Stopped by the ${stopped.stopped_by}: its people now see control.` : verdict(arm.lift, margin)),
      );
    }
    const off = offline.get(arm.name);
    if (off && off.offline_value !== null && off.offline_value !== undefined) {
      row.append(h("p", { class: "small muted" },
        `Offline said ${rate(off.offline_value)} [${rate(off.offline_ci_low)}, ${rate(off.offline_ci_high)}]`
        + `${off.support < 0.99 ? ` (covers ${Math.round(100 * off.support)}% of it)` : ""}, live says ${rate(arm.click_rate)}.`));
    }
    body.append(row);
  }
  const stops = experiment.guardrail.stopped_arms;
  body.append(h("p", { class: ["small", "guardrail", stops.length && "is-tripped"] },
    `Guardrail (margin ${Math.round(margin * 100)}%): ${stops.length ? `stopped ${stops.join(", ")}` : "watching, nothing stopped"}.`));
  body.append(h("p", { class: "small muted" }, "Thin bar: always-valid 95% confidence sequence (safe to peek); thick: fixed-horizon interval; person as the unit."));
}

let timer = null;

async function refresh() {
  try {
    render(await api.experiment());
  } catch (err) {
    $("#experiment-body").dataset.error = err.message;
  }
}

/** Show the panel and keep it current. */
export function startExperimentPanel() {
  refresh();
  clearInterval(timer);
  timer = setInterval(() => { if (!document.hidden) refresh(); }, EVERY_MS);
}
