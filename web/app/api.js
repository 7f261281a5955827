// Talking to careflow: GraphQL over HTTP for queries, graphql-ws (graphql-transport-ws) for live
// changes, and an outbox for commands, so a command given while the connection is down is kept
// (in localStorage) and sent when it is back, with the same commandId: carried out once.

import { session, signOut } from "./session.js";

/** An error the API answered, with its `extensions.code` and the fields it names. */
export class ApiError extends Error {
  constructor(message, code, fields = {}) {
    super(message);
    this.code = code;
    /** Input field (camelCase) → what is wrong with it. */
    this.fields = fields;
  }
}

/** The connection failed: nothing was answered, so the request may be sent again. */
export class Offline extends Error {}

/** Codes after which sending the same command again may succeed. */
const RETRYABLE = new Set(["UNAVAILABLE"]);

function toApiError(error) {
  const ext = error.extensions || {};
  const fields = {};
  for (const v of ext.fieldViolations || []) fields[v.field] = v.description;
  return new ApiError(error.message, ext.code || "INTERNAL", fields);
}

/** Runs a query or mutation; resolves with `data`, rejects with ApiError or Offline. */
export async function graphql(query, variables = {}) {
  let response;
  try {
    response = await fetch("/graphql", {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${session.value?.token}` },
      body: JSON.stringify({ query, variables }),
    });
  } catch {
    throw new Offline("careflow cannot be reached");
  }
  let body;
  try {
    body = await response.json();
  } catch {
    throw new Offline(`careflow answered ${response.status}`);
  }
  if (body.errors?.length) {
    const error = toApiError(body.errors[0]);
    if (error.code === "UNAUTHENTICATED") signOut("Your sign-in has expired: sign in again.");
    if (RETRYABLE.has(error.code)) throw new Offline(error.message);
    throw error;
  }
  return body.data;
}

// ---- the outbox -------------------------------------------------------------------------

const OUTBOX_KEY = "careflow.outbox";
const outboxListeners = new Set();
const waiting = new Map(); // commandId → { resolve, reject } of the page that sent it
let flushing = false;
let again = false; // a flush was asked for while one ran

function readOutbox() {
  try {
    return JSON.parse(localStorage.getItem(OUTBOX_KEY) || "[]");
  } catch {
    return [];
  }
}

function writeOutbox(entries) {
  localStorage.setItem(OUTBOX_KEY, JSON.stringify(entries));
  for (const listener of outboxListeners) listener(entries);
}

/** The commands not yet answered. */
export function pendingCommands() {
  return readOutbox();
}

/** Calls `listener(entries)` whenever the outbox changes; returns the unsubscribe. */
export function onOutbox(listener) {
  outboxListeners.add(listener);
  return () => outboxListeners.delete(listener);
}

/** Errors of commands sent after the page that gave them stopped waiting. */
const lateErrorListeners = new Set();
export function onLateError(listener) {
  lateErrorListeners.add(listener);
  return () => lateErrorListeners.delete(listener);
}

/**
 * Gives a command: `mutation` is the GraphQL document taking `$input`. Resolves with its data once
 * careflow carried it out; rejects with ApiError if it was refused. While careflow cannot be
 * reached it stays in the outbox (resolving `{ queued: true }` at once) and is sent again, with the
 * same commandId, when the connection is back; a refusal then goes to the `onLateError` listeners.
 */
export function command(label, mutation, input) {
  const commandId = crypto.randomUUID();
  const entry = {
    commandId,
    label,
    mutation,
    variables: { input: { ...input, commandId } },
    user: session.value?.claims?.sub,
    at: new Date().toISOString(),
  };
  writeOutbox([...readOutbox(), entry]);
  const answered = new Promise((resolve, reject) => waiting.set(commandId, { resolve, reject }));
  flush();
  return answered;
}

function settle(commandId, outcome) {
  writeOutbox(readOutbox().filter((e) => e.commandId !== commandId));
  const waiter = waiting.get(commandId);
  waiting.delete(commandId);
  if (waiter) {
    if (outcome.error) waiter.reject(outcome.error);
    else waiter.resolve(outcome.data);
  } else if (outcome.error) {
    for (const listener of lateErrorListeners) listener(outcome.error);
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
    for (const entry of readOutbox()) {
      // Another person's commands (a shared tablet, signed out meanwhile) are not sent as this one.
      if (entry.user !== session.value?.claims?.sub) continue;
      try {
        const data = await graphql(entry.mutation, entry.variables);
        settle(entry.commandId, { data });
      } catch (error) {
        if (error instanceof Offline) {
          // Tell every page still waiting that its command is kept for later; what becomes of
          // it is then reported to the late listeners.
          for (const [id, waiter] of waiting) {
            waiting.delete(id);
            waiter.resolve({ queued: true });
          }
          break;
        }
        settle(entry.commandId, { error });
      }
    }
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
  if (readOutbox().length) flush();
}, 3000);

// ---- live changes over graphql-ws ------------------------------------------------------

const statusListeners = new Set();
let status = "connecting";

/** "connecting", "live" or "reconnecting". */
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

const subscriptions = new Map(); // id → { query, variables, next, error }
let socket = null;
let acknowledged = false;
let retryDelay = 500;
let nextId = 1;
let reconnectTimer = null;

function send(message) {
  if (socket && acknowledged) socket.send(JSON.stringify(message));
}

function connect() {
  if (!session.value || socket) return;
  const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/graphql/ws`;
  const ws = new WebSocket(url, "graphql-transport-ws");
  socket = ws;
  acknowledged = false;
  ws.onopen = () => ws.send(JSON.stringify({ type: "connection_init", payload: { Authorization: `Bearer ${session.value?.token}` } }));
  ws.onmessage = (event) => {
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
        for (const [id, sub] of subscriptions) {
          send({ id, type: "subscribe", payload: { query: sub.query, variables: sub.variables } });
          // Changes made while it was away were not pushed: the page reads the current state.
          if (sub.subscribed) sub.resync?.();
          sub.subscribed = true;
        }
        flush();
        break;
      case "ping":
        ws.send(JSON.stringify({ type: "pong" }));
        break;
      case "next": {
        const sub = subscriptions.get(message.id);
        if (!sub) break;
        if (message.payload.errors?.length) sub.error(toApiError(message.payload.errors[0]));
        else sub.next(message.payload.data);
        break;
      }
      case "error": {
        const sub = subscriptions.get(message.id);
        if (sub) sub.error(toApiError(message.payload[0] || { message: "subscription refused" }));
        break;
      }
      case "complete":
        break;
    }
  };
  ws.onclose = (event) => {
    if (event.code === 4401 && socket === ws) {
      socket = null;
      signOut("Your sign-in has expired: sign in again.");
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
  const ws = socket;
  socket = null;
  acknowledged = false;
  if (ws) ws.close(1000);
  setStatus("connecting");
}

/**
 * Subscribes; `next(data)` gets every result, `error(ApiError)` a refusal. Survives reconnects:
 * subscribed again, and `resync()` called, for a subscription that pushes only changes, to read
 * what changed while the connection was down. Returns the unsubscribe.
 */
export function subscribe(query, variables, next, error = () => {}, resync = null) {
  const id = String(nextId++);
  const sub = { query, variables, next, error, resync, subscribed: false };
  subscriptions.set(id, sub);
  if (!socket) connect();
  else if (acknowledged) {
    send({ id, type: "subscribe", payload: { query, variables } });
    sub.subscribed = true;
  }
  return () => {
    subscriptions.delete(id);
    send({ id, type: "complete" });
  };
}

/** The browser lost its network: a socket may not notice for a long while, so close it now. */
window.addEventListener("offline", () => {
  const ws = socket;
  if (!ws) return;
  dropped(ws);
  ws.close(4000, "offline");
});

/** Reconnects now (the browser says it is online again). */
window.addEventListener("online", () => {
  if (!socket && session.value) {
    if (reconnectTimer) clearTimeout(reconnectTimer);
    reconnectTimer = null;
    connect();
  }
});
