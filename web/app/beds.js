// The bed board: pick a site and ward; every bed a tile (state in colour, word and icon, time in
// state, patient as the policy allows, dates, pathway, flags); the ward's capacity above. Tap a
// bed for the actions legal from its state. Changes made elsewhere arrive over the bedBoard
// subscription.

import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { command, graphql, subscribe } from "./api.js";
import { session, useStore } from "./session.js";
import { Dialog, Field, day, formatNhs, html, messageOf, nhsNumberProblem, route, since, today, usePending, useTick, waitingFor } from "./ui.js";

const BED_FIELDS = `id label status since stayId expectedDischargeDate medicallyOptimised dischargeReadyDate
  pathway reservedFor blockedReason patient { nhsNumber givenName familyName activeFlags }`;

/** Each state: words, an icon (not colour alone), a class for its colour. */
export const STATES = {
  AVAILABLE: { text: "Available", icon: "✓", css: "available" },
  RESERVED: { text: "Reserved", icon: "◆", css: "reserved" },
  OCCUPIED: { text: "Occupied", icon: "●", css: "occupied" },
  AWAITING_CLEANING: { text: "Awaiting cleaning", icon: "✱", css: "cleaning" },
  BLOCKED: { text: "Blocked", icon: "⊘", css: "blocked" },
};

export const FLAGS = {
  END_OF_LIFE_CARE_PLAN: { icon: "❀", text: "End of life care plan" },
  FRAILTY: { icon: "F", text: "Frailty" },
  LEARNING_DISABILITY: { icon: "LD", text: "Learning disability" },
  SAFEGUARDING: { icon: "S", text: "Safeguarding" },
  FALLS_RISK: { icon: "⚠", text: "Falls risk" },
  INFECTION_CONTROL: { icon: "☣", text: "Infection control" },
};

const BLOCK_REASONS = { INFECTION_CONTROL: "Infection control", MAINTENANCE: "Maintenance", STAFFING: "Staffing" };

const DESTINATIONS = {
  USUAL_RESIDENCE: "Usual place of residence",
  TEMPORARY_RESIDENCE: "Temporary residence",
  CARE_HOME: "Care home",
  NURSING_HOME: "Nursing home",
  COMMUNITY_BED: "Community or rehabilitation bed",
  OTHER_HOSPITAL: "Another hospital",
  HOSPICE: "Hospice",
};

const PATHWAYS = {
  0: "0 — home, no new support",
  1: "1 — home with new support",
  2: "2 — rehabilitation or short-term bed",
  3: "3 — care home placement",
};

/** How long a bed has been in its state: "for 3 h 20 min", or "since just now". */
function inState(iso) {
  const text = since(iso);
  return text === "just now" ? "since just now" : `for ${text}`;
}

/** Which actions a role takes on beds: all of them, cleaning only, or none. */
function bedActionsFor(role) {
  if (["ward_nurse", "ward_clerk", "bed_manager", "admin"].includes(role)) return "all";
  if (role === "housekeeping") return "cleaning";
  return "none";
}

/** The ward's counts, from its beds (the same rules as careflow's capacity read model). */
export function capacityOf(beds) {
  const count = (status) => beds.filter((b) => b.status === status).length;
  return {
    total: beds.length,
    occupied: count("OCCUPIED"),
    available: count("AVAILABLE"),
    awaitingCleaning: count("AWAITING_CLEANING"),
    blocked: count("BLOCKED"),
    reserved: count("RESERVED"),
    medicallyOptimisedInBed: beds.filter((b) => b.status === "OCCUPIED" && b.medicallyOptimised).length,
  };
}

/** Sites and their wards, for the pickers. */
export function useSites() {
  const [sites, setSites] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    graphql("{ sites { id name wards { id name specialty } } }")
      .then((data) => setSites(data.sites))
      .catch(setError);
  }, []);
  return [sites, error];
}

