// Trusted assessments: the organisation's and the team's assessments in progress, starting one
// (from a trusted-assessment task, or for a patient), and the assessment form itself, section
// by section, completed together: who is in which section, others' saves appearing live, a
// clear view of both versions when two people changed one section, sign-off per section,
// submit; and, for the organisations it is submitted to, accept or return with reasons.

import { useEffect, useRef, useState } from "preact/hooks";
import { graphql, Offline, subscribe, uuid } from "./api.js";
import { session, ROLE_NAMES, useStore } from "./session.js";
import { Field, formatNhs, html, messageOf, when } from "./ui.js";

const STATUSES = { IN_PROGRESS: "In progress", SUBMITTED: "Submitted", ACCEPTED: "Accepted", RETURNED: "Returned" };

const ANSWER = "questionId text choice choices number date yesNo score";

const FIELDS = `id nhsNumber title status organisation taskId teamId startedBy { userId } updatedAt awaitingSignOff
  submittedTo acceptedBy returned { organisation note by { userId } at } reopened { note by { userId } at }
  presence { userId role organisation sectionId }
  sections { id title required editors version canEdit canSignOff answers { ${ANSWER} } savedBy { userId role organisation } savedAt
    signOff { version by { userId } at } }`;

const QUESTIONS = `template { sections { id questions { id text help required kind options { value label }
  levels { score label description } min max whole unit maxLength } } }`;

const SUMMARY = "id nhsNumber title organisation taskId teamId status requiredSigned required updatedAt";

/** Roles that may receive (accept or return) an assessment submitted to their organisation. */
const RECEIVERS = ["social_worker", "broker", "care_provider", "admin"];

/** Roles that may start and complete assessments. */
export const ASSESSORS = ["ward_nurse", "social_worker", "therapist", "community_nurse", "virtual_ward_clinician", "admin"];

/** How often the form says again where its user is (presence lapses 30 s after). */
const PRESENCE_EVERY_MS = 10000;

/** The command id of a start not yet answered for certain, by patient and task: a retry after a
 * lost answer names the same assessment instead of starting a second. */
const starting = new Map();

/** Starts a trusted assessment of `nhsNumber` (for `taskId`) from the latest reablement template; resolves with its id. */
export async function startAssessment(nhsNumber, taskId = null, templateId = "reablement-trusted-assessor") {
  const key = `${nhsNumber}/${taskId || ""}/${templateId}`;
  if (!starting.has(key)) starting.set(key, uuid());
  try {
    const data = await graphql(`mutation ($input: StartAssessmentInput!) { startAssessment(input: $input) { assessmentId } }`, {
      input: { commandId: starting.get(key), nhsNumber, templateId, taskId },
    });
    starting.delete(key);
    return data.startAssessment.assessmentId;
  } catch (error) {
    // Refused for certain: the next try is a new start. Unanswered (offline): the same one.
    if (!(error instanceof Offline)) starting.delete(key);
    throw error;
  }
}

/** The assessments answering a task (from the patient's list). */
export async function assessmentsForTask(nhsNumber, taskId) {
  const data = await graphql(`query ($n: String!) { patientAssessments(nhsNumber: $n) { ${SUMMARY} } }`, { n: nhsNumber });
  return data.patientAssessments.filter((a) => a.taskId === taskId);
}

