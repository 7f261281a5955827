// Virtual wards (hospital at home): a ward's census, live and sorted by risk (#/virtual/<ward>),
// and a patient's NEWS2 chart (#/virtual/<ward>/<admission>): each parameter and the score over
// time, drawn on the RCP chart's colour bands, with a form to record a set taken on a call.

import { useEffect, useRef, useState } from "preact/hooks";
import { Offline, graphql, subscribe, uuid } from "./api.js";
import { session, useStore } from "./session.js";
import { Field, html, messageOf, route, since, useTick, when } from "./ui.js";

const ENTRY = `admissionId nhsNumber givenName familyName everyMinutes spo2Scale trend minutesSinceLastReading
  nextDueAt missedReadings flagged latest { total risk colour complete takenAt } openTasks { taskId kind priority title due }`;

const RISK_NAMES = { HIGH: "High", MEDIUM: "Medium", LOW_MEDIUM: "Low–medium", LOW: "Low" };
const RISK_ORDER = { HIGH: 4, MEDIUM: 3, LOW_MEDIUM: 2, LOW: 1 };

/** The census order: the highest risk first, then the highest score, the most missed, the longest wait. */
function byRisk(a, b) {
  const risk = (e) => RISK_ORDER[e.latest?.risk] || 0;
  return (
    risk(b) - risk(a) ||
    (b.latest?.total ?? -1) - (a.latest?.total ?? -1) ||
    b.missedReadings - a.missedReadings ||
    String(a.latest?.takenAt || "").localeCompare(String(b.latest?.takenAt || "")) ||
    a.admissionId.localeCompare(b.admissionId)
  );
}

export function VirtualWards({ wardId, admissionId, navigate }) {
  const who = useStore(session);
  const [wards, setWards] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    graphql("{ virtualWards { id name organisation pathway beds occupied free } }")
      .then((d) => setWards(d.virtualWards.filter((w) => w.organisation === who?.claims?.org)))
      .catch(setError);
  }, [who?.token]);
  useEffect(() => {
    const [screen, now] = route();
    if (wards?.length && screen === "virtual" && !wards.some((w) => w.id === now)) navigate(`#/virtual/${wards[0].id}`, true);
  }, [wards, wardId]);
  if (error) return html`<p class="error" role="alert">${messageOf(error)}</p>`;
  if (!wards) return html`<p class="loading">Loading virtual wards…</p>`;
  if (!wards.length) return html`<p class="empty">Your organisation has no virtual wards.</p>`;
  const ward = wards.find((w) => w.id === wardId);
  if (admissionId) return html`<${Chart} key=${admissionId} wardId=${wardId} admissionId=${admissionId} />`;
  return html`<section aria-labelledby="vw-title">
    <div class="toolbar">
      <h1 id="vw-title">Virtual ward${ward ? html`: <span>${ward.name}</span>` : ""}</h1>
      <div class="pickers"><${Field} label="Virtual ward">${(props) => html`<select ...${props} value=${wardId}
        onChange=${(e) => navigate(`#/virtual/${e.currentTarget.value}`)}>
        ${wards.map((w) => html`<option value=${w.id}>${w.name}</option>`)}</select>`}<//></div>
    </div>
    ${ward && html`<${Census} key=${ward.id} wardId=${ward.id} />`}
  </section>`;
}

function RiskBadge({ latest }) {
  if (!latest) return html`<span class="risk none">No reading yet</span>`;
  return html`<span class=${`risk ${latest.colour}`} data-testid="news2">NEWS2 ${latest.total}${" "}<span class="risk-name">${RISK_NAMES[latest.risk]}</span>${latest.complete ? "" : html` <span class="incomplete">(incomplete)</span>`}</span>`;
}

