// The service's public HTTP API, and nothing else: every call the demo makes is here.

export class ApiError extends Error {
  constructor(message, { status = 0, code = "network_error", body = null } = {}) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.body = body;
  }
}

const TIMEOUT_MS = 15000;
const KEY_HEADER = "X-Api-Key";

// The demo's own key (null when the service needs none), asked for once: a service with client
// keys hands its demo key (DEMO_KEY) to any page that asks, never a client key.
let demoKey = null;

function key() {
  if (demoKey === null) {
    demoKey = send("GET", "/api/v1/demo-key").then((d) => d.key);
    demoKey.catch(() => { demoKey = null; }); // asked again by the next call
  }
  return demoKey;
}

async function request(method, path, body) {
  try {
    return await send(method, path, body, await key());
  } catch (err) {
    if (err.status !== 401) throw err;
    demoKey = null; // the demo key was changed while the page was open: ask once more
    return send(method, path, body, await key());
  }
}

async function send(method, path, body, apiKey = null) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), TIMEOUT_MS);
  const init = { method, headers: { Accept: "application/json" }, signal: controller.signal };
  if (apiKey) init.headers[KEY_HEADER] = apiKey;
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (err) {
    const why = err && err.name === "AbortError" ? "timed out" : "is not reachable";
    throw new ApiError(`The service ${why} (${method} ${path}).`);
  } finally {
    clearTimeout(timer);
  }
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (!response.ok) {
    const error = data && data.error ? data.error : {};
    throw new ApiError(error.message || `${method} ${path} failed with HTTP ${response.status}`, {
      status: response.status, code: error.code || "http_error", body: data,
    });
  }
  if (data === null) throw new ApiError(`${method} ${path} did not answer JSON`, { status: response.status });
  return data;
}

export const api = {
  titles: () => request("GET", "/api/v1/titles").then((d) => d.titles),
  selectArtwork: (userId, titleIds, context) =>
    request("POST", "/api/v1/select-artwork", { user_id: userId, title_ids: titleIds, context }),
  click: (eventId) => request("POST", `/api/v1/events/${encodeURIComponent(eventId)}/click`),
  event: (eventId) => request("GET", `/api/v1/events/${encodeURIComponent(eventId)}`),
  profile: (userId) => request("GET", `/api/v1/users/${encodeURIComponent(userId)}/profile`),
  addView: (userId, titleId, seconds) =>
    request("POST", `/api/v1/users/${encodeURIComponent(userId)}/views`, { title_id: titleId, seconds }),
  stats: () => request("GET", "/api/v1/stats"),
  startSimulation: (visitors, seed) =>
    request("POST", "/api/v1/simulate", seed === undefined ? { visitors } : { visitors, seed }),
  latestSimulation: () => request("GET", "/api/v1/simulate").then((d) => d.job),
  simulation: (jobId) => request("GET", `/api/v1/simulate/${encodeURIComponent(jobId)}`).then((d) => d.job),
  experiment: () => request("GET", "/api/v1/demo/experiment"),
};
