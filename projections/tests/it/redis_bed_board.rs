//! The Redis bed board (the generic document store holding the bed board fold) against a real Redis (127.0.0.1:6379, or `CAREFLOW_REDIS_URL`): the same
//! board as the in-memory model, idempotent batches, a reader in another process, a flushed model
//! rebuilt, a stale writer unable to double-apply. Each test works under its own random key
//! prefix and deletes its keys when it ends (the Redis is shared: never FLUSHALL). Without a
//! reachable Redis the tests skip with a message, unless `CI` is set, where they fail.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use crate::helpers;

use std::sync::Arc;
use std::time::Duration;

use careflow_domain::beds::{BedEvent, BedStatus, VacatedBecause};
use careflow_eventstore::EventStore;
use careflow_eventstore::memory::MemoryStore;
use careflow_projections::bed_board::{
    BedBoardReader, MemoryBedBoard, RedisBedBoard, RedisBedBoardReader, RedisConfig,
};
use careflow_projections::{Projection, ProjectionRunner};
use helpers::redis::{DEADLINE, TestRedis, eventually};
use helpers::{admit, append, at, busy_day, configured_store, ids, other_context, two_contexts_write};
use tokio::sync::broadcast::error::RecvError;
use tokio::time::Instant;
use uuid::Uuid;

async fn memory_board(store: &Arc<MemoryStore>) -> MemoryBedBoard {
    let board = Arc::new(MemoryBedBoard::new());
    ProjectionRunner::new(store.clone(), board.clone()).catch_up().await.unwrap();
    Arc::into_inner(board).unwrap()
}

fn head(store: &MemoryStore) -> u64 {
    *store.head().borrow()
}

/// Every read of `redis` answers as `memory` does, unknown ids included.
async fn assert_same_board(memory: &MemoryBedBoard, redis: &RedisBedBoardReader) {
    let sites = memory.sites().await.unwrap();
    let wards = memory.wards(None).await.unwrap();
    assert!(!sites.is_empty() && !wards.is_empty(), "a board worth comparing");
    assert_eq!(redis.sites().await.unwrap(), sites);
    assert_eq!(redis.wards(None).await.unwrap(), wards);
    for site in sites.iter().map(|s| s.site_id.as_str()).chain(["NOPE"]) {
        assert_eq!(redis.wards(Some(site)).await.unwrap(), memory.wards(Some(site)).await.unwrap(), "{site}");
        assert_eq!(
            redis.site_capacity(site).await.unwrap(),
            memory.site_capacity(site).await.unwrap(),
            "{site}"
        );
    }
    for ward in wards.iter().map(|w| w.ward_id.as_str()).chain(["NOPE"]) {
        assert_eq!(redis.ward(ward).await.unwrap(), memory.ward(ward).await.unwrap(), "{ward}");
        let beds = memory.bed_board(ward).await.unwrap();
        assert_eq!(redis.bed_board(ward).await.unwrap(), beds, "{ward}");
        assert_eq!(
            redis.ward_capacity(ward).await.unwrap(),
            memory.ward_capacity(ward).await.unwrap(),
            "{ward}"
        );
        for bed in beds.iter().flatten() {
            assert_eq!(redis.bed(&bed.bed_id).await.unwrap().as_ref(), Some(bed));
        }
    }
    assert_eq!(redis.bed("NOPE").await.unwrap(), None);
    assert_eq!(BedBoardReader::checkpoint(redis), BedBoardReader::checkpoint(memory));
}

#[tokio::test]
async fn catch_up_gives_the_memory_board_and_carries_on_after_a_restart() {
    let Some(redis) = TestRedis::start().await else { return };
    let store = configured_store().await;
    admit(&store).await;
    let writer = Arc::new(RedisBedBoard::connect(&redis.config()).await.unwrap());
    let reached = ProjectionRunner::new(store.clone(), writer.clone()).catch_up().await.unwrap();
    assert_eq!(reached, head(&store));
    drop(writer);

    // A restarted projection process loads the fold back (stays included: the events that
    // follow change the admitted patient's discharge details) and carries on.
    busy_day(&store).await;
    let restarted = Arc::new(RedisBedBoard::connect(&redis.config()).await.unwrap());
    assert_eq!(Projection::checkpoint(&*restarted).await.unwrap(), reached);
    ProjectionRunner::new(store.clone(), restarted.clone()).catch_up().await.unwrap();

    let memory = memory_board(&store).await;
    let reader = RedisBedBoardReader::connect(&redis.config()).await.unwrap();
    assert_eq!(reader.checkpoint(), head(&store));
    assert_same_board(&memory, &reader).await;
    let bed = reader.bed("RXA01-AMU-B01").await.unwrap().unwrap();
    assert!(bed.medically_optimised && bed.expected_discharge_date.is_some(), "{bed:?}");
}

