//! Test support: a store to write events to, and a sender that records what it is sent and
//! answers as the services would (the same command id, the same answer).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use careflow_eventstore::memory::MemoryStore;
use careflow_eventstore::{EventStore, ExpectedVersion, Metadata, NewEvent, StreamAppend, StreamName};
use careflow_workflows::clock::WallClock;
use careflow_workflows::commands::{Ack, Command, SendError, Sender};
use chrono::{DateTime, TimeZone, Utc};
use serde::Serialize;
use uuid::Uuid;

/// 09:00 on Monday 2 November 2026, plus `minutes`.
pub fn at(minutes: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 2, 9, 0, 0).single().unwrap() + chrono::Duration::minutes(minutes)
}

/// Appends one event to `stream`.
pub async fn record(store: &MemoryStore, stream: &str, event_type: &str, event: &impl Serialize) {
    let metadata = Metadata::new(Uuid::nil(), at(0));
    let new = NewEvent::json(Uuid::now_v7(), event_type, 1, event, metadata).unwrap();
    let append = StreamAppend {
        stream: StreamName::new(stream).unwrap(),
        expected: ExpectedVersion::Any,
        events: vec![new],
    };
    store.append(vec![append]).await.unwrap();
}

/// One command as the services received it.
#[derive(Debug, Clone)]
pub struct Received {
    pub command: Command,
    /// The sender's clock when it arrived.
    pub at: DateTime<Utc>,
}

/// Records every command; answers a command id it has seen with the first answer, as the
/// services do. `fail_first` transient failures come first.
pub struct Recorder {
    pub received: Mutex<Vec<Received>>,
    answers: Mutex<HashMap<String, Ack>>,
    clock: Arc<dyn WallClock>,
    fail_first: Mutex<usize>,
}

impl Recorder {
    pub fn new(clock: Arc<dyn WallClock>) -> Arc<Self> {
        Arc::new(Self {
            received: Mutex::default(),
            answers: Mutex::default(),
            clock,
            fail_first: Mutex::new(0),
        })
    }

    pub fn failing_first(self: &Arc<Self>, n: usize) {
        *self.fail_first.lock().unwrap() = n;
    }

    pub fn commands(&self) -> Vec<Command> {
        self.received.lock().unwrap().iter().map(|r| r.command.clone()).collect()
    }

    /// How many distinct command ids were received.
    pub fn distinct(&self) -> usize {
        self.answers.lock().unwrap().len()
    }
}

#[async_trait]
impl Sender for Recorder {
    async fn send(&self, command: &Command) -> Result<Ack, SendError> {
        self.received.lock().unwrap().push(Received { command: command.clone(), at: self.clock.now() });
        {
            let mut failing = self.fail_first.lock().unwrap();
            if *failing > 0 {
                *failing -= 1;
                return Err(SendError::Transient { code: tonic::Code::Unavailable, message: "down".into() });
            }
        }
        let mut answers = self.answers.lock().unwrap();
        let next = answers.len() as u64 + 1;
        let ack = answers
            .entry(command.command_id().to_owned())
            .or_insert_with(|| Ack { position: next, id: Uuid::from_u128(u128::from(next)).to_string() })
            .clone();
        Ok(ack)
    }
}

/// Waits (on paused time, so without real sleeping) until `recorder` has `n` commands.
pub async fn until_received(recorder: &Recorder, n: usize) {
    for _ in 0..10_000 {
        if recorder.received.lock().unwrap().len() >= n {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
    panic!("{} commands, not {n}", recorder.received.lock().unwrap().len());
}
