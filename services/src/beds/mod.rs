//! The beds context's write side: [`BedCommandHandler`] (load → decide → append) and its gRPC
//! adapter [`BedGrpc`] (`careflow.beds.v1.BedService`).

mod grpc;
mod handler;

pub use grpc::BedGrpc;
pub use handler::{BedCommandHandler, Outcome};
