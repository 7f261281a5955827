//! The writer: folds batches and stores what they touched, with the checkpoint, atomically.

use std::collections::BTreeSet;
use std::time::Duration;

use ::redis::Script;
use ::redis::aio::ConnectionManager;
use async_trait::async_trait;
use careflow_domain::StayId;
use careflow_eventstore::{Filter, Position, RecordedEvent};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::Mutex;

use super::super::fold::{Board, Dirty, decode_after};
use super::super::model::BedChange;
use super::{ChangeMessage, Keys, RedisConfig, parse_checkpoint, read_checkpoint, scripts, storage};
use crate::{Projection, ProjectionError};

/// How many keys one `UNLINK` of a reset deletes.
const UNLINK_CHUNK: usize = 500;

/// At most one checkpoint-only write (progress past events of other contexts) this often.
const PROGRESS_EVERY: Duration = Duration::from_millis(100);

/// The bed board projection writing to Redis. Exactly one per key prefix.
pub struct RedisBedBoard {
    connection: ConnectionManager,
    keys: Keys,
    apply: Script,
    load: Script,
    /// The fold as of the stored checkpoint; `None` until loaded, and after a write whose
    /// outcome is unknown or that was rejected.
    board: Mutex<Option<Board>>,
}

/// What the apply script said.
enum Outcome {
    Applied,
    Rejected { stored: Position },
}

impl RedisBedBoard {
    /// Connects to Redis. The model is loaded lazily, when the runner asks for the checkpoint.
    pub async fn connect(config: &RedisConfig) -> Result<Self, ProjectionError> {
        let (_, connection, keys) = config.connect().await?;
        Ok(Self {
            connection,
            keys,
            apply: Script::new(scripts::APPLY),
            load: Script::new(scripts::LOAD),
            board: Mutex::new(None),
        })
    }

