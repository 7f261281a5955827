// The care market (#/market, #/market/<request>): a council's care requests in play, live over
// the careMarket subscription, each with its time left to offer; a request's offers ranked by
// the council's rule with each score explained, accepted by a broker; the placements agreed
// and their time to placement, the rule in force, the vacancy map and the providers.
// Also what the provider portal shares with it: a request's needs in words, money, countdowns.

import { useEffect, useRef, useState } from "preact/hooks";
import { Offline, graphql, subscribe, uuid } from "./api.js";
import { session, useStore } from "./session.js";
import { day, formatNhs, html, messageOf, useTick, when } from "./ui.js";

const OFFER = `offerId round provider providerName cqcRating cqcRatedOn homeDistrict weeklyPricePence earliestStart note
  state declined madeAt ranking { rank of score parts { criterion weight points contribution } explanation }`;

const REQUEST = `id council careType hoursPerWeek bedType district startBy weeklyBudgetPence careNeeds { section question answer }
  round windowClosesAt secondsLeft state postedAt placedAt hoursToPlacement reason offers { ${OFFER} }
  placement { offerId provider providerName weeklyPricePence startDate rank of score agreedAt }
  identified person { nhsNumber givenName familyName dateOfBirth postcode }`;

const MARKET = `council rule { quality cost start distance isDefault } requests { ${REQUEST} } finished { ${REQUEST} }
  providers { ods name cqcRating bedsFree hoursFree suspended }
  vacancies { district careType providers withVacancies bedsFree hoursFree lowestRatePence }`;

const ACCEPT = "mutation ($input: OfferInput!) { acceptOffer(input: $input) { visible careRequest { state placement { providerName startDate } } } }";

/** Roles that may accept an offer (careflow's "broker care"); commissioners only watch. */
const BROKERS = ["broker", "admin"];

const CARE_TYPES = { HOME_CARE: "Home care", REABLEMENT: "Reablement", RESIDENTIAL: "Residential care", NURSING: "Nursing care" };
const BED_TYPES = { STANDARD: "standard bed", DEMENTIA: "dementia bed", BARIATRIC: "bariatric bed" };
/** Care counted in hours a week; the rest in beds. */
const HOURS = ["HOME_CARE", "REABLEMENT"];

const CQC_RATINGS = { OUTSTANDING: "Outstanding", GOOD: "Good", REQUIRES_IMPROVEMENT: "Requires improvement", INADEQUATE: "Inadequate" };

const REQUEST_STATES = {
  OPEN: "Open for offers",
  WINDOW_CLOSED: "Offers closed: to decide",
  WITHDRAWN: "Withdrawn",
  PLACED: "Placed",
  CANCELLED: "Cancelled",
};

/** States after which a request is finished: it leaves the requests in play. */
const FINISHED = ["PLACED", "CANCELLED"];

const OFFER_STATES = { LIVE: "Live", WITHDRAWN: "Withdrawn", DECLINED: "Declined", ACCEPTED: "Accepted", HANDED_BACK: "Handed back" };

const DECLINED = {
  ANOTHER_OFFER_ACCEPTED: "another offer was accepted",
  REQUEST_WITHDRAWN: "the request was withdrawn",
  REQUEST_REPOSTED: "the request was posted again",
  REQUEST_CANCELLED: "the request was cancelled",
};

const CRITERIA = { QUALITY: "Quality (CQC rating)", COST: "Cost", START: "Start date", DISTANCE: "Distance" };

const GBP = new Intl.NumberFormat("en-GB", { style: "currency", currency: "GBP" });

/** Pence as "£1,234.50". */
export function pounds(pence) {
  return pence == null ? "" : GBP.format(pence / 100);
}

/** What a request needs, in words: "Residential care, standard bed", "Home care, 14 hours a week". */
export function needOf(request) {
  const care = CARE_TYPES[request.careType] || request.careType;
  if (request.hoursPerWeek != null) return `${care}, ${request.hoursPerWeek} ${request.hoursPerWeek === 1 ? "hour" : "hours"} a week`;
  if (request.bedType) return `${care}, ${BED_TYPES[request.bedType] || request.bedType}`;
  return care;
}

/** The person's name as careflow holds it, e.g. "Ada Quillfeather". */
export function personName(person) {
  return [person?.givenName, person?.familyName].filter(Boolean).join(" ") || "Name not recorded";
}

