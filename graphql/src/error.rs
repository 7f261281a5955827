//! The gateway's errors and their `extensions.code`: one exhaustive mapping from gRPC codes, one
//! from read-model errors, and the codes of requests refused before execution (parse,
//! validation, size).

use async_graphql::ErrorExtensions;
use careflow_auth::AuthError;
use careflow_projections::ProjectionError;
use tonic::Code;
use tonic_types::StatusExt;

/// A field the services rejected, named as in the GraphQL input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    /// The input field, camelCase (e.g. `nhsNumber`).
    pub field: String,
    /// What is wrong with it.
    pub description: String,
}

/// Why a GraphQL operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Input the services refused, with every bad field.
    #[error("{message}")]
    BadUserInput {
        /// Summary.
        message: String,
        /// The fields.
        violations: Vec<FieldViolation>,
    },
    /// No such thing.
    #[error("{0}")]
    NotFound(String),
    /// The current state forbids it (the message names the state), or a concurrent change won.
    #[error("{0}")]
    Conflict(String),
    /// The caller's role may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// No valid token.
    #[error("{0}")]
    Unauthenticated(String),
    /// A service or a read model is unreachable or did not answer in time; retry with the same
    /// command id.
    #[error("{0}")]
    Unavailable(String),
    /// The document is not GraphQL.
    #[error("{0}")]
    ParseFailed(String),
    /// The document does not fit the schema or the limits on depth, complexity and fragments.
    #[error("{0}")]
    ValidationFailed(String),
    /// The HTTP request is not a GraphQL request (e.g. malformed JSON).
    #[error("{0}")]
    BadRequest(String),
    /// The HTTP request body is larger than the gateway accepts.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// Anything else; the cause is logged, not sent.
    #[error("internal error")]
    Internal,
}

impl ApiError {
    /// The `extensions.code`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadUserInput { .. } => "BAD_USER_INPUT",
            Self::NotFound(_) => "NOT_FOUND",
            Self::Conflict(_) => "CONFLICT",
            Self::Forbidden(_) => "FORBIDDEN",
            Self::Unauthenticated(_) => "UNAUTHENTICATED",
            Self::Unavailable(_) => "UNAVAILABLE",
            Self::ParseFailed(_) => "GRAPHQL_PARSE_FAILED",
            Self::ValidationFailed(_) => "GRAPHQL_VALIDATION_FAILED",
            Self::BadRequest(_) => "BAD_REQUEST",
            Self::PayloadTooLarge(_) => "PAYLOAD_TOO_LARGE",
            Self::Internal => "INTERNAL",
        }
    }

    /// Logs `cause` and returns the opaque internal error.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::Internal
    }
}

impl ErrorExtensions for ApiError {
    fn extend(&self) -> async_graphql::Error {
        async_graphql::Error::new(self.to_string()).extend_with(|_, e| {
            e.set("code", self.code());
            if let Self::BadUserInput { violations, .. } = self {
                let list: Vec<async_graphql::Value> = violations
                    .iter()
                    .map(|v| {
                        let mut map = async_graphql::indexmap::IndexMap::new();
                        map.insert(
                            async_graphql::Name::new("field"),
                            async_graphql::Value::from(v.field.clone()),
                        );
                        map.insert(
                            async_graphql::Name::new("description"),
                            async_graphql::Value::from(v.description.clone()),
                        );
                        async_graphql::Value::Object(map)
                    })
                    .collect();
                e.set("fieldViolations", async_graphql::Value::List(list));
            }
        })
    }
}

/// What resolvers return: an [`ApiError`] already carrying its `extensions`.
///
/// It deliberately has no `Display`, so async-graphql's blanket `From<impl Display>` (which would
/// keep only the message and drop `extensions.code`) cannot apply.
#[derive(Debug, Clone)]
pub struct GqlError(async_graphql::Error);

impl GqlError {
    /// The error with one more `extensions` entry.
    pub(crate) fn with_extension(mut self, name: &str, value: async_graphql::Value) -> Self {
        self.0 = self.0.extend_with(|_, e| e.set(name, value));
        self
    }

    /// Its `extensions.code`.
    pub(crate) fn code(&self) -> Option<&str> {
        match self.0.extensions.as_ref()?.get("code")? {
            async_graphql::Value::String(code) => Some(code.as_str()),
            _ => None,
        }
    }
}

impl From<ApiError> for GqlError {
    fn from(error: ApiError) -> Self {
        Self(error.extend())
    }
}

