//! The writer: folds batches and stores what they touched, with the checkpoint, atomically, in
//! the one generation it writes; builds a new generation aside on reset and swaps it in once
//! caught up (see the module docs of [`super`]).

use std::collections::BTreeSet;
use std::time::Duration;

use ::redis::aio::ConnectionManager;
use ::redis::{Script, Value};
use async_trait::async_trait;
use careflow_domain::StayId;
use careflow_eventstore::{Filter, Position, RecordedEvent};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::Mutex;

use super::super::fold::{Board, Dirty, decode_after};
use super::super::model::BedChange;
use super::{ChangeMessage, Keys, RedisConfig, parse_checkpoint, scripts, storage};
use crate::{Projection, ProjectionError};

/// How many keys one `UNLINK` deletes.
const UNLINK_CHUNK: usize = 500;

/// At most one checkpoint-only write (progress past events of other contexts) this often.
const PROGRESS_EVERY: Duration = Duration::from_millis(100);

/// The bed board projection writing to Redis. Exactly one per key prefix.
pub struct RedisBedBoard {
    connection: ConnectionManager,
    keys: Keys,
    scripts: Scripts,
    state: Mutex<State>,
}

struct Scripts {
    apply: Script,
    load: Script,
    start: Script,
    swap: Script,
    verify: Script,
}

/// What the writer knows of Redis.
#[derive(Default)]
struct State {
    /// The generation it writes; `None` until the first load.
    generation: Option<Generation>,
    /// The fold as of that generation's stored checkpoint; `None` until loaded, and after a
    /// write whose outcome is unknown or that was rejected.
    board: Option<Board>,
    /// The highest generation number seen, so that a new one is higher even after Redis lost
    /// its counter.
    highest: u64,
}

#[derive(Debug, Clone, Copy)]
struct Generation {
    number: u64,
    /// `P current` names it: readers read it and its batches are published.
    live: bool,
}

/// What the apply script said.
enum Outcome {
    Applied,
    Rejected { stored: Position },
    Lost,
}

impl RedisBedBoard {
    /// Connects to Redis. The model is loaded lazily, when the runner asks for the checkpoint.
    pub async fn connect(config: &RedisConfig) -> Result<Self, ProjectionError> {
        let (_, connection, keys) = config.connect().await?;
        Ok(Self {
            connection,
            keys,
            scripts: Scripts {
                apply: Script::new(scripts::APPLY),
                load: Script::new(scripts::LOAD),
                start: Script::new(scripts::START),
                swap: Script::new(scripts::SWAP),
                verify: Script::new(scripts::VERIFY),
            },
            state: Mutex::new(State::default()),
        })
    }

    /// Deletes every key under the prefix, every generation included (for tests and tools:
    /// readers then have no model until the next one goes live).
    pub async fn purge(&self) -> Result<usize, ProjectionError> {
        let mut state = self.state.lock().await;
        *state = State { highest: state.highest, ..State::default() };
        delete_matching(&self.connection, &self.keys.pattern(), |_| true).await
    }