/** A decline, or any other state of an offer, in words. */
export function offerStateText(offer) {
  if (offer.state === "DECLINED" && offer.declined) return `Declined: ${DECLINED[offer.declined] || offer.declined}`;
  return OFFER_STATES[offer.state] || offer.state;
}

/** "26 h 30 min", "45 min", "3 days": a time to placement, given in hours. */
function duration(hours) {
  const minutes = Math.max(0, Math.round(hours * 60));
  if (minutes < 60) return `${minutes} min`;
  if (minutes < 48 * 60) return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
  return `${Math.round(minutes / (24 * 60))} days`;
}

/** "2 days 3 h", "3 h 20 min", "12 min 5 s": what is left of `ms`. */
function timeLeft(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  const days = Math.floor(s / 86400);
  const hours = Math.floor((s % 86400) / 3600);
  const minutes = Math.floor((s % 3600) / 60);
  if (days) return `${days} ${days === 1 ? "day" : "days"} ${hours} h`;
  if (hours) return `${hours} h ${minutes} min`;
  return `${minutes} min ${s % 60} s`;
}

/** `request` with the moment its window closes by this browser's clock: careflow says how many
 * seconds were left when it sent it, so a tablet whose clock is wrong still counts down right. */
export function stamped(request) {
  return { ...request, closesBy: Date.now() + request.secondsLeft * 1000 };
}

/** The time left to offer, counting down each second. */
export function Countdown({ request }) {
  useTick(1000);
  const left = request.closesBy - Date.now();
  if (left <= 0) return html`<span class="countdown soon">Closing now</span>`;
  return html`<span class=${`countdown ${left < 3600000 ? "soon" : ""}`}>${timeLeft(left)} left</span>`;
}

/** The CQC rating in words, coloured. */
function CqcBadge({ rating }) {
  return html`<span class=${`badge cqc ${rating.toLowerCase()}`}>CQC: ${CQC_RATINGS[rating] || rating}</span>`;
}

/** The care-needs summary, by section: what the trusted assessment says, naming nobody. */
export function CareNeeds({ needs }) {
  if (!needs.length) return html`<p class="muted">The assessment gives no care-needs summary.</p>`;
  const sections = [];
  for (const need of needs) {
    let section = sections.find((s) => s.name === need.section);
    if (!section) sections.push((section = { name: need.section, items: [] }));
    section.items.push(need);
  }
  return html`<table class="care-needs" data-testid="care-needs">
    <caption>Care needs, from the trusted assessment</caption>
    ${sections.map((s) => html`<tbody>
      <tr><th scope="rowgroup" colspan="2" class="needs-section">${s.name}</th></tr>
      ${s.items.map((n) => html`<tr><th scope="row">${n.question}</th><td>${n.answer}</td></tr>`)}
    </tbody>`)}
  </table>`;
}

/** The market as it arrived whole. */
function marketOf(market) {
  return { ...market, requests: market.requests.map(stamped), finished: market.finished.map(stamped) };
}

/** `market` with the requests that changed: each replaces its older self; a placed or cancelled
 * one goes to the finished (the latest first), one back in play (handed back) to the rest. */
function withChanges(market, changed) {
  let { requests, finished } = market;
  for (const request of changed.map(stamped)) {
    const has = (list) => list.some((r) => r.id === request.id);
    const replaced = (list) => list.map((r) => (r.id === request.id ? request : r));
    if (FINISHED.includes(request.state)) {
      requests = requests.filter((r) => r.id !== request.id);
      finished = has(finished) ? replaced(finished) : [request, ...finished];
    } else {
      finished = finished.filter((r) => r.id !== request.id);
      requests = has(requests) ? replaced(requests) : [...requests, request].sort((a, b) => a.postedAt.localeCompare(b.postedAt));
    }
  }
  return { ...market, requests, finished };
}

/** The market's figures, by the same sums as careflow's (kept right between whole pushes). */
function figuresOf(market) {
  const hours = market.finished.map((r) => r.hoursToPlacement).filter((h) => h != null);
  return {
    active: market.requests.length,
    open: market.requests.filter((r) => r.state === "OPEN").length,
    placed: hours.length,
    meanHours: hours.length ? hours.reduce((a, b) => a + b, 0) / hours.length : null,
  };
}

/** "a, b and c". */
function listed(words) {
  return words.length < 2 ? words.join("") : `${words.slice(0, -1).join(", ")} and ${words[words.length - 1]}`;
}

/** The command id of an acceptance not yet answered for certain, by offer: a retry after a lost
 * answer is the same acceptance, not a second. */
