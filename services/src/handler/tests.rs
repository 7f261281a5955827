//! The generic handler against a toy context: nothing-to-do decisions, refusals, command-id
//! reuse (also in a race), and the state cache (a command reads only a stream's newest events,
//! and sees what another handler — another process — appended).

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use careflow_auth::policy::Action;
use careflow_auth::{Actor, Role};
use careflow_domain::{Decider, Loaded, OdsCode, Owner, Refusal, RefusalKind};
use careflow_eventstore::memory::MemoryStore;
use careflow_eventstore::{
    AllSlice, AppendResult, CurrentVersion, EventStore, Filter, Position, RecordedEvent, StoreError,
    StreamAppend, StreamName,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use uuid::Uuid;

use super::{CommandHandler, Effect};
use crate::{CommandContext, ServiceError};

/// A counter per id: `counter-<id>`.
struct Counters;

#[derive(Debug, Serialize)]
enum Count {
    Add { id: u32, by: u64 },
    Reset { id: u32 },
    Expect { id: u32, total: u64 },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
enum Counted {
    Added { id: u32, by: u64 },
    Reset { id: u32 },
}

#[derive(Debug, thiserror::Error)]
enum CountError {
    #[error("cannot add nothing")]
    Nothing,
    #[error("counter {id} is at {total}")]
    Elsewhere { id: u32, total: u64 },
}

impl Refusal for CountError {
    fn kind(&self) -> RefusalKind {
        match self {
            CountError::Nothing | CountError::Elsewhere { .. } => RefusalKind::Precondition,
        }
    }
}

impl Decider for Counters {
    type Command = Count;
    type Event = Counted;
    type Stream = u32;
    type State = u64;
    type Error = CountError;
    const CONTEXT: &'static str = "counters";
    const SCHEMA_VERSION: u32 = 1;
    const CATEGORIES: &'static [&'static str] = &["counter"];

    fn command_name(command: &Count) -> &'static str {
        match command {
            Count::Add { .. } => "Add",
            Count::Reset { .. } => "Reset",
            Count::Expect { .. } => "Expect",
        }
    }
    fn stream_name(stream: &u32) -> String {
        format!("counter-{stream}")
    }
    fn stream_of(event: &Counted) -> u32 {
        match event {
            Counted::Added { id, .. } | Counted::Reset { id } => *id,
        }
    }
    fn event_type(event: &Counted) -> &'static str {
        match event {
            Counted::Added { .. } => "Added",
            Counted::Reset { .. } => "Reset",
        }
    }
    fn initial(_: &u32) -> u64 {
        0
    }
    fn evolve(state: &mut u64, event: &Counted) {
        match event {
            Counted::Added { by, .. } => *state += by,
            Counted::Reset { .. } => *state = 0,
        }
    }
    fn streams(command: &Count, _: &Loaded<Self>) -> Vec<u32> {
        match command {
            Count::Add { id, .. } | Count::Reset { id } | Count::Expect { id, .. } => vec![*id],
        }
    }
    fn owners(_: &Loaded<Self>, _: &Count) -> Vec<Owner> {
        vec![Owner::Organisation(OdsCode::parse("RXA").unwrap())]
    }
    fn decide(loaded: &Loaded<Self>, command: &Count, _: DateTime<Utc>) -> Result<Vec<Counted>, CountError> {
        let total = |id| loaded.get(id).copied().unwrap_or(0);
        match command {
            Count::Add { by: 0, .. } => Err(CountError::Nothing),
            Count::Add { id, by } => Ok(vec![Counted::Added { id: *id, by: *by }]),
            Count::Reset { id } if total(id) == 0 => Ok(Vec::new()),
            Count::Reset { id } => Ok(vec![Counted::Reset { id: *id }]),
            Count::Expect { id, total: expected } if total(id) == *expected => Ok(Vec::new()),
            Count::Expect { id, .. } => Err(CountError::Elsewhere { id: *id, total: total(id) }),
        }
    }
}

fn actor(user: &str) -> Actor {
    Actor { user_id: user.into(), role: Role::WardNurse, organisation: "RXA".into(), teams: Vec::new() }
}

