//! careflow, the binary's library: CLI and configuration, the composition root
//! ([`app::Application`]), the synthetic demo and the benchmarks. `main.rs` only dispatches.

pub mod app;
pub mod bench;
pub mod cli;
pub mod demo;
pub mod positions;
pub mod telemetry;