const accepting = new Map();

async function acceptOffer(requestId, offerId) {
  if (!accepting.has(offerId)) accepting.set(offerId, uuid());
  try {
    const data = await graphql(ACCEPT, { input: { commandId: accepting.get(offerId), requestId, offerId } });
    accepting.delete(offerId);
    return data.acceptOffer.careRequest;
  } catch (error) {
    // Refused for certain: the next click is a new acceptance. Unanswered (offline): the same one.
    if (!(error instanceof Offline)) accepting.delete(offerId);
    throw error;
  }
}

export function CareMarket({ requestId }) {
  const who = useStore(session);
  const broker = BROKERS.includes(who?.claims?.role);
  const [market, setMarket] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    let live = true;
    const stop = subscribe(`subscription { careMarket { full market { ${MARKET} } changed { ${REQUEST} } } }`, {},
      (data) => {
        if (!live) return;
        const update = data.careMarket;
        setError(null);
        // A whole market (the first, after a change of rule: everything re-ranked) replaces all.
        setMarket((now) => (update.full ? marketOf(update.market) : now && withChanges(now, update.changed)));
      },
      (e) => live && setError(e));
    return () => {
      live = false;
      stop();
    };
  }, [who?.token]);
  // A request chosen: its offers are where the person is now.
  useEffect(() => {
    if (requestId && market) document.getElementById("request-title")?.focus();
  }, [requestId, !!market]);

  if (error && !market) return html`<p class="error" role="alert">${messageOf(error)}</p>`;
  if (!market) return html`<p class="loading">Loading the care market…</p>`;
  const selected = requestId && (market.requests.find((r) => r.id === requestId) || market.finished.find((r) => r.id === requestId));
  return html`<section aria-labelledby="market-title">
    <div class="toolbar"><h1 id="market-title">Care market: <span>${market.council}</span></h1></div>
    ${error && html`<p class="error" role="alert">${messageOf(error)}</p>`}
    <${Figures} market=${market} />
    <${RuleInForce} rule=${market.rule} />
    <h2 id="requests-title">Requests in play</h2>
    <${Requests} requests=${market.requests} selected=${requestId} />
    ${requestId && (selected
      ? html`<${RequestDetail} key=${requestId} request=${selected} broker=${broker} />`
      : html`<${RequestLookup} key=${requestId} requestId=${requestId} broker=${broker} />`)}
    <h2 id="finished-title">Placements and cancellations</h2>
    <${Finished} requests=${market.finished} selected=${requestId} />
    <h2>Vacancies by district</h2>
    <${VacancyMap} vacancies=${market.vacancies} />
    <h2>Providers</h2>
    <${Providers} providers=${market.providers} />
  </section>`;
}

function Figures({ market }) {
  const f = figuresOf(market);
  return html`<dl class="capacity" aria-label="The market in figures" data-testid="market-figures">
    <div class="count total"><dt>In play</dt><dd>${f.active}</dd></div>
    <div class="count available"><dt>Open for offers</dt><dd>${f.open}</dd></div>
    <div class="count occupied"><dt>Placements agreed</dt><dd>${f.placed}</dd></div>
    <div class="count reserved"><dt>Mean time to placement</dt><dd>${f.meanHours == null ? "—" : duration(f.meanHours)}</dd></div>
  </dl>`;
}

function RuleInForce({ rule }) {
  const weights = [["quality", "quality (the CQC rating)"], ["cost", "cost"], ["start", "start date"], ["distance", "distance"]]
    .filter(([key]) => rule[key] > 0)
    .map(([key, words]) => `${words} ${rule[key]}%`);
  return html`<p class="rule" data-testid="rule">Offers are ranked on ${listed(weights)}${rule.isDefault
    ? ": careflow's default, as the council has set no rule of its own."
    : ": the council's rule."}</p>`;
}

/** Whether the offers of `request` still close, or what became of them. */
function WindowState({ request }) {
  if (request.state === "OPEN") return html`<${Countdown} request=${request} />`;
  return REQUEST_STATES[request.state] || request.state;
}