function Census({ wardId }) {
  const [ward, setWard] = useState(null);
  const [entries, setEntries] = useState(null);
  const [error, setError] = useState(null);
  useTick(30000);
  useEffect(() => {
    let live = true;
    const stop = subscribe(
      `subscription ($w: ID!) { virtualWardCensus(wardId: $w) { full removed ward { id name beds occupied free } changed { ${ENTRY} } } }`,
      { w: wardId },
      (data) => {
        if (!live) return;
        const update = data.virtualWardCensus;
        setError(null);
        setWard(update.ward);
        setEntries((current) => {
          const next = new Map(update.full ? [] : (current || []).map((e) => [e.admissionId, e]));
          for (const e of update.changed) next.set(e.admissionId, e);
          for (const id of update.removed) next.delete(id);
          return [...next.values()];
        });
      },
      (e) => live && setError(e),
    );
    return () => {
      live = false;
      stop();
    };
  }, [wardId]);
  if (error && !entries) return html`<p class="error" role="alert">${messageOf(error)}</p>`;
  if (!entries) return html`<p class="loading">Loading the census…</p>`;
  const sorted = [...entries].sort(byRisk);
  return html`
    ${error && html`<p class="error" role="alert">${messageOf(error)}</p>`}
    <p class="vw-beds" data-testid="vw-beds">${ward.occupied} of ${ward.beds} virtual beds taken · ${ward.free} free</p>
    <table class="census">
      <caption class="sr-only">Patients on ${ward.name}, the highest NEWS2 risk first</caption>
      <thead><tr><th scope="col">Patient</th><th scope="col">NEWS2</th><th scope="col">Trend</th><th scope="col">Last reading</th>
        <th scope="col">Missed</th><th scope="col">Open tasks</th></tr></thead>
      <tbody>${sorted.map((e) => html`<tr data-admission=${e.admissionId} class=${e.flagged ? "flagged" : ""}>
        <th scope="row"><a class="census-patient" href=${`#/virtual/${wardId}/${e.admissionId}`}>${e.givenName} ${e.familyName}</a>
          ${e.flagged && html` <span class="flag" title="NEWS2 high">Flagged</span>`}</th>
        <td><${RiskBadge} latest=${e.latest} /></td>
        <td><${Trend} trend=${e.trend} /></td>
        <td>${e.latest ? `${since(e.latest.takenAt)} ago` : "—"}</td>
        <td class=${e.missedReadings ? "missed" : ""}>${e.missedReadings || "—"}</td>
        <td>${e.openTasks.length ? html`<ul class="census-tasks">${e.openTasks.map((t) => html`<li class=${`priority-${t.priority.toLowerCase()}`}>${t.title}</li>`)}</ul>` : "—"}</td>
      </tr>`)}</tbody>
    </table>`;
}

/** The latest scores as a small line, the last one labelled. */
function Trend({ trend }) {
  if (!trend.length) return "—";
  const w = 90;
  const h = 28;
  const x = (i) => (trend.length === 1 ? w / 2 : (i * (w - 8)) / (trend.length - 1) + 4);
  const y = (t) => h - 4 - (Math.min(t, 15) * (h - 8)) / 15;
  const points = trend.map((t, i) => `${x(i)},${y(t)}`).join(" ");
  return html`<span class="trend"><svg width=${w} height=${h} role="img" aria-label=${`NEWS2 over the last readings: ${trend.join(", ")}`}>
    <polyline points=${points} fill="none" stroke="currentColor" stroke-width="2" />
    ${trend.map((t, i) => html`<circle cx=${x(i)} cy=${y(t)} r="2.5" />`)}</svg></span>`;
}

// The chart's bands: [from, to, sub-score], per parameter (RCP 2017).
const BANDS = {
  respirationRate: { label: "Respiration rate", unit: "/min", min: 4, max: 36, bands: [[0, 8, 3], [9, 11, 1], [12, 20, 0], [21, 24, 2], [25, 99, 3]] },
  spo2: { label: "SpO2 (scale 1)", unit: "%", min: 84, max: 100, bands: [[0, 91, 3], [92, 93, 2], [94, 95, 1], [96, 100, 0]] },
  spo2Scale2: { label: "SpO2 (scale 2, on oxygen above 92%)", unit: "%", min: 80, max: 100, bands: [[0, 83, 3], [84, 85, 2], [86, 87, 1], [88, 92, 0], [93, 94, 1], [95, 96, 2], [97, 100, 3]] },
  systolicBp: { label: "Systolic blood pressure", unit: "mmHg", min: 70, max: 230, bands: [[0, 90, 3], [91, 100, 2], [101, 110, 1], [111, 219, 0], [220, 999, 3]] },
  pulse: { label: "Pulse", unit: "/min", min: 30, max: 150, bands: [[0, 40, 3], [41, 50, 1], [51, 90, 0], [91, 110, 1], [111, 130, 2], [131, 999, 3]] },
  temperature: { label: "Temperature", unit: "°C", min: 34, max: 40, bands: [[0, 35.0, 3], [35.1, 36.0, 1], [36.1, 38.0, 0], [38.1, 39.0, 1], [39.1, 99, 2]] },
  total: { label: "NEWS2 score", unit: "", min: 0, max: 15, bands: [[0, 4, 0], [5, 6, 2], [7, 99, 3]] },
};