fn context(command_id: Uuid, user: &str) -> CommandContext {
    CommandContext {
        command_id,
        actor: actor(user),
        correlation_id: command_id,
        traceparent: None,
        at: Utc::now(),
    }
}

fn fresh() -> CommandContext {
    context(Uuid::new_v4(), "nurse.a")
}

fn head(store: &dyn EventStore) -> Position {
    *store.head().borrow()
}

#[tokio::test]
async fn nothing_to_do_appends_nothing_and_answers_ok_while_refusals_stay_refusals() {
    let store = Arc::new(MemoryStore::new());
    let handler = CommandHandler::<Counters>::new(store.clone());
    let outcome = handler.handle(&fresh(), Action::UpdateBeds, Count::Reset { id: 1 }).await.unwrap();
    assert_eq!((outcome.effect, outcome.position, head(store.as_ref())), (Effect::NothingToDo, 0, 0));

    let added = handler.handle(&fresh(), Action::UpdateBeds, Count::Add { id: 1, by: 3 }).await.unwrap();
    assert_eq!(added.effect, Effect::Appended);
    let expected =
        handler.handle(&fresh(), Action::UpdateBeds, Count::Expect { id: 1, total: 3 }).await.unwrap();
    assert_eq!(expected.effect, Effect::NothingToDo);
    assert_eq!(expected.position, added.position, "the position of the state the decision read");
    assert_eq!(head(store.as_ref()), added.position, "nothing appended");

    let refused =
        handler.handle(&fresh(), Action::UpdateBeds, Count::Add { id: 1, by: 0 }).await.unwrap_err();
    assert!(matches!(refused, ServiceError::Refused { kind: RefusalKind::Precondition, .. }), "{refused:?}");
}

#[tokio::test]
async fn a_command_id_is_answered_again_for_the_same_command_and_refused_for_another() {
    let store = Arc::new(MemoryStore::new());
    let handler = CommandHandler::<Counters>::new(store.clone());
    let id = Uuid::new_v4();
    let first = handler
        .handle(&context(id, "nurse.a"), Action::UpdateBeds, Count::Add { id: 1, by: 2 })
        .await
        .unwrap();
    let again = handler
        .handle(&context(id, "nurse.a"), Action::UpdateBeds, Count::Add { id: 1, by: 2 })
        .await
        .unwrap();
    assert_eq!((again.effect, again.position), (Effect::AlreadyDone, first.position));
    let head_after = head(store.as_ref());

    for (user, command) in [
        ("nurse.a", Count::Add { id: 1, by: 5 }),
        ("nurse.a", Count::Add { id: 2, by: 2 }),
        ("nurse.a", Count::Reset { id: 1 }),
        ("nurse.b", Count::Add { id: 1, by: 2 }),
    ] {
        let refused = handler.handle(&context(id, user), Action::UpdateBeds, command).await.unwrap_err();
        assert!(matches!(refused, ServiceError::CommandIdReused), "{user}: {refused:?}");
    }
    assert_eq!(head(store.as_ref()), head_after, "nothing stored");
    handler.handle(&fresh(), Action::UpdateBeds, Count::Expect { id: 1, total: 2 }).await.unwrap();
}

#[tokio::test]
async fn a_long_stream_costs_a_read_of_its_newest_events_and_sees_other_writers() {
    let store = Arc::new(Instrumented::new());
    let here = CommandHandler::<Counters>::new(store.clone());
    for _ in 0..2_500 {
        here.handle(&fresh(), Action::UpdateBeds, Count::Add { id: 7, by: 1 }).await.unwrap();
    }
    store.read.store(0, Ordering::SeqCst);
    here.handle(&fresh(), Action::UpdateBeds, Count::Expect { id: 7, total: 2_500 }).await.unwrap();
    assert!(store.read.load(Ordering::SeqCst) <= 1, "read {} events", store.read.load(Ordering::SeqCst));

    // Another process appends; this handler's next decision sees it.
    let elsewhere = CommandHandler::<Counters>::new(store.clone());
    store.read.store(0, Ordering::SeqCst);
    elsewhere.handle(&fresh(), Action::UpdateBeds, Count::Add { id: 7, by: 10 }).await.unwrap();
    assert_eq!(store.read.load(Ordering::SeqCst), 2_500, "a cold cache folds the whole stream once");
    here.handle(&fresh(), Action::UpdateBeds, Count::Expect { id: 7, total: 2_510 }).await.unwrap();
    let stale =
        here.handle(&fresh(), Action::UpdateBeds, Count::Expect { id: 7, total: 2_500 }).await.unwrap_err();
    assert!(stale.to_string().contains("2510"), "{stale}");

    // Without a cache every command folds the whole stream.
    let uncached = CommandHandler::<Counters>::new(store.clone()).with_cache_capacity(0);
    for _ in 0..2 {
        store.read.store(0, Ordering::SeqCst);
        uncached.handle(&fresh(), Action::UpdateBeds, Count::Expect { id: 7, total: 2_510 }).await.unwrap();
        assert_eq!(store.read.load(Ordering::SeqCst), 2_501);
    }
}

