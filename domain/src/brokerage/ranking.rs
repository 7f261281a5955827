//! Ranking offers by a stated rule, as data: a council's commissioner weights quality (the CQC
//! rating), cost (against the budget and the other offers), start date (against the date the
//! care is needed by) and distance (the provider's district against the person's), 60% quality
//! and 40% cost unless they say otherwise. Every offer's score is the sum of its parts, each
//! part shown with its points and weight, so the ranking explains itself.
//!
//! Points are out of 100 for each criterion, kept in hundredths (integers: the same offers
//! always rank the same):
//!
//! | criterion | points |
//! | --- | --- |
//! | quality | Outstanding 100, Good 75, Requires improvement 35, Inadequate 0 |
//! | cost | 100 × the lower of the lowest offer and the budget ÷ the price (the cheapest offer within budget has 100; an offer over budget has less than 100 even if it is the cheapest) |
//! | start | 100 on or before the date needed, then 100/14 fewer each day later; 0 from two weeks late |
//! | distance | 100 in the person's district, 50 in the same postcode area (`LS6` and `LS12`), 0 elsewhere |
//!
//! Ties on score go to the earlier start, then the lower price, then the better rating, then
//! the earlier offer, then the provider's ODS code: a total order.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::{CqcRating, OfferId, Pence};
use crate::OdsCode;
use crate::tasks::District;

/// Hundredths of a point: 100 points is 10,000.
const FULL: u64 = 10_000;

/// Days late after which an offer's start earns nothing.
const LATE_DAYS: i64 = 14;

/// A council's ranking rule: each criterion's weight in percent, summing to 100.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RankingRule {
    /// The weight of quality (the CQC rating).
    pub quality: u8,
    /// The weight of cost.
    pub cost: u8,
    /// The weight of the start date.
    pub start: u8,
    /// The weight of distance.
    pub distance: u8,
}

impl Default for RankingRule {
    /// 60% quality, 40% cost, as councils' purchasing systems commonly weight them.
    fn default() -> Self {
        Self { quality: 60, cost: 40, start: 0, distance: 0 }
    }
}

impl RankingRule {
    /// A rule, checked: the weights sum to 100.
    pub fn new(quality: u8, cost: u8, start: u8, distance: u8) -> Result<Self, String> {
        let sum = u32::from(quality) + u32::from(cost) + u32::from(start) + u32::from(distance);
        if sum != 100 {
            return Err(format!("the weights must sum to 100 (they sum to {sum})"));
        }
        Ok(Self { quality, cost, start, distance })
    }

    fn weight(&self, criterion: Criterion) -> u8 {
        match criterion {
            Criterion::Quality => self.quality,
            Criterion::Cost => self.cost,
            Criterion::Start => self.start,
            Criterion::Distance => self.distance,
        }
    }
}

/// What an offer is scored on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Criterion {
    /// The provider's CQC rating.
    Quality,
    /// The weekly price, against the budget and the other offers.
    Cost,
    /// The earliest start, against the date needed.
    Start,
    /// The provider's district, against the person's.
    Distance,
}

impl Criterion {
    /// Every criterion, in the order they are shown.
    pub const ALL: [Criterion; 4] = [Self::Quality, Self::Cost, Self::Start, Self::Distance];
}

/// What the ranking needs to know of the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wanted<'a> {
    /// The weekly budget.
    pub budget: Pence,
    /// The date the care is needed by.
    pub start_by: NaiveDate,
    /// The person's district.
    pub district: &'a District,
}

/// What the ranking needs to know of an offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate<'a> {
    /// The offer.
    pub offer_id: OfferId,
    /// Its provider.
    pub provider: &'a OdsCode,
    /// The provider's CQC rating.
    pub rating: CqcRating,
    /// The provider's district.
    pub home_district: &'a District,
    /// The weekly price.
    pub weekly_price: Pence,
    /// The earliest start.
    pub earliest_start: NaiveDate,
    /// When it was made.
    pub made_at: DateTime<Utc>,
}

/// One part of an offer's score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScorePart {
    /// The criterion.
    pub criterion: Criterion,
    /// Its weight in the rule, in percent.
    pub weight: u8,
    /// The offer's points on it, in hundredths of a point out of 100.
    pub points: u32,
    /// What it adds to the score (points × weight ÷ 100), in hundredths of a point.
    pub contribution: u32,
}

