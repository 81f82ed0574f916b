// The API client: every call goes through `api()`, which sends the access token, refreshes it once on a 401
// (refresh tokens rotate: the new one replaces the old) and turns an RFC 7807 problem into an ApiError.
// The session lives in sessionStorage: it ends with the tab, and no other tab or site can read it.

const KEY = "engage.session";
let session = load();
const listeners = new Set();

function load() {
  try {
    return JSON.parse(sessionStorage.getItem(KEY)) || null;
  } catch {
    return null;
  }
}

function save(next) {
  session = next;
  if (next) sessionStorage.setItem(KEY, JSON.stringify(next));
  else sessionStorage.removeItem(KEY);
  for (const listener of listeners) listener(session);
}

// The server's clock less the browser's (GET /v1/auth/me's `now`): durations and "today" are measured on the
// server's clock, which a browser may be minutes away from (and the demo's simulated clock hours away).
let skew = 0;

export function serverNow() {
  return Date.now() + skew;
}

// Re-reads who is signed in and the server's clock; called on every start of the console.
export async function refreshSession() {
  const sent = Date.now();
  const me = await api("GET", "/v1/auth/me");
  skew = Date.parse(me.now) - (sent + Date.now()) / 2;
  save({ ...session, user: me.user, tenant: me.tenant });
  return session;
}

export function currentSession() {
  return session;
}

export function onSessionChange(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export class ApiError extends Error {
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || `HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
  }

  // A problem's field errors (`errors: [{field, message}]`), keyed by field, for forms to show beside inputs.
  get fieldErrors() {
    const out = {};
    for (const e of this.problem.errors || []) out[e.field || ""] = e.message;
    return out;
  }
}

function url(path, query) {
  const u = new URL(path, window.location.origin);
  for (const [k, v] of Object.entries(query || {})) {
    if (v === undefined || v === null || v === "") continue;
    if (Array.isArray(v)) v.forEach((item) => u.searchParams.append(k, item));
    else u.searchParams.set(k, v);
  }
  return u.pathname + u.search;
}

async function send(method, path, { body, query, headers } = {}) {
  const h = { Accept: "application/json, application/problem+json", ...(headers || {}) };
  if (session) h.Authorization = `Bearer ${session.access_token}`;
  let payload;
  if (body instanceof Blob || body instanceof FormData) payload = body;
  else if (body !== undefined) {
    h["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  return fetch(url(path, query), { method, headers: h, body: payload, credentials: "omit" });
}

let refreshing = null;

async function refresh() {
  if (!session) return false;
  refreshing ||= (async () => {
    const response = await fetch("/v1/auth/refresh", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ refresh_token: session.refresh_token }),
    });
    if (!response.ok) {
      save(null);
      return false;
    }
    const issued = await response.json();
    save({ ...session, access_token: issued.access_token, refresh_token: issued.refresh_token });
    return true;
  })().finally(() => {
    refreshing = null;
  });
  return refreshing;
}

async function read(response) {
  if (response.status === 204) return null;
  const type = response.headers.get("Content-Type") || "";
  if (type.includes("json")) return response.json();
  return response.text();
}

// `api("GET", "/v1/campaigns", {query: {limit: 50}})`; resolves to the parsed body, rejects with ApiError.
export async function api(method, path, options = {}) {
  let response = await send(method, path, options);
  if (response.status === 401 && session && (await refresh())) response = await send(method, path, options);
  if (response.status === 401 && session) save(null);
  const body = await read(response);
  if (!response.ok) throw new ApiError(response.status, typeof body === "object" ? body : { detail: body });
  return body;
}

export async function login(email, password) {
  const response = await fetch("/v1/auth/login", {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify({ email, password }),
  });
  const body = await read(response);
  if (!response.ok) throw new ApiError(response.status, body);
  save({ access_token: body.access_token, refresh_token: body.refresh_token, user: body.user });
  return refreshSession();
}

export async function logout() {
  const current = session;
  save(null);
  if (current) {
    await fetch("/v1/auth/logout", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ refresh_token: current.refresh_token }),
    }).catch(() => {});
  }
}

// Every page of a list endpoint that pages with `cursor`/`next_cursor` (bounded: at most `max` items).
export async function all(path, query = {}, max = 1000) {
  const items = [];
  let cursor;
  do {
    const page = await api("GET", path, { query: { ...query, cursor, limit: query.limit || 100 } });
    items.push(...(page.items || page.data || []));
    cursor = page.next_cursor;
  } while (cursor && items.length < max);
  return items;
}
