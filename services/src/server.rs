//! The gRPC router: every context's service, plus health and reflection (`grpc.reflection.v1`
//! and `v1alpha`, for tools that speak only the older one), on one port. Every careflow
//! service is wrapped in [`Authenticate`], so no method can forget to check the token.

use std::sync::Arc;

use careflow_auth::Authenticator;
use careflow_eventstore::EventStore;
use careflow_proto::assessments::v1::assessment_service_server::AssessmentServiceServer;
use careflow_proto::beds::v1::bed_service_server::BedServiceServer;
use careflow_proto::brokerage::v1::brokerage_service_server::BrokerageServiceServer;
use careflow_proto::flags::v1::flag_service_server::FlagServiceServer;
use careflow_proto::patients::v1::patient_service_server::PatientServiceServer;
use careflow_proto::tasks::v1::task_service_server::TaskServiceServer;
use careflow_proto::virtualwards::v1::virtual_ward_service_server::VirtualWardServiceServer;
use tonic::server::NamedService;
use tonic::transport::server::Router;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

use crate::assessments::AssessmentGrpc;
use crate::beds::BedGrpc;
use crate::brokerage::BrokerageGrpc;
use crate::flags::FlagGrpc;
use crate::grpc::Authenticate;
use crate::handler::CommandHandler;
use crate::metrics::CommandMetrics;
use crate::patients::PatientGrpc;
use crate::tasks::TaskGrpc;
use crate::virtualwards::VirtualWardGrpc;

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
    /// Marks the services SERVING / NOT_SERVING.
    pub health: Health,
}

/// The health of every careflow service on the router.
#[derive(Clone)]
pub struct Health {
    reporter: HealthReporter,
    /// The careflow services' full names, e.g. `careflow.beds.v1.BedService`.
    names: Vec<&'static str>,
}

fn reflection() -> tonic_reflection::server::Builder<'static> {
    tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(careflow_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
}

fn name_of<S: NamedService>(_: &S) -> &'static str {
    S::NAME
}

/// Adds a context's service to the router and records its name.
macro_rules! register {
    ($router:ident, $names:ident, $service:expr) => {{
        let service = $service;
        $names.push(name_of(&service));
        $router = $router.add_service(service);
    }};
}

/// Builds the router of every service over `store`, checking tokens with `auth`, counting
/// commands in `metrics`.
pub async fn services(
    store: Arc<dyn EventStore>,
    auth: Authenticator,
    metrics: &CommandMetrics,
) -> Result<Services, ServerError> {
    let (health, health_service) = tonic_health::server::health_reporter();
    let auth = Authenticate::new(auth);
    let mut names = Vec::new();
    let mut router = tonic::transport::Server::builder()
        .add_service(health_service)
        .add_service(reflection().build_v1()?)
        .add_service(reflection().build_v1alpha()?);
    // One line per context: its service, behind Authenticate, over its command handler.
    register!(
        router,
        names,
        BedServiceServer::with_interceptor(
            BedGrpc::new(CommandHandler::new(store.clone()).with_metrics(metrics.clone())),
            auth.clone()
        )
    );
    register!(
        router,
        names,
        PatientServiceServer::with_interceptor(
            PatientGrpc::new(CommandHandler::new(store.clone()).with_metrics(metrics.clone())),
            auth.clone()
        )
    );
    register!(
        router,
        names,
        FlagServiceServer::with_interceptor(
            FlagGrpc::new(CommandHandler::new(store.clone()).with_metrics(metrics.clone())),
            auth.clone()
        )
    );
    register!(
        router,
        names,
        TaskServiceServer::with_interceptor(
            TaskGrpc::new(CommandHandler::new(store.clone()).with_metrics(metrics.clone())),
            auth.clone()
        )
    );
    register!(
        router,
        names,
        AssessmentServiceServer::with_interceptor(
            AssessmentGrpc::new(CommandHandler::new(store.clone()).with_metrics(metrics.clone())),
            auth.clone()
        )
    );
    register!(
        router,
        names,
        VirtualWardServiceServer::with_interceptor(
            VirtualWardGrpc::new(CommandHandler::new(store.clone()).with_metrics(metrics.clone())),
            auth.clone()
        )
    );
    register!(
        router,
        names,
        BrokerageServiceServer::with_interceptor(
            BrokerageGrpc::new(CommandHandler::new(store.clone()).with_metrics(metrics.clone())),
            auth.clone()
        )
    );
    let health = Health { reporter: health, names };
    health.set(ServingStatus::Serving).await;
    Ok(Services { router, health })
}

impl Health {
    /// The careflow services' full names, e.g. `careflow.beds.v1.BedService`.
    pub fn names(&self) -> &[&'static str] {
        &self.names
    }

    /// Marks every careflow service NOT_SERVING (on shutdown).
    pub async fn set_not_serving(&self) {
        self.set(ServingStatus::NotServing).await;
    }

    async fn set(&self, status: ServingStatus) {
        for name in &self.names {
            self.reporter.set_service_status(name, status).await;
        }
    }
}