/// An offer, ranked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RankedOffer {
    /// The offer.
    pub offer_id: OfferId,
    /// Its place: 1 is the best.
    pub rank: u32,
    /// Its score out of 100, in hundredths of a point.
    pub score: u32,
    /// How each criterion contributed, in [`Criterion::ALL`] order.
    pub parts: Vec<ScorePart>,
}

fn quality_points(rating: CqcRating) -> u64 {
    match rating {
        CqcRating::Outstanding => FULL,
        CqcRating::Good => 7_500,
        CqcRating::RequiresImprovement => 3_500,
        CqcRating::Inadequate => 0,
    }
}

fn cost_points(price: Pence, benchmark: Pence) -> u64 {
    if price.0 == 0 {
        return FULL;
    }
    (FULL * benchmark.0.min(price.0) / price.0).min(FULL)
}

fn start_points(start: NaiveDate, start_by: NaiveDate) -> u64 {
    let late = (start - start_by).num_days();
    if late <= 0 {
        return FULL;
    }
    if late >= LATE_DAYS {
        return 0;
    }
    let late = u64::try_from(late).unwrap_or(u64::MAX);
    FULL - FULL * late / LATE_DAYS.unsigned_abs()
}

/// The postcode area: the letters a district starts with (`LS` of `LS12`).
fn area(district: &District) -> &str {
    let s = district.as_str();
    let end = s.find(|c: char| c.is_ascii_digit()).unwrap_or(s.len());
    &s[..end]
}

fn distance_points(from: &District, to: &District) -> u64 {
    if from == to {
        FULL
    } else if area(from) == area(to) {
        FULL / 2
    } else {
        0
    }
}

fn narrow(value: u64) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

/// Scores one offer against the request and the lowest price offered.
fn score(
    rule: &RankingRule,
    wanted: &Wanted<'_>,
    lowest: Pence,
    offer: &Candidate<'_>,
) -> (u32, Vec<ScorePart>) {
    let benchmark = Pence(lowest.0.min(wanted.budget.0));
    let parts: Vec<ScorePart> = Criterion::ALL
        .into_iter()
        .map(|criterion| {
            let points = match criterion {
                Criterion::Quality => quality_points(offer.rating),
                Criterion::Cost => cost_points(offer.weekly_price, benchmark),
                Criterion::Start => start_points(offer.earliest_start, wanted.start_by),
                Criterion::Distance => distance_points(offer.home_district, wanted.district),
            };
            let weight = rule.weight(criterion);
            ScorePart {
                criterion,
                weight,
                points: narrow(points),
                contribution: narrow(points * u64::from(weight) / 100),
            }
        })
        .collect();
    (parts.iter().map(|p| p.contribution).sum(), parts)
}

