// Shared pieces of every screen: the `html` template tag, labelled fields with their errors,
// a modal dialog, the connection banner, and how times are written.

import { h } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import htm from "htm";
import { connectionStatus, onLateError, onOutbox, onStatus, pendingCommands } from "./api.js";

export const html = htm.bind(h);

let fieldSeq = 0;

/** A labelled input; `error` is shown under it, tied to it for screen readers. */
export function Field({ label, error, hint, children, id }) {
  const [fallback] = useState(() => `field-${++fieldSeq}`);
  const fieldId = id || fallback;
  const describedBy = [hint && `${fieldId}-hint`, error && `${fieldId}-error`].filter(Boolean).join(" ") || undefined;
  const control = typeof children === "function" ? children({ id: fieldId, "aria-describedby": describedBy, "aria-invalid": error ? "true" : undefined }) : children;
  return html`<div class="field ${error ? "has-error" : ""}">
    <label for=${fieldId}>${label}</label>
    ${hint && html`<p class="hint" id=${`${fieldId}-hint`}>${hint}</p>`}
    ${control}
    ${error && html`<p class="field-error" id=${`${fieldId}-error`} role="alert">${error}</p>`}
  </div>`;
}

/** A modal dialog (the browser's own: focus kept inside, Escape closes). */
export function Dialog({ title, onClose, children }) {
  const ref = useRef(null);
  const close = useRef(onClose);
  close.current = onClose;
  useEffect(() => {
    // Focus goes back where it was (the bed's tile, the task) when the dialog goes.
    const opener = document.activeElement;
    const dialog = ref.current;
    if (dialog && !dialog.open) dialog.showModal();
    const cancel = (event) => {
      event.preventDefault();
      close.current();
    };
    dialog?.addEventListener("cancel", cancel);
    return () => {
      dialog?.removeEventListener("cancel", cancel);
      if (opener instanceof HTMLElement && opener.isConnected) opener.focus();
    };
  }, []);
  return html`<dialog ref=${ref} class="dialog" aria-labelledby="dialog-title">
    <header class="dialog-head">
      <h2 id="dialog-title">${title}</h2>
      <button type="button" class="close" onClick=${onClose} aria-label="Close">×</button>
    </header>
    <div class="dialog-body">${children}</div>
  </dialog>`;
}

/** The connection's state and the commands waiting to be sent, above every screen. */
export function ConnectionBanner() {
  const [status, setStatus] = useState(connectionStatus());
  const [pending, setPending] = useState(pendingCommands().length);
  const [late, setLate] = useState(null);
  useEffect(() => onStatus(setStatus), []);
  useEffect(() => onOutbox((entries) => setPending(entries.length)), []);
  useEffect(() => onLateError((error) => setLate(error.message)), []);
  return html`<div class="banners" aria-live="polite">
    ${status === "reconnecting" &&
    html`<p class="banner offline" role="status">Connection lost: reconnecting… Changes you make are kept and sent when it is back.</p>`}
    ${status === "refused" &&
    html`<p class="banner error" role="status">Live updates are not available to your role: reload the page to see changes.</p>`}
    ${pending > 0 &&
    html`<p class="banner pending" role="status" data-testid="pending">${pending === 1 ? "1 change" : `${pending} changes`} waiting to be sent</p>`}
    ${late &&
    html`<p class="banner error" role="alert">A change sent after reconnecting was refused: ${late}
      <button type="button" class="link" onClick=${() => setLate(null)}>Dismiss</button></p>`}
  </div>`;
}

/** The screen and its arguments named by `hash` (the location's now, by default); a malformed
 * escape names no screen. Redirects read it when they run, not the props of an older render. */
export function route(hash = location.hash) {
  try {
    return hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  } catch {
    return [""];
  }
}

/** The signed-in person's commands waiting to be sent, following the outbox. */
export function usePending() {
  const [pending, setPending] = useState(pendingCommands());
  useEffect(() => onOutbox(setPending), []);
  return pending;
}

/** Whether a waiting command is about what `about` names (`{ bedId }`, `{ stayId }`, `{ taskId }`). */
export function waitingFor(pending, about) {
  return pending.some((e) => Object.entries(about).some(([key, value]) => value && e.about?.[key] === value));
}

/** "3 h 20 min", "12 min", "just now": how long since `iso`. */
export function since(iso, now = Date.now()) {
  const minutes = Math.max(0, Math.floor((now - Date.parse(iso)) / 60000));
  if (minutes < 1) return "just now";
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} h ${minutes % 60} min`;
  return `${Math.floor(hours / 24)} days`;
}

/** A date and time in the user's words, e.g. "Tue 1 Dec, 14:05". */
export function when(iso) {
  if (!iso) return "";
  return new Date(iso).toLocaleString("en-GB", { weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" });
}

/** YYYY-MM-DD as "1 Dec 2026". */
export function day(date) {
  if (!date) return "";
  return new Date(`${date}T12:00:00Z`).toLocaleDateString("en-GB", { day: "numeric", month: "short", year: "numeric" });
}

/** Today as YYYY-MM-DD (local). */
export function today() {
  const d = new Date();
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
}

/** Re-renders every `ms`, for times that move ("12 min"). */
export function useTick(ms = 30000) {
  const [, setTick] = useState(0);
  useEffect(() => {
    const timer = setInterval(() => setTick((t) => t + 1), ms);
    return () => clearInterval(timer);
  }, [ms]);
}

/** The message for an error from an action, for the action's own place on the screen. */
export function messageOf(error) {
  if (!error) return null;
  return error.message || String(error);
}

/** An NHS number written as 10 digits, or with the usual spaces. */
export function formatNhs(nhs) {
  return nhs && nhs.length === 10 ? `${nhs.slice(0, 3)} ${nhs.slice(3, 6)} ${nhs.slice(6)}` : nhs || "";
}

/** Why `text` cannot be sent as an NHS number at all (careflow checks the rest, check digit too). */
export function nhsNumberProblem(text) {
  return String(text).trim() ? null : "Enter the patient's NHS number";
}