/** One parameter over time, on its bands. */
function Plot({ spec, readings, value, x, width }) {
  const h = 110;
  const { min, max } = spec;
  const y = (v) => h - ((Math.max(min, Math.min(max, v)) - min) * h) / (max - min);
  const points = readings.map((r) => [x(r.takenAt), value(r)]).filter(([, v]) => v != null);
  const step = spec.unit === "°C" ? 0.05 : 0.5;
  return html`<figure class="plot">
    <figcaption>${spec.label}${points.length ? html` <span class="latest-value">${points[points.length - 1][1]}${spec.unit}</span>` : ""}</figcaption>
    <svg width=${width} height=${h} role="img" aria-label=${`${spec.label}: ${points.map(([, v]) => v).join(", ") || "no readings"}`}>
      ${spec.bands.map(([from, to, score]) => {
        const top = y(Math.min(max, to + step));
        const bottom = y(Math.max(min, from - step));
        return bottom > top ? html`<rect class=${`band score-${score}`} x="0" y=${top} width=${width} height=${bottom - top} />` : null;
      })}
      <polyline points=${points.map(([px, v]) => `${px},${y(v)}`).join(" ")} fill="none" class="line" />
      ${points.map(([px, v]) => html`<circle cx=${px} cy=${y(v)} r="3.5" class="point" />`)}
    </svg></figure>`;
}

const CHART = `query ($id: ID!) { observationChart(admissionId: $id) { admissionId wardId nhsNumber admittedAt outcome
  plan { everyMinutes spo2Scale observations escalationContacts { name relationship phone } }
  readings { readingId takenAt source respirationRate spo2 onOxygen systolicBp pulse consciousness temperature total risk colour complete } } }`;