/// A memory store that counts the events its stream reads return and, once, lets a
/// competitor's command run just before an append or a read: the moment two copies race.
struct Instrumented {
    inner: Arc<MemoryStore>,
    read: AtomicUsize,
    before_append: std::sync::Mutex<Option<(CommandContext, Count)>>,
    before_read: std::sync::Mutex<Option<(CommandContext, Count)>>,
}

impl Instrumented {
    fn new() -> Self {
        Self {
            inner: Arc::new(MemoryStore::new()),
            read: AtomicUsize::new(0),
            before_append: std::sync::Mutex::new(None),
            before_read: std::sync::Mutex::new(None),
        }
    }

    async fn compete(&self, slot: &std::sync::Mutex<Option<(CommandContext, Count)>>) {
        let competitor = slot.lock().unwrap().take();
        if let Some((context, command)) = competitor {
            let handler = CommandHandler::<Counters>::new(self.inner.clone());
            handler.handle(&context, Action::UpdateBeds, command).await.unwrap();
        }
    }
}

#[async_trait]
impl EventStore for Instrumented {
    async fn append(&self, request: Vec<StreamAppend>) -> Result<AppendResult, StoreError> {
        self.compete(&self.before_append).await;
        self.inner.append(request).await
    }
    async fn read_stream(
        &self,
        stream: &StreamName,
        from: u64,
        max: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.compete(&self.before_read).await;
        let events = self.inner.read_stream(stream, from, max).await?;
        self.read.fetch_add(events.len(), Ordering::SeqCst);
        Ok(events)
    }
    async fn read_all(&self, from: Position, max: usize, filter: &Filter) -> Result<AllSlice, StoreError> {
        self.inner.read_all(from, max, filter).await
    }
    async fn stream_version(&self, stream: &StreamName) -> Result<CurrentVersion, StoreError> {
        self.inner.stream_version(stream).await
    }
    async fn find_event(&self, id: Uuid) -> Result<Option<RecordedEvent>, StoreError> {
        self.inner.find_event(id).await
    }
    fn head(&self) -> watch::Receiver<Position> {
        self.inner.head()
    }
    async fn load_checkpoint(&self, name: &str) -> Result<Option<Position>, StoreError> {
        self.inner.load_checkpoint(name).await
    }
    async fn save_checkpoint(&self, name: &str, position: Position) -> Result<(), StoreError> {
        self.inner.save_checkpoint(name, position).await
    }
}

#[tokio::test]
async fn another_command_stored_under_the_id_in_a_race_is_not_answered_as_ours() {
    let store = Arc::new(Instrumented::new());
    let id = Uuid::new_v4();
    // Just before our append, another command under our id (same stream, as many events) wins.
    *store.before_append.lock().unwrap() = Some((context(id, "nurse.a"), Count::Add { id: 1, by: 5 }));
    let handler = CommandHandler::<Counters>::new(store.clone());
    let ours = handler.handle(&context(id, "nurse.a"), Action::UpdateBeds, Count::Add { id: 1, by: 2 }).await;
    assert!(matches!(ours, Err(ServiceError::CommandIdReused)), "{ours:?}");
    handler.handle(&fresh(), Action::UpdateBeds, Count::Expect { id: 1, total: 5 }).await.unwrap();
}