/// Ranks the offers by `rule`: the best first, every offer with its score and its parts.
pub fn rank(rule: &RankingRule, wanted: &Wanted<'_>, offers: &[Candidate<'_>]) -> Vec<RankedOffer> {
    let Some(lowest) = offers.iter().map(|o| o.weekly_price).min() else { return Vec::new() };
    let mut scored: Vec<(u32, Vec<ScorePart>, &Candidate<'_>)> = offers
        .iter()
        .map(|offer| {
            let (score, parts) = score(rule, wanted, lowest, offer);
            (score, parts, offer)
        })
        .collect();
    scored.sort_by(|(a_score, _, a), (b_score, _, b)| {
        b_score
            .cmp(a_score)
            .then(a.earliest_start.cmp(&b.earliest_start))
            .then(a.weekly_price.cmp(&b.weekly_price))
            .then(a.rating.cmp(&b.rating))
            .then(a.made_at.cmp(&b.made_at))
            .then(a.provider.cmp(b.provider))
            .then(a.offer_id.cmp(&b.offer_id))
    });
    scored
        .into_iter()
        .enumerate()
        .map(|(i, (score, parts, offer))| RankedOffer {
            offer_id: offer.offer_id,
            rank: u32::try_from(i + 1).unwrap_or(u32::MAX),
            score,
            parts,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};
    use proptest::prelude::*;
    use uuid::Uuid;

    use super::*;

    fn district(s: &str) -> District {
        District::parse(s).expect("district")
    }

    fn ods(k: usize) -> OdsCode {
        OdsCode::parse(&format!("VN{k:03}")).expect("ods")
    }

    fn day(n: i64) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 12, 10).expect("date") + Duration::days(n)
    }

    fn made(n: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 3, 9, 0, 0).single().expect("time") + Duration::minutes(n)
    }

    #[derive(Debug, Clone)]
    struct Spec {
        rating: CqcRating,
        price: u64,
        start: i64,
        district: usize,
        made: i64,
    }

    const DISTRICTS: [&str; 4] = ["LS6", "LS12", "BD7", "LS6"];

    fn candidates<'a>(
        specs: &[Spec],
        providers: &'a [OdsCode],
        districts: &'a [District],
    ) -> Vec<Candidate<'a>> {
        specs
            .iter()
            .enumerate()
            .map(|(i, s)| Candidate {
                offer_id: OfferId(Uuid::from_u128(i as u128 + 1)),
                provider: &providers[i],
                rating: s.rating,
                home_district: &districts[s.district],
                weekly_price: Pence(s.price),
                earliest_start: day(s.start),
                made_at: made(s.made),
            })
            .collect()
    }

    fn rank_of(ranked: &[RankedOffer], offer: OfferId) -> u32 {
        ranked.iter().find(|r| r.offer_id == offer).map(|r| r.rank).expect("ranked")
    }

    fn spec() -> impl Strategy<Value = Spec> {
        (0usize..4, 50_000u64..200_000, -3i64..20, 0usize..4, 0i64..600).prop_map(
            |(rating, price, start, district, made)| Spec {
                rating: CqcRating::ALL[rating],
                price,
                start,
                district,
                made,
            },
        )
    }

    fn rule() -> impl Strategy<Value = RankingRule> {
        (0u8..=100, 0u8..=100, 0u8..=100).prop_filter_map("weights over 100", |(q, c, s)| {
            let rest = 100u16.checked_sub(u16::from(q) + u16::from(c) + u16::from(s))?;
            RankingRule::new(q, c, s, u8::try_from(rest).ok()?).ok()
        })
    }

    fn setting() -> impl Strategy<Value = (RankingRule, Vec<Spec>, u64)> {
        (rule(), prop::collection::vec(spec(), 1..8), 60_000u64..180_000)
    }

    proptest! {
        /// Every offer is ranked once, 1 to n, best first, and the order does not depend on the
        /// order the offers came in: a total order.
        #[test]
        fn the_ranking_is_a_total_order((rule, specs, budget) in setting(), seed in any::<u64>()) {
            let providers: Vec<OdsCode> = (0..specs.len()).map(ods).collect();
            let districts: Vec<District> = DISTRICTS.iter().map(|d| district(d)).collect();
            let wanted = Wanted { budget: Pence(budget), start_by: day(0), district: &districts[0] };
            let offers = candidates(&specs, &providers, &districts);
            let ranked = rank(&rule, &wanted, &offers);
            prop_assert_eq!(ranked.len(), offers.len());
            let ranks: Vec<u32> = ranked.iter().map(|r| r.rank).collect();
            prop_assert_eq!(ranks, (1..=u32::try_from(offers.len()).expect("few")).collect::<Vec<_>>());
            prop_assert!(ranked.windows(2).all(|w| w[0].score >= w[1].score));
            for r in &ranked {
                prop_assert_eq!(r.score, r.parts.iter().map(|p| p.contribution).sum::<u32>());
                prop_assert!(r.score <= 10_000);
            }
            let mut shuffled = offers.clone();
            let len = shuffled.len();
            shuffled.rotate_left(usize::try_from(seed % len as u64).expect("small"));
            shuffled.reverse();
            let again = rank(&rule, &wanted, &shuffled);
            prop_assert_eq!(again, ranked);
        }

        /// A better rating never ranks an offer lower, all else equal.
        #[test]
        fn a_better_rating_never_ranks_lower((rule, specs, budget) in setting(), which in any::<prop::sample::Index>()) {
            let providers: Vec<OdsCode> = (0..specs.len()).map(ods).collect();
            let districts: Vec<District> = DISTRICTS.iter().map(|d| district(d)).collect();
            let wanted = Wanted { budget: Pence(budget), start_by: day(0), district: &districts[0] };
            let i = which.index(specs.len());
            let before = rank(&rule, &wanted, &candidates(&specs, &providers, &districts));
            for better in CqcRating::ALL.into_iter().filter(|r| *r < specs[i].rating) {
                let mut improved = specs.clone();
                improved[i].rating = better;
                let after = rank(&rule, &wanted, &candidates(&improved, &providers, &districts));
                let offer = OfferId(Uuid::from_u128(i as u128 + 1));
                prop_assert!(rank_of(&after, offer) <= rank_of(&before, offer));
            }
        }

        /// A lower price never ranks an offer lower, all else equal.
        #[test]
        fn a_lower_price_never_ranks_lower((rule, specs, budget) in setting(), which in any::<prop::sample::Index>(), cut in 1u64..40_000) {
            let providers: Vec<OdsCode> = (0..specs.len()).map(ods).collect();
            let districts: Vec<District> = DISTRICTS.iter().map(|d| district(d)).collect();
            let wanted = Wanted { budget: Pence(budget), start_by: day(0), district: &districts[0] };
            let i = which.index(specs.len());
            let before = rank(&rule, &wanted, &candidates(&specs, &providers, &districts));
            let mut cheaper = specs.clone();
            cheaper[i].price = specs[i].price.saturating_sub(cut).max(1);
            let after = rank(&rule, &wanted, &candidates(&cheaper, &providers, &districts));
            let offer = OfferId(Uuid::from_u128(i as u128 + 1));
            prop_assert!(rank_of(&after, offer) <= rank_of(&before, offer));
        }
    }

    /// The default rule, worked through: a Good home at the budget against an Outstanding one
    /// 10% over it.
    #[test]
    fn the_default_rule_explains_each_score() {
        let (a, b) = (ods(1), ods(2));
        let here = district("LS6");
        let wanted = Wanted { budget: Pence(100_000), start_by: day(0), district: &here };
        let offers = [
            Candidate {
                offer_id: OfferId(Uuid::from_u128(1)),
                provider: &a,
                rating: CqcRating::Good,
                home_district: &here,
                weekly_price: Pence(100_000),
                earliest_start: day(0),
                made_at: made(0),
            },
            Candidate {
                offer_id: OfferId(Uuid::from_u128(2)),
                provider: &b,
                rating: CqcRating::Outstanding,
                home_district: &here,
                weekly_price: Pence(110_000),
                earliest_start: day(0),
                made_at: made(1),
            },
        ];
        let ranked = rank(&RankingRule::default(), &wanted, &offers);
        // Good at budget: 60% × 75 + 40% × 100 = 85.00; Outstanding at 110%: 60 + 40 × 100/110.
        assert_eq!(ranked[0].offer_id, OfferId(Uuid::from_u128(2)));
        assert_eq!(ranked[0].score, 6_000 + 3_636);
        assert_eq!(ranked[1].score, 4_500 + 4_000);
        let cost = ranked[0].parts.iter().find(|p| p.criterion == Criterion::Cost).expect("cost");
        assert_eq!((cost.weight, cost.points, cost.contribution), (40, 9_090, 3_636));
        // All on cost: the cheaper wins.
        let cost_only = RankingRule::new(0, 100, 0, 0).expect("rule");
        assert_eq!(rank(&cost_only, &wanted, &offers)[0].offer_id, OfferId(Uuid::from_u128(1)));
    }

    #[test]
    fn starts_and_districts_earn_points_as_stated() {
        assert_eq!(start_points(day(-2), day(0)), 10_000);
        assert_eq!(start_points(day(7), day(0)), 5_000);
        assert_eq!(start_points(day(14), day(0)), 0);
        assert_eq!(distance_points(&district("LS6"), &district("LS6")), 10_000);
        assert_eq!(distance_points(&district("LS12"), &district("LS6")), 5_000);
        assert_eq!(distance_points(&district("BD7"), &district("LS6")), 0);
        assert_eq!(
            RankingRule::new(60, 30, 5, 4),
            Err("the weights must sum to 100 (they sum to 99)".into())
        );
    }
}
