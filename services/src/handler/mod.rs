//! The one command handler, for every context's [`Decider`]: load the streams a command needs,
//! `decide`, append atomically with the expected version of every stream read, retry a bounded
//! number of times when a concurrent writer wins.
//!
//! # Idempotency
//! Event ids derive from the client's command id, and every event's metadata carries a digest of
//! the command (its name, its parsed content and who sent it). A command id seen before is
//! answered with the earlier outcome when the digest matches, and refused as
//! [`ServiceError::CommandIdReused`] when it does not. Copies of one command sent at once are
//! all answered with the first copy's outcome: a copy that loses the race (its decision refused,
//! its append refused) looks for the winner's events before it answers.
//!
//! # Cost independent of stream length
//! A [`StateCache`] keeps each stream's folded state with the version it was folded to; a
//! command reads only the events after that version (usually none), so a bed with years of
//! history decides as fast as a new one. The tail is always read from the store, so the cache is
//! correct whatever other processes append.

use std::marker::PhantomData;
use std::sync::Arc;

use careflow_auth::policy::{self, Action};
use careflow_domain::{Decider, Loaded, Owner};
use careflow_eventstore::{
    CurrentVersion, EventStore, Metadata, NewEvent, Position, RecordedEvent, StoreError, StreamAppend,
    StreamName,
};
use futures::future::try_join_all;
use uuid::Uuid;

use crate::cache::{Cached, StateCache};
use crate::clock::{Clock, SystemClock};
use crate::metrics::CommandMetrics;
use crate::{CommandContext, ServiceError};

/// How many times a command is decided before a lost race becomes ABORTED.
const DEFAULT_MAX_ATTEMPTS: usize = 5;

/// How many rounds of "which streams do you need" a command may take.
const MAX_LOAD_ROUNDS: usize = 8;

/// How many events one stream read returns.
const PAGE: usize = 1024;

/// Namespace of command digests (UUID v5 of the command's canonical JSON).
const DIGEST_NAMESPACE: Uuid = Uuid::from_u128(0x6361_7265_666c_6f77_8000_0000_0000_0002);

/// A stream read while deciding, and the version the decision was based on.
struct Read<S> {
    stream: S,
    name: StreamName,
    version: CurrentVersion,
    /// Position of the stream's last event (0 for an empty stream).
    position: Position,
}

/// The result of a command carried out, found carried out before, or with nothing to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Global position of the command's last event; for a command with nothing to do, the
    /// position of the newest event the decision read (read models that reach it show the state
    /// the command found).
    pub position: Position,
    /// What the client should read back (see [`Decider::touched`]).
    pub touched: Vec<String>,
    /// How the command ended.
    pub effect: Effect,
}

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Its events were appended now.
    Appended,
    /// Its events were already stored: an earlier copy of the command carried it out.
    AlreadyDone,
    /// The decision was that there is nothing to do; nothing was appended.
    NothingToDo,
}

/// Carries out one context's commands against an event store.
pub struct CommandHandler<D: Decider> {
    store: Arc<dyn EventStore>,
    clock: Arc<dyn Clock>,
    cache: Arc<StateCache<D::Stream, D::State>>,
    max_attempts: usize,
    metrics: CommandMetrics,
    _decider: PhantomData<fn() -> D>,
}

impl<D: Decider> Clone for CommandHandler<D> {
    fn clone(&self) -> Self {
        Self {
            store: self.store.clone(),
            clock: self.clock.clone(),
            cache: self.cache.clone(),
            max_attempts: self.max_attempts,
            metrics: self.metrics.clone(),
            _decider: PhantomData,
        }
    }
}

impl<D: Decider> CommandHandler<D> {
    /// A handler over `store`, on the system clock, caching the state of recently used streams.
    pub fn new(store: Arc<dyn EventStore>) -> Self {
        Self {
            store,
            clock: Arc::new(SystemClock),
            cache: Arc::new(StateCache::default()),
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            metrics: CommandMetrics::default(),
            _decider: PhantomData,
        }
    }

    /// The same handler on another clock (tests, the demo's timeline).
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The same handler caching at most `streams` streams' state (0: no cache).
    #[must_use]
    pub fn with_cache_capacity(mut self, streams: usize) -> Self {
        self.cache = Arc::new(StateCache::with_capacity(streams));
        self
    }

    /// The same handler recording into `metrics`.
    #[must_use]
    pub fn with_metrics(mut self, metrics: CommandMetrics) -> Self {
        self.metrics = metrics;
        self
    }

    /// The metrics the handler records into.
    pub fn metrics(&self) -> &CommandMetrics {
        &self.metrics
    }

    /// The handler's clock: when commands are decided.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }

