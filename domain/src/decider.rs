//! The shape of every context's write model: a [`Decider`].
//!
//! A context names the streams a command needs, folds each stream's events into that stream's
//! state ([`Decider::evolve`]), and decides from the loaded streams what happens
//! ([`Decider::decide`]): new events, nothing at all, or a refusal. The services' generic command
//! handler drives it (load → decide → append with the expected version of every stream read);
//! this module only says what a context provides, and holds the loaded streams ([`Loaded`]).
//!
//! The set of streams a command needs may depend on what is loaded: a discharge names its stay,
//! and only the stay says which bed and patient it holds. So [`Decider::streams`] is asked again
//! after every round of loading, until it names nothing new.
//!
//! Pure: no I/O, no clock, no random ids. Time is an input to `decide`.

use std::collections::HashMap;
use std::fmt::Debug;
use std::hash::Hash;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::OdsCode;

/// What kind of refusal a context's error is, for the edges (gRPC codes, GraphQL codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalKind {
    /// Something the command names does not exist.
    NotFound,
    /// What the command would create exists already.
    AlreadyExists,
    /// The current state does not allow the command (the message names the state).
    Precondition,
    /// The actor may not do this to what the command names (not a member of its team, say):
    /// a rule of the domain, where the access policy cannot see it.
    Forbidden,
}

/// A context's refusal: every variant says which kind it is, with an exhaustive match.
pub trait Refusal: std::error::Error + Send + Sync + 'static {
    /// The kind of refusal.
    fn kind(&self) -> RefusalKind;

    /// For input that only the loaded state can judge (answers checked against the template
    /// an assessment is pinned to): each bad field, named (e.g. `answers.mobility-aid`), with
    /// what is wrong. Non-empty: the edges report the refusal as invalid input, not by its kind.
    fn violations(&self) -> Vec<(String, String)> {
        Vec::new()
    }

    /// A stable name for a refusal a client acts on rather than shows (a section saved by
    /// someone else since: `SECTION_CONFLICT`), sent with it as the error's reason.
    fn reason(&self) -> Option<&'static str> {
        None
    }
}

/// Which organisation owns something a command touches, for the access policy (which the
/// services apply: the domain only says whose it is).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    /// Something the command creates: it will belong to the actor's organisation.
    New,
    /// Owned by this organisation.
    Organisation(OdsCode),
    /// Recorded before owners were.
    Unrecorded,
    /// Any one of these organisations (those caring for a patient who dissents from sharing);
    /// none listed: nobody.
    AnyOf(Vec<OdsCode>),
}

impl Owner {
    /// An owner as recorded (`None`: before owners were recorded).
    pub fn recorded(organisation: Option<&OdsCode>) -> Self {
        organisation.map_or(Self::Unrecorded, |org| Self::Organisation(org.clone()))
    }
}

/// A context's write model. See the module docs.
pub trait Decider: Sized + Send + Sync + 'static {
    /// What the context can be asked to do, already parsed. Serialized to digest it: two
    /// commands are the same command exactly when they serialize alike.
    type Command: Serialize + Debug + Send + Sync;
    /// What the context records. Serialized as the stored event's data.
    type Event: Serialize + DeserializeOwned + Debug + Clone + Send + Sync;
    /// A stream of the context (a consistency boundary).
    type Stream: Clone + Eq + Hash + Debug + Send + Sync;
    /// The state of one stream, folded from its events.
    type State: Clone + Debug + Send + Sync;
    /// Why the context refuses a command.
    type Error: Refusal;

    /// The context's name, for logs and metrics (e.g. `beds`).
    const CONTEXT: &'static str;
    /// The schema version of the events' data.
    const SCHEMA_VERSION: u32;
    /// Every stream category of the context.
    const CATEGORIES: &'static [&'static str];

    /// The command's name, e.g. `AdmitPatient`.
    fn command_name(command: &Self::Command) -> &'static str;
    /// The stream's name in the event store, `<category>-<id>`.
    fn stream_name(stream: &Self::Stream) -> String;
    /// The stream an event belongs to.
    fn stream_of(event: &Self::Event) -> Self::Stream;
    /// The event's type name, as stored.
    fn event_type(event: &Self::Event) -> &'static str;
    /// The state of a stream with no events.
    fn initial(stream: &Self::Stream) -> Self::State;
    /// Folds one event of a stream into its state.
    fn evolve(state: &mut Self::State, event: &Self::Event);
    /// The streams the decision needs, given what is loaded so far; asked again after each
    /// round of loading until it names nothing new.
    fn streams(command: &Self::Command, loaded: &Loaded<Self>) -> Vec<Self::Stream>;
    /// Who owns what the command touches, as loaded: the actor must be allowed to act for every
    /// one of them. Nothing for what does not exist (the decision then says it is not found).
    fn owners(loaded: &Loaded<Self>, command: &Self::Command) -> Vec<Owner>;
    /// Decides what happens: the events to append, in order (each knowing its stream); no
    /// events when there is nothing to do (a command already in effect, a timer whose task
    /// is done); or why not.
    fn decide(
        loaded: &Loaded<Self>,
        command: &Self::Command,
        at: DateTime<Utc>,
    ) -> Result<Vec<Self::Event>, Self::Error>;
    /// What a client should read back after the command, as ids (the beds whose board entry
    /// changed, say). `loaded` is the state the decision was taken on.
    fn touched(loaded: &Loaded<Self>, events: &[Self::Event]) -> Vec<String> {
        let _ = (loaded, events);
        Vec::new()
    }
}

/// The streams loaded for one decision, each with its state.
pub struct Loaded<D: Decider> {
    streams: HashMap<D::Stream, D::State>,
}

impl<D: Decider> Default for Loaded<D> {
    fn default() -> Self {
        Self { streams: HashMap::new() }
    }
}

impl<D: Decider> Clone for Loaded<D> {
    fn clone(&self) -> Self {
        Self { streams: self.streams.clone() }
    }
}

impl<D: Decider> Debug for Loaded<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.streams.iter()).finish()
    }
}

impl<D: Decider> Loaded<D> {
    /// Nothing loaded.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether `stream` has been loaded (possibly empty).
    pub fn is_loaded(&self, stream: &D::Stream) -> bool {
        self.streams.contains_key(stream)
    }

    /// A loaded stream's state.
    pub fn get(&self, stream: &D::Stream) -> Option<&D::State> {
        self.streams.get(stream)
    }

    /// Puts a stream's state, already folded (from a cache, say).
    pub fn insert(&mut self, stream: D::Stream, state: D::State) {
        self.streams.insert(stream, state);
    }

    /// Loads a stream: marks it present and folds its history.
    pub fn load<'a>(&mut self, stream: &D::Stream, history: impl IntoIterator<Item = &'a D::Event>) {
        let state = self.streams.entry(stream.clone()).or_insert_with(|| D::initial(stream));
        for event in history {
            D::evolve(state, event);
        }
    }

    /// Folds one event into the state of its stream (loading the stream, empty, if needed).
    pub fn apply(&mut self, event: &D::Event) {
        let stream = D::stream_of(event);
        let state = self.streams.entry(stream).or_insert_with_key(D::initial);
        D::evolve(state, event);
    }

    /// The streams the command needs that are not loaded yet.
    pub fn missing(&self, command: &D::Command) -> Vec<D::Stream> {
        let mut missing: Vec<D::Stream> = Vec::new();
        for stream in D::streams(command, self) {
            if !self.is_loaded(&stream) && !missing.contains(&stream) {
                missing.push(stream);
            }
        }
        missing
    }
}
