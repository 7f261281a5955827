// Talking to careflow: GraphQL over HTTP for queries, graphql-ws (graphql-transport-ws) for live
// changes, and an outbox for commands, so a command given while the connection is down is kept
// (in localStorage) and sent when it is back, with the same commandId: carried out once.

import { session, signOut } from "./session.js";

/** An error the API answered, with its `extensions.code` and the fields it names. */
export class ApiError extends Error {
  constructor(message, code, fields = {}, extensions = {}) {
    super(message);
    this.code = code;
    /** Input field (camelCase) → what is wrong with it. */
    this.fields = fields;
    /** Everything else the error carries (a CONFLICT's `section`, as it is saved now). */
    this.extensions = extensions;
  }
}

/** Nothing usable was answered (no connection, a proxy's error page, a timeout, careflow
 * UNAVAILABLE): the same request may be sent again. */
export class Offline extends Error {}

/** Codes after which sending the same command again may succeed. */
const RETRYABLE = new Set(["UNAVAILABLE"]);

/** How long one request may take before it counts as lost. */
const REQUEST_TIMEOUT_MS = 15000;

const EXPIRED = "careflow did not accept your sign-in (it may have expired): sign in again.";

/** A random (v4) UUID. `crypto.randomUUID` exists only on https or localhost; a tablet on the
 * ward's network may reach careflow over plain http. */
export function uuid() {
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function toApiError(error) {
  const ext = error.extensions || {};
  const fields = {};
  for (const v of ext.fieldViolations || []) fields[v.field] = v.description;
  return new ApiError(error.message, ext.code || "INTERNAL", fields, ext);
}

/** Runs a query or mutation; resolves with `data`, rejects with ApiError or Offline. */
export async function graphql(query, variables = {}) {
  const token = session.value?.token;
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), REQUEST_TIMEOUT_MS);
  let response;
  let body;
  try {
    response = await fetch("/graphql", {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: JSON.stringify({ query, variables }),
      signal: abort.signal,
    });
    body = await response.json();
  } catch {
    throw new Offline("careflow cannot be reached");
  } finally {
    clearTimeout(timer);
  }
  if (body?.errors?.length) {
    const error = toApiError(body.errors[0]);
    // Only the session that sent it ends (not one signed in meanwhile).
    if (error.code === "UNAUTHENTICATED" && session.value?.token === token) signOut(EXPIRED);
    if (RETRYABLE.has(error.code)) throw new Offline(error.message);
    throw error;
  }
  // A proxy's or load balancer's own answer (a 502 with some JSON): not careflow's.
  if (!response.ok || !body || typeof body.data !== "object" || body.data === null) {
    throw new Offline(`careflow answered ${response.status}`);
  }
  return body.data;
}

// ---- the outbox -------------------------------------------------------------------------
//
// One list in localStorage, shared by the browser's tabs. Each entry names the tab that gave it;
// a tab sends its own entries, and those of tabs that are gone (each tab holds a Web Lock named
// after it while it lives), one tab at a time. A command sent twice (two tabs, a lost answer)
// carries the same commandId, so careflow carries it out once.

const OUTBOX_KEY = "careflow.outbox";
const TAB = uuid();
const outboxListeners = new Set();
const waiting = new Map(); // commandId → { resolve, reject } of the page that gave it
let flushing = false;
let again = false; // a flush was asked for while one ran

const locks = typeof navigator !== "undefined" && navigator.locks ? navigator.locks : null;
locks?.request(`careflow-tab-${TAB}`, () => new Promise(() => {}));

function readOutbox() {
  try {
    const entries = JSON.parse(localStorage.getItem(OUTBOX_KEY) || "[]");
    return Array.isArray(entries) ? entries : [];
  } catch {
    return [];
  }
}

function notify() {
  const mine = pendingCommands();
  for (const listener of outboxListeners) listener(mine);
}

function updateOutbox(change) {
  localStorage.setItem(OUTBOX_KEY, JSON.stringify(change(readOutbox())));
  notify();
}

// Another tab changed the outbox.
window.addEventListener("storage", (event) => {
  if (event.key === OUTBOX_KEY) notify();
});

/** The signed-in person's commands not yet carried out. */
export function pendingCommands() {
  const user = session.value?.claims?.sub;
  return readOutbox().filter((e) => e.user === user);
}

/** Calls `listener(entries)` whenever the signed-in person's outbox changes; returns the unsubscribe. */
export function onOutbox(listener) {
  outboxListeners.add(listener);
  return () => outboxListeners.delete(listener);
}

/** Drops the signed-in person's unsent commands (signing out of a shared tablet). */
export function discardPending() {
  const user = session.value?.claims?.sub;
  updateOutbox((entries) => entries.filter((e) => e.user !== user));
}

