//! What setup made, and the state of everything the run acts on. [`World`] does not change once
//! set up: the wards, beds, teams, assessments, virtual wards and the market, with the tokens of
//! the people who act on them and who watches each. [`Lanes`] is what changes: each bed's state,
//! each task slot, each section's version, each admission's last reading, each offer. A lane is
//! acted on by one command at a time (taken out of its pool while the command is in flight, put
//! back in the pool of its new state after), so commands never race each other on one thing.

use rand::Rng;
use rand::rngs::SmallRng;
use serde_json::Value;

use crate::args::Category;
use crate::tracker::SubId;

/// A ward.
#[derive(Debug, Clone)]
pub struct Ward {
    /// Its id.
    pub id: String,
    /// Its team (whose inbox the ward's tasks go to).
    pub team: String,
    /// The ward nurse who sends the ward's bed and task commands.
    pub nurse: String,
    /// The nurse's user id.
    pub nurse_user: String,
}

/// A bed.
#[derive(Debug, Clone)]
pub struct Bed {
    /// Its id.
    pub id: String,
    /// Its ward (index into [`World::wards`]).
    pub ward: usize,
}

/// A question of a section, as the template has it.
#[derive(Debug, Clone)]
pub struct Question {
    /// Its id.
    pub id: String,
    /// TEXT, CHOICE, MULTI_CHOICE, NUMBER, DATE, YES_NO or SCORE.
    pub kind: String,
    /// Choice values.
    pub options: Vec<String>,
    /// Score values.
    pub levels: Vec<i64>,
    /// Number bounds.
    pub min: Option<f64>,
    /// Number bounds.
    pub max: Option<f64>,
    /// Whole numbers only.
    pub whole: bool,
    /// Longest text.
    pub max_length: Option<usize>,
}

/// A section of a template.
#[derive(Debug, Clone)]
pub struct SectionTemplate {
    /// Its id.
    pub id: String,
    /// Required to submit.
    pub required: bool,
    /// Roles that may edit it.
    pub editors: Vec<String>,
    /// Roles that may sign it off.
    pub signers: Vec<String>,
    /// Its questions.
    pub questions: Vec<Question>,
}

/// A section of an assessment being completed together during the run.
#[derive(Debug, Clone)]
pub struct Section {
    /// The assessment (index into [`World::assessments`]).
    pub assessment: usize,
    /// The template's section.
    pub template: SectionTemplate,
    /// Who saves it (a token of a role that may edit it).
    pub editor: String,
}

/// An assessment being completed together.
#[derive(Debug, Clone)]
pub struct Assessment {
    /// Its id.
    pub id: String,
}

/// A virtual ward.
#[derive(Debug, Clone)]
pub struct VirtualWard {
    /// Its id.
    pub id: String,
}

/// A patient on a virtual ward.
#[derive(Debug, Clone)]
pub struct Admission {
    /// The admission id.
    pub id: String,
    /// The virtual ward (index into [`World::virtual_wards`]).
    pub ward: usize,
}

/// A care provider.
#[derive(Debug, Clone)]
pub struct Provider {
    /// Its ODS code.
    pub ods: String,
    /// Its registered manager's token.
    pub token: String,
}

/// A posted care request.
#[derive(Debug, Clone)]
pub struct Request {
    /// Its id.
    pub id: String,
}

/// One provider's offers on one request.
#[derive(Debug, Clone)]
pub struct OfferPair {
    /// The request (index into [`World::requests`]).
    pub request: usize,
    /// The provider (index into [`World::providers`]).
    pub provider: usize,
}

/// The tokens of the people who act for everyone.
#[derive(Debug, Clone)]
pub struct Tokens {
    /// Housekeeping of the trust (marks beds cleaned).
    pub housekeeper: String,
    /// The trust's device gateway (sends readings).
    pub device: String,
}

