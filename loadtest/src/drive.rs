//! Phase 3: commands at the configured rate, open loop. Tick `i` is due at `start + i / rate`
//! whatever happened to the ticks before it; its command is timed from that intended start (so
//! a slow answer cannot hide the ticks queued behind it). A tick chooses a kind of work by the
//! mix and an idle lane of it; if every command slot is in flight, or nothing of the kind is
//! idle, the tick is dropped and counted, never postponed. Before each command is sent, the push
//! it will cause is registered with the tracker for every other client that should see it.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};

use crate::args::Mix;
use crate::client::{Gql, Outcome};
use crate::setup::answers;
use crate::stats::{Op, PushKind, Stats, record};
use crate::tracker::{Key, SubId, Tracker};
use crate::world::{Audience, BLOCK_REASONS, BedState, Ended, Job, Lanes, World};
use crate::ws::Shared;

/// Commands never acknowledged are forgotten by the tracker after this long.
const STALE: Duration = Duration::from_secs(120);

/// The GraphQL of the run's commands.
mod gql {
    pub const EDD: &str = r#"mutation($stay: ID!, $date: String!) { setExpectedDischargeDate(input: {stayId: $stay, date: $date}) { position } }"#;
    pub const BLOCK: &str = r#"mutation($bed: ID!, $reason: BlockReason!) { blockBed(input: {bedId: $bed, reason: $reason,
        note: "Side room needed"}) { position } }"#;
    pub const UNBLOCK: &str = r#"mutation($bed: ID!) { unblockBed(input: {bedId: $bed}) { position } }"#;
    pub const CLEAN: &str = r#"mutation($bed: ID!) { markBedCleaned(input: {bedId: $bed}) { position } }"#;
    pub const RESERVE: &str = r#"mutation($bed: ID!) { reserveBed(input: {bedId: $bed, note: "From the emergency department"}) { position } }"#;
    pub const RELEASE: &str =
        r#"mutation($bed: ID!) { releaseBedReservation(input: {bedId: $bed}) { position } }"#;
    pub const CREATE: &str = r#"mutation($team: ID!, $title: String!) { createTask(input: {title: $title, kind: GENERAL, teamId: $team,
        priority: ROUTINE, note: "Needed before the patient can go home"}) { taskId } }"#;
    pub const CLAIM: &str = r#"mutation($task: ID!) { claimTask(input: {taskId: $task}) { position } }"#;
    pub const COMPLETE: &str =
        r#"mutation($task: ID!) { completeTask(input: {taskId: $task, outcome: "Done"}) { position } }"#;
    pub const SAVE: &str = r#"mutation($input: SaveAssessmentSectionInput!) { saveAssessmentSection(input: $input) { position } }"#;
    pub const RECORD: &str = r#"mutation($readings: [ReadingInput!]!) { recordObservations(input: {readings: $readings}) {
        position readings { status code message } } }"#;
    pub const MAKE: &str = r#"mutation($request: ID!, $price: Int!, $start: String!) { makeOffer(input: {requestId: $request,
        weeklyPricePence: $price, earliestStart: $start, note: "Room with en-suite; can assess on the ward"}) { offerId } }"#;
    pub const WITHDRAW: &str = r#"mutation($request: ID!, $offer: ID!) { withdrawOffer(input: {requestId: $request, offerId: $offer}) { position } }"#;
    pub const BED: &str =
        r#"query($id: ID!) { bed(id: $id) { status stayId expectedDischargeDate blockedReason } }"#;
}

/// What the run's commands share.
pub struct Ctx {
    /// The gateway.
    pub gql: Gql,
    /// What setup made.
    pub world: World,
    /// Who watches what.
    pub audience: Audience,
    /// The subscriptions' state.
    pub shared: Arc<Shared>,
    /// Measurements.
    pub stats: Arc<Stats>,
    /// Pushes awaited.
    pub tracker: Arc<Tracker>,
    /// What is idle, and in what state.
    pub lanes: Mutex<Lanes>,
    /// Dates count from this day.
    pub today: chrono::NaiveDate,
}

