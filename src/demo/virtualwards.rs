//! The demo's virtual wards: Northgate General's respiratory and frailty virtual wards
//! (hospital at home), with patients at home admitted in the last day, each sending a reading
//! every four hours since; most are stable, three deteriorate (one to a medium NEWS2, two to
//! high), one went quiet and has missed readings (the clock chases them as soon as careflow
//! runs). Every command is decided at its own time on the demo's timeline, so the workflows
//! escalate what the scores call for and the chart has a history.

use std::sync::Arc;

use anyhow::Context;
use careflow_auth::policy::Action;
use careflow_auth::{Actor, Role};
use careflow_domain::beds::Label;
use careflow_domain::tasks::UserId;
use careflow_domain::virtualwards::{
    Acvpu, AdmissionId, AdmissionRoute, CarePathway, EscalationContact, MonitoringPlan, Observations,
    Parameter, Phone, Reading, ReadingId, ReadingSource, Spo2Scale, Temperature, VirtualWardCommand,
    VirtualWards,
};
use careflow_domain::{SiteId, WardId};
use careflow_eventstore::EventStore;
use careflow_services::CommandHandler;
use chrono::{Duration, Utc};
use uuid::Uuid;

use super::{DEMO_NAMESPACE, admin, demo_patient, handle_at};

/// The demo's virtual wards: id, name, pathway, virtual beds, patients on it.
const WARDS: [(&str, &str, CarePathway, u16, u32); 2] = [
    ("RXA01-VW-RESP", "Respiratory virtual ward", CarePathway::Respiratory, 20, 7),
    ("RXA01-VW-FRAILTY", "Frailty virtual ward", CarePathway::Frailty, 15, 5),
];

/// The demo's virtual ward team (RXA), configured with the other teams.
pub const TEAM: &str = "RXA-VW-TEAM";

/// How often readings are due.
const EVERY_HOURS: i64 = 4;

fn clinician() -> Actor {
    Actor {
        user_id: format!("1.{}", TEAM.to_lowercase()),
        role: Role::VirtualWardClinician,
        organisation: "RXA".into(),
        teams: vec![TEAM.into()],
    }
}

/// The `step`th of six readings of a patient whose course is `course`: 0 stable, 1 to
/// medium, 2 to high, 3 to high with new confusion.
fn observations(course: u32, step: i64, k: u32) -> anyhow::Result<Observations> {
    let worse = |from: i64, by: i64| if step > from { (step - from) * by } else { 0 };
    let (rr, spo2, pulse, bp, temperature, consciousness) = match course {
        1 => (
            16 + worse(2, 2),
            96 - worse(3, 1),
            78 + worse(2, 10),
            128,
            37.0 + 0.3 * worse(3, 1) as f64,
            Acvpu::Alert,
        ),
        2 => (
            18 + worse(1, 2),
            95 - worse(2, 1),
            84 + worse(1, 9),
            120 - worse(2, 6),
            37.2 + 0.4 * worse(2, 1) as f64,
            Acvpu::Alert,
        ),
        3 => (
            17 + worse(3, 3),
            95 - worse(3, 2),
            80 + worse(3, 12),
            118,
            37.4 + 0.6 * worse(3, 1) as f64,
            if step >= 5 { Acvpu::NewConfusion } else { Acvpu::Alert },
        ),
        _ => (
            14 + i64::from(k % 4),
            96 + i64::from(k % 3),
            66 + i64::from(k % 9),
            122 + i64::from(k % 14),
            36.6,
            Acvpu::Alert,
        ),
    };
    let u16_of = |v: i64| u16::try_from(v).context("a demo observation");
    Ok(Observations {
        respiration_rate: Some(u16_of(rr)?),
        spo2: Some(u8::try_from(spo2.min(100)).context("a demo SpO2")?),
        on_oxygen: Some(false),
        systolic_bp: Some(u16_of(bp)?),
        pulse: Some(u16_of(pulse)?),
        consciousness: Some(consciousness),
        temperature: Some(Temperature::celsius(temperature)?),
    })
}

/// Configures the virtual wards and admits their patients (the demo's patients at home, from
/// the `first`th), with their readings.
pub async fn load(store: Arc<dyn EventStore>, first: u32) -> anyhow::Result<()> {
    let handler = CommandHandler::<VirtualWards>::new(store);
    let now = Utc::now();
    let (admin, clinician) = (admin("RXA"), clinician());
    let device = Actor {
        user_id: "device-gateway.rxa".into(),
        role: Role::DeviceGateway,
        organisation: "RXA".into(),
        teams: Vec::new(),
    };
    let mut k = first;
    for (ward, name, pathway, beds, patients) in WARDS {
        let ward_id = WardId::parse(ward)?;
        let configure = VirtualWardCommand::Configure {
            ward_id: ward_id.clone(),
            site_id: SiteId::parse("RXA01")?,
            name: Label::parse(name)?,
            pathway,
            beds,
        };
        handle_at(
            &handler,
            &admin,
            &format!("vward/{ward}"),
            Action::ConfigureVirtualWards,
            now - Duration::days(7),
            configure,
        )
        .await?;
        for p in 0..patients {
            let nhs_number = demo_patient(k)?;
            k += 1;
            let admitted_at = now - Duration::hours(22) - Duration::minutes(i64::from(p) * 17);
            let key = format!("vw-admit/{ward}/{p}");
            let admission_id = AdmissionId(Uuid::new_v5(&DEMO_NAMESPACE, key.as_bytes()));
            let contact = EscalationContact {
                name: Label::parse("Next of kin")?,
                relationship: Label::parse(if p % 2 == 0 { "daughter" } else { "son" })?,
                phone: Phone::parse(&format!("07700 900{:03}", 100 + k))?,
            };
            let plan = MonitoringPlan::new(
                Parameter::ALL.into_iter().collect(),
                u32::try_from(EVERY_HOURS * 60)?,
                Spo2Scale::Scale1,
                vec![contact],
            )
            .map_err(|(part, e)| anyhow::anyhow!("demo plan {part}: {e}"))?;
            let admit = VirtualWardCommand::Admit {
                admission_id,
                ward_id: ward_id.clone(),
                nhs_number,
                route: AdmissionRoute::StepUp,
                plan,
                by: UserId::parse(&clinician.user_id)?,
            };
            handle_at(&handler, &clinician, &key, Action::UpdateVirtualWards, admitted_at, admit).await?;
            // The course: most stable; the 2nd of each ward worsens; the 3rd (and the 4th on
            // the respiratory ward) to high; the 5th stopped sending after its third reading.
            let course = match p {
                1 => 1,
                2 => 2,
                3 if ward == "RXA01-VW-RESP" => 3,
                _ => 0,
            };
            let readings = if p == 4 { 3 } else { 6 };
            for step in 0..readings {
                let taken_at = admitted_at + Duration::minutes(10) + Duration::hours(EVERY_HOURS * step);
                if taken_at > now {
                    break;
                }
                let reading_key = format!("{key}/reading/{step}");
                let reading = Reading {
                    reading_id: ReadingId(Uuid::new_v5(&DEMO_NAMESPACE, reading_key.as_bytes())),
                    taken_at,
                    source: ReadingSource::Device,
                    observations: observations(course, step, k)?,
                };
                let record = VirtualWardCommand::Record { admission_id, readings: vec![reading] };
                handle_at(&handler, &device, &reading_key, Action::RecordObservations, taken_at, record)
                    .await?;
            }
        }
    }
    Ok(())
}