function Requests({ requests, selected }) {
  if (!requests.length) return html`<p class="empty">No requests in play. Requests the council posts appear here as they are posted.</p>`;
  return html`<table class="market-table requests" aria-labelledby="requests-title">
    <thead><tr><th scope="col">Care needed</th><th scope="col">District</th><th scope="col">Start by</th><th scope="col">Budget</th>
      <th scope="col">Offers close</th><th scope="col">Live offers</th></tr></thead>
    <tbody>${requests.map((r) => {
      const chosen = r.id === selected;
      return html`<tr key=${r.id} data-request=${r.id} data-state=${r.state} class=${chosen ? "selected" : ""}>
        <th scope="row"><a class="request-link" href=${`#/market/${r.id}`} aria-current=${chosen ? "true" : undefined}>${needOf(r)}</a></th>
        <td>${r.district}</td><td>${day(r.startBy)}</td>
        <td>${r.weeklyBudgetPence != null ? `${pounds(r.weeklyBudgetPence)} a week` : "—"}</td>
        <td><${WindowState} request=${r} /></td>
        <td data-testid="offer-count">${r.offers.filter((o) => o.state === "LIVE").length}</td>
      </tr>`;
    })}</tbody>
  </table>`;
}

function Finished({ requests, selected }) {
  if (!requests.length) return html`<p class="empty">No placement agreed or request cancelled yet.</p>`;
  return html`<table class="market-table finished" aria-labelledby="finished-title" data-testid="finished">
    <thead><tr><th scope="col">Care needed</th><th scope="col">District</th><th scope="col">Outcome</th><th scope="col">Weekly price</th>
      <th scope="col">Starts</th><th scope="col">Time to placement</th></tr></thead>
    <tbody>${requests.map((r) => html`<tr key=${r.id} data-request=${r.id} data-state=${r.state} class=${r.id === selected ? "selected" : ""}>
      <th scope="row"><a class="request-link" href=${`#/market/${r.id}`} aria-current=${r.id === selected ? "true" : undefined}>${needOf(r)}</a></th>
      <td>${r.district}</td>
      <td>${r.placement ? `Placed with ${r.placement.providerName}` : `${REQUEST_STATES[r.state] || r.state}${r.reason ? `: ${r.reason}` : ""}`}</td>
      <td>${r.placement ? `${pounds(r.placement.weeklyPricePence)} a week` : "—"}</td>
      <td>${r.placement ? day(r.placement.startDate) : "—"}</td>
      <td>${r.hoursToPlacement != null ? duration(r.hoursToPlacement) : "—"}</td>
    </tr>`)}</tbody>
  </table>`;
}

/** A request not in the market's lists (an older one, bookmarked): read once. */
function RequestLookup({ requestId, broker }) {
  const [request, setRequest] = useState(undefined);
  const [error, setError] = useState(null);
  useEffect(() => {
    let current = true;
    graphql(`query ($id: ID!) { careRequest(id: $id) { ${REQUEST} } }`, { id: requestId })
      .then((data) => current && setRequest(data.careRequest && stamped(data.careRequest)))
      .catch((e) => current && setError(e));
    return () => {
      current = false;
    };
  }, [requestId]);
  if (error) return html`<p class="error" role="alert">${messageOf(error)}</p>`;
  if (request === undefined) return html`<p class="loading">Loading the request…</p>`;
  if (!request) return html`<p class="empty">There is no such care request (or none you may see).</p>`;
  return html`<${RequestDetail} request=${request} broker=${broker} />`;
}