impl From<ProjectionError> for GqlError {
    fn from(error: ProjectionError) -> Self {
        ApiError::from(error).into()
    }
}

impl From<GqlError> for async_graphql::Error {
    fn from(error: GqlError) -> Self {
        error.0
    }
}

impl From<AuthError> for ApiError {
    /// Short messages: what the token library found wrong is logged, not sent.
    fn from(error: AuthError) -> Self {
        let message = match &error {
            AuthError::Missing => "missing bearer token",
            AuthError::Malformed => "the authorization header must be 'Bearer <token>'",
            AuthError::Expired => "the token has expired",
            AuthError::Invalid(_) | AuthError::UnknownRole(_) => "invalid token",
            AuthError::Issue(_) => return Self::internal(&error),
        };
        tracing::debug!(error = %error, "token refused");
        Self::Unauthenticated(message.into())
    }
}

impl From<ProjectionError> for ApiError {
    /// A read model that cannot be reached or is being rebuilt is transient (UNAVAILABLE); an
    /// event it cannot decode is a bug (INTERNAL), and so is an event store error, since the
    /// gateway's readers never read the store.
    fn from(error: ProjectionError) -> Self {
        let transient = match &error {
            ProjectionError::Storage(_) | ProjectionError::ModelLost(_) => true,
            ProjectionError::Store(_) | ProjectionError::Decode { .. } => false,
        };
        if transient {
            tracing::warn!(error = %error, "read model unavailable");
            Self::Unavailable("the read models are unavailable; retry".into())
        } else {
            Self::internal(&error)
        }
    }
}

/// Whether this client made `status` from a transport failure, with no answer from the server: a
/// refused or reset connection, an HTTP/2 error, a stream cut before its final status. A status
/// the server sent carries no source error; tonic attaches the cause to the ones it makes. The
/// messages are tonic's, for truncated streams (which carry no source).
fn is_transport_failure(status: &tonic::Status) -> bool {
    use std::error::Error as _;
    let message = status.message();
    status.source().is_some()
        || message.starts_with("protocol error: missing grpc-status trailer")
        || message.starts_with("grpc-status header missing")
        || message == "Unexpected EOF decoding stream."
}

/// The answer to a call that failed without a usable answer from the services.
fn services_unavailable(status: &tonic::Status) -> ApiError {
    tracing::warn!(code = ?status.code(), error = %status, "careflow services unavailable");
    ApiError::Unavailable("a careflow service is unavailable; retry with the same commandId".into())
}

/// `snake_case` → `camelCase`, for proto field paths (`plan.every_minutes` →
/// `plan.everyMinutes`). What follows `answers.` is a key the client sent (a question id),
/// kept as sent.
fn camel_case(field: &str) -> String {
    let (name, key) = match field.split_once('.') {
        Some((name, key)) if name == "answers" => (name, Some(key.to_owned())),
        Some((name, rest)) => (name, Some(camel_case(rest))),
        None => (field, None),
    };
    let mut out = String::with_capacity(field.len());
    let mut upper = false;
    for c in name.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    if let Some(key) = key {
        out.push('.');
        out.push_str(&key);
    }
    out
}