export function CapacityBar({ capacity, label }) {
  const items = [
    ["Occupied", capacity.occupied, "occupied"],
    ["Available", capacity.available, "available"],
    ["Awaiting cleaning", capacity.awaitingCleaning, "cleaning"],
    ["Blocked", capacity.blocked, "blocked"],
    ["Reserved", capacity.reserved, "reserved"],
    ["Medically optimised, still in a bed", capacity.medicallyOptimisedInBed, "optimised"],
  ];
  return html`<dl class="capacity" aria-label=${label}>
    <div class="count total"><dt>Beds</dt><dd>${capacity.total}</dd></div>
    ${items.map(([text, n, css]) => html`<div class="count ${css}"><dt>${text}</dt><dd>${n}</dd></div>`)}
  </dl>`;
}

export function BedBoard({ siteId, wardId, navigate }) {
  const [sites, sitesError] = useSites();
  const site = sites?.find((s) => s.id === siteId);
  const ward = site?.wards.find((w) => w.id === wardId);

  useEffect(() => {
    // Read the address now: it may have moved on since this render.
    const [screen, nowSite, nowWard] = route();
    if (!sites?.length || screen !== "beds") return;
    const current = sites.find((s) => s.id === nowSite);
    if (!current) navigate(`#/beds/${sites[0].id}/${sites[0].wards[0]?.id || ""}`, true);
    else if (!current.wards.some((w) => w.id === nowWard) && current.wards.length) {
      navigate(`#/beds/${current.id}/${current.wards[0].id}`, true);
    }
  }, [sites, siteId, wardId]);

  if (sitesError) return html`<p class="error" role="alert">${messageOf(sitesError)}</p>`;
  if (!sites) return html`<p class="loading">Loading sites…</p>`;
  return html`<section aria-labelledby="board-title">
    <div class="toolbar">
      <h1 id="board-title">Bed board${ward ? html`: <span>${ward.name}</span>` : ""}</h1>
      <div class="pickers">
        <${Field} label="Site">${(props) => html`<select ...${props} value=${siteId}
          onChange=${(e) => {
            const next = sites.find((s) => s.id === e.currentTarget.value);
            navigate(`#/beds/${next.id}/${next.wards[0]?.id || ""}`);
          }}>${sites.map((s) => html`<option value=${s.id}>${s.name}</option>`)}</select>`}<//>
        <${Field} label="Ward">${(props) => html`<select ...${props} value=${wardId}
          onChange=${(e) => navigate(`#/beds/${siteId}/${e.currentTarget.value}`)}>
          ${(site?.wards || []).map((w) => html`<option value=${w.id}>${w.name}</option>`)}</select>`}<//>
      </div>
    </div>
    ${ward && html`<${Board} key=${ward.id} ward=${ward} />`}
  </section>`;
}

function Board({ ward }) {
  const [beds, setBeds] = useState(null);
  const [error, setError] = useState(null);
  const [open, setOpen] = useState(null);
  const pending = usePending();
  useTick(30000);

  useEffect(() => {
    let live = true;
    let loaded = false;
    // Pushes since the last read was asked for: as new as its answer, or newer.
    let pushed = new Map();
    let reads = 0;
    const merge = (bed) => {
      pushed.set(bed.id, bed);
      setError(null);
      // Until the first read answers, the board is not shown: a push alone is not the board.
      if (loaded) setBeds((current) => new Map(current || []).set(bed.id, bed));
    };
    const load = () => {
      const read = ++reads;
      pushed = new Map();
      graphql(`query ($w: ID!) { bedBoard(wardId: $w) { ${BED_FIELDS} } }`, { w: ward.id })
        .then((data) => {
          // An older read answering late is not newer than a later one.
          if (!live || read !== reads) return;
          const next = new Map(data.bedBoard.map((b) => [b.id, b]));
          for (const [id, bed] of pushed) next.set(id, bed);
          loaded = true;
          setError(null);
          setBeds(next);
        })
        .catch((e) => live && read === reads && setError(e));
    };
    // `load` runs again each time the subscription goes live, for what changed before it did.
    const stop = subscribe(`subscription ($w: ID!) { bedBoard(wardId: $w) { ${BED_FIELDS} } }`, { w: ward.id },
      (data) => live && merge(data.bedBoard), (e) => live && setError(e), load);
    load();
    return () => {
      live = false;
      stop();
    };
  }, [ward.id]);

  const list = useMemo(() => [...(beds?.values() || [])].sort((a, b) => a.label.localeCompare(b.label, "en", { numeric: true })), [beds]);
  if (error && !beds) return html`<p class="error" role="alert">${messageOf(error)}</p>`;
  if (!beds) return html`<p class="loading">Loading the board…</p>`;
  const selected = open && beds.get(open);
  return html`
    ${error && html`<p class="error" role="alert">${messageOf(error)}</p>`}
    <${CapacityBar} capacity=${capacityOf(list)} label=${`${ward.name} capacity`} />
    <ul class="tiles" aria-label=${`Beds of ${ward.name}`}>
      ${list.map((bed) => html`<li key=${bed.id}><${Tile} bed=${bed} waiting=${waitingFor(pending, { bedId: bed.id, stayId: bed.stayId })}
        onOpen=${() => setOpen(bed.id)} /></li>`)}
    </ul>
    ${selected && html`<${BedDialog} bed=${selected} ward=${ward} beds=${list} onClose=${() => setOpen(null)} />`}`;
}

