// The provider portal (#/provider): a care provider's view of the market, live over the
// providerRequests subscription. The requests it may offer on, with the care needed, the
// district, the dates and the care-needs summary but never who the person is, and a form to
// offer; its offers and what became of them, withdrawn while live, and who the person is only
// once its offer is accepted.

import { useEffect, useRef, useState } from "preact/hooks";
import { Offline, graphql, subscribe, uuid } from "./api.js";
import { CareNeeds, Countdown, needOf, offerStateText, personName, pounds, stamped } from "./market.js";
import { session, useStore } from "./session.js";
import { Dialog, Field, day, formatNhs, html, messageOf, when } from "./ui.js";

// A provider sees only its own offers, and neither the budget nor the other providers' ranks.
const REQUEST = `id careType hoursPerWeek bedType district startBy careNeeds { section question answer } round windowClosesAt
  secondsLeft state postedAt offers { offerId round providerName weeklyPricePence earliestStart note state declined madeAt }
  placement { offerId providerName weeklyPricePence startDate agreedAt } identified person { nhsNumber givenName familyName }`;

const VIEW = `provider { ods name bedsFree hoursFree } eligible { ${REQUEST} } offered { ${REQUEST} }`;

const MAKE_OFFER = `mutation ($input: MakeOfferInput!) { makeOffer(input: $input) { offerId visible careRequest { ${REQUEST} } } }`;
const WITHDRAW = "mutation ($input: OfferInput!) { withdrawOffer(input: $input) { offerId visible } }";

const REQUEST_STATES = {
  OPEN: "Open for offers",
  WINDOW_CLOSED: "Offers closed: the council is deciding",
  WITHDRAWN: "Withdrawn by the council",
  PLACED: "Placed",
  CANCELLED: "Cancelled by the council",
};

/** The offer form's fields, as careflow names them in its refusals, and their words. */
const FIELDS = { weeklyPricePence: "The weekly price", earliestStart: "The earliest start", note: "The note" };

/** The largest weekly price careflow takes, in pence. */
const MAX_PENCE = 10000000;

/** "£1,234.50", "950" or "950.5" as pence (null: not pounds and pence), without rounding. */
function penceOf(text) {
  const plain = String(text).trim().replace(/^£/, "").replace(/,/g, "");
  if (!/^\d+(\.\d{1,2})?$/.test(plain)) return null;
  const [whole, part = ""] = plain.split(".");
  return Number(whole) * 100 + Number(part.padEnd(2, "0"));
}

/** Whether the provider has a live offer on `request`. */
const liveOn = (request) => request.offers.some((o) => o.state === "LIVE");

/** The view as it arrived whole. */
function viewOf(view) {
  return { provider: view.provider, eligible: view.eligible.map(stamped), offered: view.offered.map(stamped) };
}

/**
 * `view` with what changed: a request with one of the provider's own offers is among its
 * offers (the latest first), and one it may offer on (open, no live offer of its own: never
 * offered, or withdrawn, or declined in an earlier round) among those (the soonest to close
 * first), as in careflow's whole view; removed ones go.
 */
function withChanges(view, changed, removed) {
  if (!view) return view;
  const gone = new Set(removed);
  let eligible = view.eligible.filter((r) => !gone.has(r.id));
  let offered = view.offered.filter((r) => !gone.has(r.id));
  for (const request of changed.map(stamped)) {
    const has = (list) => list.some((r) => r.id === request.id);
    const replaced = (list) => list.map((r) => (r.id === request.id ? request : r));
    const without = (list) => list.filter((r) => r.id !== request.id);
    if (request.offers.length) offered = has(offered) ? replaced(offered) : [request, ...offered];
    else offered = without(offered);
    if (request.state === "OPEN" && !liveOn(request)) {
      eligible = has(eligible) ? replaced(eligible) : [...eligible, request].sort((a, b) => a.closesBy - b.closesBy);
    } else {
      eligible = without(eligible);
    }
  }
  return { ...view, eligible, offered };
}

