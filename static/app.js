// The demo page: a streaming-service home page whose every thumbnail the service picked for the
// person watching, in ONE select-artwork call per page load. Plain ES modules, no build step,
// and only the service's public HTTP API (see api.js).

import { api } from "./api.js";
import { drawClickRateChart } from "./chart.js";
import { DEVICES, TIMES, requestContext } from "./context.js";
import { closeDetails, initDetails, openDetails } from "./details.js";
import { startExperimentPanel } from "./experiment.js";
import { $, clear, formatInt, formatPercent, h, toast } from "./dom.js";
import { altText, genreLabel, rowLabel } from "./labels.js";
import { PERSONAS, ensureProfile, guestPersona, loadGuests, newGuest } from "./personas.js";

const MAX_TITLES_PER_CALL = 100;
const RECOMMENDED_SIZE = 12;
const STATS_EVERY_MS = 2000;
const SIMULATE_VISITORS = 1500;
const SIMULATE_POLL_MS = 300;
const SIMULATE_LABEL = `Simulate ${SIMULATE_VISITORS.toLocaleString("en-US")} visitors`;
const SIMULATE_GIVE_UP_MS = 10 * 60 * 1000;
const CURRENT_KEY = "artwork-demo.person";

const state = {
  titles: [],
  titlesById: new Map(),
  genres: [],
  personas: [...PERSONAS],
  persona: null,
  profile: null,
  time: "now",
  device: "web",
  decisions: new Map(), // title id -> decision of the current page load
  context: null,
  personaSeq: 0,
  loadSeq: 0,
  onboardingDone: new Set(),
};

// Helpers -------------------------------------------------------------------------------------

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function remember(key, value) {
  try {
    localStorage.setItem(key, value);
  } catch {
    // storage disabled: nothing to remember
  }
}

function recall(key) {
  try {
    return localStorage.getItem(key);
  } catch {
    return null;
  }
}

function avatar(persona) {
  const node = h("span", { class: "avatar", "aria-hidden": "true" }, persona.initial);
  node.style.setProperty("--hue", String(persona.hue));
  return node;
}

function rankedGenres(affinity) {
  return Object.entries(affinity || {}).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
}

function isNeutral(profile) {
  return !profile || !profile.dominant_genre;
}

// Person switcher -----------------------------------------------------------------------------

function renderPersonas() {
  const list = $("#persona-list");
  clear(list);
  for (const persona of state.personas) {
    const current = state.persona && persona.id === state.persona.id;
    const button = h("button", {
      type: "button", class: ["persona", current && "is-current", persona.guest && "is-guest"],
      "aria-pressed": current ? "true" : "false", dataset: { persona: persona.id }, title: persona.blurb,
    }, avatar(persona), h("span", { class: "persona-name" }, persona.short || persona.name));
    button.addEventListener("click", () => selectPersona(persona));
    list.append(button);
  }
  const add = h("button", { type: "button", class: "persona persona-new", id: "new-person" },
    h("span", { class: "avatar avatar-add", "aria-hidden": "true" }, "+"), h("span", { class: "persona-name" }, "New person"));
  add.addEventListener("click", () => {
    const guest = newGuest();
    state.personas = [...PERSONAS, ...loadGuests().map(guestPersona)];
    selectPersona(guest);
  });
  list.append(add);
  const chip = list.querySelector(".is-current");
  if (chip && (chip.offsetLeft + chip.offsetWidth > list.clientWidth || chip.offsetLeft < list.scrollLeft)) {
    list.scrollLeft = chip.offsetLeft - 12; // keep the current person in view on narrow screens
  }
}

async function selectPersona(persona) {
  const seq = ++state.personaSeq;
  state.persona = persona;
  remember(CURRENT_KEY, persona.id);
  document.body.dataset.persona = persona.id;
  renderPersonas();
  renderProfileLoading(persona);
  closeDetails();
  try {
    const profile = await ensureProfile(persona, state.titles, (i, n) => {
      if (seq === state.personaSeq) $("#profile-history").textContent = `Recording ${persona.name}\u2019s viewing history (${i}/${n})\u2026`;
    });
    if (seq !== state.personaSeq) return;
    state.profile = profile;
    renderProfile();
    renderOnboarding();
    await loadArtwork();
  } catch (err) {
    if (seq !== state.personaSeq) return;
    toast(`Could not load ${persona.name}: ${err.message}`);
    $("#profile-history").textContent = "The service did not answer; try again in a moment.";
  }
}