function RequestDetail({ request, broker }) {
  const [notice, setNotice] = useState(null);
  const noticeRef = useRef(null);
  useEffect(() => {
    if (notice) noticeRef.current?.focus();
  }, [notice]);
  const decidable = ["OPEN", "WINDOW_CLOSED"].includes(request.state);
  const person = request.person;
  const accepted = (placed, offer) => {
    const placement = placed?.placement;
    setNotice(`Placement agreed with ${placement?.providerName || offer.providerName}, starting ${day(placement?.startDate || offer.earliestStart)}. Every other offer was declined.`);
  };
  return html`<section class="request-detail" aria-labelledby="request-title" data-request=${request.id} data-testid="request-detail">
    <h2 id="request-title" tabindex="-1">${needOf(request)} in ${request.district}</h2>
    <dl class="task-facts">
      <div><dt>State</dt><dd>${REQUEST_STATES[request.state] || request.state}</dd></div>
      <div><dt>Start by</dt><dd>${day(request.startBy)}</dd></div>
      ${request.weeklyBudgetPence != null && html`<div><dt>Budget</dt><dd>${pounds(request.weeklyBudgetPence)} a week</dd></div>`}
      <div><dt>Offers close</dt><dd>${request.state === "OPEN" ? html`<${Countdown} request=${request} />`
        : request.state === "WINDOW_CLOSED" ? `Closed ${when(request.windowClosesAt)}` : "Closed"}</dd></div>
      ${request.round > 1 && html`<div><dt>Round</dt><dd>${request.round}</dd></div>`}
      <div><dt>Posted</dt><dd>${when(request.postedAt)}</dd></div>
    </dl>
    ${request.reason && html`<p>Why it was ${request.state === "CANCELLED" ? "cancelled" : "withdrawn"}: ${request.reason}</p>`}
    ${notice && html`<p class="banner done" role="status" tabindex="-1" ref=${noticeRef}>${notice}</p>`}
    ${request.placement && html`<${PlacementFacts} request=${request} />`}
    <h3>Who it is for</h3>
    ${person
      ? html`<dl class="demographics" data-testid="person">
          <div><dt>Name</dt><dd data-testid="person-name">${personName(person)}</dd></div>
          <div><dt>NHS number</dt><dd><a href=${`#/patient/${person.nhsNumber}`}>${formatNhs(person.nhsNumber)}</a></dd></div>
          ${person.dateOfBirth && html`<div><dt>Born</dt><dd>${day(person.dateOfBirth)}</dd></div>`}
          ${person.postcode && html`<div><dt>Postcode</dt><dd>${person.postcode}</dd></div>`}
        </dl>`
      : html`<p class="muted">Only the council's brokers see who the person is.</p>`}
    <h3>Offers</h3>
    ${request.offers.length === 0
      ? html`<p class="empty">No offers yet. Every eligible provider has been told of the request, without who it is for.</p>`
      : html`<ul class="offers">${request.offers.map((o) => html`<${OfferCard} key=${o.offerId} request=${request} offer=${o}
          canAccept=${broker && decidable && o.state === "LIVE"} onAccepted=${accepted} />`)}</ul>`}
    <${CareNeeds} needs=${request.careNeeds} />
  </section>`;
}

function PlacementFacts({ request }) {
  const p = request.placement;
  return html`<dl class="task-facts placement" data-testid="placement">
    <div><dt>Placed with</dt><dd>${p.providerName}</dd></div>
    <div><dt>Weekly price</dt><dd>${pounds(p.weeklyPricePence)} a week</dd></div>
    <div><dt>Starts</dt><dd>${day(p.startDate)}</dd></div>
    <div><dt>Ranked when accepted</dt><dd>${p.rank} of ${p.of} (score ${p.score.toFixed(2)})</dd></div>
    <div><dt>Agreed</dt><dd>${when(p.agreedAt)}</dd></div>
    ${request.hoursToPlacement != null && html`<div><dt>Time to placement</dt><dd>${duration(request.hoursToPlacement)}</dd></div>`}
  </dl>`;
}

function OfferCard({ request, offer, canAccept, onAccepted }) {
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState(null);
  const ranking = offer.ranking;
  const headingId = `offer-${offer.offerId}`;
  const accept = async () => {
    const question = `Accept ${offer.providerName}'s offer of ${pounds(offer.weeklyPricePence)} a week, starting ${day(offer.earliestStart)}? Every other offer on this request is declined.`;
    if (!window.confirm(question)) return;
    setBusy(true);
    setProblem(null);
    try {
      onAccepted(await acceptOffer(request.id, offer.offerId), offer);
    } catch (error) {
      setProblem(error instanceof Offline ? "careflow cannot be reached: accept again, and the same acceptance is sent." : messageOf(error));
    }
    setBusy(false);
  };
  return html`<li><article class=${`offer ${offer.state === "LIVE" ? "" : "not-live"}`} aria-labelledby=${headingId}
      data-offer=${offer.offerId} data-provider=${offer.provider} data-state=${offer.state}>
    <div class="offer-head">
      <h4 id=${headingId}>${offer.providerName}</h4>
      ${ranking && html`<span class="rank" data-testid="rank">Ranked ${ranking.rank} of ${ranking.of}</span>`}
      <${CqcBadge} rating=${offer.cqcRating} />
      ${offer.state !== "LIVE" && html`<span class=${`badge ${offer.state.toLowerCase()}`}>${offerStateText(offer)}</span>`}
    </div>
    <dl class="task-facts">
      <div><dt>Weekly price</dt><dd>${pounds(offer.weeklyPricePence)} a week</dd></div>
      <div><dt>Earliest start</dt><dd>${day(offer.earliestStart)}</dd></div>
      ${ranking && html`<div><dt>Score</dt><dd>${ranking.score.toFixed(2)} of 100</dd></div>`}
      <div><dt>CQC rating</dt><dd>${CQC_RATINGS[offer.cqcRating]}, published ${day(offer.cqcRatedOn)}</dd></div>
      <div><dt>Based in</dt><dd>${offer.homeDistrict}</dd></div>
      <div><dt>Offered</dt><dd>${when(offer.madeAt)}</dd></div>
    </dl>
    ${offer.note && html`<p class="note">Note from ${offer.providerName}: ${offer.note}</p>`}
    ${ranking && html`<${ScoreParts} ranking=${ranking} />`}
    ${canAccept && html`<div class="form-buttons"><button type="button" class="primary" disabled=${busy} onClick=${accept}>${busy ? "Accepting…" : "Accept"}<span class="sr-only"> the offer of ${offer.providerName}</span></button></div>`}
    ${problem && html`<p class="form-error" role="alert">${problem}</p>`}
  </article></li>`;
}

