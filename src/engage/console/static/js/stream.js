// The live event stream (GET /v1/events/stream). EventSource cannot send an Authorization header, so each
// connection opens with a short-lived stream token (POST /v1/events/stream-token) in its URL. When the stream
// drops (network, server restart, or the end of the session's token) a new token is fetched and the stream
// reopened from the last event seen (`last_event_id`), so no event is missed or shown twice.

import { api, currentSession } from "./api.js";

const handlers = new Set();
const statusListeners = new Set();
let source = null;
let lastEventId = null;
let retryTimer = null;
let attempt = 0;
let state = "closed";

function setState(next) {
  state = next;
  for (const listener of statusListeners) listener(state);
}

export function streamState() {
  return state;
}

export function onStreamState(listener) {
  statusListeners.add(listener);
  listener(state);
  return () => statusListeners.delete(listener);
}

// `subscribe((event) => ...)`: every event's envelope ({event_id, event_type, occurred_at, payload, ...}).
export function subscribe(handler) {
  handlers.add(handler);
  return () => handlers.delete(handler);
}

function dispatch(message) {
  let envelope;
  try {
    envelope = JSON.parse(message.data);
  } catch {
    return;
  }
  lastEventId = message.lastEventId || envelope.event_id || lastEventId;
  for (const handler of handlers) handler(envelope);
}

const TYPES = [
  "call.initiated", "call.answered", "call.completed", "call.abandoned", "call.compliance_blocked",
  "agent.state_changed", "campaign.started", "campaign.paused", "campaign.completed", "dnc.added", "dnc.removed",
  "consent.recorded", "consent.withdrawn",
];

export async function openStream() {
  if (!currentSession()) return;
  clearTimeout(retryTimer);
  if (source) source.close();
  setState("connecting");
  let issued;
  try {
    issued = await api("POST", "/v1/events/stream-token");
  } catch (error) {
    if (error.status === 401) {
      setState("closed");
      return;
    }
    scheduleRetry();
    return;
  }
  const query = new URLSearchParams({ token: issued.token });
  if (lastEventId) query.set("last_event_id", lastEventId);
  source = new EventSource(`/v1/events/stream?${query}`);
  source.onopen = () => {
    attempt = 0;
    setState("live");
  };
  source.onmessage = dispatch;
  for (const type of TYPES) source.addEventListener(type, dispatch);
  source.onerror = () => {
    // The browser would retry with the same (by now expired) token: close and reopen with a fresh one.
    source.close();
    source = null;
    scheduleRetry();
  };
}

function scheduleRetry() {
  setState("reconnecting");
  attempt += 1;
  const delay = Math.min(30000, 1000 * 2 ** Math.min(attempt, 5)) * (0.75 + Math.random() / 2);
  retryTimer = setTimeout(openStream, delay);
}

export function closeStream() {
  clearTimeout(retryTimer);
  if (source) source.close();
  source = null;
  lastEventId = null;
  setState("closed");
}