function Tile({ bed, waiting, onOpen }) {
  const state = STATES[bed.status];
  const patient = bed.patient;
  return html`<button type="button" class="tile ${state.css}" data-bed=${bed.id} data-status=${bed.status} onClick=${onOpen}>
    <span class="tile-head"><span class="label"><span class="sr-only">Bed </span>${bed.label}</span>
      <span class="state"><span aria-hidden="true">${state.icon}</span> ${state.text}</span></span>
    <span class="since">${inState(bed.since)}</span>
    ${patient && html`<span class="tile-patient">${patient.familyName.toUpperCase()}, ${patient.givenName}</span>`}
    ${bed.status === "OCCUPIED" && !patient && html`<span class="tile-patient muted">Patient not shown</span>`}
    ${bed.expectedDischargeDate && html`<span class="edd">EDD ${day(bed.expectedDischargeDate)}</span>`}
    ${bed.medicallyOptimised && html`<span class="mo">Medically optimised${bed.pathway != null ? ` · P${bed.pathway}` : ""}</span>`}
    ${bed.blockedReason && html`<span class="reason">${BLOCK_REASONS[bed.blockedReason]}</span>`}
    ${waiting && html`<span class="waiting"><span aria-hidden="true">⧗</span> Change waiting to be sent</span>`}
    ${patient?.activeFlags?.length > 0 && html`<span class="flags">${patient.activeFlags.map((f) =>
      html`<span class="flag" title=${FLAGS[f]?.text}><span aria-hidden="true">${FLAGS[f]?.icon}</span><span class="sr-only">${FLAGS[f]?.text}</span></span>`)}</span>`}
  </button>`;
}

/** The actions legal from `bed`'s state, for `role`. */
export function actionsFor(bed, role) {
  const may = bedActionsFor(role);
  if (may === "none") return [];
  if (may === "cleaning") return bed.status === "AWAITING_CLEANING" ? ["clean"] : [];
  switch (bed.status) {
    case "AVAILABLE": return ["admit", "reserve", "block"];
    case "RESERVED": return ["admit", "release"];
    case "OCCUPIED": return ["transfer", "edd", "optimised", "discharge"];
    case "AWAITING_CLEANING": return ["clean", "block"];
    case "BLOCKED": return ["unblock"];
    default: return [];
  }
}

const ACTION_NAMES = {
  admit: "Admit a patient",
  reserve: "Reserve",
  release: "Release the reservation",
  block: "Block",
  unblock: "Unblock",
  transfer: "Transfer",
  edd: "Set expected discharge date",
  optimised: "Mark medically optimised",
  discharge: "Discharge",
  clean: "Mark cleaned",
};

