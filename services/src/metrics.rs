//! Prometheus metrics of the command services: every command by context, outcome and gRPC
//! code, how long it took, how long its append took, and how often it lost a race for a stream
//! and was decided again. Labels carry context names and codes only, never a stream name
//! (which can hold an NHS number).

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use tonic::Code;

/// What a command came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandOutcome {
    /// Its events were appended.
    Appended,
    /// An earlier run of the same command id had done it.
    AlreadyDone,
    /// The state already was what it asked for.
    NothingToDo,
    /// Refused: bad input, access, or the domain's rules (the client's to act on).
    Rejected,
    /// careflow failed: the store, contention, a bug (careflow's to act on).
    Failed,
}

impl CommandOutcome {
    fn label(self) -> &'static str {
        match self {
            Self::Appended => "appended",
            Self::AlreadyDone => "already_done",
            Self::NothingToDo => "nothing_to_do",
            Self::Rejected => "rejected",
            Self::Failed => "failed",
        }
    }

    /// The outcome of a command that failed with `code`.
    pub fn of_code(code: Code) -> Self {
        match code {
            Code::Ok => Self::Appended,
            Code::InvalidArgument
            | Code::NotFound
            | Code::AlreadyExists
            | Code::PermissionDenied
            | Code::FailedPrecondition
            | Code::Unauthenticated
            | Code::OutOfRange
            | Code::Cancelled => Self::Rejected,
            Code::Unknown
            | Code::DeadlineExceeded
            | Code::ResourceExhausted
            | Code::Aborted
            | Code::Unimplemented
            | Code::Internal
            | Code::Unavailable
            | Code::DataLoss => Self::Failed,
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CommandLabels {
    context: &'static str,
    outcome: &'static str,
    code: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ContextLabel {
    context: &'static str,
}

fn seconds() -> Histogram {
    // 50 µs to ~1.6 s.
    Histogram::new(exponential_buckets(0.000_05, 2.0, 16))
}

/// The services' metrics (cheap to clone: handles to shared cells). A default value counts
/// into cells no registry encodes (tests, tools).
#[derive(Clone)]
pub struct CommandMetrics {
    commands: Family<CommandLabels, Counter>,
    latency: Family<ContextLabel, Histogram, fn() -> Histogram>,
    append: Family<ContextLabel, Histogram, fn() -> Histogram>,
    retries: Family<ContextLabel, Counter>,
}

impl Default for CommandMetrics {
    fn default() -> Self {
        Self {
            commands: Family::default(),
            latency: Family::new_with_constructor(seconds),
            append: Family::new_with_constructor(seconds),
            retries: Family::default(),
        }
    }
}

impl CommandMetrics {
    /// Creates the metrics and registers them.
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self::default();
        registry.register(
            "careflow_commands",
            "Commands by context, outcome and gRPC code",
            metrics.commands.clone(),
        );
        registry.register(
            "careflow_command_seconds",
            "Command latency in the services, from the request parsed to the reply",
            metrics.latency.clone(),
        );
        registry.register(
            "careflow_append_seconds",
            "Event store append latency (durable commit included)",
            metrics.append.clone(),
        );
        registry.register(
            "careflow_command_retries",
            "Commands decided again after losing a race for a stream (expected version conflict)",
            metrics.retries.clone(),
        );
        metrics
    }

    /// Records one command of `context`.
    pub fn command(&self, context: &'static str, outcome: CommandOutcome, code: Code, elapsed: Duration) {
        let labels = CommandLabels { context, outcome: outcome.label(), code: code_name(code) };
        self.commands.get_or_create(&labels).inc();
        self.latency.get_or_create(&ContextLabel { context }).observe(elapsed.as_secs_f64());
    }

    /// Records one append of `context`, successful or not.
    pub fn append(&self, context: &'static str, elapsed: Duration) {
        self.append.get_or_create(&ContextLabel { context }).observe(elapsed.as_secs_f64());
    }

    /// Records that a command of `context` lost a race and is decided again.
    pub fn retry(&self, context: &'static str) {
        self.retries.get_or_create(&ContextLabel { context }).inc();
    }
}

/// The code's name as gRPC spells it.
fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_counted_by_context_outcome_and_code() {
        let mut registry = Registry::default();
        let metrics = CommandMetrics::register(&mut registry);
        metrics.command("beds", CommandOutcome::Appended, Code::Ok, Duration::from_millis(2));
        metrics.command(
            "beds",
            CommandOutcome::of_code(Code::FailedPrecondition),
            Code::FailedPrecondition,
            Duration::ZERO,
        );
        metrics.append("beds", Duration::from_millis(1));
        metrics.retry("tasks");
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).expect("encodes");
        assert!(
            text.contains(r#"careflow_commands_total{context="beds",outcome="appended",code="OK"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(
                r#"careflow_commands_total{context="beds",outcome="rejected",code="FAILED_PRECONDITION"} 1"#
            ),
            "{text}"
        );
        assert!(text.contains(r#"careflow_append_seconds_count{context="beds"} 1"#), "{text}");
        assert!(text.contains(r#"careflow_command_retries_total{context="tasks"} 1"#), "{text}");
    }
}
