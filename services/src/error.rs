//! The services' error, and its one mapping to a gRPC status.

use std::collections::HashMap;

use careflow_auth::AuthError;
use careflow_domain::{Refusal, RefusalKind};
use careflow_eventstore::StoreError;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// A field that failed validation, named as in the request message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    /// The request field, e.g. `nhs_number`.
    pub field: String,
    /// What is wrong with it.
    pub description: String,
}

/// Why a command was not carried out. Nothing was stored.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The request is malformed.
    #[error("invalid request: {}", .0.iter().map(|v| format!("{}: {}", v.field, v.description)).collect::<Vec<_>>().join("; "))]
    InvalidArgument(Vec<FieldViolation>),
    /// No valid token.
    #[error(transparent)]
    Unauthenticated(#[from] AuthError),
    /// The caller's role may not do this.
    #[error("{0}")]
    PermissionDenied(String),
    /// The context refused the command; the message says why (naming the state).
    #[error("{message}")]
    Refused {
        /// What kind of refusal.
        kind: RefusalKind,
        /// The domain's explanation.
        message: String,
        /// A stable name of the refusal, for clients that act on it (sent as `ErrorInfo`).
        reason: Option<&'static str>,
    },
    /// Concurrent writers kept changing the streams after every retry.
    #[error("a {category} stream kept changing concurrently; gave up after {attempts} attempts")]
    Contention {
        /// The contested stream's category (not its name, which may hold an NHS number).
        category: String,
        /// How many times the command was decided.
        attempts: usize,
    },
    /// The command id was already used for a different command.
    #[error("the command id was already used for a different command: send a new command id")]
    CommandIdReused,
    /// The event store failed.
    #[error("event store failure")]
    Store(#[source] StoreError),
    /// A stored event could not be read back (its data is not quoted: it may be personal).
    #[error("cannot decode the stored {event_type} event at position {position}")]
    Corrupt {
        /// Its position.
        position: u64,
        /// Its type.
        event_type: String,
    },
    /// The handler or a decider broke one of its own rules: a bug.
    #[error("invariant broken: {0}")]
    Invariant(String),
}

impl ServiceError {
    /// The refusal of a context, as a service error.
    pub fn refused(refusal: &impl Refusal) -> Self {
        let violations = refusal.violations();
        if !violations.is_empty() {
            // Input only the loaded state could judge (answers against their template): named
            // field by field, as the edge's own parsing names them.
            return Self::InvalidArgument(
                violations
                    .into_iter()
                    .map(|(field, description)| FieldViolation { field, description })
                    .collect(),
            );
        }
        Self::Refused { kind: refusal.kind(), message: refusal.to_string(), reason: refusal.reason() }
    }

    /// A single invalid field.
    pub fn invalid(field: &str, description: impl Into<String>) -> Self {
        Self::InvalidArgument(vec![FieldViolation { field: field.into(), description: description.into() }])
    }
}

impl From<careflow_auth::policy::Denied> for ServiceError {
    fn from(denied: careflow_auth::policy::Denied) -> Self {
        Self::PermissionDenied(denied.to_string())
    }
}

impl From<StoreError> for ServiceError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::EventIdConflict { .. } => Self::CommandIdReused,
            other => Self::Store(other),
        }
    }
}

impl From<ServiceError> for Status {
    fn from(error: ServiceError) -> Self {
        match error {
            ServiceError::InvalidArgument(violations) => {
                let message = ServiceError::InvalidArgument(violations.clone()).to_string();
                let details = ErrorDetails::with_bad_request(
                    violations
                        .into_iter()
                        .map(|v| tonic_types::FieldViolation::new(v.field, v.description))
                        .collect::<Vec<_>>(),
                );
                Status::with_error_details(Code::InvalidArgument, message, details)
            }
            ServiceError::Unauthenticated(e) => Status::unauthenticated(e.to_string()),
            ServiceError::PermissionDenied(message) => Status::permission_denied(message),
            ServiceError::Refused { kind, message, reason } => {
                let code = match kind {
                    RefusalKind::NotFound => Code::NotFound,
                    RefusalKind::AlreadyExists => Code::AlreadyExists,
                    RefusalKind::Precondition => Code::FailedPrecondition,
                    RefusalKind::Forbidden => Code::PermissionDenied,
                };
                match reason {
                    Some(reason) => {
                        let details = ErrorDetails::with_error_info(reason, "careflow", HashMap::new());
                        Status::with_error_details(code, message, details)
                    }
                    None => Status::new(code, message),
                }
            }
            e @ ServiceError::Contention { .. } => Status::aborted(e.to_string()),
            e @ ServiceError::CommandIdReused => Status::already_exists(e.to_string()),
            ServiceError::Store(StoreError::Unavailable(message)) => {
                tracing::warn!(%message, "event store unavailable");
                Status::unavailable("the event store is unavailable; retry with the same command id")
            }
            ServiceError::Store(
                e @ (StoreError::WrongExpectedVersion { .. }
                | StoreError::EventIdConflict { .. }
                | StoreError::InvalidAppend(_)
                | StoreError::InvalidStreamName { .. }
                | StoreError::Encode(_)
                | StoreError::Decode { .. }
                | StoreError::Backend(_)),
            ) => internal(&e),
            e @ (ServiceError::Corrupt { .. } | ServiceError::Invariant(_)) => internal(&e),
        }
    }
}

/// An opaque INTERNAL status; the cause chain is logged, not sent.
fn internal(error: &(dyn std::error::Error + 'static)) -> Status {
    let mut chain = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        chain.push_str(": ");
        chain.push_str(&cause.to_string());
        source = cause.source();
    }
    tracing::error!(error = %chain, "internal error");
    Status::internal("internal error")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_a_client_acts_on_carries_its_reason_and_others_carry_none() {
        let conflict = ServiceError::Refused {
            kind: RefusalKind::Precondition,
            message: "section frailty was changed".into(),
            reason: Some("SECTION_CONFLICT"),
        };
        let status = Status::from(conflict);
        assert_eq!(status.code(), Code::FailedPrecondition);
        assert_eq!(status.message(), "section frailty was changed");
        assert_eq!(status.get_details_error_info().map(|i| i.reason), Some("SECTION_CONFLICT".to_owned()));
        let other = ServiceError::Refused {
            kind: RefusalKind::Precondition,
            message: "submitted".into(),
            reason: None,
        };
        assert!(Status::from(other).get_details_error_info().is_none());
    }
}