export function AssessmentList({ navigate }) {
  const who = useStore(session);
  const [rows, setRows] = useState(null);
  const [problem, setProblem] = useState(null);
  useEffect(() => {
    graphql(`{ assessmentsInProgress { ${SUMMARY} } }`)
      .then((data) => setRows(data.assessmentsInProgress))
      .catch((e) => setProblem(messageOf(e)));
  }, []);
  return html`<section aria-labelledby="assessments-title">
    <div class="toolbar"><h1 id="assessments-title">Trusted assessments</h1></div>
    ${ASSESSORS.includes(who?.claims?.role) && html`<${StartForm} navigate=${navigate} />`}
    <h2>In progress at ${who?.claims?.org}</h2>
    ${problem && html`<p class="error" role="alert">${problem}</p>`}
    ${!rows && !problem && html`<p class="loading">Loading the assessments…</p>`}
    ${rows && rows.length === 0 && html`<p class="empty">No assessments in progress.</p>`}
    ${rows && rows.length > 0 && html`<ul class="assessments">${rows.map((a) => html`<li key=${a.id}>
      <a class="assessment-row" href=${`#/assessment/${a.id}`}>
        <span class="task-title">${a.title}${a.nhsNumber ? ` · NHS ${formatNhs(a.nhsNumber)}` : ""}</span>
        <span class="task-meta"><span class="badge">${STATUSES[a.status]}</span>
          <span>${a.requiredSigned} of ${a.required} required sections signed off</span>
          <span class="due">Changed ${when(a.updatedAt)}</span></span>
      </a></li>`)}</ul>`}
  </section>`;
}

function StartForm({ navigate }) {
  const [nhs, setNhs] = useState("");
  const [errors, setErrors] = useState({});
  const [problem, setProblem] = useState(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e) => {
    e.preventDefault();
    if (!nhs.trim()) return setErrors({ nhsNumber: "Enter the patient's NHS number" });
    setBusy(true);
    setErrors({});
    setProblem(null);
    try {
      navigate(`#/assessment/${await startAssessment(nhs.trim())}`);
    } catch (error) {
      setBusy(false);
      setErrors(error.fields || {});
      if (!Object.keys(error.fields || {}).length) setProblem(messageOf(error));
    }
  };
  return html`<form class="search" onSubmit=${submit} novalidate aria-label="Start an assessment">
    <${Field} label="NHS number" error=${errors.nhsNumber}>${(props) => html`<input ...${props} name="nhsNumber" inputmode="numeric" autocomplete="off" value=${nhs} onInput=${(e) => setNhs(e.currentTarget.value)} />`}<//>
    <button type="submit" class="primary" disabled=${busy}>Start a trusted assessment</button>
    ${problem && html`<p class="form-error" role="alert">${problem}</p>`}
  </form>`;
}

/** A section's saved answers as the form holds them: question id → the input's value. */
function draftOf(answers) {
  const values = {};
  for (const a of answers || []) {
    if (a.text != null) values[a.questionId] = a.text;
    else if (a.choice != null) values[a.questionId] = a.choice;
    else if (a.choices != null) values[a.questionId] = a.choices;
    else if (a.number != null) values[a.questionId] = String(a.number);
    else if (a.date != null) values[a.questionId] = a.date;
    else if (a.yesNo != null) values[a.questionId] = a.yesNo ? "yes" : "no";
    else if (a.score != null) values[a.questionId] = String(a.score);
  }
  return values;
}

/** The form's values as answers to send; blank ones are left out (unanswered). */
function answersOf(questions, values) {
  const answers = [];
  for (const q of questions) {
    const v = values[q.id];
    if (v == null || v === "" || (Array.isArray(v) && v.length === 0)) continue;
    const a = { questionId: q.id };
    if (q.kind === "TEXT") a.text = v;
    else if (q.kind === "CHOICE") a.choice = v;
    else if (q.kind === "MULTI_CHOICE") a.choices = v;
    else if (q.kind === "NUMBER") a.number = Number(v);
    else if (q.kind === "DATE") a.date = v;
    else if (q.kind === "YES_NO") a.yesNo = v === "yes";
    else if (q.kind === "SCORE") a.score = Number(v);
    answers.push(a);
  }
  return answers;
}

/** An answer in words, for the conflict view. */
function shown(question, value) {
  if (value == null || value === "" || (Array.isArray(value) && !value.length)) return "(no answer)";
  const label = (v) => question.options.find((o) => o.value === v)?.label || v;
  if (question.kind === "CHOICE") return label(value);
  if (question.kind === "MULTI_CHOICE") return value.map(label).join(", ");
  if (question.kind === "YES_NO") return value === "yes" ? "Yes" : "No";
  if (question.kind === "SCORE") return `${value} — ${question.levels.find((l) => String(l.score) === value)?.label || ""}`;
  if (question.kind === "NUMBER" && question.unit) return `${value} ${question.unit}`;
  return value;
}

const same = (a, b) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