    /// The loaded fold, loading it first if needed: the generation this writer writes, or,
    /// before the first load, the one being built aside, else the live one, else a new one.
    async fn loaded<'a>(&self, state: &'a mut State) -> Result<&'a mut Board, ProjectionError> {
        if state.board.is_none() {
            let wanted = state.generation.map(|g| g.number);
            match self.load_board(wanted).await? {
                Some((generation, board)) => {
                    state.highest = state.highest.max(generation.number);
                    state.generation = Some(generation);
                    state.board = Some(board);
                }
                None => match wanted {
                    Some(number) => {
                        return Err(ProjectionError::ModelLost(format!(
                            "{} is gone: Redis was flushed or restarted",
                            self.keys.of(number).marker()
                        )));
                    }
                    None => self.start_generation(state).await?,
                },
            }
        }
        state
            .board
            .as_mut()
            .ok_or_else(|| ProjectionError::Storage("redis: the bed board is not loaded".into()))
    }

    /// Reads a generation back into a fold (`wanted`, or the one to resume); `None` when it does
    /// not exist. A model that does not parse, or whose sets name missing values, is reported
    /// lost.
    async fn load_board(&self, wanted: Option<u64>) -> Result<Option<(Generation, Board)>, ProjectionError> {
        let keys = &self.keys;
        let reply: Vec<Value> = self
            .scripts
            .load
            .key(keys.current())
            .key(keys.next())
            .arg(&keys.prefix)
            .arg(wanted.map(|g| g.to_string()).unwrap_or_default())
            .invoke_async(&mut self.connection.clone())
            .await
            .map_err(storage("loading the bed board"))?;
        let mut reply = reply.into_iter();
        let status: String = field(reply.next(), "status")?;
        if status != "found" {
            return Ok(None);
        }
        let number: String = field(reply.next(), "generation")?;
        let number: u64 = number.parse().map_err(|_| lost(&keys.next(), "not a generation number"))?;
        let live = field::<String>(reply.next(), "state")? == "live";
        let at = keys.of(number);
        let checkpoint = parse_checkpoint(&at.checkpoint(), field(reply.next(), "checkpoint")?)?;
        let sites = parse_all(field(reply.next(), "sites")?, &at.sites())?;
        let wards = parse_all(field(reply.next(), "wards")?, &at.wards())?;
        let beds = parse_all::<serde_json::Value>(field(reply.next(), "beds")?, &at.beds())?
            .into_iter()
            .map(|view| {
                let id = view.get("bed_id").and_then(|v| v.as_str()).map(str::to_owned);
                let id = id.ok_or_else(|| lost(&at.beds(), "a bed view without a bed_id"))?;
                let record = serde_json::from_value(view).map_err(|e| lost(&at.bed(&id), e))?;
                Ok((id, record))
            })
            .collect::<Result<Vec<_>, ProjectionError>>()?;
        let stays: Vec<String> = field(reply.next(), "stays")?;
        let mut pairs = stays.into_iter();
        let mut open = Vec::new();
        while let (Some(id), Some(stay)) = (pairs.next(), pairs.next()) {
            let stay_id: StayId =
                serde_json::from_value(serde_json::Value::String(id)).map_err(|e| lost(&at.stays(), e))?;
            open.push((stay_id, serde_json::from_str(&stay).map_err(|e| lost(&at.stays(), e))?));
        }
        tracing::info!(prefix = %keys.prefix, generation = number, live, checkpoint, "bed board loaded from Redis");
        Ok(Some((Generation { number, live }, Board::restore(checkpoint, sites, wards, beds, open))))
    }

    /// Starts a new generation aside, at checkpoint 0, and writes to it from now on. The live
    /// one, if Redis still has it, keeps serving readers; generations older than the new one
    /// (but the live one) are deleted in the background.
    async fn start_generation(&self, state: &mut State) -> Result<(), ProjectionError> {
        let keys = &self.keys;
        let lost = json(&ChangeMessage { checkpoint: 0, changes: Vec::new(), resync: false })?;
        let (number, live): (u64, String) = self
            .scripts
            .start
            .key(keys.current())
            .key(keys.next())
            .key(keys.generations())
            .arg(&keys.prefix)
            .arg(state.highest + 1)
            .arg(keys.channel())
            .arg(lost)
            .invoke_async(&mut self.connection.clone())
            .await
            .map_err(storage("starting a bed board generation"))?;
        let live: Option<u64> = live.parse().ok();
        state.highest = state.highest.max(number);
        state.generation = Some(Generation { number, live: false });
        state.board = Some(Board::tracking());
        tracing::info!(
            prefix = %keys.prefix,
            generation = number,
            serving = ?live,
            "building a bed board generation aside"
        );
        self.collect_garbage(live, number);
        Ok(())
    }

    /// Deletes, in the background, the keys of every generation below `below` but `keep`.
    fn collect_garbage(&self, keep: Option<u64>, below: u64) {
        let (connection, keys) = (self.connection.clone(), self.keys.clone());
        tokio::spawn(async move {
            let garbage = |key: &str| keys.generation_of(key).is_some_and(|g| g < below && Some(g) != keep);
            match delete_matching(&connection, &keys.generations_pattern(), garbage).await {
                Ok(0) => {}
                Ok(deleted) => {
                    tracing::info!(prefix = %keys.prefix, deleted, "old bed board generations deleted")
                }
                Err(error) => tracing::warn!(%error, "cannot delete old bed board generations"),
            }
        });
    }

    /// Runs the apply script for a batch folded from `from` to `through`.
    async fn write(
        &self,
        generation: u64,
        board: &Board,
        dirty: &Dirty,
        changed: &BTreeSet<String>,
        from: Position,
        through: Position,
    ) -> Result<Outcome, ProjectionError> {
        let keys = self.keys.of(generation);
        let mut batch = Batch::new(vec![keys.checkpoint(), keys.marker(), self.keys.current()]);
        for site in dirty.sites.iter().filter_map(|id| board.sites.get(id)) {
            batch.op("set", keys.site(&site.site_id), json(site)?, "");
            batch.op("sadd", keys.sites(), site.site_id.clone(), "");
        }
        for ward in dirty.wards.iter().filter_map(|id| board.wards.get(id)) {
            batch.op("set", keys.ward(&ward.ward_id), json(ward)?, "");
            batch.op("sadd", keys.wards(), ward.ward_id.clone(), "");
        }
        for bed in dirty.beds.iter().filter_map(|id| board.view(id)) {
            batch.op("set", keys.bed(&bed.bed_id), json(&bed)?, "");
            batch.op("sadd", keys.beds(), bed.bed_id.clone(), "");
            batch.op("sadd", keys.ward_beds(&bed.ward_id), bed.bed_id.clone(), "");
            batch.op("sadd", keys.site_beds(&bed.site_id), bed.bed_id.clone(), "");
        }
        for id in &dirty.stays {
            match board.stays.get(id) {
                Some(stay) => batch.op("hset", keys.stays(), id.to_string(), json(stay)?),
                None => batch.op("hdel", keys.stays(), id.to_string(), ""),
            }
        }
        let changes = changed
            .iter()
            .filter_map(|id| board.view(id))
            .map(|bed| BedChange { ward_id: bed.ward_id.clone(), bed })
            .collect();
        let message = json(&ChangeMessage { checkpoint: through, changes, resync: false })?;

        let mut invocation = self.scripts.apply.prepare_invoke();
        for key in &batch.keys {
            invocation.key(key);
        }
        invocation.arg(from).arg(through).arg(self.keys.channel()).arg(message).arg(generation);
        for arg in &batch.args {
            invocation.arg(arg);
        }
        let (status, stored): (String, String) = invocation
            .invoke_async(&mut self.connection.clone())
            .await
            .map_err(storage("writing a batch"))?;
        match status.as_str() {
            "applied" => Ok(Outcome::Applied),
            "lost" => Ok(Outcome::Lost),
            _ => Ok(Outcome::Rejected { stored: parse_checkpoint(&keys.checkpoint(), Some(stored))? }),
        }
    }

    fn lost_generation(&self, generation: u64) -> ProjectionError {
        ProjectionError::ModelLost(format!(
            "{} is gone: Redis was flushed or restarted",
            self.keys.of(generation).marker()
        ))
    }
}

