// The details panel: a modal <dialog> (focus moves in, Escape closes it, focus returns to the
// tile) with the title, every artwork variant and the probability the policy gave it for this
// person, which one was shown (and whether that was exploration), and the service's own
// plain-language explanation of the choice.

import { api } from "./api.js";
import { clear, formatPercent, h, toast } from "./dom.js";
import { altText, genreLabel, tagLine } from "./labels.js";

const FACTOR_NAMES = { taste: "Taste", time: "Time of day", device: "Device" };

let dialog = null;
let opener = null;
let current = null; // the event id the dialog is showing, to drop late answers

export function initDetails() {
  dialog = document.getElementById("details");
  dialog.addEventListener("close", () => {
    current = null;
    document.body.classList.remove("modal-open");
    if (opener && opener.isConnected) opener.focus({ preventScroll: true });
    opener = null;
  });
  // A click on the backdrop (outside the panel) closes it, as Escape does.
  dialog.addEventListener("click", (event) => {
    if (event.target === dialog) dialog.close();
  });
}

function variantList(title, decision) {
  const byId = new Map(title.artwork.map((a) => [a.id, a]));
  const top = decision.ranking[0];
  const items = decision.ranking.map((r) => {
    const art = byId.get(r.artwork_id) || { id: r.artwork_id, tags: {}, thumbnail_url: `/images/${r.artwork_id}/thumb.jpg` };
    const shown = r.artwork_id === decision.artwork_id;
    const favourite = r === top && decision.ranking.some((o) => o.probability < top.probability - 1e-9);
    const bar = h("span", { class: "prob-fill" });
    bar.style.setProperty("--p", String(Math.max(0, Math.min(1, r.probability))));
    const badges = [];
    if (shown) badges.push(h("span", { class: "badge badge-shown" }, "Shown"));
    if (shown && decision.explored) badges.push(h("span", { class: "badge badge-explore" }, "Exploration"));
    if (favourite) badges.push(h("span", { class: "badge badge-top" }, "Model\u2019s favourite"));
    return h("li", {
      class: ["variant", shown && "is-shown", shown && decision.explored && "is-explored"],
      dataset: { artworkId: r.artwork_id, probability: r.probability, shown: shown ? "true" : "false" },
    },
    h("div", { class: "variant-thumb" },
      h("img", { src: art.thumbnail_url, alt: altText(title, art), width: 384, height: 216, decoding: "async" })),
    h("div", { class: "variant-info" },
      h("div", { class: "variant-head" },
        h("span", { class: "variant-prob" }, formatPercent(r.probability)),
        h("span", { class: "variant-badges" }, badges)),
      h("div", { class: "prob-bar", "aria-hidden": "true" }, bar),
      h("span", { class: "variant-tags" }, tagLine(art.tags))));
  });
  return h("ol", { class: "variants", "aria-label": "Artwork variants, most likely first" }, items);
}

function explorationNote(title, decision) {
  const top = decision.ranking[0];
  if (!decision.explored) {
    const uniform = decision.ranking.every((r) => Math.abs(r.probability - top.probability) < 1e-9);
    return uniform
      ? "The model has no preference here yet, so every variant was equally likely."
      : `This was the model\u2019s favourite for this person (${formatPercent(decision.probability)}).`;
  }
  return `Exploration: the model\u2019s favourite has ${formatPercent(top.probability)}, but now and then it shows ` +
    `another variant (this one had ${formatPercent(decision.probability)}) to keep learning what works.`;
}

function whySection() {
  return h("section", { class: "why", "aria-labelledby": "why-heading", "aria-busy": "true" },
    h("h3", { id: "why-heading" }, "Why this artwork"),
    h("p", { class: "why-summary muted" }, "Asking the service\u2026"),
    h("ul", { class: "factors" }));
}