function BedDialog({ bed, beds, ward, onClose }) {
  const who = useStore(session);
  const actions = actionsFor(bed, who?.claims?.role);
  const [action, setAction] = useState(actions.length === 1 ? actions[0] : null);
  // While a command is on its way the form stays, to show its answer (its own push may come first).
  const busy = useRef(false);
  const state = STATES[bed.status];
  useEffect(() => {
    // The bed changed meanwhile, elsewhere: offer what is legal now.
    if (action && !busy.current && !actionsFor(bed, who?.claims?.role).includes(action)) setAction(null);
  }, [bed.status]);
  return html`<${Dialog} title=${`${bed.label}, ${ward.name}`} onClose=${onClose}>
    <p class="dialog-state"><span class="badge ${state.css}"><span aria-hidden="true">${state.icon}</span> ${state.text}</span> ${inState(bed.since)}
      ${bed.patient && html` · ${bed.patient.givenName} ${bed.patient.familyName}, NHS ${formatNhs(bed.patient.nhsNumber)}`}</p>
    ${actions.length === 0 && html`<p>Nothing you can do to this bed in its state.</p>`}
    ${!action && actions.length > 0 && html`<div class="actions">${actions.map((a) =>
      html`<button type="button" class="action" onClick=${() => setAction(a)}>${ACTION_NAMES[a]}</button>`)}</div>`}
    ${action && html`<${ActionForm} key=${action} action=${action} bed=${bed} beds=${beds} busyRef=${busy} onDone=${onClose} onBack=${actions.length > 1 ? () => setAction(null) : null} />`}
  <//>`;
}

const MUTATIONS = {
  admit: "mutation ($input: AdmitPatientInput!) { admitPatient(input: $input) { stayId visible } }",
  reserve: "mutation ($input: ReserveBedInput!) { reserveBed(input: $input) { visible } }",
  release: "mutation ($input: BedInput!) { releaseBedReservation(input: $input) { visible } }",
  block: "mutation ($input: BlockBedInput!) { blockBed(input: $input) { visible } }",
  unblock: "mutation ($input: BedInput!) { unblockBed(input: $input) { visible } }",
  transfer: "mutation ($input: TransferPatientInput!) { transferPatient(input: $input) { visible } }",
  edd: "mutation ($input: SetExpectedDischargeDateInput!) { setExpectedDischargeDate(input: $input) { visible } }",
  optimised: "mutation ($input: MarkMedicallyOptimisedInput!) { markMedicallyOptimised(input: $input) { visible } }",
  discharge: "mutation ($input: DischargePatientInput!) { dischargePatient(input: $input) { visible } }",
  clean: "mutation ($input: BedInput!) { markBedCleaned(input: $input) { visible } }",
};