/// One command, ready to send.
struct Command<'a> {
    op: Op,
    token: &'a str,
    query: &'static str,
    variables: Value,
    key: Key,
    audience: Vec<(SubId, PushKind)>,
}

impl Ctx {
    fn watchers(&self, subs: &[SubId]) -> Vec<(SubId, PushKind)> {
        subs.iter()
            .filter(|s| self.shared.is_alive(**s))
            .filter_map(|s| self.shared.kind(*s).map(|k| (*s, k)))
            .collect()
    }

    fn date(&self, day: u32) -> String {
        (self.today + chrono::Duration::days(i64::from(day))).to_string()
    }

    fn command(&self, job: &Job) -> Command<'_> {
        let w = &self.world;
        let bed_command = |bed: usize, op: Op, query: &'static str, variables: Value, key: Key| {
            let ward = w.beds[bed].ward;
            let token = if op == Op::MarkBedCleaned { &w.tokens.housekeeper } else { &w.wards[ward].nurse };
            Command {
                op,
                token,
                query,
                variables,
                key,
                audience: self.watchers(&self.audience.bed_board[ward]),
            }
        };
        match job {
            Job::Edd { bed, stay, day } => {
                let date = self.date(*day);
                let key = Key::bed(&w.beds[*bed].id, "OCCUPIED", &date);
                bed_command(
                    *bed,
                    Op::SetExpectedDischargeDate,
                    gql::EDD,
                    json!({"stay": stay, "date": date}),
                    key,
                )
            }
            Job::Block { bed, reason } => {
                let vars = json!({"bed": w.beds[*bed].id, "reason": BLOCK_REASONS[*reason]});
                bed_command(*bed, Op::BlockBed, gql::BLOCK, vars, Key::bed(&w.beds[*bed].id, "BLOCKED", ""))
            }
            Job::Unblock { bed, infection } => {
                let to = if *infection { "AWAITING_CLEANING" } else { "AVAILABLE" };
                let key = Key::bed(&w.beds[*bed].id, to, "");
                bed_command(*bed, Op::UnblockBed, gql::UNBLOCK, json!({"bed": w.beds[*bed].id}), key)
            }
            Job::Clean { bed } => {
                let key = Key::bed(&w.beds[*bed].id, "AVAILABLE", "");
                bed_command(*bed, Op::MarkBedCleaned, gql::CLEAN, json!({"bed": w.beds[*bed].id}), key)
            }
            Job::Reserve { bed } => {
                let key = Key::bed(&w.beds[*bed].id, "RESERVED", "");
                bed_command(*bed, Op::ReserveBed, gql::RESERVE, json!({"bed": w.beds[*bed].id}), key)
            }
            Job::Release { bed } => {
                let key = Key::bed(&w.beds[*bed].id, "AVAILABLE", "");
                bed_command(
                    *bed,
                    Op::ReleaseBedReservation,
                    gql::RELEASE,
                    json!({"bed": w.beds[*bed].id}),
                    key,
                )
            }
            Job::Create { slot, title } => {
                let ward = Lanes::slot_ward(*slot);
                Command {
                    op: Op::CreateTask,
                    token: &w.wards[ward].nurse,
                    query: gql::CREATE,
                    variables: json!({"team": w.wards[ward].team, "title": title}),
                    key: Key::task_title(title),
                    audience: self.watchers(&self.audience.inbox[ward]),
                }
            }
            Job::Claim { slot, task } | Job::Complete { slot, task } => {
                let ward = Lanes::slot_ward(*slot);
                let (op, query, key) = match job {
                    Job::Claim { .. } => (Op::ClaimTask, gql::CLAIM, Key::task(task, "CLAIMED")),
                    _ => (Op::CompleteTask, gql::COMPLETE, Key::task_gone(task)),
                };
                Command {
                    op,
                    token: &w.wards[ward].nurse,
                    query,
                    variables: json!({"task": task}),
                    key,
                    audience: self.watchers(&self.audience.inbox[ward]),
                }
            }
            Job::Save { section, base, n } => {
                let s = &w.sections[*section];
                let assessment = &w.assessments[s.assessment].id;
                let input = json!({"assessmentId": assessment, "sectionId": s.template.id, "baseVersion": base,
                    "answers": answers(&s.template.questions, *n, self.today)});
                Command {
                    op: Op::SaveAssessmentSection,
                    token: &s.editor,
                    query: gql::SAVE,
                    variables: json!({"input": input}),
                    key: Key::section(assessment, &s.template.id, base + 1),
                    audience: self.watchers(&self.audience.assessment[s.assessment]),
                }
            }
            Job::Reading { admission, taken_ms, n } => {
                let a = &w.admissions[*admission];
                let taken = chrono::DateTime::from_timestamp_millis(*taken_ms)
                    .unwrap_or_else(chrono::Utc::now)
                    .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
                Command {
                    op: Op::RecordObservations,
                    token: &w.tokens.device,
                    query: gql::RECORD,
                    variables: json!({"readings": [reading(&a.id, &taken, *n)]}),
                    key: Key::reading(&a.id, *taken_ms),
                    audience: self.watchers(&self.audience.census[a.ward]),
                }
            }
            Job::Make { pair, price, .. } => {
                let pair = &w.offer_pairs[*pair];
                let (request, provider) = (&w.requests[pair.request].id, &w.providers[pair.provider]);
                let mut audience = self.watchers(&self.audience.market);
                audience.extend(self.watchers(&self.audience.provider[pair.provider]));
                Command {
                    op: Op::MakeOffer,
                    token: &provider.token,
                    query: gql::MAKE,
                    variables: json!({"request": request, "price": price, "start": self.date(2)}),
                    key: Key::offer_made(request, &provider.ods, *price),
                    audience,
                }
            }
            Job::Withdraw { pair, offer, .. } => {
                let pair = &w.offer_pairs[*pair];
                let mut audience = self.watchers(&self.audience.market);
                audience.extend(self.watchers(&self.audience.provider[pair.provider]));
                Command {
                    op: Op::WithdrawOffer,
                    token: &w.providers[pair.provider].token,
                    query: gql::WITHDRAW,
                    variables: json!({"request": w.requests[pair.request].id, "offer": offer}),
                    key: Key::offer(offer, "WITHDRAWN"),
                    audience,
                }
            }
        }
    }

    /// The state of bed `bed` as the gateway has it now.
    async fn bed_now(&self, bed: usize) -> Option<BedState> {
        let token = &self.world.wards[self.world.beds[bed].ward].nurse;
        match self.gql.call(token, gql::BED, json!({"id": self.world.beds[bed].id})).await {
            Outcome::Data(data) => BedState::from_bed(data.get("bed")?, self.today),
            Outcome::Failed(_) => None,
        }
    }

    /// Sets the expected discharge date of the patient in `bed` (an occupied bed) to `day`
    /// days from today, outside the run's measurements: a probe that makes the bed board push.
    pub async fn probe(&self, bed: usize, stay: &str, day: u32) -> bool {
        let token = &self.world.wards[self.world.beds[bed].ward].nurse;
        matches!(
            self.gql.call(token, gql::EDD, json!({"stay": stay, "date": self.date(day)})).await,
            Outcome::Data(_)
        )
    }

    fn lanes(&self) -> std::sync::MutexGuard<'_, Lanes> {
        self.lanes.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A plausible set of vital signs (NEWS2 0–1: nobody is escalated), varied by `n`.
