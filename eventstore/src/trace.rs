//! W3C trace context across careflow's hops: the gateway continues the client's `traceparent`
//! (or starts a trace), forwards its own span's to the services, which continue it and store it
//! in every event's [`Metadata`](crate::Metadata); the projections continue it on the batch that
//! applies the event, and the gateway on the subscription push the batch causes. One trace
//! shows a mutation from the request to every push it caused.
//!
//! Every function here is a no-op until [`enable`] says an OpenTelemetry layer is installed
//! (`--otlp-endpoint`): [`traceparent`] then returns `None`, and callers keep the client's.
//! Without it nothing is parsed or looked up on the hot paths (each projection batch, each
//! command, each push).

use std::sync::atomic::{AtomicBool, Ordering};

use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// Set once spans are exported.
static ENABLED: AtomicBool = AtomicBool::new(false);

/// Says that an OpenTelemetry layer is installed: trace context is continued from now on.
pub fn enable() {
    ENABLED.store(true, Ordering::Relaxed);
}

/// Whether trace context is continued ([`enable`]).
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// Whether `value` is a W3C `traceparent` (`version-trace_id-parent_id-flags`, lower-case hex,
/// ids not all zero, version not `ff`); anything else is dropped rather than stored.
pub fn is_traceparent(value: &str) -> bool {
    span_context(value).is_some()
}

/// The span context `traceparent` names, if it is a valid one.
fn span_context(traceparent: &str) -> Option<SpanContext> {
    let mut parts = traceparent.split('-');
    let (version, trace_id, span_id, flags) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let hex = |s: &str, len: usize| {
        s.len() == len && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    if parts.next().is_some()
        || !hex(version, 2)
        || version == "ff"
        || !hex(trace_id, 32)
        || !hex(span_id, 16)
        || !hex(flags, 2)
    {
        return None;
    }
    let trace_id = TraceId::from_hex(trace_id).ok()?;
    let span_id = SpanId::from_hex(span_id).ok()?;
    let flags = TraceFlags::new(u8::from_str_radix(flags, 16).ok()?);
    let context = SpanContext::new(trace_id, span_id, flags, true, TraceState::default());
    context.is_valid().then_some(context)
}

/// Makes `span` (not yet entered) a child of the remote span `traceparent` names; nothing when
/// it is absent or invalid, or when no OpenTelemetry layer runs.
pub fn continue_trace(span: &tracing::Span, traceparent: Option<&str>) {
    if !enabled() {
        return;
    }
    if let Some(context) = traceparent.and_then(span_context) {
        // Fails only without an OpenTelemetry layer, or once the span started: then the span
        // simply starts a trace of its own.
        let _ = span.set_parent(opentelemetry::Context::new().with_remote_span_context(context));
    }
}

/// Links `span` to the span `traceparent` names (a batch applies events of many traces: it
/// continues one and links the others).
pub fn link(span: &tracing::Span, traceparent: &str) {
    if !enabled() {
        return;
    }
    if let Some(context) = span_context(traceparent) {
        span.add_link(context);
    }
}

/// `span`'s own `traceparent`, to hand to the next hop; `None` when no OpenTelemetry layer
/// records it.
pub fn traceparent(span: &tracing::Span) -> Option<String> {
    if !enabled() {
        return None;
    }
    let context = span.context();
    let span_ref = context.span();
    let span_context = span_ref.span_context();
    span_context.is_valid().then(|| {
        format!(
            "00-{}-{}-{:02x}",
            span_context.trace_id(),
            span_context.span_id(),
            span_context.trace_flags().to_u8()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traceparents_are_checked() {
        assert!(is_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
        assert!(!is_traceparent("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"));
        assert!(!is_traceparent("00-00000000000000000000000000000000-00f067aa0ba902b7-01"));
        assert!(!is_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01"));
        assert!(!is_traceparent("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
        assert!(!is_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-00"));
        assert!(!is_traceparent("hello"));
        assert!(!is_traceparent(""));
    }

    #[test]
    fn without_an_opentelemetry_layer_a_span_has_no_traceparent() {
        let span = tracing::info_span!("untraced");
        continue_trace(&span, Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
        assert_eq!(traceparent(&span), None);
    }
}
