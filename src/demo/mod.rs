//! The synthetic demo: two organisations — an acute trust (RXA: three sites, ten wards) and a
//! community trust (RYC: one site, two wards) — ~330 beds in mixed states, patients with NHS
//! numbers from the 999 test range and invented names. Each organisation's admin loads its own
//! sites, so organisations are kept apart from the first event. Admissions register their
//! patients in the MPI; the demo then completes their demographics, registers patients living at
//! home, raises flags (end of life care plans, frailty with CFS scores, learning disability,
//! falls risk, infection control) and records dissent to sharing for a few. Every command has a
//! fixed command id, so loading twice adds nothing. Teams, routing rules and tasks come first
//! ([`teams`]), so the workflows route the demo's discharges to them.

mod assessments;
mod brokerage;
mod personas;
mod teams;
mod virtualwards;

pub use personas::personas;

use std::sync::Arc;

use anyhow::Context;
use careflow_auth::policy::Action;
use careflow_auth::{Actor, Role};
use careflow_domain::OdsCode;
use careflow_domain::beds::Beds;
use careflow_domain::beds::{
    AddBed, AdmitPatient, BedCommand, BlockBed, BlockReason, ConfigureWard, DischargeDestination,
    DischargePatient, Label, MarkMedicallyOptimised, Note, Pathway, PatientName, RegisterSite, ReserveBed,
    SetExpectedDischargeDate,
};
use careflow_domain::flags::{FlagCommand, FlagId, FlagKind, FlagSource, Flags, FrailtyScore, Severity};
use careflow_domain::patients::{
    Demographics, DemographicsChange, Gender, PatientCommand, Patients, Postcode,
};
use careflow_domain::{BedId, Decider, NhsNumber, SiteId, StayId, WardId};
use careflow_eventstore::EventStore;
use careflow_services::{CommandContext, CommandHandler, ServiceError};
use chrono::{Duration, NaiveDate, Utc};
use uuid::Uuid;

const DEMO_NAMESPACE: Uuid = Uuid::from_u128(0x6361_7265_666c_6f77_8000_0000_0000_00de);