#[async_trait]
impl Projection for RedisBedBoard {
    fn name(&self) -> &str {
        "bed_board"
    }

    fn filter(&self) -> Filter {
        Filter::categories(careflow_domain::beds::BedStream::CATEGORIES)
    }

    async fn checkpoint(&self) -> Result<Position, ProjectionError> {
        let mut state = self.state.lock().await;
        Ok(self.loaded(&mut state).await?.checkpoint)
    }

    async fn apply(&self, events: &[RecordedEvent], through: Position) -> Result<(), ProjectionError> {
        let mut state = self.state.lock().await;
        // A rejected write means another copy of the model moved on: reload it and try once more.
        for _ in 0..2 {
            self.loaded(&mut state).await?;
            let (Some(generation), Some(board)) = (state.generation, state.board.as_mut()) else {
                return Err(ProjectionError::Storage("redis: the bed board is not loaded".into()));
            };
            let from = board.checkpoint;
            if through <= from {
                return Ok(());
            }
            let decoded = decode_after(events, from)?;
            let mut changed = BTreeSet::new();
            for (event, position) in decoded {
                changed.extend(board.apply(event, position));
            }
            board.checkpoint = through;
            let dirty = board.take_dirty();
            let outcome = self.write(generation.number, board, &dirty, &changed, from, through).await;
            if !matches!(outcome, Ok(Outcome::Applied)) {
                // The fold moved on but Redis did not, or may not have: forget it.
                state.board = None;
            }
            match outcome {
                Ok(Outcome::Applied) => return Ok(()),
                Ok(Outcome::Lost) => return Err(self.lost_generation(generation.number)),
                Ok(Outcome::Rejected { stored }) if stored < from => {
                    return Err(ProjectionError::ModelLost(format!(
                        "{} is {stored}, behind {from} which this projection wrote",
                        self.keys.of(generation.number).checkpoint()
                    )));
                }
                Ok(Outcome::Rejected { stored }) => {
                    tracing::warn!(
                        prefix = %self.keys.prefix,
                        stored,
                        expected = from,
                        "the stored bed board is ahead of this writer; reloading it"
                    );
                }
                Err(error) => return Err(error),
            }
        }
        Err(ProjectionError::Storage(format!(
            "redis: {} keeps moving under this writer: is another projection writing the same prefix?",
            self.keys.prefix
        )))
    }

