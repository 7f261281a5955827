// The app's shell: sign-in, the header with the screens, and a router on the location's hash
// (#/beds/<site>/<ward>, #/capacity/<site>, #/inbox/<team>, #/patient/<nhs>, #/assessments,
// #/assessment/<id>/<section>, #/virtual/<ward>/<admission>, #/market/<request>, #/provider),
// so every screen has an address a tablet can bookmark and the back button works.

import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { discardPending, disconnect, flush, pendingCommands } from "./api.js";
import { AssessmentList, AssessmentScreen } from "./assessment.js";
import { BedBoard } from "./beds.js";
import { SiteCapacity } from "./capacity.js";
import { Inbox } from "./inbox.js";
import { CareMarket } from "./market.js";
import { PatientScreen } from "./patient.js";
import { ProviderPortal } from "./provider.js";
import { VirtualWards } from "./virtualward.js";
import { ROLE_NAMES, session, signIn, signOut, signedOutBecause, useStore } from "./session.js";
import { ConnectionBanner, Field, html, route } from "./ui.js";

function useHash() {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const changed = () => setHash(location.hash);
    window.addEventListener("hashchange", changed);
    return () => window.removeEventListener("hashchange", changed);
  }, []);
  return hash;
}

/** Goes to `hash`; `replace` keeps the back button from returning to a redirect. */
function navigate(hash, replace = false) {
  if (replace) {
    history.replaceState(null, "", hash);
    window.dispatchEvent(new HashChangeEvent("hashchange"));
  } else {
    location.hash = hash;
  }
}

/** Signs out; unsent changes are lost with it, so the person is asked first. */
function signOutAsked() {
  const pending = pendingCommands().length;
  if (pending) {
    const what = pending === 1 ? "1 change has" : `${pending} changes have`;
    if (!window.confirm(`${what} not been sent yet. Sign out and discard them?`)) return;
    discardPending();
  }
  signOut();
}

/** Where a person starts: ward staff at the bed board, bed managers at capacity, brokers and
 * commissioners at the care market, care providers at their portal, others their inbox. */
function home(role) {
  if (["ward_nurse", "ward_clerk", "admin"].includes(role)) return "#/beds";
  if (role === "bed_manager") return "#/capacity";
  if (role === "virtual_ward_clinician") return "#/virtual";
  if (["broker", "commissioner"].includes(role)) return "#/market";
  if (role === "care_provider") return "#/provider";
  return "#/inbox";
}

const SCREENS = [
  ["beds", "Bed board"],
  ["capacity", "Site capacity"],
  ["inbox", "Team inbox"],
  ["patient", "Patients"],
  ["assessments", "Assessments"],
  ["virtual", "Virtual wards"],
  ["market", "Care market", ["broker", "commissioner", "admin"]],
  ["provider", "Provider portal", ["care_provider"]],
];

/** The header's screens `role` has: those naming roles are for those roles only. */
function screensFor(role) {
  return SCREENS.filter(([, , roles]) => !roles || roles.includes(role));
}

/** Screens reached from others, not from the header. */
const INNER = ["assessment"];