fn reading(admission: &str, taken_at: &str, n: u64) -> Value {
    let v = i64::try_from(n % 5).unwrap_or(0);
    json!({
        "admissionId": admission,
        "readingId": uuid::Uuid::new_v4().to_string(),
        "takenAt": taken_at,
        "source": "DEVICE",
        "respirationRate": 14 + v,
        "spo2": 96 + v % 3,
        "onOxygen": false,
        "systolicBp": 118 + 3 * v,
        "pulse": 68 + 2 * v,
        "consciousness": "ALERT",
        "temperature": 36.5 + 0.1 * v as f64,
    })
}

fn bed_of(job: &Job) -> Option<usize> {
    match job {
        Job::Edd { bed, .. }
        | Job::Block { bed, .. }
        | Job::Unblock { bed, .. }
        | Job::Clean { bed }
        | Job::Reserve { bed }
        | Job::Release { bed } => Some(*bed),
        _ => None,
    }
}

/// Whether an answer with data says the command did what it was asked (a reading may be
/// refused inside an answer without errors).
fn refused(op: Op, data: &Value) -> Option<(String, String)> {
    if op != Op::RecordObservations {
        return None;
    }
    let outcome = data.pointer("/recordObservations/readings/0")?;
    let status = outcome.get("status").and_then(Value::as_str).unwrap_or("MISSING");
    if status == "RECORDED" {
        return None;
    }
    let code = outcome
        .get("code")
        .and_then(Value::as_str)
        .map_or_else(|| format!("READING_{status}"), str::to_owned);
    let message = outcome.get("message").and_then(Value::as_str).unwrap_or(status).to_owned();
    Some((code, message))
}