    async fn reset(&self) -> Result<(), ProjectionError> {
        let mut state = self.state.lock().await;
        state.board = None;
        self.start_generation(&mut state).await
    }

    async fn caught_up(&self, position: Position) -> Result<(), ProjectionError> {
        let mut state = self.state.lock().await;
        let checkpoint = self.loaded(&mut state).await?.checkpoint;
        let Some(generation) = state.generation else { return Ok(()) };
        if generation.live {
            return Ok(());
        }
        let keys = self.keys.of(generation.number);
        let message = json(&ChangeMessage { checkpoint, changes: Vec::new(), resync: true })?;
        let (status, previous): (String, String) = self
            .scripts
            .swap
            .key(self.keys.current())
            .key(self.keys.next())
            .key(keys.marker())
            .key(keys.checkpoint())
            .arg(generation.number)
            .arg(checkpoint)
            .arg(self.keys.channel())
            .arg(message)
            .invoke_async(&mut self.connection.clone())
            .await
            .map_err(storage("making a bed board generation live"))?;
        match status.as_str() {
            "swapped" => {
                state.generation = Some(Generation { live: true, ..generation });
                tracing::info!(
                    prefix = %self.keys.prefix,
                    generation = generation.number,
                    previous = %previous,
                    checkpoint,
                    caught_up = position,
                    "bed board generation live"
                );
                self.collect_garbage(Some(generation.number), generation.number);
                Ok(())
            }
            "lost" => {
                state.board = None;
                Err(self.lost_generation(generation.number))
            }
            _ => {
                state.board = None;
                Err(ProjectionError::Storage(format!(
                    "redis: {} moved or was replaced while it was being built: is another projection \
                     writing the same prefix?",
                    keys.marker()
                )))
            }
        }
    }

    fn progress_every(&self) -> Duration {
        PROGRESS_EVERY
    }