// Profile -------------------------------------------------------------------------------------

function renderProfileLoading(persona) {
  const av = $("#profile-avatar");
  av.textContent = persona.initial;
  av.style.setProperty("--hue", String(persona.hue));
  $("#profile-name").textContent = persona.name;
  $("#profile-dominant").textContent = "\u2026";
  $("#profile-source").textContent = "";
  $("#profile-card").classList.add("is-loading");
}

function renderProfile() {
  const { persona, profile } = state;
  $("#profile-card").classList.remove("is-loading");
  $("#profile-card").dataset.userId = profile.user_id;
  $("#profile-name").textContent = persona.name;
  const dominant = $("#profile-dominant");
  dominant.textContent = profile.dominant_genre || "none yet";
  dominant.dataset.genre = profile.dominant_genre || "";
  const views = profile.views || 0;
  $("#profile-source").textContent = views ? `from ${views} view${views === 1 ? "" : "s"}` : "no history";
  const bars = clear($("#profile-bars"));
  const ranked = rankedGenres(profile.genre_affinity).slice(0, 5);
  const top = ranked.length ? ranked[0][1] : 1;
  for (const [genre, weight] of ranked) {
    const fill = h("span", { class: "bar-fill" });
    fill.style.setProperty("--w", String(top > 0 ? weight / top : 0));
    bars.append(h("li", { class: ["bar", genre === profile.dominant_genre && "is-dominant"], dataset: { genre, weight } },
      h("span", { class: "bar-label" }, genreLabel(genre)),
      h("span", { class: "bar-track", "aria-hidden": "true" }, fill),
      h("span", { class: "bar-value" }, formatPercent(weight, 0))));
  }
  const recent = (profile.recent_views || []).slice(0, 4)
    .map((v) => state.titlesById.get(v.title_id)?.name).filter(Boolean);
  $("#profile-history").textContent = recent.length
    ? `Recently watched: ${recent.join(", ")}.`
    : "The service knows nothing about this person yet, so every genre weighs the same.";
}

// Guest onboarding ----------------------------------------------------------------------------

function renderOnboarding() {
  const section = $("#onboarding");
  const { persona, profile } = state;
  const show = persona.guest && !state.onboardingDone.has(persona.id) && !(profile.views > 0 && section.hidden);
  if (!show) {
    section.hidden = true;
    clear(section);
    return;
  }
  section.hidden = false;
  clear(section);
  const watchedIds = new Set((profile.recent_views || []).map((v) => v.title_id));
  const done = h("button", { type: "button", class: "button button-primary", id: "onboarding-done", disabled: watchedIds.size === 0 },
    "Show my home page");
  done.addEventListener("click", () => {
    state.onboardingDone.add(persona.id);
    renderOnboarding();
    loadArtwork();
  });
  const cards = state.titles.map((title) => {
    const decision = state.decisions.get(title.id);
    const art = title.artwork.find((a) => decision && a.id === decision.artwork_id) || title.artwork[0];
    const watched = watchedIds.has(title.id);
    const button = h("button", { type: "button", class: ["button", "button-small", watched ? "button-done" : "button-secondary"],
      "aria-pressed": watched ? "true" : "false", disabled: watched, dataset: { titleId: title.id } },
    watched ? "\u2713 Watched" : "Watched it");
    button.addEventListener("click", () => markWatched(title, button, done));
    return h("li", { class: "watch-card" },
      art ? h("img", { src: art.thumbnail_url, alt: altText(title, art), width: 384, height: 216, decoding: "async" }) : null,
      h("span", { class: "watch-name" }, title.name),
      h("span", { class: "watch-meta" }, title.genres.map(genreLabel).join(" \u00b7 ")),
      button);
  });
  section.append(
    h("div", { class: "onboarding-head" },
      h("div", {},
        h("h2", { id: "onboarding-heading" }, `Welcome, ${persona.name}. What have you watched?`),
        h("p", { class: "muted" }, "Mark a few titles. Each one is a view sent to the service, which builds your taste profile from it."),
        h("p", { class: "onboarding-taste", id: "onboarding-taste", "aria-live": "polite" }, tasteLine(profile))),
      done),
    h("ul", { class: "watch-list" }, cards));
}