    /// The loaded fold, loading it first if needed.
    async fn loaded<'a>(&self, slot: &'a mut Option<Board>) -> Result<&'a mut Board, ProjectionError> {
        match slot {
            Some(board) => Ok(board),
            None => Ok(slot.insert(self.load_board().await?)),
        }
    }

    /// Reads the whole model back into a fold. A model that does not parse, or whose sets name
    /// missing values, is reported lost.
    async fn load_board(&self) -> Result<Board, ProjectionError> {
        type Snapshot =
            (Option<String>, Vec<Option<String>>, Vec<Option<String>>, Vec<Option<String>>, Vec<String>);
        let keys = &self.keys;
        let (checkpoint, sites, wards, beds, stays): Snapshot = self
            .load
            .key(keys.checkpoint())
            .key(keys.sites())
            .key(keys.wards())
            .key(keys.beds())
            .key(keys.stays())
            .arg(keys.site_prefix())
            .arg(keys.ward_prefix())
            .arg(keys.bed_prefix())
            .invoke_async(&mut self.connection.clone())
            .await
            .map_err(storage("loading the bed board"))?;
        let checkpoint = parse_checkpoint(&keys.checkpoint(), checkpoint)?;
        let sites = parse_all(sites, &keys.sites())?;
        let wards = parse_all(wards, &keys.wards())?;
        let beds = parse_all::<serde_json::Value>(beds, &keys.beds())?
            .into_iter()
            .map(|view| {
                let id = view.get("bed_id").and_then(|v| v.as_str()).map(str::to_owned);
                let id = id.ok_or_else(|| lost(&keys.beds(), "a bed view without a bed_id"))?;
                let record = serde_json::from_value(view).map_err(|e| lost(&keys.bed(&id), e))?;
                Ok((id, record))
            })
            .collect::<Result<Vec<_>, ProjectionError>>()?;
        let mut pairs = stays.into_iter();
        let mut open = Vec::new();
        while let (Some(id), Some(stay)) = (pairs.next(), pairs.next()) {
            let stay_id: StayId =
                serde_json::from_value(serde_json::Value::String(id)).map_err(|e| lost(&keys.stays(), e))?;
            open.push((stay_id, serde_json::from_str(&stay).map_err(|e| lost(&keys.stays(), e))?));
        }
        tracing::info!(prefix = %keys.prefix, checkpoint, "bed board loaded from Redis");
        Ok(Board::restore(checkpoint, sites, wards, beds, open))
    }

    /// Runs the apply script for a batch folded from `from` to `through`.
    async fn write(
        &self,
        board: &Board,
        dirty: &Dirty,
        changed: &BTreeSet<String>,
        from: Position,
        through: Position,
    ) -> Result<Outcome, ProjectionError> {
        let keys = &self.keys;
        let mut batch = Batch::new(keys.checkpoint());
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
        let message = json(&ChangeMessage { checkpoint: through, changes })?;

        let mut invocation = self.apply.prepare_invoke();
        for key in &batch.keys {
            invocation.key(key);
        }
        invocation.arg(from).arg(through).arg(keys.channel()).arg(message);
        for arg in &batch.args {
            invocation.arg(arg);
        }
        let (status, stored): (String, String) = invocation
            .invoke_async(&mut self.connection.clone())
            .await
            .map_err(storage("writing a batch"))?;
        match status.as_str() {
            "applied" => Ok(Outcome::Applied),
            _ => Ok(Outcome::Rejected { stored: parse_checkpoint(&keys.checkpoint(), Some(stored))? }),
        }
    }

    /// Deletes every key under the prefix.
    async fn delete_all(&self) -> Result<usize, ProjectionError> {
        let mut connection = self.connection.clone();
        let mut cursor: u64 = 0;
        let mut deleted = 0;
        loop {
            let (next, found): (u64, Vec<String>) = ::redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(self.keys.pattern())
                .arg("COUNT")
                .arg(1000)
                .query_async(&mut connection)
                .await
                .map_err(storage("listing keys to reset"))?;
            for chunk in found.chunks(UNLINK_CHUNK) {
                let _: usize = ::redis::cmd("UNLINK")
                    .arg(chunk)
                    .query_async(&mut connection)
                    .await
                    .map_err(storage("deleting keys to reset"))?;
            }
            deleted += found.len();
            if next == 0 {
                return Ok(deleted);
            }
            cursor = next;
        }
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
        let mut slot = self.board.lock().await;
        Ok(self.loaded(&mut slot).await?.checkpoint)
    }

    async fn apply(&self, events: &[RecordedEvent], through: Position) -> Result<(), ProjectionError> {
        let mut slot = self.board.lock().await;
        // A rejected write means another copy of the model moved on: reload it and try once more.
        for _ in 0..2 {
            let board = self.loaded(&mut slot).await?;
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
            let outcome = self.write(board, &dirty, &changed, from, through).await;
            match outcome {
                Ok(Outcome::Applied) => return Ok(()),
                Ok(Outcome::Rejected { stored }) if stored < from => {
                    *slot = None;
                    return Err(ProjectionError::ModelLost(format!(
                        "{} is {stored}, behind {from} which this projection wrote: Redis was flushed or \
                         restarted",
                        self.keys.checkpoint()
                    )));
                }
                Ok(Outcome::Rejected { stored }) => {
                    *slot = None;
                    tracing::warn!(
                        prefix = %self.keys.prefix,
                        stored,
                        expected = from,
                        "the stored bed board is ahead of this writer; reloading it"
                    );
                }
                Err(error) => {
                    // The fold moved on but Redis may not have: forget it.
                    *slot = None;
                    return Err(error);
                }
            }
        }
        Err(ProjectionError::Storage(format!(
            "redis: {} keeps moving under this writer: is another projection writing the same prefix?",
            self.keys.checkpoint()
        )))
    }

    async fn reset(&self) -> Result<(), ProjectionError> {
        let mut slot = self.board.lock().await;
        *slot = None;
        let deleted = self.delete_all().await?;
        let message = json(&ChangeMessage { checkpoint: 0, changes: Vec::new() })?;
        let _: usize = ::redis::cmd("PUBLISH")
            .arg(self.keys.channel())
            .arg(message)
            .query_async(&mut self.connection.clone())
            .await
            .map_err(storage("announcing a reset"))?;
        tracing::info!(prefix = %self.keys.prefix, deleted, "bed board reset");
        *slot = Some(Board::tracking());
        Ok(())
    }

    fn progress_every(&self) -> Duration {
        PROGRESS_EVERY
    }

    async fn verify(&self) -> Result<(), ProjectionError> {
        let mut slot = self.board.lock().await;
        let Some(board) = slot.as_ref() else { return Ok(()) };
        let expected = board.checkpoint;
        let stored = read_checkpoint(&self.connection, &self.keys).await?;
        if stored < expected {
            *slot = None;
            return Err(ProjectionError::ModelLost(format!(
                "{} is {stored}, behind {expected} which this projection wrote: Redis was flushed or restarted",
                self.keys.checkpoint()
            )));
        }
        if stored > expected {
            *slot = None;
            tracing::warn!(prefix = %self.keys.prefix, stored, expected, "the stored bed board is ahead of this writer");
        }
        Ok(())
    }
}

/// The keys and operations of one apply script call.
struct Batch {
    keys: Vec<String>,
    args: Vec<String>,
}

impl Batch {
    fn new(checkpoint: String) -> Self {
        Self { keys: vec![checkpoint], args: Vec::new() }
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
