// The ready personas, and how they become real users of the service.
//
// A persona is only an id and the genres it likes. Its taste is NOT hard-coded into the page:
// on first use the page records a viewing history through the public API (a few titles of its
// genres, picked from the catalog), and from then on the service's own profile of that id
// drives both the artwork it picks and what the page shows.

import { api } from "./api.js";

export const PERSONAS = [
  { id: "demo-thriller-fan", name: "Thriller fan", short: "Thriller fan", initial: "T", genres: ["thriller"], hue: 355,
    blurb: "Tense, twisty, late at night." },
  { id: "demo-romance-fan", name: "Romance fan", short: "Romance fan", initial: "R", genres: ["romance"], hue: 330,
    blurb: "Slow burns and big gestures." },
  { id: "demo-family", name: "Family account", short: "Family", initial: "F", genres: ["family", "animation"], hue: 42,
    blurb: "Family films and animation." },
  { id: "demo-animation-fan", name: "Animation fan", short: "Animation fan", initial: "A", genres: ["animation"], hue: 190,
    blurb: "Anime and animation of every kind." },
  { id: "demo-horror-fan", name: "Horror fan", short: "Horror fan", initial: "H", genres: ["horror"], hue: 120,
    blurb: "Cellars, cabins and things in the dark." },
];

const GUESTS_KEY = "artwork-demo.guests";
const VIEWS_PER_PERSONA = 5;

/** Guests made with "New person" in this browser (ids only; their taste lives in the service). */
export function loadGuests() {
  try {
    const ids = JSON.parse(localStorage.getItem(GUESTS_KEY) || "[]");
    return Array.isArray(ids) ? ids.filter((id) => /^demo-guest-[a-z0-9]{1,32}$/.test(id)).slice(-4) : [];
  } catch {
    return [];
  }
}

function saveGuests(ids) {
  try {
    localStorage.setItem(GUESTS_KEY, JSON.stringify(ids.slice(-4)));
  } catch {
    // Private mode or storage disabled: guests just do not survive a reload.
  }
}

export function guestPersona(id) {
  const tag = id.slice("demo-guest-".length, "demo-guest-".length + 4).toUpperCase();
  return { id, name: `Guest ${tag}`, short: `Guest ${tag}`, initial: tag.slice(0, 1) || "G", genres: [], hue: 260, guest: true,
    blurb: "A new person: tell the service what you watched." };
}

export function newGuest() {
  const bytes = new Uint8Array(4);
  crypto.getRandomValues(bytes);
  const id = `demo-guest-${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
  saveGuests([...loadGuests(), id]);
  return guestPersona(id);
}

/** The titles a persona has "watched": those most purely of its genres, from the live catalog. */
export function historyFor(persona, titles) {
  const wanted = new Set(persona.genres);
  const scored = titles
    .map((t) => {
      const hits = t.genres.filter((g) => wanted.has(g)).length;
      return { t, hits, share: t.genres.length ? hits / t.genres.length : 0 };
    })
    .filter((x) => x.hits > 0)
    .sort((a, b) => b.share - a.share || b.hits - a.hits || a.t.id.localeCompare(b.t.id));
  return scored.slice(0, VIEWS_PER_PERSONA).map((x, i) => ({
    titleId: x.t.id,
    seconds: 2400 + ((i * 397) % 1201), // 40-60 minutes: full views
  }));
}

/**
 * The persona's profile from the service; a ready persona the service does not know yet (or
 * knows without any views) first gets its viewing history recorded through the API.
 */
export async function ensureProfile(persona, titles, onProgress = () => {}) {
  let profile = await api.profile(persona.id);
  if (persona.guest || (profile.known && profile.views > 0)) return profile;
  const history = historyFor(persona, titles);
  for (const [i, view] of history.entries()) {
    onProgress(i + 1, history.length);
    profile = await api.addView(persona.id, view.titleId, view.seconds);
  }
  return profile;
}