#[tokio::test]
async fn applying_the_same_batch_twice_changes_nothing() {
    let Some(redis) = TestRedis::start().await else { return };
    let store = configured_store().await;
    admit(&store).await;
    busy_day(&store).await;
    let writer = RedisBedBoard::connect(&redis.config()).await.unwrap();
    let all = store.read_all(1, 1000, &writer.filter()).await.unwrap();
    let through = all.next - 1;
    writer.apply(&all.events, through).await.unwrap();
    let once = redis.snapshot().await;

    writer.apply(&all.events, through).await.unwrap();
    writer.apply(&all.events[..2], 2).await.unwrap();
    let restarted = RedisBedBoard::connect(&redis.config()).await.unwrap();
    restarted.apply(&all.events, through).await.unwrap();
    assert_eq!(redis.snapshot().await, once);
    assert_eq!(redis.stored_checkpoint().await, Some(through));
}

#[tokio::test]
async fn a_reader_in_another_process_gets_the_changes_and_the_checkpoint() {
    let Some(redis) = TestRedis::start().await else { return };
    let store = configured_store().await;
    let writer = Arc::new(RedisBedBoard::connect(&redis.config()).await.unwrap());
    let runner = ProjectionRunner::new(store.clone(), writer.clone());
    runner.catch_up().await.unwrap();
    let reader = RedisBedBoardReader::connect(&redis.config()).await.unwrap();
    assert_eq!(reader.checkpoint(), head(&store));
    let mut changes = reader.changes();

    admit(&store).await;
    let admitted = head(&store);
    assert!(!reader.wait_for(admitted, Duration::ZERO).await);
    runner.catch_up().await.unwrap();
    assert!(reader.wait_for(admitted, DEADLINE).await);
    assert_eq!(reader.checkpoint(), admitted);
    // Changes are forwarded before the checkpoint moves: it is there already.
    let change = changes.try_recv().expect("a change was pushed");
    assert_eq!(change.ward_id, "RXA01-AMU");
    assert_eq!((change.bed.bed_id.as_str(), change.bed.status), ("RXA01-AMU-B01", BedStatus::Occupied));
    assert_eq!(change.bed.patient.map(|p| p.family_name), Some("Marchbank".to_owned()));
    assert!(changes.try_recv().is_err(), "one bed changed, one push");
}

#[tokio::test]
async fn wait_for_polls_the_checkpoint_when_a_message_is_lost() {
    let Some(redis) = TestRedis::start().await else { return };
    let reader = RedisBedBoardReader::connect(&redis.config()).await.unwrap();
    assert_eq!(reader.checkpoint(), 0);
    // The checkpoint moves without a message, as when a publish is missed while resubscribing.
    let prefix = redis.prefix();
    let _: () = redis::cmd("MSET")
        .arg(format!("{prefix}bed_board:current"))
        .arg(1)
        .arg(format!("{prefix}bed_board@1:generation"))
        .arg(1)
        .arg(format!("{prefix}bed_board@1:checkpoint"))
        .arg(42)
        .query_async(&mut redis.connection().await)
        .await
        .unwrap();
    assert!(reader.wait_for(42, DEADLINE).await);
    assert_eq!(reader.checkpoint(), 42);
}

