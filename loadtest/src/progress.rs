//! The progress line on stderr while commands run: every second, rewritten in place, when
//! stderr is a terminal; a plain line every ten seconds otherwise (a CI log, a file).

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::stats::Stats;

/// Prints progress for a run of `total` until `stop`.
pub async fn show(stats: Arc<Stats>, total: Duration, mut stop: watch::Receiver<bool>) {
    let tty = std::io::stderr().is_terminal();
    let every = if tty { Duration::from_secs(1) } else { Duration::from_secs(10) };
    let started = Instant::now();
    let (mut last_at, mut last_sent, mut last_pushes) = (started, 0u64, 0u64);
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            changed = stop.changed() => if changed.is_err() || *stop.borrow() { break },
        }
        let now = Instant::now();
        let (sent, ok, conflicts, _) = stats.totals();
        let (received, _, missed) = stats.push_totals();
        let span = now.duration_since(last_at).as_secs_f64().max(1e-3);
        let line = format!(
            "{:>5.0}/{:.0} s  {:>6.0} cmd/s  sent {sent}  ok {ok}  conflicts {conflicts}  errors {}  dropped {}  in flight {}  pushes {:.0}/s  missed {missed}",
            now.duration_since(started).as_secs_f64(),
            total.as_secs_f64(),
            sent.saturating_sub(last_sent) as f64 / span,
            stats.error_count(),
            stats.dropped_total(),
            stats.in_flight.load(Ordering::Relaxed),
            received.saturating_sub(last_pushes) as f64 / span,
        );
        if tty {
            eprint!("\r{line}\x1b[K");
        } else {
            eprintln!("{line}");
        }
        (last_at, last_sent, last_pushes) = (now, sent, received);
    }
    if tty {
        eprintln!();
    }
}
