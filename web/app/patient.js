// The patient summary: find a patient by NHS number, or by family name and date of birth; then
// their demographics, where they are, active flags with who or what raised them, open tasks
// (whose inbox each is in) and the timeline, live over the patientSummary subscription.

import { useEffect, useState } from "preact/hooks";
import { graphql, subscribe } from "./api.js";
import { FLAGS } from "./beds.js";
import { KINDS } from "./inbox.js";
import { Field, day, formatNhs, html, messageOf, when } from "./ui.js";

const PATIENT_FIELDS = `nhsNumber registered givenName familyName dateOfBirth gender postcode gpPractice sharingDissent dateOfDeath
  flags { id kind snomedCode snomedDisplay frailtyScore severity reason reviewOn raisedAt raisedBy { userId organisation rule ruleVersion } }
  location { siteId wardId wardName bedLabel admittedAt expectedDischargeDate dischargeReadyDate }
  openTasks { id title kind teamId organisation due overdue }
  timeline { position at context eventType summary }`;

export function PatientScreen({ nhsNumber, navigate }) {
  return html`<section aria-labelledby="patient-title">
    <div class="toolbar"><h1 id="patient-title">Patient summary</h1></div>
    <${Search} navigate=${navigate} />
    ${nhsNumber && html`<${Summary} key=${nhsNumber} nhsNumber=${nhsNumber} />`}
  </section>`;
}

function Search({ navigate }) {
  const [values, setValues] = useState({ nhsNumber: "", familyName: "", dateOfBirth: "" });
  const [errors, setErrors] = useState({});
  const [problem, setProblem] = useState(null);
  const [found, setFound] = useState(null);
  const set = (name) => (e) => setValues({ ...values, [name]: e.currentTarget.value });
  const submit = async (event) => {
    event.preventDefault();
    setProblem(null);
    setFound(null);
    const nhs = values.nhsNumber.trim();
    const family = values.familyName.trim();
    const dob = values.dateOfBirth;
    const missing = {};
    if (!nhs && !family && !dob) missing.nhsNumber = "Enter an NHS number, or a family name and date of birth";
    if (!nhs && family && !dob) missing.dateOfBirth = "Enter the date of birth with the family name";
    if (!nhs && !family && dob) missing.familyName = "Enter the family name with the date of birth";
    setErrors(missing);
    if (Object.keys(missing).length) return;
    const variables = nhs ? { nhsNumber: nhs } : { familyName: family, dateOfBirth: dob };
    try {
      const data = await graphql(`query ($nhsNumber: String, $familyName: String, $dateOfBirth: String) {
        searchPatients(nhsNumber: $nhsNumber, familyName: $familyName, dateOfBirth: $dateOfBirth) {
          nhsNumber givenName familyName dateOfBirth postcode location { wardName bedLabel } } }`, variables);
      if (data.searchPatients.length === 1 && nhs) navigate(`#/patient/${data.searchPatients[0].nhsNumber}`);
      else setFound(data.searchPatients);
    } catch (error) {
      setErrors(error.fields || {});
      if (!Object.keys(error.fields || {}).length) setProblem(messageOf(error));
    }
  };
  return html`<form class="search" role="search" onSubmit=${submit} novalidate>
    <${Field} label="NHS number" error=${errors.nhsNumber}>${(props) => html`<input ...${props} name="nhsNumber" inputmode="numeric" autocomplete="off" value=${values.nhsNumber} onInput=${set("nhsNumber")} />`}<//>
    <p class="or">or</p>
    <${Field} label="Family name" error=${errors.familyName}>${(props) => html`<input ...${props} name="familyName" autocomplete="off" value=${values.familyName} onInput=${set("familyName")} />`}<//>
    <${Field} label="Date of birth" error=${errors.dateOfBirth}>${(props) => html`<input ...${props} name="dateOfBirth" type="date" value=${values.dateOfBirth} onInput=${set("dateOfBirth")} />`}<//>
    <button type="submit" class="primary">Find</button>
    ${problem && html`<p class="form-error" role="alert">${problem}</p>`}
    ${found && html`<div class="results" aria-live="polite">
      ${found.length === 0 ? html`<p>No patient found (or none you may see).</p>` : html`<ul class="found">${found.map((p) => html`<li>
        <a href=${`#/patient/${p.nhsNumber}`}>${p.familyName?.toUpperCase()}, ${p.givenName}</a> · born ${day(p.dateOfBirth)} · NHS ${formatNhs(p.nhsNumber)}
        ${p.location && html` · ${p.location.wardName} bed ${p.location.bedLabel}`}</li>`)}</ul>`}</div>`}
  </form>`;
}

