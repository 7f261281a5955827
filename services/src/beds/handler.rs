//! The beds command handler: load the streams a command needs, `decide`, append atomically
//! with the expected version of every stream read, retry on a lost race.

use std::sync::Arc;

use careflow_domain::beds::{BedCommand, BedEvent, BedStream, Command, Scope, decide};
use careflow_eventstore::{
    CurrentVersion, EventStore, Metadata, NewEvent, Position, StoreError, StreamAppend, StreamName,
    read_full_stream,
};

use crate::{CommandContext, ServiceError};

/// How many times a command is decided before a lost race becomes ABORTED.
const DEFAULT_MAX_ATTEMPTS: usize = 5;

/// A stream read while deciding, and the version the decision was based on.
struct Read {
    stream: BedStream,
    name: StreamName,
    version: CurrentVersion,
}

/// The result of a command carried out (or of its earlier run, on a retry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Global position of the command's last event.
    pub position: Position,
    /// Beds the command touched.
    pub bed_ids: Vec<String>,
}

/// Carries out beds commands against an event store.
#[derive(Clone)]
pub struct BedCommandHandler {
    store: Arc<dyn EventStore>,
    max_attempts: usize,
}

impl BedCommandHandler {
    /// A handler over `store`.
    pub fn new(store: Arc<dyn EventStore>) -> Self {
        Self { store, max_attempts: DEFAULT_MAX_ATTEMPTS }
    }

    /// Carries out `action`. A command id seen before returns the original outcome.
    #[tracing::instrument(skip_all, fields(command = action.name(), command_id = %context.command_id))]
    pub async fn handle(
        &self,
        context: &CommandContext,
        action: BedCommand,
    ) -> Result<Outcome, ServiceError> {
        if let Some((position, events)) = self.earlier_events(context).await? {
            tracing::debug!("command already carried out");
            let (scope, _) = self.load(&action).await?;
            return Ok(Outcome { position, bed_ids: touched_beds(&scope, &events) });
        }
        let command = Command { action, at: context.at };
        let mut attempt = 0;
        loop {
            attempt += 1;
            let (scope, reads) = self.load(&command.action).await?;
            let events = decide(&scope, &command)?;
            let request = append_request(context, &reads, &events)?;
            match self.store.append(request).await {
                Ok(result) => {
                    tracing::debug!(position = result.last_position, "appended");
                    return Ok(Outcome {
                        position: result.last_position,
                        bed_ids: touched_beds(&scope, &events),
                    });
                }
                Err(StoreError::WrongExpectedVersion { stream, .. }) if attempt < self.max_attempts => {
                    tracing::debug!(%stream, attempt, "lost a race; deciding again");
                }
                Err(StoreError::WrongExpectedVersion { stream, .. }) => {
                    return Err(ServiceError::Contention { stream: stream.to_string(), attempts: attempt });
                }
                Err(other) => return Err(other.into()),
            }
        }
    }

    /// Loads every stream the command asks for, following stays to their beds and patients.
    async fn load(&self, action: &BedCommand) -> Result<(Scope, Vec<Read>), ServiceError> {
        let mut scope = Scope::new();
        let mut reads = Vec::new();
        // Each round can only add streams named by the previous one; two rounds suffice today.
        for _ in 0..4 {
            let missing: Vec<BedStream> =
                action.streams(&scope).into_iter().filter(|s| !scope.is_loaded(s)).collect();
            if missing.is_empty() {
                return Ok((scope, reads));
            }
            for stream in missing {
                let name = StreamName::new(stream.name()).map_err(ServiceError::Store)?;
                let recorded = read_full_stream(self.store.as_ref(), &name).await?;
                let history = recorded
                    .iter()
                    .map(|e| e.decode::<BedEvent>().map_err(|e| ServiceError::Corrupt(e.to_string())))
                    .collect::<Result<Vec<_>, _>>()?;
                let version =
                    recorded.last().map_or(CurrentVersion::NoStream, |e| CurrentVersion::Version(e.version));
                scope.load(&stream, &history);
                reads.push(Read { stream, name, version });
            }
        }
        Err(ServiceError::Corrupt("the streams a command needs did not settle".into()))
    }

    /// The events and last position of an earlier run of the same command id, if any.
    async fn earlier_events(
        &self,
        context: &CommandContext,
    ) -> Result<Option<(Position, Vec<BedEvent>)>, ServiceError> {
        let mut position = None;
        let mut events = Vec::new();
        for index in 0.. {
            let Some(event) = self.store.find_event(context.event_id(index)).await? else { break };
            position = Some(event.position);
            events.push(event.decode::<BedEvent>().map_err(|e| ServiceError::Corrupt(e.to_string()))?);
        }
        Ok(position.map(|position| (position, events)))
    }
}

/// One atomic append: every stream read, with the version it was read at, and its new events.
fn append_request(
    context: &CommandContext,
    reads: &[Read],
    events: &[BedEvent],
) -> Result<Vec<StreamAppend>, ServiceError> {
    let mut request: Vec<StreamAppend> = reads
        .iter()
        .map(|read| StreamAppend {
            stream: read.name.clone(),
            expected: read.version.expected(),
            events: Vec::new(),
        })
        .collect();
    for (index, event) in events.iter().enumerate() {
        let stream = event.stream();
        let slot = reads.iter().position(|read| read.stream == stream).ok_or_else(|| {
            ServiceError::Corrupt(format!("decided an event for unread stream {}", stream.name()))
        })?;
        let metadata = Metadata {
            correlation_id: context.correlation_id,
            causation_id: Some(context.command_id),
            command_id: Some(context.command_id),
            actor: Some(careflow_eventstore::Actor {
                user_id: context.actor.user_id.clone(),
                role: context.actor.role.to_string(),
                organisation: context.actor.organisation.clone(),
            }),
            occurred_at: context.at,
            traceparent: context.traceparent.clone(),
        };
        let new_event = NewEvent::json(
            context.event_id(index),
            event.event_type(),
            BedEvent::SCHEMA_VERSION,
            event,
            metadata,
        )?;
        request[slot].events.push(new_event);
    }
    Ok(request)
}

/// The beds whose board entry `events` change, in order: the beds written to; or, for a command
/// that only writes to a stay, the bed the patient is in (as of `scope`).
fn touched_beds(scope: &Scope, events: &[BedEvent]) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    for event in events {
        if let BedStream::Bed(id) = event.stream()
            && !ids.iter().any(|b| b == id.as_str())
        {
            ids.push(id.to_string());
        }
    }
    if ids.is_empty() {
        let stay_bed = events.iter().find_map(|event| match event.stream() {
            BedStream::Stay(stay) => {
                scope.stay(&stay).and_then(|s| s.admission.as_ref()).map(|a| a.bed_id.to_string())
            }
            BedStream::Site(_) | BedStream::Ward(_) | BedStream::Bed(_) | BedStream::Inpatient(_) => None,
        });
        ids.extend(stay_bed);
    }
    ids
}