export function AssessmentScreen({ assessmentId, sectionId, navigate }) {
  const who = useStore(session);
  const [assessment, setAssessment] = useState(null);
  const [questions, setQuestions] = useState(null);
  const [problem, setProblem] = useState(null);
  useEffect(() => {
    let live = true;
    graphql(`query ($id: ID!) { assessment(id: $id) { ${QUESTIONS} } }`, { id: assessmentId })
      .then((data) => {
        if (!live) return;
        if (!data.assessment) return setProblem("There is no such assessment.");
        const byId = {};
        for (const s of data.assessment.template?.sections || []) byId[s.id] = s.questions;
        setQuestions(byId);
      })
      .catch((e) => live && setProblem(messageOf(e)));
    const stop = subscribe(`subscription ($id: ID!) { assessment(id: $id) { ${FIELDS} } }`, { id: assessmentId },
      (data) => live && setAssessment(data.assessment), (e) => live && setProblem(messageOf(e)));
    return () => {
      live = false;
      stop();
    };
  }, [assessmentId]);
  const current = sectionId || assessment?.sections[0]?.id;
  // Says where its user is, again and again while there.
  useEffect(() => {
    if (!current) return undefined;
    const say = () => graphql(`mutation ($input: SetAssessmentPresenceInput!) { setAssessmentPresence(input: $input) { userId } }`,
      { input: { assessmentId, sectionId: current } }).catch(() => {});
    say();
    const timer = setInterval(say, PRESENCE_EVERY_MS);
    return () => clearInterval(timer);
  }, [assessmentId, current]);

  if (problem && !assessment) return html`<p class="error" role="alert">${problem}</p>`;
  if (!assessment || !questions) return html`<p class="loading">Loading the assessment…</p>`;
  const me = who?.claims?.sub;
  const others = assessment.presence.filter((p) => p.userId !== me);
  const section = assessment.sections.find((s) => s.id === current) || assessment.sections[0];
  const editable = ["IN_PROGRESS", "RETURNED"].includes(assessment.status);
  const signed = assessment.sections.filter((s) => s.required && s.signOff).length;
  const required = assessment.sections.filter((s) => s.required).length;
  return html`<section aria-labelledby="assessment-title" class="assessment">
    <div class="toolbar">
      <h1 id="assessment-title">${assessment.title}</h1>
      <p class="assessment-facts">
        ${assessment.nhsNumber && html`<a href=${`#/patient/${assessment.nhsNumber}`}>NHS ${formatNhs(assessment.nhsNumber)}</a> · `}
        <span class="badge" data-testid="assessment-status">${STATUSES[assessment.status]}</span>
        · ${assessment.organisation} · <span data-testid="signed-count">${signed} of ${required}</span> required sections signed off
      </p>
    </div>
    ${problem && html`<p class="error" role="alert">${problem}</p>`}
    <p class="presence" aria-live="polite" data-testid="presence">${others.length === 0 ? "Nobody else is working on it now." : html`Also here:${" "}
      ${others.map((p) => html`<span class="person">${p.userId} (${ROLE_NAMES[p.role] || p.role}${p.sectionId ? `, in ${assessment.sections.find((s) => s.id === p.sectionId)?.title || p.sectionId}` : ""})</span>`)}`}</p>
    ${assessment.returned && assessment.status === "RETURNED" && html`<p class="banner error" role="status">Returned by ${assessment.returned.organisation}: ${assessment.returned.note}</p>`}
    <div class="assessment-body">
      <nav class="sections" aria-label="Sections">
        <ol>${assessment.sections.map((s) => {
          const here = others.filter((p) => p.sectionId === s.id);
          return html`<li><a href=${`#/assessment/${assessment.id}/${s.id}`} aria-current=${s.id === section.id ? "step" : undefined} data-section=${s.id}>
            <span class="section-name">${s.title}${s.required ? "" : " (optional)"}</span>
            <span class="section-state">${s.signOff ? html`<span aria-hidden="true">✓</span> Signed off` : s.version ? `Saved, v${s.version}` : "Not started"}${here.length ? html` · <span class="here">${here.map((p) => p.userId).join(", ")} here</span>` : ""}</span>
          </a></li>`;
        })}</ol>
      </nav>
      <${SectionForm} key=${section.id} assessment=${assessment} section=${section} questions=${questions[section.id] || []}
        editable=${editable} here=${others.filter((p) => p.sectionId === section.id)} />
    </div>
    <${Decisions} assessment=${assessment} editable=${editable} />
  </section>`;
}