function tasteLine(profile) {
  if (!profile || !profile.views) return "Your taste so far: nothing yet \u2014 every genre weighs the same.";
  const top = rankedGenres(profile.genre_affinity).slice(0, 3)
    .map(([g, w]) => `${genreLabel(g)} ${formatPercent(w, 0)}`).join(" \u00b7 ");
  return `Your taste so far (${profile.views} view${profile.views === 1 ? "" : "s"}): ${top}`;
}

async function markWatched(title, button, done) {
  const persona = state.persona;
  button.disabled = true;
  try {
    const profile = await api.addView(persona.id, title.id, 3000);
    if (state.persona !== persona) return;
    button.textContent = "\u2713 Watched";
    button.setAttribute("aria-pressed", "true");
    button.classList.replace("button-secondary", "button-done");
    done.disabled = false;
    state.profile = profile;
    renderProfile();
    const line = document.getElementById("onboarding-taste");
    if (line) line.textContent = tasteLine(profile);
  } catch (err) {
    button.disabled = false;
    toast(`Could not record the view: ${err.message}`);
  }
}

// Artwork for the whole page ------------------------------------------------------------------

async function selectAll(userId, titleIds, context) {
  const decisions = [];
  let last = null;
  for (let i = 0; i < titleIds.length; i += MAX_TITLES_PER_CALL) {
    last = await api.selectArtwork(userId, titleIds.slice(i, i + MAX_TITLES_PER_CALL), context);
    decisions.push(...last.decisions);
  }
  return { ...last, decisions };
}

async function loadArtwork() {
  if (!state.persona || !state.titles.length) return;
  const seq = ++state.loadSeq;
  const persona = state.persona;
  const rows = $("#rows");
  rows.setAttribute("aria-busy", "true");
  rows.classList.add("is-loading");
  try {
    const result = await selectAll(persona.id, state.titles.map((t) => t.id), requestContext(state.time, state.device));
    if (seq !== state.loadSeq) return;
    state.decisions = new Map(result.decisions.map((d) => [d.title_id, d]));
    state.context = result.context;
    renderContextReadout();
    renderHero();
    renderRows();
    if (persona.guest) renderOnboarding();
    rows.dataset.persona = persona.id;
    rows.dataset.loadSeq = String(seq);
  } catch (err) {
    if (seq !== state.loadSeq) return;
    toast(`Could not pick artwork: ${err.message}`);
    if (!rows.querySelector(".tile")) {
      $("#hero").classList.add("is-failed");
      clear(rows).append(h("p", { class: "empty" }, "The service did not pick artwork this time. ",
        retryButton(() => loadArtwork())));
    }
  } finally {
    if (seq === state.loadSeq) {
      rows.classList.remove("is-loading");
      rows.setAttribute("aria-busy", "false");
    }
  }
}

function retryButton(action) {
  const button = h("button", { type: "button", class: "button button-secondary button-small" }, "Try again");
  button.addEventListener("click", action);
  return button;
}

function renderContextReadout() {
  const c = state.context || {};
  const node = $("#context-readout");
  if (!node) return;
  const bucket = (c.time_bucket || "").replace("-", " ");
  node.textContent = [bucket, c.day_type, c.device].filter(Boolean).join(" \u00b7 ");
}

function recommendedTitles() {
  const affinity = (state.profile && state.profile.genre_affinity) || {};
  if (isNeutral(state.profile)) {
    return [...state.titles].sort((a, b) => (b.year || 0) - (a.year || 0) || a.id.localeCompare(b.id)).slice(0, RECOMMENDED_SIZE);
  }
  const topGenres = new Set(rankedGenres(affinity).slice(0, 2).map(([g]) => g));
  const score = (t) => t.genres.reduce((sum, g) => sum + (affinity[g] || 0), 0) / Math.sqrt(t.genres.length || 1);
  return state.titles
    .filter((t) => t.genres.some((g) => topGenres.has(g)))
    .sort((a, b) => score(b) - score(a) || (b.year || 0) - (a.year || 0) || a.id.localeCompare(b.id))
    .slice(0, RECOMMENDED_SIZE);
}

