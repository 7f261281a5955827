//! The beds context's write side: its gRPC adapter [`BedGrpc`] (`careflow.beds.v1.BedService`)
//! over the generic [`CommandHandler`](crate::CommandHandler) for [`Beds`](careflow_domain::beds::Beds).

mod grpc;

pub use grpc::BedGrpc;
