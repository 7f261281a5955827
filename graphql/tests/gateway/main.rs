//! The gateway in process, against stand-ins for the services and the read models: limits on
//! what a request may carry, error codes, deadlines and readiness, transient failures, answers
//! that are not yet visible, and graphql-ws refusals and expiry.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod limits;
mod resilience;
mod support;
mod visibility;
mod web;
mod websocket;