/** Refusals of commands sent after the page that gave them stopped waiting. */
const lateErrorListeners = new Set();
export function onLateError(listener) {
  lateErrorListeners.add(listener);
  return () => lateErrorListeners.delete(listener);
}

/**
 * Gives a command: `mutation` is the GraphQL document taking `$input`; `about` names what it
 * changes (`{ bedId }`, `{ stayId }`, `{ taskId }`) so the screen can show it waiting. Resolves
 * with its data once careflow carried it out; rejects with ApiError if it was refused. While
 * careflow cannot be reached it stays in the outbox (resolving `{ queued: true }` at once) and is
 * sent again, with the same commandId, when the connection is back; a refusal then goes to the
 * `onLateError` listeners.
 */
export function command(label, mutation, input, about = {}) {
  const commandId = uuid();
  const entry = {
    commandId,
    label,
    mutation,
    variables: { input: { ...input, commandId } },
    about,
    user: session.value?.claims?.sub,
    tab: TAB,
    at: new Date().toISOString(),
  };
  updateOutbox((entries) => [...entries, entry]);
  const answered = new Promise((resolve, reject) => waiting.set(commandId, { resolve, reject }));
  flush();
  return answered;
}

function settle(commandId, outcome) {
  updateOutbox((entries) => entries.filter((e) => e.commandId !== commandId));
  const waiter = waiting.get(commandId);
  waiting.delete(commandId);
  if (waiter) {
    if (outcome.error) waiter.reject(outcome.error);
    else waiter.resolve(outcome.data);
  } else if (outcome.error) {
    for (const listener of lateErrorListeners) listener(outcome.error);
  }
}

/** Tells every page still waiting that its command is kept for later. */
function releaseWaiters() {
  for (const [id, waiter] of waiting) {
    waiting.delete(id);
    waiter.resolve({ queued: true });
  }
}

/** The tabs alive now (null: this browser cannot tell, so every tab's entries are sent). */
async function liveTabs() {
  if (!locks) return null;
  try {
    const state = await locks.query();
    return new Set(state.held.map((l) => l.name));
  } catch {
    return null;
  }
}

async function sendOutbox() {
  const alive = await liveTabs();
  for (const entry of readOutbox()) {
    const user = session.value?.claims?.sub;
    // Another person's commands (a shared tablet) are never sent with this person's token.
    if (!user || entry.user !== user) continue;
    if (entry.tab !== TAB && alive && alive.has(`careflow-tab-${entry.tab}`)) continue;
    // Sent and settled by another tab meanwhile?
    if (!readOutbox().some((e) => e.commandId === entry.commandId)) continue;
    try {
      const data = await graphql(entry.mutation, entry.variables);
      settle(entry.commandId, { data });
    } catch (error) {
      // Kept for later: no connection, or the sign-in expired (sent once they sign in again).
      if (error instanceof Offline || error.code === "UNAUTHENTICATED") {
        releaseWaiters();
        return;
      }
      settle(entry.commandId, { error });
    }
  }
}

/** Sends every waiting command, oldest first; stops at the first that cannot be delivered. */
export async function flush() {
  if (!session.value) return;
  if (flushing) {
    again = true;
    return;
  }
  flushing = true;
  try {
    if (locks) await locks.request("careflow-outbox", sendOutbox);
    else await sendOutbox();
  } finally {
    flushing = false;
  }
  if (again) {
    again = false;
    flush();
  }
}

window.addEventListener("online", () => flush());
setInterval(() => {
  if (pendingCommands().length) flush();
}, 3000);

// ---- live changes over graphql-ws ------------------------------------------------------

const statusListeners = new Set();
let status = "connecting";

/** "connecting", "live", "reconnecting" or "refused" (the role may not subscribe). */
export function connectionStatus() {
  return status;
}

/** Calls `listener(status)` on every change of the connection's status. */
export function onStatus(listener) {
  statusListeners.add(listener);
  return () => statusListeners.delete(listener);
}

function setStatus(next) {
  if (status === next) return;
  status = next;
  for (const listener of statusListeners) listener(next);
}

/** How often the client checks that the connection still carries messages, and how long a
 * pong may take. */
const PING_EVERY_MS = 15000;
const PONG_WITHIN_MS = 10000;

const subscriptions = new Map(); // id → { query, variables, next, error, resync }
let socket = null;
let acknowledged = false;
let retryDelay = 500;
let nextId = 1;
let reconnectTimer = null;
let pingTimer = null;
let pongTimer = null;

function send(message) {
  if (socket && acknowledged) socket.send(JSON.stringify(message));
}