function SectionForm({ assessment, section, questions, editable, here }) {
  const [base, setBase] = useState(section.version);
  const [values, setValues] = useState(() => draftOf(section.answers));
  const [dirty, setDirty] = useState(false);
  const [errors, setErrors] = useState({});
  const [problem, setProblem] = useState(null);
  const [notice, setNotice] = useState(null);
  const [conflict, setConflict] = useState(null);
  const [busy, setBusy] = useState(false);
  const commandId = useRef(null);

  // Someone else saved this section: take it in when nothing here is unsaved; otherwise keep
  // the person's answers and say so (saving will then show both versions).
  useEffect(() => {
    if (section.version === base) return;
    if (!dirty || same(draftOf(section.answers), values)) {
      setDirty(false);
      setBase(section.version);
      setValues(draftOf(section.answers));
      setNotice(null);
    } else {
      setNotice(`${section.savedBy?.userId} saved this section (version ${section.version}) while you were changing it.`);
    }
  }, [section.version]);

  const set = (id, value) => {
    setValues({ ...values, [id]: value });
    setDirty(true);
    commandId.current = null;
  };
  const save = async (onTopOf = base, keep = values) => {
    setBusy(true);
    setProblem(null);
    setErrors({});
    commandId.current ||= uuid();
    try {
      const data = await graphql(`mutation ($input: SaveAssessmentSectionInput!) { saveAssessmentSection(input: $input) { visible assessment { sections { id version } } } }`, {
        input: { commandId: commandId.current, assessmentId: assessment.id, sectionId: section.id, baseVersion: onTopOf, answers: answersOf(questions, keep) },
      });
      commandId.current = null;
      setConflict(null);
      setNotice(null);
      setDirty(false);
      // The version as stored: a save that changed nothing made none (answers as they were).
      const saved = data.saveAssessmentSection.assessment?.sections?.find((s) => s.id === section.id)?.version;
      setBase(saved ?? onTopOf + 1);
    } catch (error) {
      if (error.code === "CONFLICT" && error.extensions?.section) {
        commandId.current = null;
        setConflict(error.extensions.section);
      } else if (error.code === "BAD_USER_INPUT") {
        commandId.current = null;
        const named = {};
        for (const [field, message] of Object.entries(error.fields || {})) named[field.replace(/^answers\./, "")] = message;
        setErrors(named);
        if (!Object.keys(named).length) setProblem(messageOf(error));
      } else {
        // Not sent (offline, no answer): the same commandId goes again with the next try.
        setProblem(messageOf(error));
      }
    }
    setBusy(false);
  };
  const signOff = async () => {
    setBusy(true);
    setProblem(null);
    try {
      await graphql(`mutation ($input: SignOffAssessmentSectionInput!) { signOffAssessmentSection(input: $input) { visible } }`, {
        input: { commandId: uuid(), assessmentId: assessment.id, sectionId: section.id, version: section.version },
      });
    } catch (error) {
      setProblem(messageOf(error));
    }
    setBusy(false);
  };
  const takeTheirs = () => {
    setBase(conflict.version);
    setValues(draftOf(conflict.answers));
    setDirty(false);
    setConflict(null);
    setNotice(null);
  };

  const canSave = editable && section.canEdit;
  const canSign = editable && section.canSignOff && section.version > 0 && !section.signOff && !dirty;
  return html`<div class="section-form" aria-labelledby="section-title">
    <h2 id="section-title">${section.title}</h2>
    <p class="section-meta" data-testid="section-meta">${section.version
      ? `Version ${section.version}, saved by ${section.savedBy?.userId} ${when(section.savedAt)}`
      : "Not saved yet"}${section.signOff ? ` · signed off by ${section.signOff.by.userId} ${when(section.signOff.at)}` : ""}</p>
    ${here.length > 0 && html`<p class="here-now" role="status">${here.map((p) => p.userId).join(", ")} ${here.length === 1 ? "is" : "are"} in this section now.</p>`}
    ${!section.canEdit && editable && html`<p class="hint">Your role may read this section; ${section.editors?.join(", ") || "others"} complete it.</p>`}
    ${notice && !conflict && html`<p class="banner pending" role="status">${notice}</p>`}
    ${conflict && html`<${ConflictView} conflict=${conflict} questions=${questions} values=${values} busy=${busy}
      onKeepMine=${() => save(conflict.version, values)} onTakeTheirs=${takeTheirs} />`}
    <form onSubmit=${(e) => { e.preventDefault(); save(); }} novalidate>
      ${questions.map((q) => html`<${QuestionField} key=${q.id} question=${q} value=${values[q.id]} error=${errors[q.id]}
        disabled=${!canSave || busy} onChange=${(v) => set(q.id, v)} />`)}
      ${problem && html`<p class="form-error" role="alert">${problem}</p>`}
      <div class="form-buttons">
        ${canSave && html`<button type="submit" class="primary" disabled=${busy || !!conflict}>Save the section</button>`}
        ${canSign && html`<button type="button" class="action" disabled=${busy} onClick=${signOff}>Sign off the section</button>`}
      </div>
    </form>
  </div>`;
}