/// Who watches what: the subscriptions of each thing, by index.
#[derive(Debug, Clone, Default)]
pub struct Audience {
    /// Per ward: its bed board's subscriptions.
    pub bed_board: Vec<Vec<SubId>>,
    /// Per ward: its team inbox's subscriptions.
    pub inbox: Vec<Vec<SubId>>,
    /// Per assessment.
    pub assessment: Vec<Vec<SubId>>,
    /// Per virtual ward.
    pub census: Vec<Vec<SubId>>,
    /// The council's market.
    pub market: Vec<SubId>,
    /// Per provider.
    pub provider: Vec<Vec<SubId>>,
}

/// What setup made.
#[derive(Debug, Clone)]
pub struct World {
    /// The run's prefix.
    pub prefix: String,
    /// Wards.
    pub wards: Vec<Ward>,
    /// Beds.
    pub beds: Vec<Bed>,
    /// Each bed's state after setup.
    pub bed_states: Vec<BedState>,
    /// Assessments completed together.
    pub assessments: Vec<Assessment>,
    /// Their sections.
    pub sections: Vec<Section>,
    /// Virtual wards.
    pub virtual_wards: Vec<VirtualWard>,
    /// Their patients.
    pub admissions: Vec<Admission>,
    /// Care providers.
    pub providers: Vec<Provider>,
    /// Care requests.
    pub requests: Vec<Request>,
    /// Every provider's offers on every request.
    pub offer_pairs: Vec<OfferPair>,
    /// Shared tokens.
    pub tokens: Tokens,
}

/// Why a bed is blocked (the GraphQL enum).
pub const BLOCK_REASONS: [&str; 3] = ["INFECTION_CONTROL", "MAINTENANCE", "STAFFING"];

/// A bed's state, as far as the run knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BedState {
    /// A patient is in it, expected to go home `edd` days from today (0: not set).
    Occupied {
        /// The stay.
        stay: String,
        /// Days from today of the expected discharge date (0: none).
        edd: u32,
    },
    /// Free.
    Available,
    /// Blocked for `BLOCK_REASONS[reason]`.
    Blocked {
        /// Index into [`BLOCK_REASONS`].
        reason: usize,
    },
    /// Held for an incoming patient.
    Reserved,
    /// Awaiting cleaning.
    Cleaning,
}

impl BedState {
    /// The state from a `bed { status stayId expectedDischargeDate blockedReason }` answer.
    pub fn from_bed(bed: &Value, today: chrono::NaiveDate) -> Option<Self> {
        Some(match bed.get("status")?.as_str()? {
            "OCCUPIED" => {
                let stay = bed.get("stayId")?.as_str()?.to_owned();
                let edd = bed
                    .get("expectedDischargeDate")
                    .and_then(Value::as_str)
                    .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
                    .map_or(0, |d| u32::try_from((d - today).num_days()).unwrap_or(0));
                BedState::Occupied { stay, edd }
            }
            "AVAILABLE" => BedState::Available,
            "BLOCKED" => {
                let reason = bed.get("blockedReason").and_then(Value::as_str).unwrap_or("MAINTENANCE");
                BedState::Blocked { reason: BLOCK_REASONS.iter().position(|r| *r == reason).unwrap_or(1) }
            }
            "RESERVED" => BedState::Reserved,
            "AWAITING_CLEANING" => BedState::Cleaning,
            _ => return None,
        })
    }

    fn pool(&self) -> usize {
        match self {
            BedState::Occupied { .. } => 0,
            BedState::Available => 1,
            BedState::Blocked { .. } => 2,
            BedState::Reserved => 3,
            BedState::Cleaning => 4,
        }
    }
}

/// A task slot of a ward team: empty, or holding one task on its way through the inbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Slot {
    /// No task: the next is created.
    Empty,
    /// An open task.
    Open(String),
    /// A task claimed by the ward's nurse.
    Claimed(String),
}

impl Slot {
    fn pool(&self) -> usize {
        match self {
            Slot::Empty => 0,
            Slot::Open(_) => 1,
            Slot::Claimed(_) => 2,
        }
    }
}