function rowSpecs() {
  const affinity = (state.profile && state.profile.genre_affinity) || {};
  const recommended = recommendedTitles();
  const topGenres = rankedGenres(affinity).slice(0, 2).map(([g]) => genreLabel(g));
  const specs = [{
    id: "recommended",
    title: isNeutral(state.profile) ? "New on ArtworkLab" : "Recommended for you",
    subtitle: isNeutral(state.profile) ? "no taste profile yet" : `because you watch ${topGenres.join(" and ").toLowerCase()}`,
    titles: recommended,
  }];
  const genres = [...state.genres].sort((a, b) => (affinity[b] || 0) - (affinity[a] || 0) || a.localeCompare(b));
  for (const genre of genres) {
    const titles = state.titles.filter((t) => t.genres.includes(genre))
      .sort((a, b) => a.genres.indexOf(genre) - b.genres.indexOf(genre) || (b.year || 0) - (a.year || 0));
    if (titles.length) specs.push({ id: `genre-${genre}`, title: rowLabel(genre), titles, genre });
  }
  return specs;
}

function tile(title) {
  const decision = state.decisions.get(title.id);
  const art = title.artwork.find((a) => a.id === decision.artwork_id) || { id: decision.artwork_id, tags: {} };
  const meta = [title.year, ...title.genres.map(genreLabel)].filter(Boolean).join(" \u00b7 ");
  const button = h("button", {
    type: "button", class: ["tile", decision.explored && "is-explored"],
    "aria-label": `${title.name}, ${meta}. Open details`,
    dataset: { titleId: title.id, artworkId: decision.artwork_id, eventId: decision.event_id,
      probability: decision.probability, explored: decision.explored ? "true" : "false" },
  },
  h("img", { src: decision.thumbnail_url, alt: altText(title, art), width: 384, height: 216, decoding: "async" }),
  h("span", { class: "tile-info", "aria-hidden": "true" },
    h("span", { class: "tile-name" }, title.name),
    h("span", { class: "tile-meta" }, meta)),
  decision.explored ? h("span", { class: "tile-flag", title: "An exploration pick" }, "exploring") : null);
  button.addEventListener("click", () => openTitle(title, button));
  return button;
}

function renderRows() {
  const rows = $("#rows");
  const fragment = document.createDocumentFragment();
  for (const spec of rowSpecs()) {
    const headingId = `row-${spec.id}`;
    const track = h("ul", { class: "row-track" },
      spec.titles.filter((t) => state.decisions.has(t.id)).map((t) => h("li", {}, tile(t))));
    const scroller = h("div", { class: "row-scroller" }, track);
    const arrow = (dir) => {
      const b = h("button", { type: "button", class: ["row-arrow", `row-arrow-${dir}`], tabindex: "-1", "aria-hidden": "true" },
        dir === "left" ? "\u2039" : "\u203a");
      b.addEventListener("click", () => scroller.scrollBy({ left: (dir === "left" ? -0.85 : 0.85) * scroller.clientWidth, behavior: "smooth" }));
      return b;
    };
    fragment.append(h("section", { class: ["row", spec.id === "recommended" && "row-recommended"], "aria-labelledby": headingId, dataset: { row: spec.id } },
      h("h2", { class: "row-title", id: headingId }, spec.title,
        spec.subtitle ? h("span", { class: "row-sub" }, spec.subtitle) : null),
      h("div", { class: "row-body" }, arrow("left"), scroller, arrow("right"))));
  }
  clear(rows).append(fragment);
}

function renderHero() {
  const hero = $("#hero");
  const title = recommendedTitles().find((t) => state.decisions.has(t.id));
  clear(hero);
  if (!title) {
    hero.classList.add("is-empty");
    return;
  }
  hero.classList.remove("is-empty", "is-failed");
  const decision = state.decisions.get(title.id);
  const art = title.artwork.find((a) => a.id === decision.artwork_id) || { tags: {} };
  const more = h("button", { type: "button", class: "button button-primary", id: "hero-more", dataset: { titleId: title.id } },
    "More info");
  more.addEventListener("click", () => openTitle(title, more));
  hero.dataset.titleId = title.id;
  hero.dataset.artworkId = decision.artwork_id;
  const odds = decision.explored
    ? `Exploring: this artwork had ${formatPercent(decision.probability, 0)} for this person`
    : `This artwork had ${formatPercent(decision.probability, 0)} for this person`;
  hero.append(
    h("img", { class: "hero-backdrop", src: decision.image_url, alt: "", "aria-hidden": "true" }),
    h("div", { class: "hero-text" },
      h("p", { class: "eyebrow" }, isNeutral(state.profile) ? "Featured" : `Top pick for ${state.persona.name}`),
      h("h1", { class: "hero-title" }, title.name),
      h("p", { class: "hero-meta" }, [title.year, ...title.genres.map(genreLabel)].filter(Boolean).join(" \u00b7 ")),
      h("p", { class: "hero-synopsis" }, title.synopsis || ""),
      h("div", { class: "hero-actions" }, more, h("span", { class: "hero-odds" }, odds))),
    h("div", { class: "hero-art" },
      h("img", { class: "hero-image", src: decision.image_url, alt: altText(title, art), width: 960, height: 540 })));
}