export function ProviderPortal() {
  const who = useStore(session);
  const [view, setView] = useState(null);
  const [error, setError] = useState(null);
  const [offering, setOffering] = useState(null);
  const [notice, setNotice] = useState(null);
  const noticeRef = useRef(null);
  useEffect(() => {
    let live = true;
    const stop = subscribe(`subscription { providerRequests { full view { ${VIEW} } changed { ${REQUEST} } removed } }`, {},
      (data) => {
        if (!live) return;
        const update = data.providerRequests;
        setError(null);
        setView((now) => (update.full ? viewOf(update.view) : withChanges(now, update.changed, update.removed)));
      },
      (e) => live && setError(e));
    return () => {
      live = false;
      stop();
    };
  }, [who?.token]);
  useEffect(() => {
    if (notice) noticeRef.current?.focus();
  }, [notice]);

  if (error && !view) return html`<p class="error" role="alert">${messageOf(error)}</p>`;
  if (!view) return html`<p class="loading">Loading the requests…</p>`;
  const provider = view.provider;
  if (!provider) {
    return html`<section><h1>Provider portal</h1>
      <p>${who?.claims?.org} is not registered as a care provider: requests reach it once it is.</p></section>`;
  }
  const liveOffers = view.offered.reduce((n, r) => n + r.offers.filter((o) => o.state === "LIVE").length, 0);
  const placed = view.offered.filter((r) => r.offers.some((o) => o.state === "ACCEPTED")).length;
  const sent = (payload, request, pence) => {
    setOffering(null);
    setNotice(`Your offer of ${pounds(pence)} a week on ${needOf(request)} in ${request.district} was sent: it is under Your offers.`);
    // The answer shows the request at once, should its push be slower.
    const now = payload.careRequest;
    if (now) setView((v) => (v.offered.some((r) => r.id === now.id && r.offers.some((o) => o.offerId === payload.offerId)) ? v : withChanges(v, [now], [])));
  };
  return html`<section aria-labelledby="provider-title">
    <div class="toolbar">
      <h1 id="provider-title">Provider portal: <span>${provider.name}</span></h1>
      <p class="provider-free" data-testid="provider-free">${provider.bedsFree} ${provider.bedsFree === 1 ? "bed" : "beds"} free · ${provider.hoursFree} hours a week free</p>
    </div>
    ${error && html`<p class="error" role="alert">${messageOf(error)}</p>`}
    ${notice && html`<p class="banner done" role="status" tabindex="-1" ref=${noticeRef}>${notice}</p>`}
    <p class="summary" aria-live="polite">${[
      `${view.eligible.length} ${view.eligible.length === 1 ? "request" : "requests"} you may offer on`,
      `${liveOffers} ${liveOffers === 1 ? "offer" : "offers"} live`,
      `${placed} ${placed === 1 ? "placement" : "placements"} agreed`,
    ].join(" · ")}</p>
    <h2 id="eligible-title">Requests you may offer on</h2>
    ${view.eligible.length === 0
      ? html`<p class="empty">Nothing to offer on now. Requests you may take appear here as the council posts them.</p>`
      : html`<ul class="care-requests" aria-labelledby="eligible-title">${view.eligible.map((r) => html`<li key=${r.id}>
          <${EligibleRequest} request=${r} onOffer=${() => setOffering(r)} /></li>`)}</ul>`}
    <h2 id="offered-title">Your offers</h2>
    ${view.offered.length === 0
      ? html`<p class="empty">You have made no offers yet.</p>`
      : html`<ul class="care-requests" aria-labelledby="offered-title">${view.offered.map((r) => html`<li key=${r.id}>
          <${OfferedRequest} request=${r} /></li>`)}</ul>`}
    ${offering && html`<${Dialog} title=${`Make an offer: ${needOf(offering)} in ${offering.district}`} onClose=${() => setOffering(null)}>
      <${OfferForm} request=${offering} open=${view.eligible.some((r) => r.id === offering.id)}
        onSent=${(payload, pence) => sent(payload, offering, pence)} onCancel=${() => setOffering(null)} />
    <//>`}
  </section>`;
}

/** When a request's care is needed by and, while it is open, how long offers are taken. */
function RequestFacts({ request }) {
  return html`<dl class="task-facts">
    <div><dt>Start by</dt><dd>${day(request.startBy)}</dd></div>
    ${request.state === "OPEN" && html`<div><dt>Offers close</dt><dd><${Countdown} request=${request} /></dd></div>`}
    ${request.round > 1 && html`<div><dt>Round</dt><dd>${request.round}</dd></div>`}
    <div><dt>Posted</dt><dd>${when(request.postedAt)}</dd></div>
  </dl>`;
}

function EligibleRequest({ request, onOffer }) {
  const titleId = `eligible-${request.id}`;
  return html`<article class="care-request" aria-labelledby=${titleId} data-request=${request.id}>
    <h3 id=${titleId}>${needOf(request)} in ${request.district}</h3>
    <${RequestFacts} request=${request} />
    <${CareNeeds} needs=${request.careNeeds} />
    <button type="button" class="action" onClick=${onOffer}>Make an offer<span class="sr-only"> on ${needOf(request)} in ${request.district}</span></button>
  </article>`;
}

function OfferForm({ request, open, onSent, onCancel }) {
  const [values, setValues] = useState({ price: "", earliestStart: "", note: "" });
  const [errors, setErrors] = useState({});
  const [problem, setProblem] = useState(null);
  const [busy, setBusy] = useState(false);
  // The offer's command id (careflow derives the offer's id from it), kept until careflow
  // answers for certain: a retry after a lost answer is the same offer, not a second.
  const unsent = useRef(null);
  const set = (name) => (e) => {
    unsent.current = null;
    setValues({ ...values, [name]: e.currentTarget.value });
  };
  const check = () => {
    const found = {};
    const pence = penceOf(values.price);
    if (!values.price.trim()) found.weeklyPricePence = "Enter the weekly price, in pounds";
    else if (pence === null) found.weeklyPricePence = "Enter the weekly price in pounds and pence, e.g. 950.00";
    else if (pence === 0) found.weeklyPricePence = "The weekly price must be more than £0.00";
    else if (pence > MAX_PENCE) found.weeklyPricePence = `The weekly price must be at most ${pounds(MAX_PENCE)}`;
    if (!values.earliestStart) found.earliestStart = "Enter the earliest date the care can start";
    return found;
  };
  const submit = async (event) => {
    event.preventDefault();
    const found = check();
    setErrors(found);
    setProblem(null);
    if (Object.keys(found).length) return;
    const pence = penceOf(values.price);
    unsent.current ||= uuid();
    setBusy(true);
    try {
      const data = await graphql(MAKE_OFFER, {
        input: { commandId: unsent.current, requestId: request.id, weeklyPricePence: pence, earliestStart: values.earliestStart, note: values.note.trim() || null },
      });
      unsent.current = null;
      onSent(data.makeOffer, pence);
    } catch (error) {
      // Refused for certain: the next try is a new offer. Unanswered (offline): the same one.
      if (!(error instanceof Offline)) unsent.current = null;
      setBusy(false);
      const fields = {};
      for (const [field, description] of Object.entries(error.fields || {})) fields[field] = FIELDS[field] ? `${FIELDS[field]} ${description}` : description;
      setErrors(fields);
      if (!Object.keys(fields).length) setProblem(error instanceof Offline ? "careflow cannot be reached: send it again, and the same offer is sent." : messageOf(error));
    }
  };
  const field = (name, label, control, hint) => html`<${Field} label=${label} error=${errors[name]} hint=${hint}>${control}<//>`;
  return html`<form class="action-form" onSubmit=${submit} novalidate>
    <p>Who the person is stays hidden until the council accepts your offer.</p>
    ${!open && !busy && html`<p class="banner pending" role="status">This request is no longer open to your offers: careflow will refuse one now.</p>`}
    ${field("weeklyPricePence", "Weekly price (£)", (props) => html`<input ...${props} name="weeklyPrice" inputmode="decimal" autocomplete="off"
      value=${values.price} onInput=${set("price")} />`, "In pounds and pence, e.g. 950.00")}
    ${field("earliestStart", "Earliest start", (props) => html`<input ...${props} name="earliestStart" type="date"
      value=${values.earliestStart} onInput=${set("earliestStart")} />`, `The care is needed by ${day(request.startBy)}`)}
    ${field("note", "Note for the broker (optional)", (props) => html`<textarea ...${props} name="note" rows="3"
      value=${values.note} onInput=${set("note")} />`)}
    ${Object.keys(errors).filter((f) => !FIELDS[f]).map((f) => html`<p class="field-error" role="alert">${f}: ${errors[f]}</p>`)}
    ${problem && html`<p class="form-error" role="alert">${problem}</p>`}
    <div class="form-buttons">
      <button type="button" class="secondary" onClick=${onCancel}>Cancel</button>
      <button type="submit" class="primary" disabled=${busy}>${busy ? "Sending…" : "Send the offer"}</button>
    </div>
  </form>`;
}