function ConflictView({ conflict, questions, values, busy, onKeepMine, onTakeTheirs }) {
  const theirs = draftOf(conflict.answers);
  const differ = questions.filter((q) => !same(theirs[q.id], values[q.id]));
  return html`<div class="conflict" role="alert" aria-labelledby="conflict-title">
    <h3 id="conflict-title">${conflict.savedBy.userId} saved this section while you were changing it</h3>
    <p>Their version ${conflict.version}, saved ${when(conflict.savedAt)}. ${differ.length ? "Where your answers differ:" : "Your answers are the same as theirs."}</p>
    ${differ.length > 0 && html`<table class="conflict-table"><thead><tr><th scope="col">Question</th><th scope="col">Theirs</th><th scope="col">Yours</th></tr></thead>
      <tbody>${differ.map((q) => html`<tr data-question=${q.id}><th scope="row">${q.text}</th><td>${shown(q, theirs[q.id])}</td><td>${shown(q, values[q.id])}</td></tr>`)}</tbody></table>`}
    <div class="form-buttons">
      <button type="button" class="secondary" disabled=${busy} onClick=${onTakeTheirs}>Take their answers</button>
      <button type="button" class="primary" disabled=${busy} onClick=${onKeepMine}>Save mine over theirs</button>
    </div>
  </div>`;
}

function QuestionField({ question: q, value, error, disabled, onChange }) {
  const label = `${q.text}${q.required ? "" : " (optional)"}`;
  if (["CHOICE", "YES_NO", "SCORE", "MULTI_CHOICE"].includes(q.kind)) {
    const options = q.kind === "YES_NO" ? [{ value: "yes", label: "Yes" }, { value: "no", label: "No" }]
      : q.kind === "SCORE" ? q.levels.map((l) => ({ value: String(l.score), label: `${l.score} — ${l.label}`, hint: l.description }))
      : q.options;
    const multi = q.kind === "MULTI_CHOICE";
    const chosen = multi ? value || [] : value;
    const toggle = (v) => onChange(chosen.includes(v) ? chosen.filter((x) => x !== v) : [...chosen, v]);
    const errorId = `q-${q.id}-error`;
    return html`<fieldset class="field question ${error ? "has-error" : ""}" data-question=${q.id} aria-describedby=${error ? errorId : undefined}>
      <legend>${label}</legend>
      ${q.help && html`<p class="hint">${q.help}</p>`}
      <div class=${q.kind === "SCORE" ? "levels" : "choices"}>${options.map((o) => html`<label class="choice">
        <input type=${multi ? "checkbox" : "radio"} name=${q.id} value=${o.value} disabled=${disabled}
          checked=${multi ? chosen.includes(o.value) : chosen === o.value}
          onChange=${() => (multi ? toggle(o.value) : onChange(o.value))} />
        <span>${o.label}${o.hint && html`<span class="level-hint">${o.hint}</span>`}</span></label>`)}</div>
      ${error && html`<p class="field-error" id=${errorId} role="alert">${error}</p>`}
    </fieldset>`;
  }
  return html`<div data-question=${q.id}><${Field} label=${label} hint=${q.help || (q.unit ? `In ${q.unit}` : null)} error=${error}>${(props) =>
    q.kind === "TEXT"
      ? html`<textarea ...${props} name=${q.id} rows="3" maxlength=${q.maxLength || undefined} disabled=${disabled} value=${value || ""} onInput=${(e) => onChange(e.currentTarget.value)} />`
      : html`<input ...${props} name=${q.id} type=${q.kind === "DATE" ? "date" : "number"} disabled=${disabled}
          min=${q.min ?? undefined} max=${q.max ?? undefined} step=${q.whole ? "1" : "any"} value=${value || ""} onInput=${(e) => onChange(e.currentTarget.value)} />`}<//></div>`;
}

