//! Why a load test could not run at all. What goes wrong while it runs (a refused command, a
//! missed push) is not an error of the run: it is counted in the [`Report`](crate::Report).

use std::path::PathBuf;
use std::time::Duration;

/// Why a load test could not run.
#[derive(Debug, thiserror::Error)]
pub enum LoadtestError {
    /// An option out of range.
    #[error("--{option}: {reason}")]
    InvalidOption {
        /// The option's name.
        option: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Client(#[source] reqwest::Error),
    /// A token could not be minted.
    #[error("cannot mint a token: {0}")]
    Token(#[from] careflow_auth::AuthError),
    /// A setup step was refused or failed (the target is not reachable, the JWT secret is not
    /// the target's, the prefix was used before…).
    #[error("setup: {step}: {code}: {message}")]
    Setup {
        /// What was being set up.
        step: String,
        /// The GraphQL `extensions.code`, or what failed underneath (`TRANSPORT`, `HTTP_502`).
        code: String,
        /// The message.
        message: String,
    },
    /// A device's WebSocket could not be opened or authenticated.
    #[error("websocket {url}: {reason}")]
    WebSocket {
        /// Where.
        url: String,
        /// Why.
        reason: String,
    },
    /// Some subscriptions never delivered their first data.
    #[error("{missing} subscriptions gave no first data within {waited:?} ({detail})")]
    NotReady {
        /// How many.
        missing: usize,
        /// How long was waited.
        waited: Duration,
        /// Which kinds, and the first refusal seen.
        detail: String,
    },
    /// The JSON report could not be written.
    #[error("cannot write the report to {path}: {source}")]
    WriteReport {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A latency histogram could not be made.
    #[error("cannot make a histogram: {0}")]
    Histogram(#[from] hdrhistogram::CreationError),
    /// The report could not be serialised.
    #[error("cannot serialise the report: {0}")]
    Serialise(#[from] serde_json::Error),
}