function ActionForm({ action, bed, beds, busyRef, onDone, onBack }) {
  const [values, setValues] = useState(() => ({
    nhsNumber: bed.status === "RESERVED" && bed.reservedFor ? bed.reservedFor : "",
    givenName: "", familyName: "", forNhsNumber: "", note: "", reason: "MAINTENANCE",
    toBedId: "", date: bed.expectedDischargeDate || today(), dischargeReadyDate: today(),
    pathway: bed.pathway != null ? String(bed.pathway) : "1", destination: "USUAL_RESIDENCE",
  }));
  const [errors, setErrors] = useState({});
  const [problem, setProblem] = useState(null);
  const [busy, setBusy] = useState(false);
  const set = (name) => (e) => setValues({ ...values, [name]: e.currentTarget.value });

  const input = () => {
    const v = values;
    switch (action) {
      case "admit": return { bedId: bed.id, nhsNumber: v.nhsNumber.trim(), givenName: v.givenName.trim(), familyName: v.familyName.trim() };
      case "reserve": return { bedId: bed.id, forNhsNumber: v.forNhsNumber.trim() || null, note: v.note.trim() || null };
      case "block": return { bedId: bed.id, reason: v.reason, note: v.note.trim() || null };
      case "transfer": return { stayId: bed.stayId, toBedId: v.toBedId };
      case "edd": return { stayId: bed.stayId, date: v.date };
      case "optimised": return { stayId: bed.stayId, dischargeReadyDate: v.dischargeReadyDate, pathway: Number(v.pathway) };
      case "discharge": return { stayId: bed.stayId, destination: v.destination, pathway: Number(v.pathway) };
      default: return { bedId: bed.id };
    }
  };

  const check = () => {
    const found = {};
    if (action === "admit") {
      const nhs = nhsNumberProblem(values.nhsNumber);
      if (nhs) found.nhsNumber = nhs;
      if (!values.givenName.trim()) found.givenName = "Enter the patient's given name";
      if (!values.familyName.trim()) found.familyName = "Enter the patient's family name";
    }
    if (action === "transfer" && !values.toBedId) found.toBedId = "Choose the bed to move to";
    return found;
  };

  const submit = async (event) => {
    event.preventDefault();
    const found = check();
    setErrors(found);
    setProblem(null);
    if (Object.keys(found).length) return;
    setBusy(true);
    busyRef.current = true;
    try {
      await command(ACTION_NAMES[action], MUTATIONS[action], input(), { bedId: bed.id, stayId: bed.stayId });
      busyRef.current = false;
      onDone();
    } catch (error) {
      busyRef.current = false;
      setBusy(false);
      const fields = error.fields || {};
      setErrors(fields);
      if (!Object.keys(fields).length) setProblem(messageOf(error));
    }
  };

  const text = (name, label, extra = {}) => html`<${Field} label=${label} error=${errors[name]} hint=${extra.hint}>${(props) =>
    html`<input ...${props} name=${name} type=${extra.type || "text"} value=${values[name]} onInput=${set(name)}
      autocomplete="off" inputmode=${extra.inputmode} />`}<//>`;
  const choice = (name, label, options) => html`<${Field} label=${label} error=${errors[name]}>${(props) =>
    html`<select ...${props} name=${name} value=${values[name]} onChange=${set(name)}>
      ${Object.entries(options).map(([value, words]) => html`<option value=${value}>${words}</option>`)}</select>`}<//>`;

  const free = beds.filter((b) => b.id !== bed.id && b.status === "AVAILABLE");
  return html`<form class="action-form" onSubmit=${submit} novalidate>
    <h3>${ACTION_NAMES[action]}</h3>
    ${action === "admit" && html`
      ${text("nhsNumber", "NHS number", { inputmode: "numeric", hint: "10 digits, e.g. 999 000 0018" })}
      ${text("givenName", "Given name")}
      ${text("familyName", "Family name")}`}
    ${action === "reserve" && html`${text("forNhsNumber", "NHS number of the patient it is held for (optional)", { inputmode: "numeric" })}${text("note", "Note (optional)")}`}
    ${action === "block" && html`${choice("reason", "Reason", BLOCK_REASONS)}${text("note", "Details (optional)")}`}
    ${action === "transfer" && html`<${Field} label="Move to bed" error=${errors.toBedId}>${(props) =>
      html`<select ...${props} name="toBedId" value=${values.toBedId} onChange=${set("toBedId")}>
        <option value="">Choose an available bed</option>
        ${free.map((b) => html`<option value=${b.id}>${b.label}</option>`)}</select>`}<//>`}
    ${action === "edd" && text("date", "Expected discharge date", { type: "date" })}
    ${action === "optimised" && html`${text("dischargeReadyDate", "Discharge Ready Date", { type: "date" })}${choice("pathway", "Pathway", PATHWAYS)}`}
    ${action === "discharge" && html`${choice("destination", "Destination", DESTINATIONS)}${choice("pathway", "Pathway", PATHWAYS)}`}
    ${["release", "unblock", "clean"].includes(action) && html`<p>Confirm: ${ACTION_NAMES[action].toLowerCase()} for bed ${bed.label}.</p>`}
    ${Object.keys(errors).filter((f) => !["nhsNumber", "givenName", "familyName", "forNhsNumber", "note", "reason", "toBedId", "date", "dischargeReadyDate", "pathway", "destination"].includes(f))
      .map((f) => html`<p class="field-error" role="alert">${f}: ${errors[f]}</p>`)}
    ${problem && html`<p class="form-error" role="alert">${problem}</p>`}
    <div class="form-buttons">
      ${onBack && html`<button type="button" class="secondary" onClick=${onBack}>Back</button>`}
      <button type="submit" class="primary" disabled=${busy}>${busy ? "Sending…" : ACTION_NAMES[action]}</button>
    </div>
  </form>`;
}
