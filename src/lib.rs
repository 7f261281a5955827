//! careflow, the binary's library: CLI and configuration, the composition root
//! ([`app::Application`]), what every careflow starts with ([`seed`]), the synthetic demo and the
//! benchmarks. `main.rs` only dispatches.

pub mod app;
pub mod bench;
pub mod cli;
pub mod demo;
pub mod positions;
pub mod seed;
pub mod telemetry;
