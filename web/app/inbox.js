// Team inboxes: the signed-in person's teams, each inbox in work order (overdue first, then by
// priority and due time), live over the teamInbox subscription. Claim, hand off to any team
// (other organisations' too), accept a hand-off, comment, complete with an outcome, and a
// task's whole history.

import { useEffect, useState } from "preact/hooks";
import { command, graphql, subscribe } from "./api.js";
import { ASSESSORS, assessmentsForTask, startAssessment } from "./assessment.js";
import { session, useStore } from "./session.js";
import { Dialog, Field, formatNhs, html, messageOf, route, usePending, useTick, waitingFor, when } from "./ui.js";

const TASK_FIELDS = "id nhsNumber title kind teamId organisation priority due overdue status claimedBy offeredTo createdAt updatedAt";

const PRIORITIES = { IMMEDIATE: "Immediate", URGENT: "Urgent", ROUTINE: "Routine" };
const STATUSES = { OPEN: "Open", CLAIMED: "Claimed", HANDOFF_PENDING: "Hand-off pending", COMPLETED: "Completed", CANCELLED: "Cancelled" };
export const KINDS = {
  GENERAL: "General",
  TRUSTED_ASSESSMENT: "Trusted assessment",
  DISCHARGE_HOME: "Discharge home",
  BED_CLEANING: "Bed cleaning",
  CARE_PLAN_REVIEW: "Care plan review",
  NEWS2_ESCALATION: "NEWS2 escalation",
  MISSED_READING: "Missed reading",
  DISCHARGE_TO_CARE: "Discharge to care",
};

const TASK_MUTATION = (name, type) => `mutation ($input: ${type}!) { ${name}(input: $input) { taskId visible } }`;

/** The teams the person works in: those their token names, and those listing them as member or lead. */
function myTeams(teams, claims) {
  const named = new Set(claims?.teams || []);
  return teams.filter((t) => named.has(t.id) || t.members.includes(claims?.sub) || t.lead === claims?.sub);
}

export function Inbox({ teamId, navigate }) {
  const who = useStore(session);
  const [teams, setTeams] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    graphql("{ teams { id name organisation kind lead members openTasks overdueTasks } }")
      .then((data) => setTeams(data.teams))
      .catch(setError);
  }, []);
  const mine = teams ? myTeams(teams, who?.claims) : [];
  useEffect(() => {
    const [screen, now] = route();
    if (teams && screen === "inbox" && !now && mine.length) navigate(`#/inbox/${mine[0].id}`, true);
  }, [teams, teamId]);

  if (error) return html`<p class="error" role="alert">${messageOf(error)}</p>`;
  if (!teams) return html`<p class="loading">Loading your teams…</p>`;
  if (!mine.length) return html`<section><h1>Team inbox</h1><p>You are not a member of any team.</p></section>`;
  const team = teams.find((t) => t.id === teamId);
  return html`<section aria-labelledby="inbox-title">
    <div class="toolbar">
      <h1 id="inbox-title">Team inbox${team ? html`: <span>${team.name}</span>` : ""}</h1>
      <nav class="team-tabs" aria-label="Your teams">
        ${mine.map((t) => html`<a href=${`#/inbox/${t.id}`} class="tab" aria-current=${t.id === teamId ? "page" : undefined}>${t.name}</a>`)}
      </nav>
    </div>
    ${team && html`<${TeamTasks} key=${team.id} team=${team} teams=${teams} />`}
  </section>`;
}

function TeamTasks({ team, teams }) {
  const [tasks, setTasks] = useState(null);
  const [error, setError] = useState(null);
  const [open, setOpen] = useState(null);
  useTick(30000);
  useEffect(() => {
    let live = true;
    const stop = subscribe(`subscription ($t: ID!) { teamInbox(teamId: $t) { ${TASK_FIELDS} } }`, { t: team.id },
      (data) => {
        if (!live) return;
        setError(null);
        setTasks(data.teamInbox);
      }, (e) => live && setError(e));
    return () => {
      live = false;
      stop();
    };
  }, [team.id]);
  const pending = usePending();
  const selected = open && tasks?.find((t) => t.id === open);
  useEffect(() => {
    // The open task left the inbox (completed, handed on): it must not pop open again later.
    if (open && tasks && !selected) setOpen(null);
  }, [tasks, open]);
  if (error && !tasks) return html`<p class="error" role="alert">${messageOf(error)}</p>`;
  if (!tasks) return html`<p class="loading">Loading the inbox…</p>`;
  const overdue = tasks.filter((t) => t.overdue).length;
  return html`
    ${error && html`<p class="error" role="alert">${messageOf(error)}</p>`}
    <p class="summary" aria-live="polite">${tasks.length} open ${tasks.length === 1 ? "task" : "tasks"}${overdue ? `, ${overdue} overdue` : ""}</p>
    ${tasks.length === 0 && html`<p class="empty">Nothing waiting. New work appears here as it arrives.</p>`}
    <ul class="tasks" aria-label=${`Tasks of ${team.name}`}>
      ${tasks.map((task) => html`<li key=${task.id}><${TaskRow} task=${task} team=${team} waiting=${waitingFor(pending, { taskId: task.id })} onOpen=${() => setOpen(task.id)} /></li>`)}
    </ul>
    ${selected && html`<${TaskDialog} task=${selected} team=${team} teams=${teams} waiting=${waitingFor(pending, { taskId: selected.id })} onClose=${() => setOpen(null)} />`}`;
}