function Chart({ wardId, admissionId }) {
  const [chart, setChart] = useState(null);
  const [error, setError] = useState(null);
  const load = () => graphql(CHART, { id: admissionId }).then((d) => { setChart(d.observationChart); setError(null); }).catch(setError);
  useEffect(() => {
    load();
    // The census of the ward pushes this patient's row at each reading: read the chart again then.
    let live = true;
    const stop = subscribe(`subscription ($w: ID!) { virtualWardCensus(wardId: $w) { full changed { admissionId latest { takenAt } } } }`,
      { w: wardId }, (data) => live && !data.virtualWardCensus.full && data.virtualWardCensus.changed.some((e) => e.admissionId === admissionId) && load());
    return () => {
      live = false;
      stop();
    };
  }, [admissionId]);
  if (error && !chart) return html`<p class="error" role="alert">${messageOf(error)}</p>`;
  if (chart === null && !error) return html`<p class="loading">Loading the chart…</p>`;
  if (!chart) return html`<p class="empty">No such admission.</p>`;
  const readings = chart.readings;
  const width = Math.min(900, Math.max(600, readings.length * 40));
  const times = readings.map((r) => Date.parse(r.takenAt));
  const [t0, t1] = [Math.min(...times), Math.max(...times)];
  const x = (iso) => (t1 === t0 ? width / 2 : 8 + ((Date.parse(iso) - t0) * (width - 16)) / (t1 - t0));
  const spo2 = chart.plan.spo2Scale === "SCALE_2" ? BANDS.spo2Scale2 : BANDS.spo2;
  const latest = readings[readings.length - 1];
  return html`<section aria-labelledby="chart-title" class="news2-chart">
    <div class="toolbar"><h1 id="chart-title">NEWS2 chart</h1><a class="button" href=${`#/virtual/${wardId}`}>Back to the census</a></div>
    ${error && html`<p class="error" role="alert">${messageOf(error)}</p>`}
    <p>NHS number ${chart.nhsNumber} · admitted ${when(chart.admittedAt)} · a reading every ${chart.plan.everyMinutes / 60} h ·
      SpO2 ${chart.plan.spo2Scale === "SCALE_2" ? "scale 2 (target 88–92%)" : "scale 1"}${chart.outcome ? ` · discharged (${chart.outcome.toLowerCase().replaceAll("_", " ")})` : ""}</p>
    ${latest && html`<p>Latest: <${RiskBadge} latest=${latest} /> at ${when(latest.takenAt)}</p>`}
    <p class="legend"><span class="band-key score-3">3</span><span class="band-key score-2">2</span><span class="band-key score-1">1</span><span class="band-key score-0">0</span> the chart's bands: the sub-score a value in each scores</p>
    <div class="plots">
      <${Plot} spec=${BANDS.total} readings=${readings} value=${(r) => r.total} x=${x} width=${width} />
      <${Plot} spec=${BANDS.respirationRate} readings=${readings} value=${(r) => r.respirationRate} x=${x} width=${width} />
      <${Plot} spec=${spo2} readings=${readings} value=${(r) => r.spo2} x=${x} width=${width} />
      <${Plot} spec=${BANDS.systolicBp} readings=${readings} value=${(r) => r.systolicBp} x=${x} width=${width} />
      <${Plot} spec=${BANDS.pulse} readings=${readings} value=${(r) => r.pulse} x=${x} width=${width} />
      <${Plot} spec=${BANDS.temperature} readings=${readings} value=${(r) => r.temperature} x=${x} width=${width} />
    </div>
    <table class="readings"><caption>Every reading</caption>
      <thead><tr><th scope="col">Taken</th><th scope="col">RR</th><th scope="col">SpO2</th><th scope="col">Air/O2</th><th scope="col">BP</th>
        <th scope="col">Pulse</th><th scope="col">ACVPU</th><th scope="col">Temp</th><th scope="col">NEWS2</th></tr></thead>
      <tbody>${[...readings].reverse().map((r) => html`<tr><td>${when(r.takenAt)}</td><td>${r.respirationRate ?? "—"}</td><td>${r.spo2 ?? "—"}</td>
        <td>${r.onOxygen == null ? "—" : r.onOxygen ? "O2" : "Air"}</td><td>${r.systolicBp ?? "—"}</td><td>${r.pulse ?? "—"}</td>
        <td>${r.consciousness ? r.consciousness[0] : "—"}</td><td>${r.temperature ?? "—"}</td><td><${RiskBadge} latest=${r} /></td></tr>`)}</tbody>
    </table>
    ${!chart.outcome && html`<${RecordForm} admissionId=${admissionId} onRecorded=${load} />`}
  </section>`;
}

const NUMBERS = [
  ["respirationRate", "Respiration rate (/min)"],
  ["spo2", "SpO2 (%)"],
  ["systolicBp", "Systolic BP (mmHg)"],
  ["pulse", "Pulse (/min)"],
  ["temperature", "Temperature (°C)"],
];

/** A set taken by a clinician (on a visit or a call). */
function RecordForm({ admissionId, onRecorded }) {
  const empty = { respirationRate: "", spo2: "", systolicBp: "", pulse: "", temperature: "", onOxygen: false, consciousness: "ALERT" };
  const [values, setValues] = useState(empty);
  const [problem, setProblem] = useState(null);
  const [saving, setSaving] = useState(false);
  // The reading's id and time, kept until careflow answers for certain: a retry after a lost
  // answer is the same reading (a duplicate), not a second one.
  const unsent = useRef(null);
  const set = (key, value) => {
    unsent.current = null;
    setValues((v) => ({ ...v, [key]: value }));
  };
  const submit = async (e) => {
    e.preventDefault();
    unsent.current ||= { readingId: uuid(), takenAt: new Date().toISOString() };
    const reading = { admissionId, ...unsent.current, source: "CLINICIAN", onOxygen: values.onOxygen, consciousness: values.consciousness };
    for (const [key] of NUMBERS) {
      const text = String(values[key]).trim();
      if (text) reading[key] = key === "temperature" ? Number(text) : Math.round(Number(text));
    }
    setSaving(true);
    setProblem(null);
    try {
      const data = await graphql(`mutation ($r: [ReadingInput!]!) { recordObservations(input: {readings: $r}) { readings { status message } } }`, { r: [reading] });
      const outcome = data.recordObservations.readings[0];
      if (outcome.status === "REFUSED") throw new Error(outcome.message);
      unsent.current = null;
      setValues(empty);
      onRecorded();
    } catch (error) {
      if (!(error instanceof Offline)) unsent.current = null;
      const fields = Object.entries(error.fields || {}).map(([, d]) => d);
      setProblem(fields.length ? fields.join("; ") : messageOf(error));
    } finally {
      setSaving(false);
    }
  };
  return html`<form class="record-form" onSubmit=${submit} novalidate aria-labelledby="record-title">
    <h2 id="record-title">Record observations</h2>
    ${problem && html`<p class="error" role="alert">${problem}</p>`}
    <div class="record-fields">
      ${NUMBERS.map(([key, label]) => html`<${Field} label=${label}>${(props) => html`<input ...${props} name=${key} inputmode="decimal" value=${values[key]} onInput=${(e) => set(key, e.currentTarget.value)} />`}<//>`)}
      <${Field} label="Consciousness">${(props) => html`<select ...${props} name="consciousness" value=${values.consciousness} onChange=${(e) => set("consciousness", e.currentTarget.value)}>
        <option value="ALERT">Alert</option><option value="NEW_CONFUSION">New confusion</option><option value="VOICE">Voice</option>
        <option value="PAIN">Pain</option><option value="UNRESPONSIVE">Unresponsive</option></select>`}<//>
      <label class="check"><input type="checkbox" name="onOxygen" checked=${values.onOxygen} onChange=${(e) => set("onOxygen", e.currentTarget.checked)} /> On oxygen</label>
    </div>
    <button type="submit" class="primary" disabled=${saving}>${saving ? "Recording…" : "Record"}</button>
  </form>`;
}