function openTitle(title, from) {
  const decision = state.decisions.get(title.id);
  if (!decision) return;
  const click = api.click(decision.event_id);
  click.then(() => refreshStats(), () => {});
  openDetails({
    title, decision, persona: state.persona, click, from,
    onWatched: (profile) => {
      state.profile = profile;
      renderProfile();
      toast(`Added to ${state.persona.name}\u2019s viewing history.`, { kind: "info", ms: 3000 });
    },
  });
}

// Time of day and device --------------------------------------------------------------------

function renderContextControls() {
  const fieldset = $("#time-control");
  for (const t of TIMES) {
    const input = h("input", { type: "radio", name: "time", value: t.id, id: `time-${t.id}`, checked: t.id === state.time });
    input.addEventListener("change", () => {
      state.time = t.id;
      loadArtwork();
    });
    fieldset.append(h("label", { class: "segment", for: `time-${t.id}` }, input, h("span", {}, t.label)));
  }
  const select = $("#device-select");
  for (const d of DEVICES) select.append(h("option", { value: d.id, selected: d.id === state.device }, d.label));
  select.value = state.device;
  select.addEventListener("change", () => {
    state.device = select.value;
    loadArtwork();
  });
  $(".context-controls").append(h("p", { class: "context-readout", id: "context-readout", "aria-live": "polite" }));
}

// Live stats ----------------------------------------------------------------------------------

let statsTimer = null;
let statsFailing = false;
let statsInFlight = null;

function renderStats(stats) {
  const set = (id, text, value) => {
    const node = document.getElementById(id);
    node.textContent = text;
    if (value !== undefined) node.dataset.value = String(value);
  };
  set("stat-impressions", formatInt(stats.impressions), stats.impressions);
  set("stat-clicks", formatInt(stats.clicks), stats.clicks);
  set("stat-click-rate", formatPercent(stats.click_rate || 0), stats.click_rate || 0);
  set("stat-model-version", formatInt(stats.model_version), stats.model_version);
  const lag = stats.learner_lag || {};
  set("stat-lag", `${formatInt(lag.events)} events \u00b7 ${Number(lag.seconds || 0).toFixed(1)} s`, lag.events || 0);
  drawClickRateChart($("#rate-chart"), stats.timeline || []);
}

function refreshStats() {
  if (statsInFlight) return statsInFlight;
  statsInFlight = api.stats().then((stats) => {
    renderStats(stats);
    $("#live-dot").classList.remove("is-down");
    statsFailing = false;
  }, (err) => {
    $("#live-dot").classList.add("is-down");
    if (!statsFailing) toast(`Live stats unavailable: ${err.message}`);
    statsFailing = true;
  }).finally(() => {
    statsInFlight = null;
  });
  return statsInFlight;
}

function scheduleStats() {
  clearTimeout(statsTimer);
  statsTimer = setTimeout(async () => {
    if (!document.hidden) await refreshStats();
    scheduleStats();
  }, STATS_EVERY_MS);
}

// Simulated visitors --------------------------------------------------------------------------

let following = null;

function renderJob(job) {
  const card = $("#simulate-card");
  const progress = $("#simulate-progress");
  const status = $("#simulate-status");
  $("#simulate-progress-wrap").hidden = false;
  card.dataset.status = job.status;
  card.dataset.jobId = job.id;
  progress.max = Math.max(1, job.visitors || 1);
  progress.value = Math.min(job.completed || 0, progress.max);
  const counts = `${formatInt(job.completed)} / ${formatInt(job.visitors)} visitors \u00b7 ${formatInt(job.clicks)} clicks`;
  if (job.status === "running") status.textContent = counts;
  else if (job.status === "done") status.textContent = `Done: ${counts}. The artwork on this page was picked again \u2014 now switch between the thriller and the romance fan.`;
  else status.textContent = `The simulation stopped (${job.status}${job.error ? `: ${job.error}` : ""}) after ${counts}.`;
}