/// A ward of the demo: code, name, specialty, number of beds.
type DemoWard = (&'static str, &'static str, &'static str, u32);

/// The demo's sites: owning organisation, id, name, wards.
const SITES: [(&str, &str, &str, &[DemoWard]); 4] = [
    (
        "RXA",
        "RXA01",
        "Northgate General Hospital",
        &[
            ("AMU", "Acute Medical Unit", "Acute medicine", 40),
            ("ELM", "Elm Ward", "Respiratory medicine", 28),
            ("OAK", "Oak Ward", "Care of older people", 30),
            ("BIRCH", "Birch Ward", "Trauma and orthopaedics", 28),
            ("WILLOW", "Willow Ward", "General surgery", 32),
            ("ICU", "Intensive Care Unit", "Critical care", 14),
        ],
    ),
    (
        "RXA",
        "RXA02",
        "Riverside Community Hospital",
        &[
            ("HERON", "Heron Ward", "Rehabilitation", 24),
            ("KFISHER", "Kingfisher Ward", "Step-down care", 30),
        ],
    ),
    (
        "RXA",
        "RXA03",
        "St Aldhelm's Hospital",
        &[("CEDAR", "Cedar Ward", "Stroke", 30), ("MAPLE", "Maple Ward", "General medicine", 36)],
    ),
    (
        "RYC",
        "RYC01",
        "Eastbrook Community Hospital",
        &[
            ("LARK", "Lark Ward", "Community rehabilitation", 20),
            ("WREN", "Wren Ward", "Intermediate care", 16),
        ],
    ),
];

const GIVEN: [&str; 20] = [
    "Ada", "Bernard", "Cora", "Desmond", "Edith", "Fergus", "Gwen", "Horace", "Iris", "Jasper", "Kathleen",
    "Leonard", "Mavis", "Norman", "Olive", "Percy", "Queenie", "Rupert", "Sybil", "Trevor",
];
const FAMILY: [&str; 17] = [
    "Ashcombe",
    "Brindle",
    "Calloway",
    "Dunmore",
    "Eversley",
    "Fairbairn",
    "Gorringe",
    "Hartwell",
    "Inchbold",
    "Jessop",
    "Kettleby",
    "Lumsden",
    "Marchbank",
    "Nettlefold",
    "Orpwood",
    "Penhaligon",
    "Quarrington",
];

/// One demo command with its fixed id.
struct Step {
    key: String,
    action: BedCommand,
}

fn label(text: &str) -> anyhow::Result<Label> {
    Label::parse(text).with_context(|| format!("demo label {text:?}"))
}

/// The admin who loads an organisation's part of the demo.
fn admin(organisation: &str) -> Actor {
    Actor {
        user_id: format!("careflow-demo.{}", organisation.to_lowercase()),
        role: Role::Admin,
        organisation: organisation.into(),
        teams: Vec::new(),
    }
}

/// Loads the demo through the command handlers, in-process: beds as each organisation's admin,
/// then the MPI and flags as a ward clerk and a nurse of RXA.
pub async fn load(store: Arc<dyn EventStore>) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    assessments::load(store.clone()).await?;
    teams::load(store.clone()).await?;
    let handler = CommandHandler::<Beds>::new(store.clone());
    let mut setup = Vec::new();
    let mut wards = Vec::new();
    let mut patient = 0u32;
    for (organisation, site_id, site_name, site_wards) in SITES {
        let actor = admin(organisation);
        setup.push((
            actor.clone(),
            Step {
                key: format!("site/{site_id}"),
                action: BedCommand::RegisterSite(RegisterSite {
                    site_id: SiteId::parse(site_id)?,
                    name: label(site_name)?,
                    organisation: OdsCode::parse(organisation)?,
                }),
            },
        ));
        for (code, name, specialty, beds) in site_wards {
            let ward_id = WardId::parse(&format!("{site_id}-{code}"))?;
            setup.push((
                actor.clone(),
                Step {
                    key: format!("ward/{ward_id}"),
                    action: BedCommand::ConfigureWard(ConfigureWard {
                        ward_id: ward_id.clone(),
                        site_id: SiteId::parse(site_id)?,
                        name: label(name)?,
                        specialty: Some(label(specialty)?),
                    }),
                },
            ));
            let mut ward_steps = Vec::new();
            for n in 1..=*beds {
                let bed_id = BedId::parse(&format!("{ward_id}-B{n:02}"))?;
                setup.push((
                    actor.clone(),
                    Step {
                        key: format!("bed/{bed_id}"),
                        action: BedCommand::AddBed(AddBed {
                            bed_id: bed_id.clone(),
                            ward_id: ward_id.clone(),
                            label: label(&format!("Bay {} Bed {}", (n - 1) / 6 + 1, (n - 1) % 6 + 1))?,
                        }),
                    },
                ));
                ward_steps.extend(bed_story(&bed_id, n, &mut patient)?);
            }
            wards.push((actor.clone(), ward_steps));
        }
    }
    // Configuration first, in order; then each ward's stories concurrently.
    for (actor, step) in setup {
        run(&handler, &actor, step).await?;
    }
    let tasks = wards.into_iter().map(|(actor, steps)| {
        let handler = handler.clone();
        tokio::spawn(async move {
            for step in steps {
                run(&handler, &actor, step).await?;
            }
            anyhow::Ok(())
        })
    });
    for task in futures::future::join_all(tasks).await {
        task??;
    }
    let admitted = patient;
    patients_and_flags(store.clone(), admitted).await?;
    assessments::assess(store.clone()).await?;
    virtualwards::load(store.clone(), admitted + 1).await?;
    brokerage::load(store).await?;
    tracing::info!(
        elapsed_ms = started.elapsed().as_millis() as u64,
        patients = admitted + AT_HOME,
        "demo loaded"
    );
    Ok(())
}

async fn run(handler: &CommandHandler<Beds>, actor: &Actor, step: Step) -> anyhow::Result<()> {
    let action = match step.action {
        BedCommand::RegisterSite(_) | BedCommand::ConfigureWard(_) | BedCommand::AddBed(_) => {
            Action::ConfigureBeds
        }
        _ => Action::UpdateBeds,
    };
    handle(handler, actor, &step.key, action, step.action).await
}

/// Carries out one demo command with the fixed command id of `key`.
async fn handle<D: Decider>(
    handler: &CommandHandler<D>,
    actor: &Actor,
    key: &str,
    action: Action,
    command: D::Command,
) -> anyhow::Result<()> {
    handle_at(handler, actor, key, action, Utc::now(), command).await
}

/// [`handle`], decided at `when` on the demo's timeline.
async fn handle_at<D: Decider>(
    handler: &CommandHandler<D>,
    actor: &Actor,
    key: &str,
    action: Action,
    when: chrono::DateTime<Utc>,
    command: D::Command,
) -> anyhow::Result<()> {
    let mut context = demo_context(actor, key);
    context.at = when;
    match handler.handle(&context, action, command).await {
        // The demo was loaded on an earlier day: its dates differed, so the step's command id
        // was used for a command with other dates. It is in the store: nothing to do.
        Ok(_) | Err(ServiceError::CommandIdReused) => Ok(()),
        Err(error) => Err(error).with_context(|| format!("demo step {key}")),
    }
}