    async fn verify(&self) -> Result<(), ProjectionError> {
        let mut state = self.state.lock().await;
        let (Some(generation), Some(board)) = (state.generation, state.board.as_ref()) else { return Ok(()) };
        let expected = board.checkpoint;
        let keys = self.keys.of(generation.number);
        let (exists, stored): (u8, Option<String>) = self
            .scripts
            .verify
            .key(keys.marker())
            .key(keys.checkpoint())
            .invoke_async(&mut self.connection.clone())
            .await
            .map_err(storage("checking the bed board"))?;
        let stored = parse_checkpoint(&keys.checkpoint(), stored)?;
        if exists == 0 {
            state.board = None;
            return Err(self.lost_generation(generation.number));
        }
        if stored < expected {
            state.board = None;
            return Err(ProjectionError::ModelLost(format!(
                "{} is {stored}, behind {expected} which this projection wrote",
                keys.checkpoint()
            )));
        }
        if stored > expected {
            state.board = None;
            tracing::warn!(prefix = %self.keys.prefix, stored, expected, "the stored bed board is ahead of this writer");
        }
        Ok(())
    }
}

/// Deletes the keys matching `pattern` that `wanted` accepts; returns how many.
async fn delete_matching(
    connection: &ConnectionManager,
    pattern: &str,
    wanted: impl Fn(&str) -> bool,
) -> Result<usize, ProjectionError> {
    let mut connection = connection.clone();
    let mut cursor: u64 = 0;
    let mut deleted = 0;
    loop {
        let (next, found): (u64, Vec<String>) = ::redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(pattern)
            .arg("COUNT")
            .arg(1000)
            .query_async(&mut connection)
            .await
            .map_err(storage("listing keys to delete"))?;
        let found: Vec<String> = found.into_iter().filter(|key| wanted(key)).collect();
        for chunk in found.chunks(UNLINK_CHUNK) {
            let _: usize = ::redis::cmd("UNLINK")
                .arg(chunk)
                .query_async(&mut connection)
                .await
                .map_err(storage("deleting keys"))?;
        }
        deleted += found.len();
        if next == 0 {
            return Ok(deleted);
        }
        cursor = next;
    }
}

/// The keys and operations of one apply script call.
struct Batch {
    keys: Vec<String>,
    args: Vec<String>,
}

impl Batch {
    /// A batch whose script takes `fixed` as its first keys.
    fn new(fixed: Vec<String>) -> Self {
        Self { keys: fixed, args: Vec::new() }
    }

    fn op(&mut self, name: &str, key: String, a: impl Into<String>, b: impl Into<String>) {
        self.keys.push(key);
        self.args.extend([name.to_owned(), self.keys.len().to_string(), a.into(), b.into()]);
    }
}

fn json(value: &impl Serialize) -> Result<String, ProjectionError> {
    serde_json::to_string(value)
        .map_err(|e| ProjectionError::Storage(format!("cannot encode a bed board value: {e}")))
}

fn lost(key: &str, error: impl std::fmt::Display) -> ProjectionError {
    ProjectionError::ModelLost(format!("cannot read {key}: {error}"))
}

/// One field of a script's reply.
fn field<T: ::redis::FromRedisValue>(value: Option<Value>, what: &str) -> Result<T, ProjectionError> {
    let value =
        value.ok_or_else(|| ProjectionError::Storage(format!("redis: the load script gave no {what}")))?;
    ::redis::from_redis_value(value)
        .map_err(|e| ProjectionError::Storage(format!("redis: unexpected {what} from the load script: {e}")))
}

/// Parses the values listed by `set`: a missing or unreadable one means the model is damaged.
fn parse_all<T: DeserializeOwned>(values: Vec<Option<String>>, set: &str) -> Result<Vec<T>, ProjectionError> {
    values
        .into_iter()
        .map(|value| {
            let value = value.ok_or_else(|| lost(set, "an id without a value"))?;
            serde_json::from_str(&value).map_err(|e| lost(set, e))
        })
        .collect()
}
