// Words for genres and artwork tags, shared by the tiles and the details panel.

const GENRE_LABELS = {
  action: "Action", animation: "Animation", comedy: "Comedy", documentary: "Documentary", drama: "Drama",
  family: "Family", horror: "Horror", romance: "Romance", scifi: "Sci-fi", thriller: "Thriller",
};

const ROW_LABELS = {
  action: "Action & adventure", animation: "Animation", comedy: "Comedies", documentary: "Documentaries",
  drama: "Dramas", family: "For the whole family", horror: "Horror", romance: "Romance", scifi: "Sci-fi",
  thriller: "Thrillers",
};

const capitalize = (text) => (text ? text[0].toUpperCase() + text.slice(1) : "");

export function genreLabel(genre) {
  return GENRE_LABELS[genre] || capitalize(String(genre || "").replace(/[-_]/g, " "));
}

export function rowLabel(genre) {
  return ROW_LABELS[genre] || genreLabel(genre);
}

/** "thriller · dark close-up · Ines Marlow" */
export function tagLine(tags = {}) {
  const look = [tags.tone, tags.subject].filter(Boolean).join(" ");
  const cast = Array.isArray(tags.cast) && tags.cast.length ? tags.cast.join(", ") : null;
  return [tags.theme, look, cast].filter(Boolean).join(" \u00b7 ");
}

/** "<title name> artwork: <theme>, <tone> <subject>" */
export function altText(title, artwork) {
  const tags = (artwork && artwork.tags) || {};
  const look = [tags.tone, tags.subject].filter(Boolean).join(" ");
  const parts = [tags.theme, look].filter(Boolean).join(", ");
  return parts ? `${title.name} artwork: ${parts}` : `${title.name} artwork`;
}