/** How an offer's score was made: each criterion of the rule, its weight, the offer's points on
 * it and what that adds. */
function ScoreParts({ ranking }) {
  return html`<table class="score-parts" data-testid="explanation">
    <caption>How the score was made</caption>
    <thead><tr><th scope="col">Criterion</th><th scope="col">Weight</th><th scope="col">Points (of 100)</th><th scope="col">Adds</th></tr></thead>
    <tbody>${ranking.parts.filter((p) => p.weight > 0).map((p) => html`<tr data-criterion=${p.criterion}>
      <th scope="row">${CRITERIA[p.criterion] || p.criterion}</th><td>${p.weight}%</td><td>${p.points.toFixed(2)}</td><td>${p.contribution.toFixed(2)}</td>
    </tr>`)}</tbody>
    <tfoot><tr><th scope="row" colspan="3">Score</th><td>${ranking.score.toFixed(2)}</td></tr></tfoot>
  </table>`;
}

function VacancyMap({ vacancies }) {
  if (!vacancies.length) return html`<p class="empty">No provider is registered yet.</p>`;
  const districts = [...new Set(vacancies.map((v) => v.district))].sort((a, b) => a.localeCompare(b, "en", { numeric: true }));
  const types = Object.keys(CARE_TYPES).filter((t) => vacancies.some((v) => v.careType === t));
  const cell = (district, type) => {
    const v = vacancies.find((x) => x.district === district && x.careType === type);
    if (!v || !v.providers) return html`<span aria-hidden="true">—</span><span class="sr-only">No provider</span>`;
    const free = HOURS.includes(type) ? `${v.hoursFree} h a week free` : `${v.bedsFree} ${v.bedsFree === 1 ? "bed" : "beds"} free`;
    return html`<strong>${free}</strong>
      <span class="vacancy-detail">${v.withVacancies} of ${v.providers} ${v.providers === 1 ? "provider" : "providers"} with room${v.lowestRatePence != null ? ` · from ${pounds(v.lowestRatePence)} a week` : ""}</span>`;
  };
  return html`<table class="market-table vacancy-map" data-testid="vacancy-map">
    <caption class="sr-only">Beds and hours free by postcode district and care type</caption>
    <thead><tr><th scope="col">District</th>${types.map((t) => html`<th scope="col">${CARE_TYPES[t]}</th>`)}</tr></thead>
    <tbody>${districts.map((d) => html`<tr data-district=${d}><th scope="row">${d}</th>
      ${types.map((t) => html`<td data-care-type=${t}>${cell(d, t)}</td>`)}</tr>`)}</tbody>
  </table>`;
}

function Providers({ providers }) {
  if (!providers.length) return null;
  return html`<table class="market-table providers">
    <caption class="sr-only">Every provider, its rating and what it has free</caption>
    <thead><tr><th scope="col">Provider</th><th scope="col">CQC rating</th><th scope="col">Beds free</th><th scope="col">Hours a week free</th>
      <th scope="col">Status</th></tr></thead>
    <tbody>${providers.map((p) => html`<tr data-provider=${p.ods}>
      <th scope="row">${p.name} <span class="muted">(${p.ods})</span></th>
      <td><${CqcBadge} rating=${p.cqcRating} /></td><td>${p.bedsFree}</td><td>${p.hoursFree}</td>
      <td>${p.suspended ? html`<span class="badge declined">Suspended</span> ${p.suspended}` : "Taking requests"}</td>
    </tr>`)}</tbody>
  </table>`;
}