/** The command id of a withdrawal not yet answered for certain, by offer. */
const withdrawing = new Map();

async function withdrawOffer(requestId, offerId) {
  if (!withdrawing.has(offerId)) withdrawing.set(offerId, uuid());
  try {
    await graphql(WITHDRAW, { input: { commandId: withdrawing.get(offerId), requestId, offerId } });
    withdrawing.delete(offerId);
  } catch (error) {
    if (!(error instanceof Offline)) withdrawing.delete(offerId);
    throw error;
  }
}

function OfferedRequest({ request }) {
  const titleId = `offered-${request.id}`;
  return html`<article class="care-request offered" aria-labelledby=${titleId} data-request=${request.id} data-state=${request.state}>
    <h3 id=${titleId}>${needOf(request)} in ${request.district}</h3>
    <p class="request-state">${REQUEST_STATES[request.state] || request.state}</p>
    <${RequestFacts} request=${request} />
    <ul class="own-offers">${request.offers.map((o) => html`<li key=${o.offerId}><${OwnOffer} request=${request} offer=${o} /></li>`)}</ul>
    <details class="needs"><summary>Care needs</summary><${CareNeeds} needs=${request.careNeeds} /></details>
  </article>`;
}

function OwnOffer({ request, offer }) {
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState(null);
  const withdraw = async () => {
    setBusy(true);
    setProblem(null);
    try {
      await withdrawOffer(request.id, offer.offerId);
    } catch (error) {
      setProblem(error instanceof Offline ? "careflow cannot be reached: withdraw again, and the same withdrawal is sent." : messageOf(error));
    }
    setBusy(false);
  };
  const placement = offer.state === "ACCEPTED" && request.placement?.offerId === offer.offerId ? request.placement : null;
  const person = request.person;
  return html`<div class="own-offer" data-offer=${offer.offerId} data-state=${offer.state}>
    <span class=${`badge ${offer.state.toLowerCase()}`} data-testid="offer-state">${offerStateText(offer)}</span>
    <span>${pounds(offer.weeklyPricePence)} a week, from ${day(offer.earliestStart)}</span>
    <span class="muted">offered ${when(offer.madeAt)}${offer.round !== request.round ? ` (round ${offer.round})` : ""}</span>
    ${placement && html`<p class="placement-agreed" data-testid="placement">Placement agreed${person
      ? `: ${personName(person)}, NHS ${formatNhs(person.nhsNumber)}, start ${day(placement.startDate)}`
      : `, start ${day(placement.startDate)}`}</p>`}
    ${offer.state === "LIVE" && html`<button type="button" class="secondary" disabled=${busy} onClick=${withdraw}>${busy ? "Withdrawing…" : "Withdraw"}<span class="sr-only"> your offer of ${pounds(offer.weeklyPricePence)} a week</span></button>`}
    ${problem && html`<p class="form-error" role="alert">${problem}</p>`}
  </div>`;
}
