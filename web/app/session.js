// Who is signed in: the bearer token and what it says (user, role, organisation, teams). Kept in
// localStorage so a tablet stays signed in across reloads until the token expires.

import { useEffect, useState } from "preact/hooks";

const KEY = "careflow.session";

/** A value that components can follow. */
export class Store {
  constructor(value) {
    this.value = value;
    this.listeners = new Set();
  }
  set(value) {
    this.value = value;
    for (const listener of this.listeners) listener(value);
  }
  subscribe(listener) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

/** The store's value, re-rendering when it changes. */
export function useStore(store) {
  const [value, setValue] = useState(store.value);
  useEffect(() => {
    setValue(store.value);
    return store.subscribe(setValue);
  }, [store]);
  return value;
}

/** A JWT's claims (not verified here: careflow verifies every request). */
export function claimsOf(token) {
  const part = String(token).split(".")[1];
  if (!part) return null;
  try {
    const json = atob(part.replace(/-/g, "+").replace(/_/g, "/"));
    const claims = JSON.parse(decodeURIComponent(escape(json)));
    return typeof claims.sub === "string" && typeof claims.role === "string" ? claims : null;
  } catch {
    return null;
  }
}

function restore() {
  try {
    const saved = JSON.parse(localStorage.getItem(KEY) || "null");
    if (!saved?.token) return null;
    const claims = claimsOf(saved.token);
    if (!claims || claims.exp * 1000 <= Date.now()) return null;
    return { token: saved.token, name: saved.name || claims.sub, claims };
  } catch {
    return null;
  }
}

/** `{ token, name, claims }` while signed in, else null. */
export const session = new Store(restore());

/** Why the last session ended, to show on the sign-in page. */
export const signedOutBecause = new Store(null);

/** Signs in with `token`; `name` is shown in the header. Returns false for a malformed token. */
export function signIn(token, name) {
  const claims = claimsOf(token);
  if (!claims) return false;
  localStorage.setItem(KEY, JSON.stringify({ token, name }));
  signedOutBecause.set(null);
  session.set({ token, name: name || claims.sub, claims });
  return true;
}

/** Signs out (`reason` is shown on the sign-in page). */
export function signOut(reason = null) {
  localStorage.removeItem(KEY);
  signedOutBecause.set(reason);
  session.set(null);
}

/** Human words for a role. */
export const ROLE_NAMES = {
  ward_nurse: "Ward nurse",
  ward_clerk: "Ward clerk",
  housekeeping: "Housekeeping",
  bed_manager: "Bed manager",
  social_worker: "Social worker",
  therapist: "Therapist",
  community_nurse: "Community nurse",
  virtual_ward_clinician: "Virtual ward clinician",
  broker: "Broker",
  commissioner: "Commissioner",
  care_provider: "Care provider",
  analyst: "Analyst",
  admin: "Administrator",
};
