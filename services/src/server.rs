//! The gRPC router: every context's service, plus health and reflection, on one port.

use std::sync::Arc;

use careflow_auth::Authenticator;
use careflow_eventstore::EventStore;
use careflow_proto::beds::v1::bed_service_server::BedServiceServer;
use tonic::transport::server::Router;
use tonic_health::server::HealthReporter;

use crate::beds::{BedCommandHandler, BedGrpc};

/// Why the gRPC services could not be assembled.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The reflection service rejected the descriptor set.
    #[error("cannot build gRPC reflection: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
}

/// The assembled services and the handle to flip their health.
pub struct Services {
    /// The router, ready to serve.
    pub router: Router,
    /// Marks services SERVING / NOT_SERVING.
    pub health: HealthReporter,
}

/// Builds the router of every service over `store`, checking tokens with `auth`.
pub async fn services(store: Arc<dyn EventStore>, auth: Authenticator) -> Result<Services, ServerError> {
    let (health, health_service) = tonic_health::server::health_reporter();
    let beds = BedGrpc::new(BedCommandHandler::new(store), auth).into_server();
    health.set_serving::<BedServiceServer<BedGrpc>>().await;
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(careflow_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()?;
    let router = tonic::transport::Server::builder()
        .add_service(health_service)
        .add_service(reflection)
        .add_service(beds);
    Ok(Services { router, health })
}

/// Marks every service NOT_SERVING (on shutdown).
pub async fn set_not_serving(health: &HealthReporter) {
    health.set_not_serving::<BedServiceServer<BedGrpc>>().await;
}