/** Sends `sub`'s subscribe; then `resync()` reads what it could have missed before it was live. */
function start(id, sub) {
  send({ id, type: "subscribe", payload: { query: sub.query, variables: sub.variables } });
  sub.resync?.();
}

function stopTimers() {
  clearInterval(pingTimer);
  clearTimeout(pongTimer);
  pingTimer = null;
  pongTimer = null;
}

function connect() {
  if (!session.value || socket) return;
  const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/graphql/ws`;
  const ws = new WebSocket(url, "graphql-transport-ws");
  const token = session.value.token;
  socket = ws;
  acknowledged = false;
  ws.onopen = () => {
    if (socket === ws) ws.send(JSON.stringify({ type: "connection_init", payload: { Authorization: `Bearer ${token}` } }));
  };
  ws.onmessage = (event) => {
    if (socket !== ws) return;
    let message;
    try {
      message = JSON.parse(event.data);
    } catch {
      return;
    }
    switch (message.type) {
      case "connection_ack":
        acknowledged = true;
        retryDelay = 500;
        setStatus("live");
        for (const [id, sub] of subscriptions) start(id, sub);
        stopTimers();
        pingTimer = setInterval(() => {
          send({ type: "ping" });
          clearTimeout(pongTimer);
          pongTimer = setTimeout(() => {
            // Nothing came back: the connection is dead though nobody said so.
            dropped(ws);
            ws.close(4000, "no pong");
          }, PONG_WITHIN_MS);
        }, PING_EVERY_MS);
        flush();
        break;
      case "ping":
        ws.send(JSON.stringify({ type: "pong" }));
        break;
      case "pong":
        clearTimeout(pongTimer);
        break;
      case "next": {
        const sub = subscriptions.get(message.id);
        if (!sub) break;
        if (message.payload?.errors?.length) {
          const error = toApiError(message.payload.errors[0]);
          if (error.code === "UNAUTHENTICATED") signOut(EXPIRED);
          sub.error(error);
        } else {
          sub.next(message.payload?.data);
        }
        break;
      }
      case "error": {
        const sub = subscriptions.get(message.id);
        if (sub) sub.error(toApiError((message.payload || [])[0] || { message: "subscription refused" }));
        break;
      }
      case "complete":
        break;
    }
  };
  ws.onclose = (event) => {
    if (socket !== ws) return;
    if (event.code === 4401) {
      socket = null;
      stopTimers();
      signOut(EXPIRED);
      return;
    }
    if (event.code === 4403) {
      // The role may not subscribe: asking again will not change that.
      socket = null;
      stopTimers();
      setStatus("refused");
      return;
    }
    dropped(ws);
  };
}

/** `ws` is gone: show it, and connect again after a growing delay (at most 8 s). */
function dropped(ws) {
  if (socket !== ws) return;
  socket = null;
  acknowledged = false;
  stopTimers();
  if (!session.value) return;
  setStatus("reconnecting");
  if (reconnectTimer) clearTimeout(reconnectTimer);
  reconnectTimer = setTimeout(() => {
    reconnectTimer = null;
    connect();
  }, retryDelay);
  retryDelay = Math.min(retryDelay * 2, 8000);
}

/** Closes the connection (signing out). */
export function disconnect() {
  subscriptions.clear();
  if (reconnectTimer) clearTimeout(reconnectTimer);
  reconnectTimer = null;
  stopTimers();
  const ws = socket;
  socket = null;
  acknowledged = false;
  if (ws) ws.close(1000);
  setStatus("connecting");
}

/**
 * Subscribes; `next(data)` gets every result, `error(ApiError)` a refusal. `resync()`, for a
 * subscription that pushes only changes, is called each time the subscription goes live (the
 * first time and after every reconnect), to read what changed before it did. Survives
 * reconnects. Returns the unsubscribe.
 */
export function subscribe(query, variables, next, error = () => {}, resync = null) {
  const id = String(nextId++);
  const sub = { query, variables, next, error, resync };
  subscriptions.set(id, sub);
  if (!socket && status !== "refused") connect();
  else if (acknowledged) start(id, sub);
  return () => {
    subscriptions.delete(id);
    send({ id, type: "complete" });
  };
}

/** The browser lost its network: a socket may not notice for a long while, so drop it now. */
window.addEventListener("offline", () => {
  const ws = socket;
  if (!ws) return;
  dropped(ws);
  ws.close(4000, "offline");
});

/** Reconnects now (the browser says it is online again). */
window.addEventListener("online", () => {
  if (!socket && session.value && status !== "refused") {
    if (reconnectTimer) clearTimeout(reconnectTimer);
    reconnectTimer = null;
    connect();
  }
});