function TaskRow({ task, team, waiting, onOpen }) {
  const offered = task.status === "HANDOFF_PENDING" && task.offeredTo === team.id;
  return html`<button type="button" class="task ${task.overdue ? "overdue" : ""} p-${task.priority.toLowerCase()}" data-task=${task.id} onClick=${onOpen}>
    <span class="task-title">${task.title}</span>
    <span class="task-meta">
      ${task.overdue && html`<span class="badge overdue"><span aria-hidden="true">⚠</span> Overdue</span>`}
      <span class="badge priority">${PRIORITIES[task.priority]}</span>
      <span class="badge">${KINDS[task.kind] || task.kind}</span>
      ${offered ? html`<span class="badge offered">Offered to your team</span>` : html`<span class="badge">${STATUSES[task.status]}</span>`}
      ${task.due && html`<span class="due">Due ${when(task.due)}</span>`}
      ${task.claimedBy && html`<span class="claimed">Claimed by ${task.claimedBy}</span>`}
      ${task.nhsNumber && html`<span class="nhs">NHS ${formatNhs(task.nhsNumber)}</span>`}
      ${waiting && html`<span class="badge waiting"><span aria-hidden="true">⧗</span> Change waiting to be sent</span>`}
    </span>
  </button>`;
}

function TaskDialog({ task, team, teams, waiting, onClose }) {
  const who = useStore(session);
  const me = who?.claims?.sub;
  const [detail, setDetail] = useState(null);
  const [form, setForm] = useState(null);
  const [problem, setProblem] = useState(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    // Only the latest read counts: an older answer arriving late would show an older history.
    let current = true;
    graphql(`query ($id: ID!) { task(id: $id) { note raisedByUser raisedByRule ruleVersion outcome
        links { kind id } history { at event by fromOrganisation toOrganisation detail } } }`, { id: task.id })
      .then((data) => current && setDetail(data.task))
      .catch((e) => current && setProblem(messageOf(e)));
    return () => {
      current = false;
    };
  }, [task.id, task.updatedAt]);

  const run = async (label, name, type, input) => {
    setBusy(true);
    setProblem(null);
    try {
      await command(label, TASK_MUTATION(name, type), { taskId: task.id, ...input }, { taskId: task.id });
      setForm(null);
      setBusy(false);
      return true;
    } catch (error) {
      setBusy(false);
      setProblem(messageOf(error));
      return false;
    }
  };

  // A trusted-assessment task opens its assessment, or starts one.
  const [assessments, setAssessments] = useState(null);
  const assessable = task.kind === "TRUSTED_ASSESSMENT" && task.nhsNumber;
  useEffect(() => {
    if (!assessable) return;
    assessmentsForTask(task.nhsNumber, task.id).then(setAssessments).catch(() => setAssessments([]));
  }, [task.id]);
  const startOne = async () => {
    setBusy(true);
    setProblem(null);
    try {
      location.hash = `#/assessment/${await startAssessment(task.nhsNumber, task.id)}`;
    } catch (error) {
      setBusy(false);
      setProblem(messageOf(error));
    }
  };

  const offeredHere = task.status === "HANDOFF_PENDING" && task.offeredTo === team.id;
  const owned = task.teamId === team.id;
  const buttons = [];
  if (offeredHere) buttons.push(["Accept the hand-off", () => run("Accept hand-off", "acceptHandOff", "TaskInput", {})]);
  if (owned && task.status === "OPEN") buttons.push(["Claim", () => run("Claim", "claimTask", "TaskInput", {})]);
  if (owned && task.status === "CLAIMED" && task.claimedBy === me) buttons.push(["Unclaim", () => run("Unclaim", "unclaimTask", "TaskInput", {})]);
  if (owned && ["OPEN", "CLAIMED"].includes(task.status)) buttons.push(["Hand off", () => setForm("handoff")]);
  if (owned && ["OPEN", "CLAIMED"].includes(task.status)) buttons.push(["Complete", () => setForm("complete")]);
  buttons.push(["Comment", () => setForm("comment")]);
  if (assessable && assessments?.length) buttons.unshift(["Open the trusted assessment", () => (location.hash = `#/assessment/${assessments[0].id}`)]);
  else if (assessable && assessments && owned && ASSESSORS.includes(who?.claims?.role)) buttons.unshift(["Start the trusted assessment", startOne]);

  return html`<${Dialog} title=${task.title} onClose=${onClose}>
    <dl class="task-facts">
      <div><dt>Status</dt><dd>${STATUSES[task.status]}${task.overdue ? " · overdue" : ""}</dd></div>
      <div><dt>Priority</dt><dd>${PRIORITIES[task.priority]}</dd></div>
      ${task.due && html`<div><dt>Due</dt><dd>${when(task.due)}</dd></div>`}
      ${task.nhsNumber && html`<div><dt>Patient</dt><dd><a href=${`#/patient/${task.nhsNumber}`}>NHS ${formatNhs(task.nhsNumber)}</a></dd></div>`}
      ${task.claimedBy && html`<div><dt>Claimed by</dt><dd>${task.claimedBy}</dd></div>`}
      ${detail?.raisedByRule && html`<div><dt>Raised by rule</dt><dd>${detail.raisedByRule} v${detail.ruleVersion}</dd></div>`}
      ${detail?.raisedByUser && html`<div><dt>Raised by</dt><dd>${detail.raisedByUser}</dd></div>`}
    </dl>
    ${detail?.note && html`<p class="note">${detail.note}</p>`}
    ${waiting && html`<p class="banner pending" role="status">A change to this task is waiting to be sent.</p>`}
    ${!form && !waiting && html`<div class="actions">${buttons.map(([label, act]) => html`<button type="button" class="action" disabled=${busy} onClick=${act}>${label}</button>`)}</div>`}
    ${form === "handoff" && html`<${HandOffForm} teams=${teams.filter((t) => t.id !== task.teamId)} busy=${busy}
      onCancel=${() => setForm(null)} onSend=${(toTeamId, note) => run("Hand off", "handOffTask", "HandOffTaskInput", { toTeamId, note: note || null })} />`}
    ${form === "complete" && html`<${TextForm} label="Outcome" action="Complete the task" busy=${busy} required="Say what came of it"
      onCancel=${() => setForm(null)} onSend=${(outcome) => run("Complete", "completeTask", "CompleteTaskInput", { outcome })} />`}
    ${form === "comment" && html`<${TextForm} label="Comment" action="Add the comment" busy=${busy} required="Write the comment"
      onCancel=${() => setForm(null)} onSend=${(text) => run("Comment", "commentOnTask", "CommentOnTaskInput", { text })} />`}
    ${problem && html`<p class="form-error" role="alert">${problem}</p>`}
    ${detail && html`<h3>History</h3><ol class="history">${detail.history.map((h) => html`<li>
      <span class="when">${when(h.at)}</span> <span class="what">${h.event}</span>
      ${h.by && html` by ${h.by}`}${h.fromOrganisation && h.toOrganisation && h.fromOrganisation !== h.toOrganisation ? ` (${h.fromOrganisation} → ${h.toOrganisation})` : ""}
      ${h.detail && html`<span class="detail">: ${h.detail}</span>`}</li>`)}</ol>`}
  <//>`;
}