function Summary({ nhsNumber }) {
  const [patient, setPatient] = useState(undefined);
  const [error, setError] = useState(null);
  useEffect(() => {
    let live = true;
    let stop = () => {};
    graphql(`query ($n: String!) { patient(nhsNumber: $n) { ${PATIENT_FIELDS} } }`, { n: nhsNumber })
      .then((data) => {
        if (!live) return;
        setPatient(data.patient);
        if (data.patient) {
          stop = subscribe(`subscription ($n: String!) { patientSummary(nhsNumber: $n) { ${PATIENT_FIELDS} } }`, { n: nhsNumber },
            (next) => {
              if (!live) return;
              setError(null);
              setPatient(next.patientSummary);
            }, (e) => live && setError(e));
        }
      })
      .catch((e) => live && setError(e));
    return () => {
      live = false;
      stop();
    };
  }, [nhsNumber]);
  if (error) return html`<p class="error" role="alert">${messageOf(error)}</p>`;
  if (patient === undefined) return html`<p class="loading">Loading the record…</p>`;
  if (patient === null) return html`<p class="empty">careflow holds no record for NHS number ${formatNhs(nhsNumber)}.</p>`;
  const p = patient;
  return html`<article class="patient" aria-labelledby="patient-name">
    <header class="patient-head">
      <h2 id="patient-name">${p.familyName ? `${p.familyName.toUpperCase()}, ${p.givenName}` : "Name not recorded"}</h2>
      <dl class="demographics">
        <div><dt>NHS number</dt><dd>${formatNhs(p.nhsNumber)}</dd></div>
        ${p.dateOfBirth && html`<div><dt>Born</dt><dd>${day(p.dateOfBirth)}</dd></div>`}
        ${p.gender && html`<div><dt>Gender</dt><dd>${p.gender.toLowerCase()}</dd></div>`}
        ${p.postcode && html`<div><dt>Postcode</dt><dd>${p.postcode}</dd></div>`}
        ${p.gpPractice && html`<div><dt>GP practice</dt><dd>${p.gpPractice}</dd></div>`}
        ${p.dateOfDeath && html`<div><dt>Died</dt><dd>${day(p.dateOfDeath)}</dd></div>`}
      </dl>
      ${p.sharingDissent && html`<p class="banner dissent">This patient dissents from sharing: their record is seen only by the organisations caring for them.</p>`}
    </header>
    <section aria-labelledby="where"><h3 id="where">Where they are</h3>
      ${p.location ? html`<p>${p.location.wardName || p.location.wardId}, bed ${p.location.bedLabel || ""}, since ${when(p.location.admittedAt)}
        ${p.location.expectedDischargeDate && html` · expected discharge ${day(p.location.expectedDischargeDate)}`}
        ${p.location.dischargeReadyDate && html` · discharge ready ${day(p.location.dischargeReadyDate)}`}</p>`
        : html`<p>Not in a hospital bed.</p>`}</section>
    <section aria-labelledby="flags"><h3 id="flags">Active flags</h3>
      ${p.flags.length === 0 ? html`<p>None.</p>` : html`<ul class="flag-list">${p.flags.map((f) => html`<li class="flag-item">
        <span class="flag" aria-hidden="true">${FLAGS[f.kind]?.icon}</span>
        <strong>${FLAGS[f.kind]?.text || f.kind}</strong>${f.frailtyScore ? ` (Clinical Frailty Scale ${f.frailtyScore})` : ""} · ${f.severity.toLowerCase()}
        ${f.snomedCode && html` · SNOMED CT ${f.snomedCode}`}
        <span class="source"> · raised ${when(f.raisedAt)} by ${f.raisedBy.rule ? `rule ${f.raisedBy.rule} v${f.raisedBy.ruleVersion}` : `${f.raisedBy.userId} (${f.raisedBy.organisation})`}</span>
        <span class="reason">: ${f.reason}</span></li>`)}</ul>`}</section>
    <section aria-labelledby="tasks"><h3 id="tasks">Open tasks</h3>
      ${p.openTasks.length === 0 ? html`<p>None.</p>` : html`<ul class="task-list">${p.openTasks.map((t) => html`<li>
        ${t.overdue && html`<span class="badge overdue">Overdue</span> `}<strong>${t.title}</strong> · ${KINDS[t.kind] || t.kind} · ${t.teamId} (${t.organisation})
        ${t.due && html` · due ${when(t.due)}`}</li>`)}</ul>`}</section>
    <section aria-labelledby="timeline"><h3 id="timeline">Timeline</h3>
      <ol class="timeline">${[...p.timeline].reverse().map((e) => html`<li key=${e.position}><span class="when">${when(e.at)}</span> ${e.summary}</li>`)}</ol></section>
  </article>`;
}