function App() {
  const who = useStore(session);
  const hash = useHash();
  useEffect(() => {
    if (who) flush();
    else disconnect();
  }, [who?.token]);
  const [screen, ...args] = route(hash);
  const screens = screensFor(who?.claims?.role);
  const known = screens.some(([id]) => id === screen) || INNER.includes(screen);
  useEffect(() => {
    const [now] = route();
    if (who && !screensFor(who.claims.role).some(([id]) => id === now) && !INNER.includes(now)) navigate(home(who.claims.role), true);
  }, [who?.token, hash]);
  if (!who) return html`<${SignIn} />`;
  if (!known) return null;
  const claims = who.claims;
  return html`<div class="shell">
    <a class="skip" href="#main" onClick=${(e) => {
      e.preventDefault();
      document.getElementById("main")?.focus();
    }}>Skip to the screen</a>
    <header class="top">
      <span class="brand"><img src="/assets/app/icon.svg" alt="" width="28" height="28" /> careflow</span>
      <nav aria-label="Screens"><ul>${screens.map(([id, name]) => html`<li><a href=${`#/${id}`} aria-current=${id === screen ? "page" : undefined}>${name}</a></li>`)}</ul></nav>
      <span class="who"><span data-testid="who">${who.name}</span>${` · ${ROLE_NAMES[claims.role] || claims.role} · ${claims.org}`}
        <button type="button" class="link" onClick=${signOutAsked}>Sign out</button></span>
    </header>
    <${ConnectionBanner} />
    <main id="main" tabindex="-1">
      ${screen === "beds" && html`<${BedBoard} siteId=${args[0] || ""} wardId=${args[1] || ""} navigate=${navigate} />`}
      ${screen === "capacity" && html`<${SiteCapacity} siteId=${args[0] || ""} navigate=${navigate} />`}
      ${screen === "inbox" && html`<${Inbox} teamId=${args[0] || ""} navigate=${navigate} />`}
      ${screen === "patient" && html`<${PatientScreen} nhsNumber=${args[0] || ""} navigate=${navigate} />`}
      ${screen === "assessments" && html`<${AssessmentList} navigate=${navigate} />`}
      ${screen === "virtual" && html`<${VirtualWards} wardId=${args[0] || ""} admissionId=${args[1] || ""} navigate=${navigate} />`}
      ${screen === "market" && html`<${CareMarket} requestId=${args[0] || ""} />`}
      ${screen === "provider" && html`<${ProviderPortal} />`}
      ${screen === "assessment" && html`<${AssessmentScreen} key=${args[0]} assessmentId=${args[0] || ""} sectionId=${args[1] || ""} navigate=${navigate} />`}
    </main>
  </div>`;
}

function SignIn() {
  const reason = useStore(signedOutBecause);
  const [personas, setPersonas] = useState(undefined);
  const [problem, setProblem] = useState(null);
  useEffect(() => {
    fetch("/dev/personas")
      .then((r) => (r.ok ? r.json() : null))
      .then(setPersonas)
      .catch(() => setPersonas(null));
  }, []);
  const choose = async (persona) => {
    setProblem(null);
    try {
      const response = await fetch("/dev/token", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ persona: persona.userId }),
      });
      const body = await response.json();
      if (!response.ok) throw new Error(body.error || `careflow answered ${response.status}`);
      signIn(body.token, persona.name);
      location.hash = home(persona.role);
    } catch (error) {
      setProblem(error.message === "Failed to fetch" ? "careflow cannot be reached: try again." : error.message);
    }
  };
  return html`<main class="sign-in" id="main">
    <h1><img src="/assets/app/icon.svg" alt="" width="40" height="40" /> Sign in to careflow</h1>
    ${reason && html`<p class="banner error" role="alert">${reason}</p>`}
    ${problem && html`<p class="banner error" role="alert">${problem}</p>`}
    ${personas === undefined && html`<p class="loading">Loading…</p>`}
    ${personas && html`<section aria-labelledby="demo-people">
      <h2 id="demo-people">Development: choose a demo person</h2>
      <p class="hint">This careflow runs with the public development secret, so anyone may sign in as anyone. All people and patients are invented.</p>
      <ul class="personas">${personas.map((p) => html`<li><button type="button" class="persona" onClick=${() => choose(p)}>
        <span class="persona-name">${p.name}</span>
        <span class="persona-what">${p.description}</span>
        <span class="persona-meta">${ROLE_NAMES[p.role] || p.role} · ${p.organisation}${p.teams.length ? ` · ${p.teams.join(", ")}` : ""}</span>
      </button></li>`)}</ul></section>`}
    ${personas === null && html`<${TokenSignIn} />`}
  </main>`;
}

/** Sign-in with a bearer token from the organisation's identity provider. */
function TokenSignIn() {
  const [token, setToken] = useState("");
  const [error, setError] = useState(null);
  const submit = (e) => {
    e.preventDefault();
    const trimmed = token.trim().replace(/^Bearer\s+/i, "");
    if (!trimmed) return setError("Paste the token your organisation's sign-in gave you");
    if (!signIn(trimmed)) return setError("This is not a careflow token (a JWT with user, role and organisation)");
    setError(null);
  };
  return html`<form class="token-form" onSubmit=${submit} novalidate>
    <h2>Sign in with your organisation's token</h2>
    <${Field} label="Bearer token" error=${error} hint="From your organisation's identity provider (see careflow's README).">${(props) =>
      html`<textarea ...${props} name="token" rows="4" value=${token} onInput=${(e) => setToken(e.currentTarget.value)} />`}<//>
    <button type="submit" class="primary">Sign in</button>
  </form>`;
}

render(html`<${App} />`, document.getElementById("app"));