/** Submit (the assessing organisation, once every required section is signed off), reopen, and
 * accept or return (the organisations it is submitted to). */
function Decisions({ assessment, editable }) {
  const who = useStore(session);
  const org = who?.claims?.org;
  const role = who?.claims?.role;
  const [to, setTo] = useState("");
  const [reason, setReason] = useState("");
  const [errors, setErrors] = useState({});
  const [problem, setProblem] = useState(null);
  const [busy, setBusy] = useState(false);
  const run = async (name, type, input) => {
    setBusy(true);
    setProblem(null);
    setErrors({});
    try {
      await graphql(`mutation ($input: ${type}!) { ${name}(input: $input) { visible } }`, { input: { commandId: uuid(), assessmentId: assessment.id, ...input } });
      setReason("");
    } catch (error) {
      setErrors(error.fields || {});
      if (!Object.keys(error.fields || {}).length) setProblem(messageOf(error));
    }
    setBusy(false);
  };
  const assessing = org === assessment.organisation && ASSESSORS.includes(role);
  const receiving = assessment.status === "SUBMITTED" && assessment.submittedTo.includes(org) && !assessment.acceptedBy.includes(org) && RECEIVERS.includes(role);
  const reopenable = assessing && ["SUBMITTED", "ACCEPTED"].includes(assessment.status);
  if (!(assessing && editable) && !receiving && !reopenable) {
    return assessment.submittedTo.length ? html`<p class="muted">Submitted to ${assessment.submittedTo.join(", ")}${assessment.acceptedBy.length ? `; accepted by ${assessment.acceptedBy.join(", ")}` : ""}.</p>` : null;
  }
  const waiting = assessment.awaitingSignOff.length;
  return html`<section class="decisions" aria-labelledby="decisions-title">
    <h2 id="decisions-title">${receiving ? "Your decision" : "Submit"}</h2>
    ${assessing && editable && (waiting
      ? html`<p>${waiting} required ${waiting === 1 ? "section is" : "sections are"} not signed off yet.</p>`
      : html`<form class="action-form" onSubmit=${(e) => {
          e.preventDefault();
          const codes = to.split(/[\s,]+/).filter(Boolean).map((c) => c.toUpperCase());
          if (!codes.length) return setErrors({ to: "Name at least one organisation (ODS code)" });
          run("submitAssessment", "SubmitAssessmentInput", { to: codes });
        }} novalidate>
          <${Field} label="Submit to (ODS codes of the receiving organisations)" error=${errors.to}>${(props) => html`<input ...${props} name="to" autocomplete="off" value=${to} onInput=${(e) => setTo(e.currentTarget.value)} />`}<//>
          <button type="submit" class="primary" disabled=${busy}>Submit the assessment</button></form>`)}
    ${(receiving || reopenable) && html`<form class="action-form" onSubmit=${(e) => e.preventDefault()} novalidate>
      <${Field} label=${receiving ? "What must change (to return it)" : "Why it is reopened"} error=${errors.reasons || errors.reason}>${(props) => html`<textarea ...${props} name="reason" rows="2" value=${reason} onInput=${(e) => setReason(e.currentTarget.value)} />`}<//>
      <div class="form-buttons">
        ${receiving && html`<button type="button" class="primary" disabled=${busy} onClick=${() => run("acceptAssessment", "AcceptAssessmentInput", {})}>Accept the assessment</button>
          <button type="button" class="secondary" disabled=${busy} onClick=${() => (reason.trim() ? run("returnAssessment", "ReturnAssessmentInput", { reasons: reason.trim() }) : setErrors({ reasons: "Say what must change" }))}>Return it</button>`}
        ${reopenable && html`<button type="button" class="secondary" disabled=${busy} onClick=${() => (reason.trim() ? run("reopenAssessment", "ReopenAssessmentInput", { reason: reason.trim() }) : setErrors({ reason: "Say why it is reopened" }))}>Reopen it</button>`}
      </div></form>`}
    ${problem && html`<p class="form-error" role="alert">${problem}</p>`}
  </section>`;
}
