//! The schema extension every operation passes through, over HTTP and WebSocket alike.
//!
//! Before async-graphql validates a document it is parsed here once and measured
//! ([`crate::limits`]): brackets nested too deep for the parser, a fragment bomb or an oversized
//! string is refused in time linear in the document. Every error leaves with an `extensions.code`: `GRAPHQL_PARSE_FAILED`,
//! `GRAPHQL_VALIDATION_FAILED` (rules, depth, complexity, fragments), `BAD_USER_INPUT`, or the
//! resolver's own. A mutation whose change is committed but not yet visible in the read models is
//! listed in the response's `extensions.notYetVisible`.

use std::sync::{Arc, Mutex};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery, NextPrepareRequest,
    NextRequest, NextSubscribe, NextValidation,
};
use async_graphql::futures_util::stream::BoxStream;
use async_graphql::parser::types::ExecutableDocument;
use async_graphql::{
    ErrorExtensions, Name, Request, Response, ServerError, ServerResult, ValidationResult, Value, Variables,
};
use futures::StreamExt;

use crate::error::ApiError;
use crate::limits::{check_document, check_nesting, oversized_strings};

/// Installs the guard on a schema.
pub(crate) struct Guard {
    /// Longest string input accepted, in bytes.
    pub max_string_bytes: usize,
}

impl ExtensionFactory for Guard {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(GuardExtension { max_string_bytes: self.max_string_bytes })
    }
}

/// Mutations of one request whose change is committed but not yet visible in the read models.
#[derive(Debug, Clone, Default)]
pub(crate) struct NotYetVisible(Arc<Mutex<Vec<(String, u64)>>>);

impl NotYetVisible {
    /// Records that the mutation answered under `field` committed at `position`, not yet visible.
    pub(crate) fn record(&self, field: &str, position: u64) {
        if let Ok(mut entries) = self.0.lock() {
            entries.push((field.to_owned(), position));
        }
    }

    fn take(&self) -> Vec<(String, u64)> {
        self.0.lock().map(|mut entries| std::mem::take(&mut *entries)).unwrap_or_default()
    }
}

struct GuardExtension {
    max_string_bytes: usize,
}

/// The `extensions.code` of `error`, if it has one.
pub(crate) fn code_of(error: &ServerError) -> Option<&str> {
    match error.extensions.as_ref()?.get("code")? {
        Value::String(code) => Some(code.as_str()),
        _ => None,
    }
}

/// Gives `error` the code of `kind` unless it has one.
fn with_code(mut error: ServerError, kind: fn(String) -> ApiError) -> ServerError {
    if code_of(&error).is_none() {
        let code = kind(String::new()).code();
        error.extensions.get_or_insert_with(Default::default).set("code", code);
    }
    error
}

/// A request-level error (no location, no path) with the code of `error`.
fn refusal(error: ApiError) -> ServerError {
    let extended = error.extend();
    let mut server = ServerError::new(extended.message, None);
    server.extensions = extended.extensions;
    server
}

/// Codes for the errors async-graphql raises on its own after validation: an unknown or missing
/// operation name (no path) and an argument that cannot be coerced (`Failed to parse …`). Any
/// other error without a code is a bug: logged, and sent as an opaque INTERNAL.
fn codify(errors: &mut [ServerError]) {
    for error in errors.iter_mut().filter(|e| code_of(e).is_none()) {
        let api = if error.path.is_empty() {
            ApiError::ValidationFailed(std::mem::take(&mut error.message))
        } else if error.message.starts_with("Failed to parse") || error.message.starts_with("Invalid value") {
            ApiError::BadUserInput { message: std::mem::take(&mut error.message), violations: Vec::new() }
        } else {
            ApiError::internal(&error.message)
        };
        error.message = api.to_string();
        error.extensions.get_or_insert_with(Default::default).set("code", api.code());
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for GuardExtension {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let mut response = next.run(ctx).await;
        codify(&mut response.errors);
        response
    }

    fn subscribe<'s>(
        &self,
        ctx: &ExtensionContext<'_>,
        stream: BoxStream<'s, Response>,
        next: NextSubscribe<'_>,
    ) -> BoxStream<'s, Response> {
        next.run(ctx, stream)
            .map(|mut response| {
                codify(&mut response.errors);
                response
            })
            .boxed()
    }

    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        mut request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        check_nesting(&request.query).map_err(|r| refusal(ApiError::ParseFailed(r.to_string())))?;
        let document = async_graphql::parser::parse_query(&request.query)
            .map_err(|e| with_code(ServerError::from(e), ApiError::ParseFailed))?;
        check_document(&document).map_err(|r| refusal(ApiError::ValidationFailed(r.to_string())))?;
        let violations = oversized_strings(&document, &request.variables, self.max_string_bytes);
        if !violations.is_empty() {
            let fields: Vec<&str> = violations.iter().map(|v| v.field.as_str()).collect();
            let message = format!("input too large: {}", fields.join(", "));
            return Err(refusal(ApiError::BadUserInput { message, violations }));
        }
        // Parsed once: async-graphql uses this document.
        request.set_parsed_query(document);
        next.run(ctx, request.data(NotYetVisible::default())).await
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        // The document was parsed in `prepare_request`; what fails here are async-graphql's
        // recursion depth and directive limits.
        next.run(ctx, query, variables).await.map_err(|e| with_code(e, ApiError::ValidationFailed))
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        next.run(ctx)
            .await
            .map_err(|errors| errors.into_iter().map(|e| with_code(e, ApiError::ValidationFailed)).collect())
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        let mut response = next.run(ctx, operation_name).await;
        let pending = ctx.data_opt::<NotYetVisible>().map(NotYetVisible::take).unwrap_or_default();
        if !pending.is_empty() {
            let entries = pending
                .into_iter()
                .map(|(field, position)| {
                    let mut entry = async_graphql::indexmap::IndexMap::new();
                    entry.insert(Name::new("field"), Value::from(field));
                    entry.insert(Name::new("position"), Value::from(position.to_string()));
                    entry.insert(
                        Name::new("message"),
                        Value::from("committed, but the read models do not show it yet"),
                    );
                    Value::Object(entry)
                })
                .collect();
            response.extensions.insert("notYetVisible".into(), Value::List(entries));
        }
        response
    }
}
