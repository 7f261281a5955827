//! Whether the services are reachable: a background `grpc.health.v1` check of the services the
//! gateway calls, over the gateway's own channel, each check bounded by a timeout. The result
//! feeds `/readyz`, so a load balancer stops sending traffic to a gateway whose services are
//! down or frozen. One small unary call per interval: cheap.

use std::future::Future;
use std::time::Duration;

use tokio::sync::watch;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

/// The services whose health decides readiness.
const SERVICES: [&str; 1] = [careflow_proto::beds::v1::bed_service_server::SERVICE_NAME];

/// Checks the services' health over `channel` every `interval` until `shutdown`, publishing
/// whether every service answered SERVING within `timeout`.
pub(crate) async fn watch_services(
    channel: Channel,
    interval: Duration,
    timeout: Duration,
    reachable: watch::Sender<bool>,
    shutdown: impl Future<Output = ()>,
) {
    let mut client = HealthClient::new(channel);
    tokio::pin!(shutdown);
    loop {
        let mut serving = true;
        for service in SERVICES {
            serving &= check(&mut client, service, timeout).await;
        }
        let was = reachable.send_replace(serving);
        if was != serving {
            if serving {
                tracing::info!("careflow services reachable");
            } else {
                tracing::warn!("careflow services unreachable or not serving; /readyz answers 503");
            }
        }
        tokio::select! {
            () = &mut shutdown => return,
            () = tokio::time::sleep(interval) => {}
        }
    }
}

async fn check(client: &mut HealthClient<Channel>, service: &str, timeout: Duration) -> bool {
    let mut request = tonic::Request::new(HealthCheckRequest { service: service.to_owned() });
    request.set_timeout(timeout);
    match tokio::time::timeout(timeout, client.check(request)).await {
        Ok(Ok(response)) => response.into_inner().status == ServingStatus::Serving as i32,
        Ok(Err(status)) => {
            tracing::debug!(service, error = %status, "health check failed");
            false
        }
        Err(_) => {
            tracing::debug!(service, "health check timed out");
            false
        }
    }
}