function fillWhy(section, event) {
  const explanation = event.explanation || {};
  section.setAttribute("aria-busy", "false");
  const summary = section.querySelector(".why-summary");
  summary.classList.remove("muted");
  summary.textContent = explanation.summary || "The service gave no explanation for this decision.";
  const list = section.querySelector(".factors");
  clear(list);
  for (const f of explanation.factors || []) {
    list.append(h("li", { class: ["factor", f.changes_choice ? "factor-matters" : "factor-neutral"], dataset: { factor: f.factor } },
      h("span", { class: "factor-name" }, FACTOR_NAMES[f.factor] || f.factor),
      h("span", { class: "factor-effect" }, f.changes_choice ? "changes the pick" : "no effect"),
      h("span", { class: "factor-text" }, f.description || "")));
  }
}

/**
 * Open the panel for one decision. `click` is the promise of the recorded click (or null),
 * `onWatched(profile)` is called after "Watched it" added a view to the person's history.
 */
export function openDetails({ title, decision, persona, click, from, onWatched }) {
  opener = from || document.activeElement;
  current = decision.event_id;
  const eventId = decision.event_id;
  const shownArt = title.artwork.find((a) => a.id === decision.artwork_id) || { tags: {} };

  const closeButton = h("button", { class: "details-close", type: "button", "aria-label": "Close details" }, "\u00d7");
  closeButton.addEventListener("click", () => dialog.close());

  const clickStatus = h("span", { class: "click-status", role: "status" }, click ? "Recording your click\u2026" : "");
  const watched = h("button", { class: "button button-secondary", type: "button" }, "Watched it");
  watched.addEventListener("click", async () => {
    watched.disabled = true;
    try {
      const profile = await api.addView(persona.id, title.id, 3000);
      watched.textContent = "\u2713 Added to history";
      onWatched?.(profile, title);
    } catch (err) {
      watched.disabled = false;
      toast(`Could not record the view: ${err.message}`);
    }
  });

  const why = whySection();
  const body = h("div", { class: "details", dataset: { eventId, titleId: title.id, artworkId: decision.artwork_id } },
    closeButton,
    h("div", { class: "details-top" },
      h("figure", { class: "details-art" },
        h("img", { class: "details-poster", src: decision.image_url, alt: altText(title, shownArt), width: 960, height: 540 }),
        h("figcaption", { class: ["details-art-caption", decision.explored && "is-explored"] },
          decision.explored ? `Shown to ${persona.name} \u00b7 exploring` : `Shown to ${persona.name}`)),
      h("div", { class: "details-info" },
        h("h2", { id: "details-title" }, title.name),
        h("p", { class: "details-meta" },
          title.year ? h("span", { class: "year" }, String(title.year)) : null,
          title.genres.map((g) => h("span", { class: "genre-chip" }, genreLabel(g)))),
        h("p", { class: "synopsis" }, title.synopsis || ""),
        h("div", { class: "details-actions" }, watched, clickStatus))),
    h("div", { class: "details-content" },
      why,
      h("section", { class: "variants-section", "aria-labelledby": "variants-heading" },
        h("h3", { id: "variants-heading" }, `Every artwork of this title, for ${persona.name}`),
        h("p", { class: ["explore-note", decision.explored && "is-explored"] }, explorationNote(title, decision)),
        variantList(title, decision)),
      h("p", { class: "fineprint" },
        `Event \u2026${eventId.slice(-12)} \u00b7 model version ${decision.model_version}`)));

  clear(dialog).append(body);
  document.body.classList.add("modal-open");
  if (!dialog.open) dialog.showModal();
  closeButton.focus();

  if (click) {
    click.then((outcome) => {
      if (current !== eventId) return;
      const words = { rewarded: "Click recorded: the model learns from it", duplicate: "Click recorded before",
        recorded: "Click recorded", late: "Click recorded, after the reward window", held: "Click held" };
      clickStatus.textContent = words[outcome.effect] || `Click: ${outcome.effect}`;
    }, (err) => {
      if (current !== eventId) return;
      clickStatus.textContent = "Click not recorded";
      toast(`Could not record the click: ${err.message}`);
    });
  }

  api.event(eventId).then((event) => {
    if (current === eventId) fillWhy(why, event);
  }, (err) => {
    if (current !== eventId) return;
    why.setAttribute("aria-busy", "false");
    why.querySelector(".why-summary").textContent = `No explanation available (${err.message}).`;
    toast(`Could not load the explanation: ${err.message}`);
  });
}

export function closeDetails() {
  if (dialog && dialog.open) dialog.close();
}
