//! A command's cost against the length of its stream (DESIGN.md §9: a command on a stream with
//! 10,000 events within 20% of one on a new stream). Block/unblock pairs go through the real
//! command handler on one bed whose stream already holds `history` events, and on a bed just
//! added; the handler's state cache makes the long stream cost a read of its newest events.

use std::sync::Arc;
use std::time::Instant;

use careflow_auth::policy::Action;
use careflow_auth::{Actor, Role};
use careflow_domain::beds::{
    AddBed, BedCommand, Beds, BlockBed, BlockReason, ConfigureWard, Label, RegisterSite, UnblockBed,
};
use careflow_domain::{BedId, OdsCode, SiteId, WardId};
use careflow_eventstore::EventStore;
use careflow_services::{CommandContext, CommandHandler};
use chrono::Utc;
use hdrhistogram::Histogram;
use uuid::Uuid;

use super::backend::Stores;
use super::micros_histogram;

/// Latencies of commands on a new stream, on a long one, and the first command on the long
/// one from a handler that has not seen it (a process that has just started).
pub struct Report {
    /// Commands on a bed just added.
    pub new_stream: Histogram<u64>,
    /// Commands on a bed with `history` events.
    pub long_stream: Histogram<u64>,
    /// The first command on the long stream from a fresh handler, in µs.
    pub cold_first: u64,
}

fn context() -> CommandContext {
    let command_id = Uuid::new_v4();
    let actor =
        Actor { user_id: "bench".into(), role: Role::Admin, organisation: "RXA".into(), teams: Vec::new() };
    CommandContext { command_id, actor, correlation_id: command_id, traceparent: None, at: Utc::now() }
}

fn block(bed: &BedId) -> BedCommand {
    BedCommand::BlockBed(BlockBed { bed_id: bed.clone(), reason: BlockReason::Staffing, note: None })
}

fn unblock(bed: &BedId) -> BedCommand {
    BedCommand::UnblockBed(UnblockBed { bed_id: bed.clone() })
}

/// Times `samples` commands (alternating block and unblock) on `bed`.
async fn time(handler: &CommandHandler<Beds>, bed: &BedId, samples: usize) -> anyhow::Result<Histogram<u64>> {
    let mut histogram = micros_histogram()?;
    for n in 0..samples {
        let command = if n % 2 == 0 { block(bed) } else { unblock(bed) };
        let started = Instant::now();
        handler.handle(&context(), Action::UpdateBeds, command).await?;
        histogram.record(started.elapsed().as_micros().max(1) as u64)?;
    }
    Ok(histogram)
}

/// Runs the measure on a fresh store.
pub async fn run(stores: &Stores, history: usize, samples: usize) -> anyhow::Result<Report> {
    let store: Arc<dyn EventStore> = stores.open("decide").await?;
    let handler = CommandHandler::<Beds>::new(store.clone());
    let (site, ward) = (SiteId::parse("RXB01")?, WardId::parse("RXB01-W1")?);
    let (long, new) = (BedId::parse("RXB01-W1-B01")?, BedId::parse("RXB01-W1-B02")?);
    let setup = [
        BedCommand::RegisterSite(RegisterSite {
            site_id: site.clone(),
            name: Label::parse("Bench General")?,
            organisation: OdsCode::parse("RXA")?,
        }),
        BedCommand::ConfigureWard(ConfigureWard {
            ward_id: ward.clone(),
            site_id: site,
            name: Label::parse("Bench Ward")?,
            specialty: None,
        }),
        BedCommand::AddBed(AddBed {
            bed_id: long.clone(),
            ward_id: ward.clone(),
            label: Label::parse("Long")?,
        }),
        BedCommand::AddBed(AddBed { bed_id: new.clone(), ward_id: ward, label: Label::parse("New")? }),
    ];
    for command in setup {
        handler.handle(&context(), Action::ConfigureBeds, command).await?;
    }
    // The long history, written through a handler of its own so the measuring one starts cold.
    let writer = CommandHandler::<Beds>::new(store.clone());
    for n in 0..history.div_ceil(2) * 2 {
        let command = if n % 2 == 0 { block(&long) } else { unblock(&long) };
        writer.handle(&context(), Action::UpdateBeds, command).await?;
    }
    let started = Instant::now();
    handler.handle(&context(), Action::UpdateBeds, block(&long)).await?;
    let cold_first = started.elapsed().as_micros() as u64;
    handler.handle(&context(), Action::UpdateBeds, unblock(&long)).await?;
    let new_stream = time(&handler, &new, samples).await?;
    let long_stream = time(&handler, &long, samples).await?;
    Ok(Report { new_stream, long_stream, cold_first })
}