impl From<tonic::Status> for ApiError {
    fn from(status: tonic::Status) -> Self {
        let message = status.message().to_owned();
        match status.code() {
            Code::InvalidArgument => {
                let violations = status
                    .get_details_bad_request()
                    .map(|bad| {
                        bad.field_violations
                            .into_iter()
                            .map(|v| FieldViolation {
                                field: camel_case(&v.field),
                                description: v.description,
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                Self::BadUserInput { message, violations }
            }
            Code::NotFound => Self::NotFound(message),
            Code::AlreadyExists | Code::FailedPrecondition | Code::Aborted => Self::Conflict(message),
            Code::PermissionDenied => Self::Forbidden(message),
            Code::Unauthenticated => Self::Unauthenticated(message),
            // Retryable: the services are down, overloaded or too slow, or the call was cut.
            Code::Unavailable | Code::DeadlineExceeded | Code::ResourceExhausted | Code::Cancelled => {
                services_unavailable(&status)
            }
            // The services' message size limit: the request is too large.
            Code::OutOfRange => {
                tracing::info!(error = %status, "request refused as out of range");
                Self::BadUserInput { message: "the request is too large".into(), violations: Vec::new() }
            }
            // Made by this client when the connection failed: transient. Sent by the server: a bug.
            Code::Unknown | Code::Internal if is_transport_failure(&status) => services_unavailable(&status),
            Code::Ok | Code::Unknown | Code::Unimplemented | Code::Internal | Code::DataLoss => {
                Self::internal(&status)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proto_fields_become_graphql_input_names() {
        assert_eq!(camel_case("nhs_number"), "nhsNumber");
        assert_eq!(camel_case("discharge_ready_date"), "dischargeReadyDate");
        assert_eq!(camel_case("pathway"), "pathway");
        // A key the client sent is kept as sent.
        assert_eq!(camel_case("answers.own_goals"), "answers.own_goals");
        assert_eq!(camel_case("content_json.sections.0"), "contentJson.sections.0");
        assert_eq!(camel_case("plan.every_minutes"), "plan.everyMinutes");
        assert_eq!(camel_case("readings[2].taken_at"), "readings[2].takenAt");
    }

    #[test]
    fn grpc_codes_map_to_extension_codes() {
        let cases = [
            (Code::NotFound, "NOT_FOUND"),
            (Code::FailedPrecondition, "CONFLICT"),
            (Code::Aborted, "CONFLICT"),
            (Code::AlreadyExists, "CONFLICT"),
            (Code::PermissionDenied, "FORBIDDEN"),
            (Code::Unauthenticated, "UNAUTHENTICATED"),
            (Code::Unavailable, "UNAVAILABLE"),
            (Code::DeadlineExceeded, "UNAVAILABLE"),
            (Code::ResourceExhausted, "UNAVAILABLE"),
            (Code::Cancelled, "UNAVAILABLE"),
            (Code::OutOfRange, "BAD_USER_INPUT"),
            (Code::Internal, "INTERNAL"),
            (Code::Unknown, "INTERNAL"),
            (Code::DataLoss, "INTERNAL"),
            (Code::InvalidArgument, "BAD_USER_INPUT"),
        ];
        for (code, expected) in cases {
            assert_eq!(ApiError::from(tonic::Status::new(code, "x")).code(), expected, "{code:?}");
        }
        // Internal details never reach the client.
        assert_eq!(
            ApiError::from(tonic::Status::internal("db password wrong")).to_string(),
            "internal error"
        );
    }

    #[test]
    fn transport_failures_are_unavailable_but_server_sent_internal_errors_are_not() {
        // What tonic makes of a reset connection: a status with the I/O error as its source.
        let reset = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "connection reset by peer");
        let status = tonic::Status::from_error(Box::new(reset));
        assert_eq!(status.code(), Code::Unknown);
        assert_eq!(ApiError::from(status).code(), "UNAVAILABLE");
        let mut cut = tonic::Status::internal("h2 protocol error: stream error");
        cut.set_source(std::sync::Arc::new(std::io::Error::from(std::io::ErrorKind::BrokenPipe)));
        assert_eq!(ApiError::from(cut).code(), "UNAVAILABLE");
        let truncated = tonic::Status::unknown(
            "protocol error: missing grpc-status trailer, stream was terminated without a final status",
        );
        assert_eq!(ApiError::from(truncated).code(), "UNAVAILABLE");
        assert_eq!(
            ApiError::from(tonic::Status::internal("Unexpected EOF decoding stream.")).code(),
            "UNAVAILABLE"
        );
        // The same codes sent by the server are bugs.
        assert_eq!(ApiError::from(tonic::Status::internal("invariant broken")).code(), "INTERNAL");
        assert_eq!(ApiError::from(tonic::Status::unknown("panicked")).code(), "INTERNAL");
    }

    #[test]
    fn read_model_outages_are_unavailable_and_decode_failures_internal() {
        let down = ApiError::from(ProjectionError::Storage("Connection refused (os error 111)".into()));
        assert_eq!(down.code(), "UNAVAILABLE");
        assert!(!down.to_string().contains("os error"), "{down}");
        assert_eq!(ApiError::from(ProjectionError::ModelLost("flushed".into())).code(), "UNAVAILABLE");
        let decode = ProjectionError::Decode { position: 7, message: "bad json".into() };
        assert_eq!(ApiError::from(decode).code(), "INTERNAL");
    }

    #[test]
    fn token_errors_do_not_leak_the_token_library() {
        let error = ApiError::from(AuthError::Invalid("InvalidSignature at base64 offset 12".into()));
        assert_eq!(error.code(), "UNAUTHENTICATED");
        assert_eq!(error.to_string(), "invalid token");
    }
}