#[tokio::test]
async fn a_copy_that_finds_nothing_left_to_do_answers_with_the_first_copys_outcome() {
    let store = Arc::new(Instrumented::new());
    let handler = CommandHandler::<Counters>::new(store.clone());
    handler.handle(&fresh(), Action::UpdateBeds, Count::Add { id: 1, by: 3 }).await.unwrap();
    let id = Uuid::new_v4();
    // The first copy of the reset commits while this copy reads the counter.
    *store.before_read.lock().unwrap() = Some((context(id, "nurse.a"), Count::Reset { id: 1 }));
    let copy =
        handler.handle(&context(id, "nurse.a"), Action::UpdateBeds, Count::Reset { id: 1 }).await.unwrap();
    assert_eq!(copy.effect, Effect::AlreadyDone);
    assert_eq!(copy.position, head(store.as_ref()));
}

/// The patients and flags deciders through the handler and a store: a flags decision reads the
/// patient's MPI stream (decoding its events), refuses an unregistered or dead patient, and
/// keeps one active flag per kind.
#[tokio::test]
async fn flags_are_decided_on_the_patients_record_in_the_store() {
    use careflow_domain::NhsNumber;
    use careflow_domain::beds::{Note, PatientName};
    use careflow_domain::flags::{
        FlagCommand, FlagError, FlagId, FlagKind, FlagSource, Flags, FrailtyScore, Severity,
    };
    use careflow_domain::patients::{Demographics, Gender, PatientCommand, Patients, Postcode};

    let store = Arc::new(MemoryStore::new());
    let (patients, flags) =
        (CommandHandler::<Patients>::new(store.clone()), CommandHandler::<Flags>::new(store.clone()));
    let nhs = (0..).find_map(|k| NhsNumber::from_first_nine(999_400_000 + k)).unwrap();
    let frail = || FlagCommand::Raise {
        nhs_number: nhs,
        flag_id: FlagId(Uuid::new_v4()),
        kind: FlagKind::Frailty,
        frailty_score: Some(FrailtyScore::new(7).unwrap()),
        severity: Severity::Medium,
        reason: Note::parse("CFS 7 on admission").unwrap(),
        review_on: None,
        source: FlagSource::Person {
            user_id: "nurse.a".into(),
            organisation: OdsCode::parse("RXA").unwrap(),
        },
    };
    let refused = flags.handle(&fresh(), Action::UpdateBeds, frail()).await.unwrap_err();
    assert!(matches!(refused, ServiceError::Refused { kind: RefusalKind::NotFound, .. }), "{refused:?}");

    let demographics = Demographics {
        name: PatientName::parse("Sybil", "Lumsden").unwrap(),
        date_of_birth: chrono::NaiveDate::from_ymd_opt(1936, 2, 14),
        gender: Gender::Female,
        postcode: Some(Postcode::parse("HX1 2TT").unwrap()),
        gp_practice: Some(OdsCode::parse("B87001").unwrap()),
    };
    patients
        .handle(&fresh(), Action::UpdateBeds, PatientCommand::Register { nhs_number: nhs, demographics })
        .await
        .unwrap();
    let raised = flags.handle(&fresh(), Action::UpdateBeds, frail()).await.unwrap();
    assert_eq!(raised.effect, Effect::Appended);
    let again = flags.handle(&fresh(), Action::UpdateBeds, frail()).await.unwrap_err();
    let ServiceError::Refused { kind: RefusalKind::Precondition, message, .. } = again else {
        panic!("{again:?}")
    };
    assert_eq!(
        message,
        FlagError::AlreadyActive { nhs_number: nhs, kind: FlagKind::Frailty, flag_id: FlagId(Uuid::nil()) }
            .to_string()
            .replace(&Uuid::nil().to_string(), message.rsplit('(').next().unwrap().trim_end_matches(')'))
    );

    let died = PatientCommand::RecordDeath { nhs_number: nhs, date_of_death: Utc::now().date_naive() };
    patients.handle(&fresh(), Action::UpdateBeds, died).await.unwrap();
    let mut safeguarding = frail();
    if let FlagCommand::Raise { kind, frailty_score, .. } = &mut safeguarding {
        (*kind, *frailty_score) = (FlagKind::Safeguarding, None);
    }
    let refused = flags.handle(&fresh(), Action::UpdateBeds, safeguarding).await.unwrap_err();
    assert!(refused.to_string().contains("has died"), "{refused}");
}