    /// Carries out `command`, which the access policy calls `action`: the actor must be allowed
    /// to take it on everything the command touches (organisations are kept apart). See the
    /// module docs for retries and idempotency.
    #[tracing::instrument(
        skip_all,
        fields(context = D::CONTEXT, command = D::command_name(&command), command_id = %context.command_id)
    )]
    pub async fn handle(
        &self,
        context: &CommandContext,
        action: Action,
        command: D::Command,
    ) -> Result<Outcome, ServiceError> {
        let digest = digest::<D>(context, &command)?;
        if let Some(outcome) = self.earlier_run(context, digest, &command).await? {
            return Ok(outcome);
        }
        let mut attempt = 0;
        loop {
            attempt += 1;
            let (loaded, reads) = self.load(&command).await?;
            for owner in D::owners(&loaded, &command) {
                let any_of: Vec<String>;
                let owner = match &owner {
                    Owner::New => policy::Owner::Actor,
                    Owner::Organisation(org) => policy::Owner::Organisation(org.as_str()),
                    Owner::Unrecorded => policy::Owner::Unrecorded,
                    Owner::AnyOf(orgs) => {
                        any_of = orgs.iter().map(|o| o.as_str().to_owned()).collect();
                        policy::Owner::AnyOf(&any_of)
                    }
                };
                policy::authorize(&context.actor, action, owner)?;
            }
            let events = match D::decide(&loaded, &command, context.at) {
                Ok(events) => events,
                Err(refusal) => {
                    // A copy of this command may have won a race and changed the state that
                    // refuses it: then its outcome is ours.
                    if let Some(outcome) = self.earlier_run(context, digest, &command).await? {
                        return Ok(outcome);
                    }
                    return Err(ServiceError::refused(&refusal));
                }
            };
            if events.is_empty() {
                // A copy of this command may have won a race and done what there was to do.
                if let Some(outcome) = self.earlier_run(context, digest, &command).await? {
                    return Ok(outcome);
                }
                tracing::debug!("nothing to do");
                let position = reads.iter().map(|r| r.position).max().unwrap_or(0);
                return Ok(Outcome { position, touched: Vec::new(), effect: Effect::NothingToDo });
            }
            let request = append_request::<D>(context, digest, &reads, &events)?;
            let started = std::time::Instant::now();
            let appended = self.store.append(request).await;
            self.metrics.append(D::CONTEXT, started.elapsed());
            match appended {
                Ok(result) => {
                    // The store answers a request whose event ids are all stored with the
                    // original result, whatever command wrote them: a different command sent
                    // at the same moment under this id may have been stored instead of ours.
                    self.confirm_ours(context, digest).await?;
                    tracing::debug!(position = result.last_position, "appended");
                    return Ok(Outcome {
                        position: result.last_position,
                        touched: D::touched(&loaded, &events),
                        effect: Effect::Appended,
                    });
                }
                Err(StoreError::WrongExpectedVersion { stream, .. }) => {
                    if let Some(outcome) = self.earlier_run(context, digest, &command).await? {
                        return Ok(outcome);
                    }
                    if attempt >= self.max_attempts {
                        return Err(ServiceError::Contention {
                            category: stream.category().to_owned(),
                            attempts: attempt,
                        });
                    }
                    self.metrics.retry(D::CONTEXT);
                    // The stream's category only: stream names can hold an NHS number.
                    tracing::debug!(category = stream.category(), attempt, "lost a race; deciding again");
                }
                Err(StoreError::EventIdConflict { .. }) => {
                    // Some of this command's events are stored: a copy is being, or was, written.
                    return match self.earlier_run(context, digest, &command).await? {
                        Some(outcome) => Ok(outcome),
                        None => Err(ServiceError::CommandIdReused),
                    };
                }
                Err(other) => return Err(other.into()),
            }
        }
    }

    /// Loads every stream the command asks for, round by round (each round's streams read
    /// concurrently), until it asks for nothing new.
    async fn load(&self, command: &D::Command) -> Result<(Loaded<D>, Vec<Read<D::Stream>>), ServiceError> {
        let mut loaded = Loaded::<D>::new();
        let mut reads = Vec::new();
        for round in 0..=MAX_LOAD_ROUNDS {
            let missing = loaded.missing(command);
            if missing.is_empty() {
                return Ok((loaded, reads));
            }
            if round == MAX_LOAD_ROUNDS {
                break;
            }
            let states = try_join_all(missing.into_iter().map(|stream| self.load_stream(stream))).await?;
            for (read, state) in states {
                loaded.insert(read.stream.clone(), state);
                reads.push(read);
            }
        }
        Err(ServiceError::Invariant(format!(
            "the streams a {} command needs did not settle in {MAX_LOAD_ROUNDS} rounds",
            D::command_name(command)
        )))
    }

    /// One stream's state: from the cache plus the events after it, or folded from the start.
    async fn load_stream(&self, stream: D::Stream) -> Result<(Read<D::Stream>, D::State), ServiceError> {
        let name = StreamName::new(D::stream_name(&stream)).map_err(ServiceError::Store)?;
        let cached = self.cache.get(&stream);
        let (mut version, mut position, mut state) = match cached {
            Some(Cached { version, position, state }) => (version, position, state),
            None => (CurrentVersion::NoStream, 0, D::initial(&stream)),
        };
        let mut changed = false;
        loop {
            let page = self.store.read_stream(&name, version.next(), PAGE).await?;
            let full = page.len() == PAGE;
            for recorded in &page {
                D::evolve(&mut state, &decode::<D>(recorded)?);
                version = CurrentVersion::Version(recorded.version);
                position = recorded.position;
                changed = true;
            }
            if !full {
                break;
            }
        }
        if changed {
            self.cache.put(stream.clone(), Cached { version, position, state: state.clone() });
        }
        Ok((Read { stream, name, version, position }, state))
    }

    /// The outcome of an earlier run of this command id, if its events are stored; refused as a
    /// reuse if they were written for a different command.
    async fn earlier_run(
        &self,
        context: &CommandContext,
        digest: Uuid,
        command: &D::Command,
    ) -> Result<Option<Outcome>, ServiceError> {
        let Some(first) = self.store.find_event(context.event_id(0)).await? else { return Ok(None) };
        if !same_command(&first, context, digest) {
            return Err(ServiceError::CommandIdReused);
        }
        let mut position = first.position;
        let mut events = vec![decode::<D>(&first)?];
        for index in 1.. {
            let Some(event) = self.store.find_event(context.event_id(index)).await? else { break };
            position = position.max(event.position);
            events.push(decode::<D>(&event)?);
        }
        tracing::debug!("command already carried out");
        let (loaded, _) = self.load(command).await?;
        Ok(Some(Outcome { position, touched: D::touched(&loaded, &events), effect: Effect::AlreadyDone }))
    }
}

