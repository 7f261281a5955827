//! Event store figures for DESIGN.md §9, on SQLite stores in a temporary folder (see
//! `careflow_eventstore::bench`).
//!
//! ```sh
//! cargo run --release -p careflow-eventstore --example bench           # 1, 8, 64 writers, then replay
//! cargo run --release -p careflow-eventstore --example bench -- 8 64   # chosen writer counts
//! BENCH_REPLAY=0 cargo run --release -p careflow-eventstore --example bench -- 64   # appends only
//! ```
//!
//! Environment: `BENCH_APPENDS` (appends per writer count; default 40,000 × writers, at least
//! 20,000, at most 300,000), `BENCH_STREAMS` (10,000), `BENCH_REPLAY` (events to replay,
//! 1,000,000; 0 skips it), `BENCH_REPLAY_BATCH` (1,024), `BENCH_REPLAY_DEPTH` (reads in flight,
//! 2), `BENCH_WRITER_CACHE_KIB` and `BENCH_WAL_AUTOCHECKPOINT` (override [`SqliteOptions`]).
//! Each append figure uses a fresh store, so runs do not disturb each other.

use std::sync::Arc;

use careflow_eventstore::EventStore;
use careflow_eventstore::bench::{append_throughput, fill, replay_throughput};
use careflow_eventstore::sqlite::{SqliteOptions, SqliteStore};

fn env(name: &str) -> Option<usize> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut writer_counts: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    if writer_counts.is_empty() {
        writer_counts = vec![1, 8, 64];
    }
    let streams = env("BENCH_STREAMS").unwrap_or(10_000);
    let mut options = SqliteOptions::default();
    if let Some(kib) = env("BENCH_WRITER_CACHE_KIB") {
        options.writer_cache_kib = u32::try_from(kib)?;
    }
    if let Some(pages) = env("BENCH_WAL_AUTOCHECKPOINT") {
        options.wal_autocheckpoint_pages = u32::try_from(pages)?;
    }
    let dir = tempfile::tempdir()?;
    println!("cores: {}", std::thread::available_parallelism().map_or(0, |n| n.get()));
    for writers in writer_counts.into_iter().filter(|&w| w > 0) {
        let appends = env("BENCH_APPENDS").unwrap_or((40_000 * writers).clamp(20_000, 300_000));
        let path = dir.path().join(format!("append-{writers}.sqlite"));
        let store: Arc<dyn EventStore> = Arc::new(SqliteStore::open_with(path, options.clone())?);
        let report = append_throughput(store, writers, appends, streams).await?;
        println!(
            "append  writers={writers:<3} appends={:<7} {:>8.0} appends/s  ({:.2?}, {} conflicts)",
            report.operations, report.per_sec, report.elapsed, report.conflicts
        );
    }
    let events = env("BENCH_REPLAY").unwrap_or(1_000_000);
    if events > 0 {
        let path = dir.path().join("replay.sqlite");
        let store: Arc<dyn EventStore> = Arc::new(SqliteStore::open_with(path, options.clone())?);
        fill(store.as_ref(), events, streams).await?;
        let batch = env("BENCH_REPLAY_BATCH").unwrap_or(1024);
        let depth = env("BENCH_REPLAY_DEPTH").unwrap_or(2);
        for _ in 0..3 {
            let report = replay_throughput(store.clone(), batch, depth).await?;
            println!(
                "replay  batch={batch} depth={depth} events={} {:>9.0} events/s  ({:.2?})",
                report.operations, report.per_sec, report.elapsed
            );
        }
    }
    Ok(())
}