async function followSimulation(job) {
  if (following === job.id) return;
  following = job.id;
  const button = $("#simulate-button");
  button.disabled = true;
  button.textContent = "Simulating\u2026";
  const deadline = Date.now() + SIMULATE_GIVE_UP_MS;
  let failures = 0;
  try {
    renderJob(job);
    while (job.status === "running" && Date.now() < deadline) {
      await sleep(SIMULATE_POLL_MS);
      try {
        job = await api.simulation(job.id);
        failures = 0;
        renderJob(job);
      } catch (err) {
        failures += 1;
        if (failures >= 5) throw err;
      }
    }
    if (job.status === "done") {
      await Promise.all([loadArtwork(), refreshStats()]);
      toast(`${formatInt(job.visitors)} simulated visitors: ${formatInt(job.clicks)} clicks. The model learned from them.`, { kind: "info" });
    } else if (job.status === "running") {
      toast("The simulation is taking long; stopped following it.");
    } else {
      toast(`The simulation ${job.status}.`);
    }
  } catch (err) {
    toast(`Lost track of the simulation: ${err.message}`);
    $("#simulate-card").dataset.status = "failed";
  } finally {
    following = null;
    button.disabled = false;
    button.textContent = SIMULATE_LABEL;
  }
}

/** `?seed=N` in the page's address makes the simulated traffic reproducible (tests, screenshots). */
function simulationSeed() {
  const raw = new URLSearchParams(location.search).get("seed");
  return raw !== null && /^\d{1,9}$/.test(raw) ? Number(raw) : undefined;
}

async function startSimulation() {
  const button = $("#simulate-button");
  button.disabled = true;
  try {
    const { job } = await api.startSimulation(SIMULATE_VISITORS, simulationSeed());
    await followSimulation(job);
  } catch (err) {
    if (err.status === 409) {
      try {
        const job = await api.latestSimulation();
        if (job) {
          toast("A simulation is already running; following it.", { kind: "info" });
          await followSimulation(job);
          return;
        }
      } catch (inner) {
        toast(`Could not follow the running simulation: ${inner.message}`);
      }
    } else {
      toast(`Could not start the simulation: ${err.message}`);
    }
  } finally {
    if (!following) button.disabled = false;
  }
}

async function resumeRunningSimulation() {
  try {
    const job = await api.latestSimulation();
    if (job && job.status === "running") followSimulation(job);
  } catch {
    // No simulation endpoint or nothing to resume: the button still works.
  }
}

// Start ---------------------------------------------------------------------------------------

async function start() {
  initDetails();
  renderContextControls();
  $("#simulate-button").textContent = SIMULATE_LABEL;
  $("#simulate-button").addEventListener("click", startSimulation);
  state.personas = [...PERSONAS, ...loadGuests().map(guestPersona)];
  refreshStats();
  scheduleStats();
  startExperimentPanel();
  let titles = null;
  for (let attempt = 0; attempt < 3 && !titles; attempt += 1) {
    try {
      titles = await api.titles();
    } catch (err) {
      toast(`Could not load the catalog: ${err.message}`);
      await sleep(1500 * (attempt + 1));
    }
  }
  if (!titles) {
    clear($("#rows")).append(h("p", { class: "empty" }, "The catalog could not be loaded. ", retryButton(() => location.reload())));
    $("#rows").setAttribute("aria-busy", "false");
    return;
  }
  state.titles = titles;
  state.titlesById = new Map(titles.map((t) => [t.id, t]));
  state.genres = [...new Set(titles.flatMap((t) => t.genres))].sort();
  if (!titles.length) {
    clear($("#rows")).append(h("p", { class: "empty" }, "The catalog is empty: import titles with `artwork import`."));
    $("#rows").setAttribute("aria-busy", "false");
    return;
  }
  const saved = recall(CURRENT_KEY);
  const persona = state.personas.find((p) => p.id === saved) || state.personas[0];
  await selectPersona(persona);
  resumeRunningSimulation();
}

window.addEventListener("unhandledrejection", (event) => {
  toast(`Something went wrong: ${event.reason && event.reason.message ? event.reason.message : event.reason}`);
});

start().catch((err) => toast(`The demo could not start: ${err.message}`));
