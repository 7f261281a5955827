//! The syncer thread: makes committed batches durable (`fdatasync` of the WAL file), then
//! advances the head and answers their requests. Runs beside the writer, so the writer can
//! commit the next batch while the previous one is being synced.

use std::fs::File;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};

use tokio::sync::{oneshot, watch};

use crate::{AppendResult, Position, StoreError};

/// A committed batch waiting to be made durable.
pub(super) struct Committed {
    /// The last position written once this batch is in.
    pub(super) last_position: Position,
    /// The answers to send once it is durable.
    pub(super) replies: Vec<Reply>,
}

/// An answer for one command, with where to send it.
pub(super) enum Reply {
    /// The answer to an append.
    Append(oneshot::Sender<Result<AppendResult, StoreError>>, Result<AppendResult, StoreError>),
    /// The answer to a checkpoint save.
    Saved(oneshot::Sender<Result<(), StoreError>>, Result<(), StoreError>),
}

impl Reply {
    /// Sends the answer. A caller that has gone away (its future dropped) no longer wants it.
    pub(super) fn send(self) {
        match self {
            Self::Append(reply, result) => {
                let _ = reply.send(result);
            }
            Self::Saved(reply, result) => {
                let _ = reply.send(result);
            }
        }
    }

    /// Sends `error` instead of the answer.
    pub(super) fn fail(self, error: StoreError) {
        match self {
            Self::Append(reply, _) => {
                let _ = reply.send(Err(error));
            }
            Self::Saved(reply, _) => {
                let _ = reply.send(Err(error));
            }
        }
    }
}

/// An `fdatasync` of the WAL failed: what was committed since the last good one may be lost.
#[derive(Debug, thiserror::Error)]
#[error("fsync of the write-ahead log failed; the store must be reopened: {0}")]
pub(super) struct SyncFailed(Arc<std::io::Error>);

/// The error for every write once a sync has failed.
pub(super) fn stopped_after_sync_failure() -> StoreError {
    StoreError::Unavailable("an fsync of the write-ahead log failed earlier; reopen the event store".into())
}

pub(super) struct Syncer {
    /// The WAL file, or `None` when commits are not synced (`Synchronous::Normal`).
    wal: Option<File>,
    head: watch::Sender<Position>,
    /// Set when a sync fails; the writer then refuses new work.
    failed: Arc<AtomicBool>,
}

impl Syncer {
    pub(super) fn new(wal: Option<File>, head: watch::Sender<Position>, failed: Arc<AtomicBool>) -> Self {
        Self { wal, head, failed }
    }

    /// Serves committed batches until the writer is gone and none is left.
    pub(super) fn run(self, committed: &mpsc::Receiver<Committed>) {
        while let Ok(first) = committed.recv() {
            // One sync covers every batch committed so far: the WAL is written in order.
            let mut group = vec![first];
            group.extend(committed.try_iter());
            if self.failed.load(Ordering::Acquire) {
                group
                    .into_iter()
                    .flat_map(|batch| batch.replies)
                    .for_each(|r| r.fail(stopped_after_sync_failure()));
                continue;
            }
            if let Some(Err(error)) = self.wal.as_ref().map(File::sync_data) {
                // Like PostgreSQL after a failed fsync: never trust the file again in this run
                // (the kernel may have dropped the dirty pages and a later fsync could succeed).
                self.failed.store(true, Ordering::Release);
                tracing::error!(%error, "fsync of the event store WAL failed; refusing further writes");
                let error = Arc::new(error);
                for reply in group.into_iter().flat_map(|batch| batch.replies) {
                    reply.fail(StoreError::backend(SyncFailed(Arc::clone(&error))));
                }
                continue;
            }
            let last = group.iter().map(|batch| batch.last_position).max().unwrap_or(0);
            // The head first, so that when an append returns, `head()` already shows it.
            self.head.send_if_modified(|head| {
                let advanced = last > *head;
                *head = (*head).max(last);
                advanced
            });
            group.into_iter().flat_map(|batch| batch.replies).for_each(Reply::send);
        }
    }
}