/// One provider's offers on one request: at most ten, ever (the market's rule).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OfferState {
    /// No live offer; `made` so far.
    Idle {
        /// Offers made so far.
        made: u32,
    },
    /// A live offer.
    Live {
        /// The offer.
        offer: String,
        /// Offers made so far (this one included).
        made: u32,
    },
    /// No more offers may be made (or the state is unknown after a failure).
    Spent,
}

/// The most offers one provider may make on one request.
pub const MAX_OFFERS: u32 = 10;

/// Task slots per ward team (the inbox never holds more of the run's tasks than this).
pub const SLOTS_PER_TEAM: usize = 6;

/// Indices of idle lanes, taken at random.
#[derive(Debug, Clone, Default)]
struct Pool(Vec<usize>);

impl Pool {
    fn take(&mut self, rng: &mut SmallRng) -> Option<usize> {
        if self.0.is_empty() {
            return None;
        }
        let i = rng.random_range(0..self.0.len());
        Some(self.0.swap_remove(i))
    }

    fn put(&mut self, lane: usize) {
        self.0.push(lane);
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A command chosen for a tick: what to do, to which lane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Job {
    /// Set the expected discharge date of the patient in `bed` to `day` days from today.
    Edd {
        /// The bed lane.
        bed: usize,
        /// The stay.
        stay: String,
        /// Days from today.
        day: u32,
    },
    /// Block `bed` for `BLOCK_REASONS[reason]`.
    Block {
        /// The bed lane.
        bed: usize,
        /// Index into [`BLOCK_REASONS`].
        reason: usize,
    },
    /// Unblock `bed` (infection control: it then awaits cleaning).
    Unblock {
        /// The bed lane.
        bed: usize,
        /// Blocked for infection control.
        infection: bool,
    },
    /// Mark `bed` cleaned.
    Clean {
        /// The bed lane.
        bed: usize,
    },
    /// Reserve `bed`.
    Reserve {
        /// The bed lane.
        bed: usize,
    },
    /// Release `bed`'s reservation.
    Release {
        /// The bed lane.
        bed: usize,
    },
    /// Create a task titled `title` in the inbox of `slot`'s team.
    Create {
        /// The slot lane.
        slot: usize,
        /// Its title (unique in the run).
        title: String,
    },
    /// Claim `task`.
    Claim {
        /// The slot lane.
        slot: usize,
        /// The task.
        task: String,
    },
    /// Complete `task`.
    Complete {
        /// The slot lane.
        slot: usize,
        /// The task.
        task: String,
    },
    /// Save `section` on top of `base`.
    Save {
        /// The section lane.
        section: usize,
        /// The version the save is based on.
        base: u64,
        /// The version it makes: the answers vary with it, so they differ from the last save's.
        n: u64,
    },
    /// Record a reading of `admission` taken at `taken_ms`.
    Reading {
        /// The admission lane.
        admission: usize,
        /// When it was taken, ms since the epoch.
        taken_ms: i64,
        /// A number varying the vital signs.
        n: u64,
    },
    /// Make an offer at `price` pence a week.
    Make {
        /// The offer lane.
        pair: usize,
        /// Pence a week (unique per lane).
        price: u64,
        /// Offers made before this one.
        made: u32,
    },
    /// Withdraw `offer`.
    Withdraw {
        /// The offer lane.
        pair: usize,
        /// The offer.
        offer: String,
        /// Offers made so far.
        made: u32,
    },
}

/// How a command ended, for its lane.
#[derive(Debug, Clone)]
pub enum Ended {
    /// Done; with the answer's data.
    Done(Value),
    /// A stale section save: the section is now at this version.
    Stale(Option<u64>),
    /// Refused or failed: the lane's state is not known for sure.
    Failed,
}

/// The state of everything the run acts on, and which lanes are idle.
#[derive(Debug)]
pub struct Lanes {
    beds: Vec<BedState>,
    bed_pools: [Pool; 5],
    slots: Vec<Slot>,
    slot_pools: [Pool; 3],
    sections: Vec<u64>,
    section_pool: Pool,
    readings: Vec<i64>,
    reading_pool: Pool,
    offers: Vec<OfferState>,
    offer_pools: [Pool; 2],
    counter: u64,
    prefix: String,
}

/// The bed operations, with their relative weights: (pool, weight).
const BED_OPS: [(usize, u32); 6] = [(0, 4), (1, 1), (1, 1), (2, 1), (3, 1), (4, 1)];

impl Lanes {
    /// Every lane idle, in the state setup left it.
    pub fn new(world: &World) -> Self {
        let mut lanes = Self {
            beds: world.bed_states.clone(),
            bed_pools: Default::default(),
            slots: vec![Slot::Empty; world.wards.len() * SLOTS_PER_TEAM],
            slot_pools: Default::default(),
            sections: vec![0; world.sections.len()],
            section_pool: Pool((0..world.sections.len()).collect()),
            readings: vec![0; world.admissions.len()],
            reading_pool: Pool((0..world.admissions.len()).collect()),
            offers: vec![OfferState::Idle { made: 0 }; world.offer_pairs.len()],
            offer_pools: [Pool((0..world.offer_pairs.len()).collect()), Pool::default()],
            counter: 0,
            prefix: world.prefix.clone(),
        };
        for (i, state) in lanes.beds.iter().enumerate() {
            lanes.bed_pools[state.pool()].put(i);
        }
        lanes.slot_pools[0] = Pool((0..lanes.slots.len()).collect());
        lanes
    }

    /// The ward of task slot `slot`.
    pub fn slot_ward(slot: usize) -> usize {
        slot / SLOTS_PER_TEAM
    }

    /// The state of bed `bed` now.
    pub fn bed(&self, bed: usize) -> Option<&BedState> {
        self.beds.get(bed)
    }

    /// Chooses a command of `category` for an idle lane, taking the lane; `None` when nothing
    /// of the kind is idle.
    pub fn plan(&mut self, category: Category, rng: &mut SmallRng) -> Option<Job> {
        self.counter += 1;
        let n = self.counter;
        match category {
            Category::Beds => {
                let op = weighted(
                    &BED_OPS.map(|(pool, w)| if self.bed_pools[pool].is_empty() { 0 } else { w }),
                    rng,
                )?;
                let bed = self.bed_pools[BED_OPS[op].0].take(rng)?;
                Some(match (op, &self.beds[bed]) {
                    (0, BedState::Occupied { stay, edd }) => {
                        Job::Edd { bed, stay: stay.clone(), day: edd % 60 + 1 }
                    }
                    (1, _) => Job::Block { bed, reason: usize::try_from(n % 3).unwrap_or(0) },
                    (2, _) => Job::Reserve { bed },
                    (3, BedState::Blocked { reason }) => Job::Unblock { bed, infection: *reason == 0 },
                    (4, _) => Job::Release { bed },
                    (5, _) => Job::Clean { bed },
                    (_, state) => {
                        // Not in the pool it was found in: put it back where it belongs.
                        let pool = state.pool();
                        self.bed_pools[pool].put(bed);
                        return None;
                    }
                })
            }
            Category::Tasks => {
                let op = weighted(&[0, 1, 2].map(|p| u32::from(!self.slot_pools[p].is_empty())), rng)?;
                let slot = self.slot_pools[op].take(rng)?;
                Some(match &self.slots[slot] {
                    Slot::Empty => Job::Create {
                        slot,
                        title: format!("Chase pharmacy for discharge medicines #{}-{n}", self.prefix),
                    },
                    Slot::Open(task) => Job::Claim { slot, task: task.clone() },
                    Slot::Claimed(task) => Job::Complete { slot, task: task.clone() },
                })
            }
            Category::Assessments => {
                let section = self.section_pool.take(rng)?;
                // Answers varied by the version they make, so that no save repeats the one
                // before it (the same answers again change nothing, and push nothing).
                let base = self.sections[section];
                Some(Job::Save { section, base, n: base + 1 })
            }
            Category::Readings => {
                let admission = self.reading_pool.take(rng)?;
                let now = chrono::Utc::now().timestamp_millis();
                let taken_ms = now.max(self.readings[admission] + 1);
                Some(Job::Reading { admission, taken_ms, n })
            }
            Category::Offers => {
                let op = weighted(&[0, 1].map(|p| u32::from(!self.offer_pools[p].is_empty())), rng)?;
                let pair = self.offer_pools[op].take(rng)?;
                match &self.offers[pair] {
                    OfferState::Idle { made } => Some(Job::Make {
                        pair,
                        price: 80_000 + u64::from(*made) * 250 + n % 100,
                        made: *made,
                    }),
                    OfferState::Live { offer, made } => {
                        Some(Job::Withdraw { pair, offer: offer.clone(), made: *made })
                    }
                    OfferState::Spent => None,
                }
            }
        }
    }

    /// `job` ended as `ended`: its lane's new state, back in its pool.
    pub fn finish(&mut self, job: &Job, ended: &Ended) {
        let done = matches!(ended, Ended::Done(_));
        match job {
            Job::Edd { bed, stay, day } => {
                let state =
                    BedState::Occupied { stay: stay.clone(), edd: if done { *day } else { *day % 60 + 1 } };
                self.set_bed(*bed, state);
            }
            Job::Block { bed, reason } => {
                let state = if done { BedState::Blocked { reason: *reason } } else { BedState::Available };
                self.set_bed(*bed, state);
            }
            Job::Unblock { bed, infection } => {
                let state = match (done, *infection) {
                    (true, true) => BedState::Cleaning,
                    (true, false) => BedState::Available,
                    (false, _) => BedState::Blocked { reason: if *infection { 0 } else { 1 } },
                };
                self.set_bed(*bed, state);
            }
            Job::Clean { bed } => {
                self.set_bed(*bed, if done { BedState::Available } else { BedState::Cleaning })
            }
            Job::Reserve { bed } => {
                self.set_bed(*bed, if done { BedState::Reserved } else { BedState::Available })
            }
            Job::Release { bed } => {
                self.set_bed(*bed, if done { BedState::Available } else { BedState::Reserved })
            }
            Job::Create { slot, .. } => {
                let task = match ended {
                    Ended::Done(data) => {
                        data.pointer("/createTask/taskId").and_then(Value::as_str).map(str::to_owned)
                    }
                    _ => None,
                };
                self.set_slot(*slot, task.map_or(Slot::Empty, Slot::Open));
            }
            // A failed claim or completion abandons the task (its state is not known).
            Job::Claim { slot, task } => {
                self.set_slot(*slot, if done { Slot::Claimed(task.clone()) } else { Slot::Empty })
            }
            Job::Complete { slot, .. } => self.set_slot(*slot, Slot::Empty),
            Job::Save { section, base, .. } => {
                match ended {
                    Ended::Done(_) => self.sections[*section] = base + 1,
                    Ended::Stale(Some(version)) => self.sections[*section] = *version,
                    Ended::Stale(None) | Ended::Failed => {}
                }
                self.section_pool.put(*section);
            }
            Job::Reading { admission, taken_ms, .. } => {
                self.readings[*admission] = *taken_ms;
                self.reading_pool.put(*admission);
            }
            Job::Make { pair, made, .. } => {
                let offer = match ended {
                    Ended::Done(data) => {
                        data.pointer("/makeOffer/offerId").and_then(Value::as_str).map(str::to_owned)
                    }
                    _ => None,
                };
                let state = match offer {
                    Some(offer) => OfferState::Live { offer, made: made + 1 },
                    // Whether it was made is not known: offer no more on this pair.
                    None => OfferState::Spent,
                };
                self.set_offer(*pair, state);
            }
            Job::Withdraw { pair, made, .. } => {
                let state = if done && *made < MAX_OFFERS {
                    OfferState::Idle { made: *made }
                } else {
                    OfferState::Spent
                };
                self.set_offer(*pair, state);
            }
        }
    }

    /// The expected discharge date of occupied bed `bed` was set to `day` days from today
    /// while the bed was idle (a readiness probe): it stays in its pool.
    pub fn probed(&mut self, bed: usize, day: u32) {
        if let Some(BedState::Occupied { edd, .. }) = self.beds.get_mut(bed) {
            *edd = day;
        }
    }

    /// Puts bed lane `bed` back in the pool of `state`.
    pub fn set_bed(&mut self, bed: usize, state: BedState) {
        self.bed_pools[state.pool()].put(bed);
        self.beds[bed] = state;
    }

    fn set_slot(&mut self, slot: usize, state: Slot) {
        self.slot_pools[state.pool()].put(slot);
        self.slots[slot] = state;
    }

    fn set_offer(&mut self, pair: usize, state: OfferState) {
        match &state {
            OfferState::Idle { .. } => self.offer_pools[0].put(pair),
            OfferState::Live { .. } => self.offer_pools[1].put(pair),
            OfferState::Spent => {}
        }
        self.offers[pair] = state;
    }
}

/// An index drawn with the given weights; `None` if they are all 0.
fn weighted(weights: &[u32], rng: &mut SmallRng) -> Option<usize> {
    let total: u32 = weights.iter().sum();
    if total == 0 {
        return None;
    }
    let mut draw = rng.random_range(0..total);
    for (i, w) in weights.iter().enumerate() {
        if draw < *w {
            return Some(i);
        }
        draw -= w;
    }
    None
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use serde_json::json;

    use super::*;

    fn world() -> World {
        World {
            prefix: "T1".into(),
            wards: vec![Ward {
                id: "W".into(),
                team: "W-TEAM".into(),
                nurse: "tok".into(),
                nurse_user: "n".into(),
            }],
            beds: vec![Bed { id: "B1".into(), ward: 0 }, Bed { id: "B2".into(), ward: 0 }],
            bed_states: vec![BedState::Occupied { stay: "s1".into(), edd: 0 }, BedState::Available],
            assessments: vec![],
            sections: vec![],
            virtual_wards: vec![],
            admissions: vec![],
            providers: vec![],
            requests: vec![],
            offer_pairs: vec![OfferPair { request: 0, provider: 0 }],
            tokens: Tokens { housekeeper: "hk".into(), device: "dev".into() },
        }
    }

    #[test]
    fn a_lane_is_out_of_its_pool_while_its_command_is_in_flight() {
        let mut rng = SmallRng::seed_from_u64(7);
        let mut lanes = Lanes::new(&world());
        let first = lanes.plan(Category::Beds, &mut rng).unwrap();
        let second = lanes.plan(Category::Beds, &mut rng).unwrap();
        assert_eq!(lanes.plan(Category::Beds, &mut rng), None, "both beds busy");
        let jobs = [&first, &second];
        assert!(jobs.iter().any(|j| matches!(j, Job::Edd { bed: 0, day: 1, .. })), "{jobs:?}");
        assert!(
            jobs.iter().any(|j| matches!(j, Job::Block { bed: 1, .. } | Job::Reserve { bed: 1 })),
            "{jobs:?}"
        );
        lanes.finish(&first, &Ended::Done(json!({})));
        lanes.finish(&second, &Ended::Done(json!({})));
        assert!(lanes.plan(Category::Beds, &mut rng).is_some());
    }

    #[test]
    fn beds_cycle_through_states_that_can_repeat_for_ever() {
        let mut rng = SmallRng::seed_from_u64(1);
        let mut lanes = Lanes::new(&world());
        let mut seen = std::collections::HashSet::new();
        for _ in 0..400 {
            let job = lanes.plan(Category::Beds, &mut rng).unwrap();
            seen.insert(std::mem::discriminant(&job));
            if let Job::Edd { day, .. } = &job {
                assert!((1..=60).contains(day));
            }
            lanes.finish(&job, &Ended::Done(json!({})));
        }
        assert_eq!(seen.len(), 6, "every bed command ran");
        assert!(matches!(lanes.bed(0), Some(BedState::Occupied { .. })), "the patient stays in bed 1");
    }

    #[test]
    fn tasks_go_create_claim_complete_and_offers_stop_at_ten() {
        let mut rng = SmallRng::seed_from_u64(3);
        let mut lanes = Lanes::new(&world());
        let create = lanes.plan(Category::Tasks, &mut rng).unwrap();
        assert!(matches!(&create, Job::Create { title, .. } if title.ends_with("#T1-1")));
        lanes.finish(&create, &Ended::Done(json!({"createTask": {"taskId": "t1"}})));
        let mut ops = Vec::new();
        for _ in 0..(SLOTS_PER_TEAM * 6) {
            let job = lanes.plan(Category::Tasks, &mut rng).unwrap();
            if let Job::Create { slot, .. } | Job::Claim { slot, .. } | Job::Complete { slot, .. } = &job {
                assert!(*slot < SLOTS_PER_TEAM);
            }
            ops.push(std::mem::discriminant(&job));
            let id = format!("t{}", ops.len() + 1);
            lanes.finish(&job, &Ended::Done(json!({"createTask": {"taskId": id}})));
        }
        assert_eq!(ops.iter().collect::<std::collections::HashSet<_>>().len(), 3);

        let mut makes = 0;
        while let Some(job) = lanes.plan(Category::Offers, &mut rng) {
            if matches!(job, Job::Make { .. }) {
                makes += 1;
            }
            lanes.finish(&job, &Ended::Done(json!({"makeOffer": {"offerId": format!("o{makes}")}})));
        }
        assert_eq!(makes, MAX_OFFERS, "ten offers, each withdrawn, then no more");
    }

    #[test]
    fn a_stale_save_takes_the_version_it_was_told() {
        let mut w = world();
        w.sections.push(Section {
            assessment: 0,
            template: SectionTemplate {
                id: "frailty".into(),
                required: true,
                editors: vec![],
                signers: vec![],
                questions: vec![],
            },
            editor: "tok".into(),
        });
        let mut rng = SmallRng::seed_from_u64(3);
        let mut lanes = Lanes::new(&w);
        let save = lanes.plan(Category::Assessments, &mut rng).unwrap();
        assert!(matches!(save, Job::Save { base: 0, .. }));
        lanes.finish(&save, &Ended::Stale(Some(4)));
        let save = lanes.plan(Category::Assessments, &mut rng).unwrap();
        assert!(matches!(save, Job::Save { base: 4, .. }));
        lanes.finish(&save, &Ended::Done(json!({})));
        assert!(matches!(lanes.plan(Category::Assessments, &mut rng), Some(Job::Save { base: 5, .. })));
    }

    #[test]
    fn a_bed_state_is_read_from_the_api() {
        let today = chrono::NaiveDate::from_ymd_opt(2030, 1, 1).unwrap();
        let occupied = json!({"status": "OCCUPIED", "stayId": "s", "expectedDischargeDate": "2030-01-04"});
        assert_eq!(
            BedState::from_bed(&occupied, today),
            Some(BedState::Occupied { stay: "s".into(), edd: 3 })
        );
        let blocked = json!({"status": "BLOCKED", "blockedReason": "STAFFING"});
        assert_eq!(BedState::from_bed(&blocked, today), Some(BedState::Blocked { reason: 2 }));
        assert_eq!(BedState::from_bed(&json!({"status": "GONE"}), today), None);
    }
}