#[tokio::test]
async fn a_model_flushed_while_idle_is_noticed_and_rebuilt_by_the_running_projection() {
    let Some(redis) = TestRedis::start().await else { return };
    let store = configured_store().await;
    admit(&store).await;
    busy_day(&store).await;
    let writer = Arc::new(RedisBedBoard::connect(&redis.config()).await.unwrap());
    let runner = ProjectionRunner::new(store.clone(), writer.clone()).verify_every(Duration::from_millis(50));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(runner.run(async {
        let _ = stopped.await;
    }));
    let reader = RedisBedBoardReader::connect(&redis.config()).await.unwrap();
    let before = head(&store);
    assert!(reader.wait_for(before, DEADLINE).await);

    redis.flush().await;
    eventually("the model is rebuilt", || async { redis.stored_checkpoint().await == Some(before) }).await;
    assert!(reader.wait_for(before, DEADLINE).await);
    assert_same_board(&memory_board(&store).await, &reader).await;

    // And it goes on following the log.
    let (_, _, _, b2, _) = ids();
    append(&store, vec![BedEvent::BedUnblocked { bed_id: b2, to: BedStatus::Available, at: at(40) }]).await;
    assert!(reader.wait_for(head(&store), DEADLINE).await);
    assert_same_board(&memory_board(&store).await, &reader).await;

    stop.send(()).unwrap();
    running.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_model_flushed_between_batches_is_rebuilt_at_the_next_batch() {
    let Some(redis) = TestRedis::start().await else { return };
    let store = configured_store().await;
    admit(&store).await;
    let writer = Arc::new(RedisBedBoard::connect(&redis.config()).await.unwrap());
    let runner = ProjectionRunner::new(store.clone(), writer.clone());
    runner.catch_up().await.unwrap();

    redis.flush().await;
    busy_day(&store).await;
    // The next batch's compare-and-set fails: the runner resets and replays from position 1.
    assert_eq!(runner.catch_up().await.unwrap(), head(&store));
    let reader = RedisBedBoardReader::connect(&redis.config()).await.unwrap();
    assert_same_board(&memory_board(&store).await, &reader).await;
}

#[tokio::test]
async fn a_writer_with_an_older_view_cannot_apply_a_batch_again() {
    let Some(redis) = TestRedis::start().await else { return };
    let store = configured_store().await;
    let current = Arc::new(RedisBedBoard::connect(&redis.config()).await.unwrap());
    let runner = ProjectionRunner::new(store.clone(), current.clone());
    let configured = runner.catch_up().await.unwrap();
    // A second writer loads the model now, then stalls (or crashed before its checkpoint and
    // came back with what it had): its view is of `configured`.
    let stale = RedisBedBoard::connect(&redis.config()).await.unwrap();
    assert_eq!(Projection::checkpoint(&stale).await.unwrap(), configured);

    admit(&store).await;
    let admission = store.read_all(configured + 1, 1000, &stale.filter()).await.unwrap();
    let (_, _, b1, _, stay) = ids();
    append(
        &store,
        vec![BedEvent::BedVacated {
            bed_id: b1,
            stay_id: stay,
            because: VacatedBecause::Discharged,
            at: at(30),
        }],
    )
    .await;
    runner.catch_up().await.unwrap();
    let vacated = redis.snapshot().await;

    // Applied again from the older view, the admission would put the patient back in bed 1.
    stale.apply(&admission.events, admission.next - 1).await.unwrap();
    assert_eq!(redis.snapshot().await, vacated);
    let reader = RedisBedBoardReader::connect(&redis.config()).await.unwrap();
    let bed = reader.bed("RXA01-AMU-B01").await.unwrap().unwrap();
    assert_eq!(bed.status, BedStatus::AwaitingCleaning);

    // Having reloaded, the same writer applies only what is new, once.
    busy_day(&store).await;
    let all = store.read_all(1, 1000, &stale.filter()).await.unwrap();
    stale.apply(&all.events, all.next - 1).await.unwrap();
    assert!(reader.wait_for(head(&store), DEADLINE).await);
    assert_same_board(&memory_board(&store).await, &reader).await;
}

/// `host:port` of a `redis://[user[:password]@]host:port[/db]` URL.
fn host_port(url: &str) -> String {
    let rest = url.strip_prefix("redis://").unwrap_or(url);
    let authority = rest.split('/').next().unwrap_or(rest);
    authority.rsplit('@').next().unwrap_or(authority).to_owned()
}

/// A TCP proxy to Redis that a test can cut (every connection closed, new ones refused) and
/// restore: a network failure between a gateway and Redis, without touching the shared server.
struct Proxy {
    addr: std::net::SocketAddr,
    open: Arc<std::sync::atomic::AtomicBool>,
    links: Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>>,
    accept: tokio::task::JoinHandle<()>,
}

impl Proxy {
    async fn start(target: String) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let open = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let links: Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>> = Arc::default();
        let accept = tokio::spawn({
            let (open, links) = (open.clone(), links.clone());
            async move {
                while let Ok((mut inbound, _)) = listener.accept().await {
                    if !open.load(std::sync::atomic::Ordering::SeqCst) {
                        continue; // dropped: refused
                    }
                    let target = target.clone();
                    let link = tokio::spawn(async move {
                        if let Ok(mut outbound) = tokio::net::TcpStream::connect(&target).await {
                            let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                        }
                    });
                    links.lock().unwrap().push(link);
                }
            }
        });
        Self { addr, open, links, accept }
    }

    fn cut(&self) {
        self.open.store(false, std::sync::atomic::Ordering::SeqCst);
        for link in self.links.lock().unwrap().drain(..) {
            link.abort();
        }
    }

    fn restore(&self) {
        self.open.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}

#[tokio::test]
async fn a_reader_cut_off_from_redis_resends_the_board_once_back() {
    let Some(redis) = TestRedis::start().await else { return };
    let store = configured_store().await;
    let writer = Arc::new(RedisBedBoard::connect(&redis.config()).await.unwrap());
    let runner = ProjectionRunner::new(store.clone(), writer.clone());
    runner.catch_up().await.unwrap();
    let proxy = Proxy::start(host_port(redis.url())).await;
    let mut config = redis.config();
    config.url = format!("redis://{}", proxy.addr);
    let reader = RedisBedBoardReader::connect(&config).await.unwrap();
    let mut changes = reader.changes();

    proxy.cut();
    // Published while the reader is cut off: the message is lost to it.
    admit(&store).await;
    runner.catch_up().await.unwrap();
    proxy.restore();

    // Back, the reader tells its subscribers to re-read the board (they may have missed
    // changes), and the board shows the admitted bed as it is now.
    let told = tokio::time::timeout(DEADLINE, changes.recv()).await.expect("told after resubscribing");
    assert!(matches!(told, Err(RecvError::Lagged(_))), "{told:?}");
    assert!(reader.wait_for(head(&store), DEADLINE).await);
    assert_eq!(reader.bed("RXA01-AMU-B01").await.unwrap().unwrap().status, BedStatus::Occupied);
}

#[tokio::test]
async fn the_checkpoint_reaches_the_head_while_another_context_writes() {
    let Some(redis) = TestRedis::start().await else { return };
    let store = configured_store().await;
    let writer = Arc::new(RedisBedBoard::connect(&redis.config()).await.unwrap());
    let runner = ProjectionRunner::new(store.clone(), writer.clone());
    runner.catch_up().await.unwrap();
    let reader = RedisBedBoardReader::connect(&redis.config()).await.unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(runner.run(async {
        let _ = stopped.await;
    }));
    two_contexts_write(&store, 30).await;
    let interleaved = head(&store);
    assert!(reader.wait_for(interleaved, DEADLINE).await, "the reader saw the bed board reach {interleaved}");
    // Then, with the board live at the head, only tasks: nothing the board reads.
    for n in 100..110 {
        other_context(&store, n).await;
    }
    let head = head(&store);
    assert!(reader.wait_for(head, DEADLINE).await, "the reader saw the bed board reach {head}");
    assert_eq!(Projection::checkpoint(&*writer).await.unwrap(), head);
    assert_same_board(&memory_board(&store).await, &reader).await;
    stop.send(()).unwrap();
    running.await.unwrap().unwrap();
}

/// The keys of generation `generation`.
async fn generation_keys(redis: &TestRedis, generation: u64) -> Vec<String> {
    let marker = format!("{}bed_board@{generation}:", redis.prefix());
    redis.keys().await.into_iter().filter(|k| k.starts_with(&marker)).collect()
}

#[tokio::test]
async fn a_rebuild_keeps_serving_the_last_complete_board_until_the_new_one_is_live() {
    let Some(redis) = TestRedis::start().await else { return };
    let store = configured_store().await;
    admit(&store).await;
    busy_day(&store).await;
    let writer = Arc::new(RedisBedBoard::connect(&redis.config()).await.unwrap());
    let runner = ProjectionRunner::new(store.clone(), writer.clone());
    runner.catch_up().await.unwrap();
    let reader = RedisBedBoardReader::connect(&redis.config()).await.unwrap();
    let memory = memory_board(&store).await;
    assert_same_board(&memory, &reader).await;
    let old = redis.live_generation().await.unwrap();
    let mut changes = reader.changes();

    // A rebuild starts and is part way through: readers keep the whole last board.
    writer.reset().await.unwrap();
    let first = store.read_all(1, 3, &writer.filter()).await.unwrap();
    writer.apply(&first.events, first.next - 1).await.unwrap();
    assert_eq!(Projection::checkpoint(&*writer).await.unwrap(), first.next - 1);
    assert_same_board(&memory, &reader).await;
    assert_eq!(redis.live_generation().await, Some(old));

    // Caught up, the new generation goes live, subscribers are told to re-read the board, and
    // the old generation is deleted in the background.
    runner.catch_up().await.unwrap();
    let new = redis.live_generation().await.unwrap();
    assert!(new > old, "generation {new} replaced {old}");
    let told = tokio::time::timeout(DEADLINE, async {
        loop {
            if let Err(error) = changes.recv().await {
                return error;
            }
        }
    })
    .await
    .expect("subscribers are told after the swap");
    assert!(matches!(told, RecvError::Lagged(_)), "{told:?}");
    assert!(reader.wait_for(head(&store), DEADLINE).await);
    assert_same_board(&memory, &reader).await;
    eventually("the old generation is deleted", || async { generation_keys(&redis, old).await.is_empty() })
        .await;
    assert!(!generation_keys(&redis, new).await.is_empty());
}

#[tokio::test]
async fn a_lost_model_is_never_reported_caught_up_while_it_is_rebuilt() {
    let Some(redis) = TestRedis::start().await else { return };
    let store = configured_store().await;
    admit(&store).await;
    busy_day(&store).await;
    let writer = Arc::new(RedisBedBoard::connect(&redis.config()).await.unwrap());
    let runner = ProjectionRunner::new(store.clone(), writer.clone());
    let before = runner.catch_up().await.unwrap();
    let reader = RedisBedBoardReader::connect(&redis.config()).await.unwrap();
    assert!(reader.wait_for(before, DEADLINE).await);

    // Redis loses everything; the next batch finds the writer's generation gone.
    redis.flush().await;
    helpers::toggle_second_bed(&store, 0).await;
    let batch = store.read_all(before + 1, 100, &writer.filter()).await.unwrap();
    let applied = writer.apply(&batch.events, batch.next - 1).await;
    assert!(matches!(applied, Err(careflow_projections::ProjectionError::ModelLost(_))), "{applied:?}");
    // A read that finds no model says so (retryable, not "no such ward"), and the reader stops
    // claiming the old checkpoint.
    let read = reader.bed_board("RXA01-AMU").await;
    assert!(matches!(read, Err(careflow_projections::ProjectionError::Storage(_))), "{read:?}");
    assert!(!reader.wait_for(before, Duration::ZERO).await, "an empty model reported caught up");

    // Rebuilding: part way, still nothing to read and nothing caught up.
    writer.reset().await.unwrap();
    let first = store.read_all(1, 3, &writer.filter()).await.unwrap();
    writer.apply(&first.events, first.next - 1).await.unwrap();
    assert!(!reader.wait_for(first.next - 1, Duration::from_millis(300)).await);
    assert_eq!(BedBoardReader::checkpoint(&reader), 0);
    assert!(reader.sites().await.is_err(), "nothing to read while the model is rebuilt");

    runner.catch_up().await.unwrap();
    assert!(reader.wait_for(head(&store), DEADLINE).await);
    assert_same_board(&memory_board(&store).await, &reader).await;
}

/// A Redis server of this test's own, on a free port, that the test may restart (our shared
/// Redis must not be restarted under other engineers' tests).
struct PrivateRedis {
    port: u16,
    dir: tempfile::TempDir,
    server: std::process::Child,
}

impl PrivateRedis {
    /// `None` (after saying so) when `redis-server` cannot be run and `CI` is not set.
    async fn start() -> Option<Self> {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let server = match Self::spawn(port, dir.path()) {
            Ok(server) => server,
            Err(error) => {
                assert!(std::env::var_os("CI").is_none(), "cannot run redis-server ({error}) and CI is set");
                eprintln!("skipping: cannot run redis-server ({error})");
                return None;
            }
        };
        let redis = Self { port, dir, server };
        redis.wait_until_up().await;
        Some(redis)
    }

    fn spawn(port: u16, dir: &std::path::Path) -> std::io::Result<std::process::Child> {
        std::process::Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &port.to_string(), "--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Waits until the server answers PING; fails the test after [`DEADLINE`].
    async fn wait_until_up(&self) {
        let client = redis::Client::open(self.url()).unwrap();
        eventually("the private Redis answers PING", || async {
            let ping = async {
                let mut connection = client.get_multiplexed_async_connection().await?;
                redis::cmd("PING").query_async::<String>(&mut connection).await
            };
            matches!(tokio::time::timeout(Duration::from_secs(1), ping).await, Ok(Ok(_)))
        })
        .await;
    }

    /// Kills the server (it keeps nothing on disk) and starts it again on the same port.
    async fn restart(&mut self) {
        self.server.kill().unwrap();
        self.server.wait().unwrap();
        self.server = Self::spawn(self.port, self.dir.path()).unwrap();
        self.wait_until_up().await;
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}

/// Whether every read of `redis` answers as `memory` does (reads that fail count as not).
async fn same_board(memory: &MemoryBedBoard, redis: &RedisBedBoardReader) -> bool {
    if BedBoardReader::checkpoint(redis) != BedBoardReader::checkpoint(memory) {
        return false;
    }
    let (Ok(sites), Ok(wards)) = (memory.sites().await, memory.wards(None).await) else { return false };
    if redis.sites().await.ok().as_ref() != Some(&sites)
        || redis.wards(None).await.ok().as_ref() != Some(&wards)
    {
        return false;
    }
    for ward in &wards {
        let beds = memory.bed_board(&ward.ward_id).await.ok();
        if redis.bed_board(&ward.ward_id).await.ok() != beds {
            return false;
        }
    }
    true
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_restarted_under_load_gets_the_whole_board_back_and_subscribers_get_it_resent() {
    let Some(mut server) = PrivateRedis::start().await else { return };
    let config = RedisConfig::new(server.url()).with_prefix(format!("careflow-test:{}:", Uuid::new_v4()));
    let store = configured_store().await;
    admit(&store).await;
    let writer = Arc::new(RedisBedBoard::connect(&config).await.unwrap());
    let runner =
        ProjectionRunner::new(store.clone(), writer.clone()).verify_every(Duration::from_millis(100));
    runner.catch_up().await.unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(runner.run(async {
        let _ = stopped.await;
    }));
    let reader = RedisBedBoardReader::connect(&config).await.unwrap();
    assert!(reader.wait_for(head(&store), DEADLINE).await);
    // Bed 1 holds the admitted patient and the load never touches it: only a re-read of the
    // board brings it back to a subscriber, who must be told to re-read.
    let mut changes = reader.changes();
    let resent = tokio::spawn(async move {
        loop {
            match changes.recv().await {
                Ok(_) => {}
                Err(RecvError::Lagged(_)) => return,
                Err(error) => panic!("the change feed ended: {error}"),
            }
        }
    });

    // A steady load of appends, beds and another context.
    let loading = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let load = tokio::spawn({
        let (store, loading) = (store.clone(), loading.clone());
        async move {
            let mut tick = tokio::time::interval(Duration::from_millis(2));
            let mut n = 0;
            while loading.load(std::sync::atomic::Ordering::SeqCst) {
                tick.tick().await;
                helpers::toggle_second_bed(&store, n).await;
                other_context(&store, n).await;
                n += 1;
            }
        }
    });
    let started = head(&store);
    eventually("the load is under way", || async { BedBoardReader::checkpoint(&reader) > started + 20 })
        .await;

    server.restart().await;
    let restarted = head(&store);
    eventually("the load goes on after the restart", || async { head(&store) > restarted + 200 }).await;
    loading.store(false, std::sync::atomic::Ordering::SeqCst);
    load.await.unwrap();

    // Within 30 s the board is whole again and equal to a fresh replay of the same log.
    let memory = memory_board(&store).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while !(reader.wait_for(head(&store), Duration::from_millis(200)).await
        && same_board(&memory, &reader).await)
    {
        assert!(Instant::now() < deadline, "the board did not come back within 30 s of the restart");
    }
    assert_same_board(&memory, &reader).await;
    assert_eq!(Projection::checkpoint(&*writer).await.unwrap(), head(&store));
    tokio::time::timeout(DEADLINE, resent).await.expect("subscribers are told to re-read").unwrap();
    assert_eq!(reader.bed("RXA01-AMU-B01").await.unwrap().unwrap().status, BedStatus::Occupied);

    stop.send(()).unwrap();
    running.await.unwrap().unwrap();
}