impl<D: Decider> CommandHandler<D> {
    /// Fails with [`ServiceError::CommandIdReused`] unless the stored first event of this
    /// command id was written for this command.
    async fn confirm_ours(&self, context: &CommandContext, digest: Uuid) -> Result<(), ServiceError> {
        match self.store.find_event(context.event_id(0)).await? {
            Some(first) if same_command(&first, context, digest) => Ok(()),
            Some(_) => Err(ServiceError::CommandIdReused),
            None => {
                Err(ServiceError::Invariant("an append answered OK but its first event is not stored".into()))
            }
        }
    }
}

/// Whether `stored` (an event of this command id) was written for this command: its digest
/// matches; or, written before digests were recorded, by the same user of the same organisation.
fn same_command(stored: &RecordedEvent, context: &CommandContext, digest: Uuid) -> bool {
    match stored.metadata.command_digest {
        Some(stored) => stored == digest,
        None => stored.metadata.actor.as_ref().is_some_and(|actor| {
            actor.user_id == context.actor.user_id && actor.organisation == context.actor.organisation
        }),
    }
}

/// The digest of a command as sent by its actor: what makes a retry "the same command".
fn digest<D: Decider>(context: &CommandContext, command: &D::Command) -> Result<Uuid, ServiceError> {
    let mut canonical = serde_json::to_vec(&serde_json::json!({
        "context": D::CONTEXT,
        "user": context.actor.user_id,
        "organisation": context.actor.organisation,
    }))
    .map_err(|e| ServiceError::Invariant(format!("cannot digest the actor: {e}")))?;
    serde_json::to_writer(&mut canonical, command).map_err(|e| {
        ServiceError::Invariant(format!("cannot digest a {} command: {e}", D::command_name(command)))
    })?;
    Ok(Uuid::new_v5(&DIGEST_NAMESPACE, &canonical))
}

/// Decodes a stored event of the context. The message names the position and type only: serde's
/// messages can quote stored values, which may be personal data.
fn decode<D: Decider>(recorded: &RecordedEvent) -> Result<D::Event, ServiceError> {
    recorded.decode::<D::Event>().map_err(|_| ServiceError::Corrupt {
        position: recorded.position,
        event_type: recorded.event_type.clone(),
    })
}

/// One atomic append: every stream read, with the version it was read at, and its new events.
fn append_request<D: Decider>(
    context: &CommandContext,
    digest: Uuid,
    reads: &[Read<D::Stream>],
    events: &[D::Event],
) -> Result<Vec<StreamAppend>, ServiceError> {
    let mut request: Vec<StreamAppend> = reads
        .iter()
        .map(|read| StreamAppend {
            stream: read.name.clone(),
            expected: read.version.expected(),
            events: Vec::new(),
        })
        .collect();
    let metadata = Metadata {
        correlation_id: context.correlation_id,
        causation_id: Some(context.command_id),
        command_id: Some(context.command_id),
        command_digest: Some(digest),
        actor: Some(careflow_eventstore::Actor {
            user_id: context.actor.user_id.clone(),
            role: context.actor.role.to_string(),
            organisation: context.actor.organisation.clone(),
        }),
        occurred_at: context.at,
        traceparent: context.traceparent.clone(),
    };
    for (index, event) in events.iter().enumerate() {
        let stream = D::stream_of(event);
        let slot = reads.iter().position(|read| read.stream == stream).ok_or_else(|| {
            ServiceError::Invariant(format!(
                "a {} decision wrote to a {} stream it did not read",
                D::CONTEXT,
                careflow_eventstore::category_of(&D::stream_name(&stream))
            ))
        })?;
        let new_event = NewEvent::json(
            context.event_id(index),
            D::event_type(event),
            D::SCHEMA_VERSION,
            event,
            metadata.clone(),
        )?;
        request[slot].events.push(new_event);
    }
    Ok(request)
}

#[cfg(test)]
mod tests;