/// Sends `job`'s command, measures it, and puts its lane back.
async fn execute(ctx: Arc<Ctx>, job: Job, intended: Instant, permit: OwnedSemaphorePermit) {
    let command = ctx.command(&job);
    let (op, key) = (command.op, command.key);
    let stats = ctx.stats.op(op);
    stats.sent.fetch_add(1, Ordering::Relaxed);
    ctx.stats.in_flight.fetch_add(1, Ordering::Relaxed);
    let sent = Instant::now();
    record(&ctx.stats.lag, sent.saturating_duration_since(intended));
    ctx.tracker.expect(key, sent, command.audience);
    let outcome = ctx.gql.call(command.token, command.query, command.variables).await;
    let done = Instant::now();
    record(&stats.latency, done.saturating_duration_since(intended));
    let ended = match outcome {
        Outcome::Data(data) => match refused(op, &data) {
            None => {
                stats.ok.fetch_add(1, Ordering::Relaxed);
                ctx.tracker.acked(key, done);
                Ended::Done(data)
            }
            Some((code, message)) => {
                stats.failed.fetch_add(1, Ordering::Relaxed);
                ctx.stats.error(op.name(), &code, &message);
                ctx.tracker.cancel(key);
                Ended::Failed
            }
        },
        Outcome::Failed(failure) if op == Op::SaveAssessmentSection && failure.code == "CONFLICT" => {
            stats.conflict.fetch_add(1, Ordering::Relaxed);
            ctx.tracker.cancel(key);
            Ended::Stale(failure.extensions.pointer("/section/version").and_then(Value::as_u64))
        }
        Outcome::Failed(failure) => {
            stats.failed.fetch_add(1, Ordering::Relaxed);
            ctx.stats.error(op.name(), &failure.code, &failure.message);
            ctx.tracker.cancel(key);
            Ended::Failed
        }
    };
    // A bed whose command failed is read back: its state is not known otherwise.
    let now = match (&ended, bed_of(&job)) {
        (Ended::Failed, Some(bed)) => ctx.bed_now(bed).await.map(|state| (bed, state)),
        _ => None,
    };
    match now {
        Some((bed, state)) => ctx.lanes().set_bed(bed, state),
        None => ctx.lanes().finish(&job, &ended),
    }
    ctx.stats.in_flight.fetch_sub(1, Ordering::Relaxed);
    drop(permit);
}