/// Patients registered by the demo who are at home, not in a bed.
const AT_HOME: u32 = 40;

const POSTCODES: [&str; 8] =
    ["LS6 2QB", "LS7 3JB", "LS8 1AA", "BD7 1DP", "BD9 4RT", "HX1 2TT", "HX3 5AX", "WF1 3LP"];
const PRACTICES: [&str; 5] = ["B86001", "B86002", "B86010", "B83001", "B87001"];

fn demo_actor(role: Role, user: &str) -> Actor {
    Actor { user_id: format!("careflow-demo.{user}"), role, organisation: "RXA".into(), teams: Vec::new() }
}

/// The `i`th demo patient's demographics beyond their name.
fn demographics_of(i: u32) -> anyhow::Result<(NaiveDate, Gender, Postcode, OdsCode)> {
    let born = NaiveDate::from_ymd_opt(1928 + (i * 7 % 62) as i32, i % 12 + 1, i % 28 + 1)
        .context("a demo date of birth")?;
    let gender = if i.is_multiple_of(2) { Gender::Female } else { Gender::Male };
    let postcode = Postcode::parse(POSTCODES[(i as usize) % POSTCODES.len()])?;
    let practice = OdsCode::parse(PRACTICES[(i as usize * 3) % PRACTICES.len()])?;
    Ok((born, gender, postcode, practice))
}

/// The flags the `i`th demo patient has: kind, CFS score for frailty, severity, reason.
fn flags_of(i: u32) -> Vec<(FlagKind, Option<u8>, Severity, &'static str)> {
    let mut flags = Vec::new();
    if i.is_multiple_of(9) {
        flags.push((
            FlagKind::EndOfLifeCarePlan,
            None,
            Severity::High,
            "ReSPECT form and end of life care plan agreed",
        ));
    }
    if i.is_multiple_of(4) {
        flags.push((
            FlagKind::Frailty,
            Some(6 + (i / 4 % 4) as u8),
            Severity::Medium,
            "Clinical Frailty Scale assessed",
        ));
    }
    if i.is_multiple_of(13) {
        flags.push((
            FlagKind::LearningDisability,
            None,
            Severity::Medium,
            "On the practice learning disability register",
        ));
    }
    if i % 6 == 1 {
        flags.push((FlagKind::FallsRisk, None, Severity::Medium, "Two falls in the last six months"));
    }
    if i.is_multiple_of(23) {
        flags.push((FlagKind::InfectionControl, None, Severity::High, "MRSA positive screen: isolate"));
    }
    flags
}

/// Completes the demographics of the patients admitted (those `next_patient` gave up to
/// `last_admitted`), registers patients at home, raises their flags and records a few
/// dissents. Returns how many patients there are.
async fn patients_and_flags(store: Arc<dyn EventStore>, last_admitted: u32) -> anyhow::Result<u32> {
    let mpi = CommandHandler::<Patients>::new(store.clone());
    let flags = CommandHandler::<Flags>::new(store);
    let clerk = demo_actor(Role::WardClerk, "clerk");
    let nurse = demo_actor(Role::WardNurse, "nurse");
    let review = Utc::now().date_naive() + Duration::days(30);
    let (mut counter, mut at_home, mut i) = (0u32, 0u32, 0u32);
    while at_home < AT_HOME {
        i += 1;
        let (nhs_number, name) = next_patient(&mut counter)?;
        let in_bed = counter <= last_admitted;
        at_home += u32::from(!in_bed);
        let (born, gender, postcode, practice) = demographics_of(i)?;
        let command = if in_bed {
            PatientCommand::UpdateDemographics {
                nhs_number,
                change: DemographicsChange {
                    name: None,
                    date_of_birth: Some(born),
                    gender: Some(gender),
                    postcode: Some(postcode),
                    gp_practice: Some(practice),
                },
            }
        } else {
            let demographics = Demographics {
                name,
                date_of_birth: Some(born),
                gender,
                postcode: Some(postcode),
                gp_practice: Some(practice),
            };
            PatientCommand::Register { nhs_number, demographics }
        };
        handle(&mpi, &clerk, &format!("mpi/{nhs_number}"), Action::UpdatePatients, command).await?;
        for (kind, score, severity, reason) in flags_of(i) {
            let key = format!("flag/{kind}/{nhs_number}");
            let frailty_score = score.map(FrailtyScore::new).transpose().map_err(anyhow::Error::msg)?;
            let command = FlagCommand::Raise {
                nhs_number,
                flag_id: FlagId(demo_context(&nurse, &key).derived_id("flag")),
                kind,
                frailty_score,
                severity,
                reason: Note::parse(reason)?,
                review_on: Some(review),
                source: FlagSource::Person {
                    user_id: nurse.user_id.clone(),
                    organisation: OdsCode::parse("RXA")?,
                },
            };
            handle(&flags, &nurse, &key, Action::UpdateFlags, command).await?;
        }
        if i % 17 == 5 {
            let note = Some(Note::parse("Asked at registration not to share beyond those caring for them")?);
            let command = PatientCommand::RecordSharingDissent { nhs_number, note };
            handle(&mpi, &clerk, &format!("dissent/{nhs_number}"), Action::UpdatePatients, command).await?;
        }
    }
    Ok(i)
}

