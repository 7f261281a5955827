//! The gateway's errors and their `extensions.code`: one exhaustive mapping from gRPC codes.

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
    /// A service is unreachable; retry with the same command id.
    #[error("{0}")]
    Unavailable(String),
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
#[derive(Debug)]
pub struct GqlError(async_graphql::Error);

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
    fn from(error: AuthError) -> Self {
        Self::Unauthenticated(error.to_string())
    }
}

impl From<ProjectionError> for ApiError {
    fn from(error: ProjectionError) -> Self {
        Self::internal(&error)
    }
}

/// `snake_case` → `camelCase`, for proto field names.
fn camel_case(field: &str) -> String {
    let mut out = String::with_capacity(field.len());
    let mut upper = false;
    for c in field.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
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
            Code::Unavailable => {
                Self::Unavailable("a careflow service is unavailable; retry with the same commandId".into())
            }
            Code::Ok
            | Code::Cancelled
            | Code::Unknown
            | Code::DeadlineExceeded
            | Code::ResourceExhausted
            | Code::OutOfRange
            | Code::Unimplemented
            | Code::Internal
            | Code::DataLoss => Self::internal(&status),
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
            (Code::Internal, "INTERNAL"),
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
}