/// Drives commands for `duration` at `rate` per second; returns how long it drove (the
/// commands still in flight at the end are waited for, up to a minute, outside that time).
pub async fn run(
    ctx: Arc<Ctx>,
    mix: Mix,
    rate: f64,
    duration: Duration,
    max_in_flight: usize,
    seed: u64,
) -> Duration {
    let semaphore = Arc::new(Semaphore::new(max_in_flight));
    let mut rng = SmallRng::seed_from_u64(seed);
    let ticks = (rate * duration.as_secs_f64()).floor() as u64;
    let start = Instant::now();
    for i in 0..ticks {
        let intended = start + Duration::from_secs_f64(i as f64 / rate);
        tokio::time::sleep_until(tokio::time::Instant::from_std(intended)).await;
        ctx.stats.scheduled.fetch_add(1, Ordering::Relaxed);
        let category = mix.pick(rng.random_range(0..mix.total().max(1)));
        let Ok(permit) = semaphore.clone().try_acquire_owned() else {
            ctx.stats.drop_full(category);
            continue;
        };
        let job = ctx.lanes().plan(category, &mut rng);
        match job {
            Some(job) => {
                tokio::spawn(execute(ctx.clone(), job, intended, permit));
            }
            None => ctx.stats.drop_idle(category),
        }
    }
    tokio::time::sleep_until(tokio::time::Instant::from_std(start + duration)).await;
    let drove = start.elapsed();
    let all = u32::try_from(max_in_flight).unwrap_or(u32::MAX);
    let _ = tokio::time::timeout(Duration::from_secs(60), semaphore.acquire_many(all)).await;
    drove
}

/// Every 200 ms, counts the pushes that did not come within `timeout` of their command's
/// acknowledgement as missed (and as errors), until `stop`.
pub async fn sweep(
    tracker: Arc<Tracker>,
    stats: Arc<Stats>,
    timeout: Duration,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(200)) => {}
            changed = stop.changed() => if changed.is_err() || *stop.borrow() { return },
        }
        count_missed(&stats, tracker.sweep(Instant::now(), timeout, STALE), timeout);
    }
}

/// Counts `missed` pushes, by kind.
pub fn count_missed(stats: &Stats, missed: [u64; 6], timeout: Duration) {
    for kind in PushKind::ALL {
        let n = missed[kind.index()];
        if n > 0 {
            stats.push(kind).missed.fetch_add(n, Ordering::Relaxed);
            let why =
                format!("no push within {:.1} s of the command's acknowledgement", timeout.as_secs_f64());
            stats.errors_n(kind.name(), "PUSH_MISSED", &why, n);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_reading_is_a_failure_with_its_code() {
        let ok = json!({"recordObservations": {"readings": [{"status": "RECORDED"}]}});
        assert_eq!(refused(Op::RecordObservations, &ok), None);
        let gone = json!({"recordObservations": {"readings": [{"status": "REFUSED", "code": "NOT_FOUND", "message": "no"}]}});
        assert_eq!(refused(Op::RecordObservations, &gone), Some(("NOT_FOUND".into(), "no".into())));
        let twice = json!({"recordObservations": {"readings": [{"status": "DUPLICATE"}]}});
        assert_eq!(refused(Op::RecordObservations, &twice).map(|r| r.0), Some("READING_DUPLICATE".into()));
        assert_eq!(refused(Op::BlockBed, &json!({})), None);
    }

    #[test]
    fn readings_are_unremarkable_and_never_reuse_an_id() {
        let a = reading("ad", "2030-01-01T00:00:00.000Z", 4);
        let b = reading("ad", "2030-01-01T00:00:00.000Z", 4);
        assert_ne!(a["readingId"], b["readingId"]);
        assert_eq!((a["respirationRate"].as_i64(), a["spo2"].as_i64()), (Some(18), Some(97)));
    }
}