fn demo_context(actor: &Actor, key: &str) -> CommandContext {
    let command_id = Uuid::new_v5(&DEMO_NAMESPACE, key.as_bytes());
    CommandContext {
        command_id,
        actor: actor.clone(),
        correlation_id: command_id,
        traceparent: None,
        at: Utc::now(),
    }
}

/// A synthetic patient: a 999-range NHS number and an invented name.
fn next_patient(counter: &mut u32) -> anyhow::Result<(NhsNumber, PatientName)> {
    loop {
        *counter += 1;
        let n = *counter;
        if let Some(nhs) = NhsNumber::from_first_nine(999_000_000 + n * 37) {
            let given = GIVEN[(n as usize) % GIVEN.len()];
            let family = FAMILY[(n as usize * 7) % FAMILY.len()];
            return Ok((nhs, PatientName::parse(given, family)?));
        }
    }
}

/// The NHS number of the `k`th demo patient (from 1): the patients admitted to the first
/// ward's beds come first.
fn demo_patient(k: u32) -> anyhow::Result<NhsNumber> {
    let mut counter = 0;
    let mut nhs = None;
    for _ in 0..k {
        nhs = Some(next_patient(&mut counter)?.0);
    }
    nhs.context("demo patients are counted from 1")
}

/// What happens to bed number `n` of a ward: mostly occupied, some awaiting cleaning, reserved
/// or blocked, some patients medically optimised.
fn bed_story(bed_id: &BedId, n: u32, patient: &mut u32) -> anyhow::Result<Vec<Step>> {
    let key = |what: &str| format!("{what}/{bed_id}");
    let stay_for = |what: &str| StayId(Uuid::new_v5(&DEMO_NAMESPACE, key(what).as_bytes()));
    let today = Utc::now().date_naive();
    let mut steps = Vec::new();
    let mut admit = |steps: &mut Vec<Step>, what: &str| -> anyhow::Result<StayId> {
        let (nhs_number, name) = next_patient(patient)?;
        let stay_id = stay_for(what);
        steps.push(Step {
            key: key(what),
            action: BedCommand::AdmitPatient(AdmitPatient {
                stay_id,
                bed_id: bed_id.clone(),
                nhs_number,
                patient: name,
            }),
        });
        Ok(stay_id)
    };
    match n % 10 {
        0..=6 => {
            let stay_id = admit(&mut steps, "admit")?;
            if n.is_multiple_of(2) {
                steps.push(Step {
                    key: key("edd"),
                    action: BedCommand::SetExpectedDischargeDate(SetExpectedDischargeDate {
                        stay_id,
                        date: today + Duration::days(i64::from(n % 5)),
                    }),
                });
            }
            if n % 4 == 1 {
                steps.push(Step {
                    key: key("mo"),
                    action: BedCommand::MarkMedicallyOptimised(MarkMedicallyOptimised {
                        stay_id,
                        discharge_ready_date: today,
                        pathway: Pathway::try_from((n % 3 + 1) as u8)?,
                    }),
                });
            }
        }
        7 => {
            let stay_id = admit(&mut steps, "admit-earlier")?;
            steps.push(Step {
                key: key("discharge"),
                action: BedCommand::DischargePatient(DischargePatient {
                    stay_id,
                    destination: DischargeDestination::UsualResidence,
                    pathway: Pathway::Home,
                }),
            });
        }
        8 if n % 20 == 8 => steps.push(Step {
            key: key("reserve"),
            action: BedCommand::ReserveBed(ReserveBed {
                bed_id: bed_id.clone(),
                for_nhs_number: None,
                note: Some(Note::parse("Held for a patient from ED majors")?),
            }),
        }),
        9 if n % 30 == 9 => steps.push(Step {
            key: key("block"),
            action: BedCommand::BlockBed(BlockBed {
                bed_id: bed_id.clone(),
                reason: BlockReason::InfectionControl,
                note: Some(Note::parse("Norovirus: side room closed")?),
            }),
        }),
        _ => {}
    }
    Ok(steps)
}