function HandOffForm({ teams, busy, onCancel, onSend }) {
  const [to, setTo] = useState("");
  const [note, setNote] = useState("");
  const [error, setError] = useState(null);
  const byOrganisation = {};
  for (const t of teams) (byOrganisation[t.organisation] ||= []).push(t);
  const submit = (e) => {
    e.preventDefault();
    if (!to) return setError("Choose the team to hand it to");
    setError(null);
    onSend(to, note.trim());
  };
  return html`<form class="action-form" onSubmit=${submit} novalidate>
    <${Field} label="Hand off to" error=${error}>${(props) => html`<select ...${props} name="toTeamId" value=${to} onChange=${(e) => setTo(e.currentTarget.value)}>
      <option value="">Choose a team</option>
      ${Object.entries(byOrganisation).map(([org, list]) => html`<optgroup label=${org}>${list.map((t) => html`<option value=${t.id}>${t.name}</option>`)}</optgroup>`)}
    </select>`}<//>
    <${Field} label="Note for the receiving team (optional)">${(props) => html`<textarea ...${props} name="note" rows="3" value=${note} onInput=${(e) => setNote(e.currentTarget.value)} />`}<//>
    <div class="form-buttons"><button type="button" class="secondary" onClick=${onCancel}>Cancel</button>
      <button type="submit" class="primary" disabled=${busy}>Hand off</button></div>
  </form>`;
}

function TextForm({ label, action, required, busy, onCancel, onSend }) {
  const [text, setText] = useState("");
  const [error, setError] = useState(null);
  const submit = (e) => {
    e.preventDefault();
    if (!text.trim()) return setError(required);
    setError(null);
    onSend(text.trim());
  };
  return html`<form class="action-form" onSubmit=${submit} novalidate>
    <${Field} label=${label} error=${error}>${(props) => html`<textarea ...${props} name="text" rows="3" value=${text} onInput=${(e) => setText(e.currentTarget.value)} />`}<//>
    <div class="form-buttons"><button type="button" class="secondary" onClick=${onCancel}>Cancel</button>
      <button type="submit" class="primary" disabled=${busy}>${action}</button></div>
  </form>`;
}
