//! NEWS2, the National Early Warning Score (Royal College of Physicians, 2017), exactly as its
//! chart (DESIGN.md §4): each parameter scored 0–3, the scores summed, the clinical risk read
//! from the total and from any single parameter scoring 3.
//!
//! | parameter | 3 | 2 | 1 | 0 | 1 | 2 | 3 |
//! | --- | --- | --- | --- | --- | --- | --- | --- |
//! | respiration rate /min | ≤8 | | 9–11 | 12–20 | | 21–24 | ≥25 |
//! | SpO2 scale 1 % | ≤91 | 92–93 | 94–95 | ≥96 | | | |
//! | SpO2 scale 2 % | ≤83 | 84–85 | 86–87 | 88–92, ≥93 on air | 93–94 on O2 | 95–96 on O2 | ≥97 on O2 |
//! | air or oxygen | | oxygen | | air | | | |
//! | systolic BP mmHg | ≤90 | 91–100 | 101–110 | 111–219 | | | ≥220 |
//! | pulse /min | ≤40 | | 41–50 | 51–90 | 91–110 | 111–130 | ≥131 |
//! | consciousness | | | | alert | | | new confusion, V, P, U |
//! | temperature °C | ≤35.0 | | 35.1–36.0 | 36.1–38.0 | 38.1–39.0 | ≥39.1 | |
//!
//! Clinical risk: total 0–4 low; a 3 in any single parameter low–medium (an urgent ward-based
//! response), unless the total says more; 5–6 medium (an urgent response); 7 or more high (an
//! emergency response).
//!
//! A partial set (a home device sending SpO2 and pulse only) is scored with what it has and
//! marked incomplete: its total is a floor, not the score. SpO2 on scale 2 at 93% or more needs
//! to know whether the patient is on oxygen; without that it is not scored.
//!
//! Values a living person cannot have (a temperature of 60 °C, an SpO2 of 120%) are refused by
//! the parsers here, naming the parameter, before anything is scored.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A parameter of the NEWS2 chart, for messages and sub-scores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Parameter {
    /// Breaths per minute.
    RespirationRate,
    /// Oxygen saturation, %.
    OxygenSaturation,
    /// Breathing air or supplemental oxygen.
    AirOrOxygen,
    /// Systolic blood pressure, mmHg.
    SystolicBloodPressure,
    /// Heart rate, beats per minute.
    Pulse,
    /// ACVPU.
    Consciousness,
    /// Body temperature, °C.
    Temperature,
}

impl Parameter {
    /// Every parameter, in the chart's order.
    pub const ALL: [Parameter; 7] = [
        Parameter::RespirationRate,
        Parameter::OxygenSaturation,
        Parameter::AirOrOxygen,
        Parameter::SystolicBloodPressure,
        Parameter::Pulse,
        Parameter::Consciousness,
        Parameter::Temperature,
    ];

    /// What it is called.
    pub fn describe(self) -> &'static str {
        match self {
            Parameter::RespirationRate => "respiration rate",
            Parameter::OxygenSaturation => "SpO2",
            Parameter::AirOrOxygen => "air or oxygen",
            Parameter::SystolicBloodPressure => "systolic blood pressure",
            Parameter::Pulse => "pulse",
            Parameter::Consciousness => "consciousness",
            Parameter::Temperature => "temperature",
        }
    }
}

/// Which SpO2 scale scores a patient: scale 2 only for a patient with hypercapnic respiratory
/// failure whose clinician prescribed a target of 88–92%.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Spo2Scale {
    /// Scale 1, for everyone else.
    #[default]
    Scale1,
    /// Scale 2: target 88–92%.
    Scale2,
}

/// Level of consciousness, ACVPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Acvpu {
    /// Alert.
    Alert,
    /// New confusion (or new disorientation, agitation).
    NewConfusion,
    /// Responds to voice.
    Voice,
    /// Responds to pain.
    Pain,
    /// Unresponsive.
    Unresponsive,
}

/// A body temperature, held in tenths of a degree Celsius so that the chart's bands (35.0 and
/// 35.1 are different bands) compare exactly; written as degrees with one decimal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Temperature(i16);

/// Why a value is refused: it names the parameter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{parameter} {value} is not possible: {expected}")]
pub struct ImpossibleValue {
    /// Which parameter.
    pub parameter: &'static str,
    /// The value as given.
    pub value: String,
    /// What would be possible.
    pub expected: &'static str,
}

impl Temperature {
    /// The lowest temperature accepted, in tenths (25.0 °C: below it a person is not alive to
    /// take a reading at home).
    const MIN_TENTHS: i16 = 250;
    /// The highest, in tenths (45.0 °C).
    const MAX_TENTHS: i16 = 450;

    /// A temperature in degrees Celsius, rounded to the nearest tenth (as a chart records it).
    pub fn celsius(degrees: f64) -> Result<Self, ImpossibleValue> {
        let refuse = || ImpossibleValue {
            parameter: "temperature",
            value: format!("{degrees}"),
            expected: "must be 25.0–45.0 °C",
        };
        if !degrees.is_finite() {
            return Err(refuse());
        }
        let tenths = (degrees * 10.0).round();
        if tenths < f64::from(Self::MIN_TENTHS) || tenths > f64::from(Self::MAX_TENTHS) {
            return Err(refuse());
        }
        // In range, so the cast is exact.
        #[allow(clippy::cast_possible_truncation)]
        Ok(Self(tenths as i16))
    }

    /// In tenths of a degree.
    pub fn tenths(self) -> i16 {
        self.0
    }

    /// In degrees.
    pub fn degrees(self) -> f64 {
        f64::from(self.0) / 10.0
    }
}

impl fmt::Display for Temperature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.1}", self.degrees())
    }
}

impl Serialize for Temperature {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_f64(self.degrees())
    }
}

impl<'de> Deserialize<'de> for Temperature {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let degrees = f64::deserialize(deserializer)?;
        Self::celsius(degrees).map_err(serde::de::Error::custom)
    }
}

/// Checks an integer reading against what a person can have.
fn within(
    parameter: &'static str,
    value: i64,
    range: (i64, i64),
    expected: &'static str,
) -> Result<u16, ImpossibleValue> {
    if value < range.0 || value > range.1 {
        return Err(ImpossibleValue { parameter, value: value.to_string(), expected });
    }
    u16::try_from(value).map_err(|_| ImpossibleValue { parameter, value: value.to_string(), expected })
}

/// A respiration rate: 1–80 breaths per minute.
pub fn respiration_rate(value: i64) -> Result<u16, ImpossibleValue> {
    within("respiration rate", value, (1, 80), "must be 1–80 breaths per minute")
}

/// An oxygen saturation: 50–100% (below 50% a pulse oximeter does not read reliably).
pub fn oxygen_saturation(value: i64) -> Result<u8, ImpossibleValue> {
    let v = within("SpO2", value, (50, 100), "must be 50–100%")?;
    u8::try_from(v).map_err(|_| ImpossibleValue {
        parameter: "SpO2",
        value: value.to_string(),
        expected: "must be 50–100%",
    })
}

/// A systolic blood pressure: 40–300 mmHg.
pub fn systolic_blood_pressure(value: i64) -> Result<u16, ImpossibleValue> {
    within("systolic blood pressure", value, (40, 300), "must be 40–300 mmHg")
}

/// A pulse: 20–300 beats per minute.
pub fn pulse(value: i64) -> Result<u16, ImpossibleValue> {
    within("pulse", value, (20, 300), "must be 20–300 beats per minute")
}

/// One observation set: any subset of the chart's parameters, each already checked possible.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Observations {
    /// Breaths per minute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub respiration_rate: Option<u16>,
    /// Oxygen saturation, %.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spo2: Option<u8>,
    /// On supplemental oxygen (`false`: breathing air).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_oxygen: Option<bool>,
    /// Systolic blood pressure, mmHg.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub systolic_bp: Option<u16>,
    /// Beats per minute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pulse: Option<u16>,
    /// ACVPU.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consciousness: Option<Acvpu>,
    /// Body temperature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<Temperature>,
}

impl Observations {
    /// Whether nothing was observed.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// The clinical risk a score calls for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Risk {
    /// 0–4: low (ward-based response).
    Low,
    /// A 3 in any single parameter, total under 5: urgent ward-based response.
    LowMedium,
    /// 5–6: urgent response.
    Medium,
    /// 7 or more: emergency response.
    High,
}

impl Risk {
    /// The risk of a total, given whether any single parameter scored 3.
    pub fn of(total: u8, any_three: bool) -> Self {
        match total {
            7.. => Risk::High,
            5..=6 => Risk::Medium,
            _ if any_three => Risk::LowMedium,
            _ => Risk::Low,
        }
    }

    /// The colour the chart gives it.
    pub fn colour(self) -> &'static str {
        match self {
            Risk::Low => "green",
            Risk::LowMedium => "yellow",
            Risk::Medium => "amber",
            Risk::High => "red",
        }
    }
}

/// A scored observation set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct News2 {
    /// Each parameter's sub-score, for those scored (chart order).
    pub scores: Vec<(Parameter, u8)>,
    /// Their sum.
    pub total: u8,
    /// The clinical risk.
    pub risk: Risk,
    /// Whether every parameter was scored (else the total is a floor).
    pub complete: bool,
}

impl News2 {
    /// The sub-score of `parameter`, if it was scored.
    pub fn score_of(&self, parameter: Parameter) -> Option<u8> {
        self.scores.iter().find(|(p, _)| *p == parameter).map(|(_, s)| *s)
    }

    /// The parameters not scored.
    pub fn missing(&self) -> Vec<Parameter> {
        Parameter::ALL.into_iter().filter(|p| self.score_of(*p).is_none()).collect()
    }
}

/// Respiration rate's sub-score.
pub fn score_respiration(rate: u16) -> u8 {
    match rate {
        ..=8 => 3,
        9..=11 => 1,
        12..=20 => 0,
        21..=24 => 2,
        25.. => 3,
    }
}

/// SpO2's sub-score on `scale` (`on_oxygen` matters on scale 2 at 93% or more: `None` there
/// means it cannot be scored).
pub fn score_spo2(spo2: u8, scale: Spo2Scale, on_oxygen: Option<bool>) -> Option<u8> {
    match scale {
        Spo2Scale::Scale1 => Some(match spo2 {
            ..=91 => 3,
            92..=93 => 2,
            94..=95 => 1,
            96.. => 0,
        }),
        Spo2Scale::Scale2 => match spo2 {
            ..=83 => Some(3),
            84..=85 => Some(2),
            86..=87 => Some(1),
            88..=92 => Some(0),
            93.. => match on_oxygen? {
                false => Some(0),
                true => Some(match spo2 {
                    ..=94 => 1,
                    95..=96 => 2,
                    97.. => 3,
                }),
            },
        },
    }
}

/// Air or oxygen's sub-score.
pub fn score_air_or_oxygen(on_oxygen: bool) -> u8 {
    if on_oxygen { 2 } else { 0 }
}

/// Systolic blood pressure's sub-score.
pub fn score_systolic(bp: u16) -> u8 {
    match bp {
        ..=90 => 3,
        91..=100 => 2,
        101..=110 => 1,
        111..=219 => 0,
        220.. => 3,
    }
}

/// Pulse's sub-score.
pub fn score_pulse(pulse: u16) -> u8 {
    match pulse {
        ..=40 => 3,
        41..=50 => 1,
        51..=90 => 0,
        91..=110 => 1,
        111..=130 => 2,
        131.. => 3,
    }
}

/// Consciousness's sub-score.
pub fn score_consciousness(level: Acvpu) -> u8 {
    match level {
        Acvpu::Alert => 0,
        Acvpu::NewConfusion | Acvpu::Voice | Acvpu::Pain | Acvpu::Unresponsive => 3,
    }
}

/// Temperature's sub-score.
pub fn score_temperature(temperature: Temperature) -> u8 {
    match temperature.tenths() {
        ..=350 => 3,
        351..=360 => 1,
        361..=380 => 0,
        381..=390 => 1,
        391.. => 2,
    }
}

/// Scores `observations` on `scale`. See the module docs.
pub fn score(observations: &Observations, scale: Spo2Scale) -> News2 {
    let o = observations;
    let scored = [
        (Parameter::RespirationRate, o.respiration_rate.map(score_respiration)),
        (Parameter::OxygenSaturation, o.spo2.and_then(|s| score_spo2(s, scale, o.on_oxygen))),
        (Parameter::AirOrOxygen, o.on_oxygen.map(score_air_or_oxygen)),
        (Parameter::SystolicBloodPressure, o.systolic_bp.map(score_systolic)),
        (Parameter::Pulse, o.pulse.map(score_pulse)),
        (Parameter::Consciousness, o.consciousness.map(score_consciousness)),
        (Parameter::Temperature, o.temperature.map(score_temperature)),
    ];
    let scores: Vec<(Parameter, u8)> = scored.iter().filter_map(|(p, s)| s.map(|s| (*p, s))).collect();
    let total = scores.iter().map(|(_, s)| s).sum();
    let any_three = scores.iter().any(|(_, s)| *s == 3);
    let complete = scores.len() == Parameter::ALL.len();
    News2 { risk: Risk::of(total, any_three), total, complete, scores }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn full(rr: u16, spo2: u8, o2: bool, bp: u16, pulse: u16, c: Acvpu, t: f64) -> Observations {
        Observations {
            respiration_rate: Some(rr),
            spo2: Some(spo2),
            on_oxygen: Some(o2),
            systolic_bp: Some(bp),
            pulse: Some(pulse),
            consciousness: Some(c),
            temperature: Some(Temperature::celsius(t).expect("possible")),
        }
    }

    #[test]
    fn a_well_patient_scores_zero_and_low() {
        let news = score(&full(16, 97, false, 125, 72, Acvpu::Alert, 36.8), Spo2Scale::Scale1);
        assert_eq!((news.total, news.risk, news.complete), (0, Risk::Low, true));
        assert_eq!(news.scores.len(), 7);
    }

    #[test]
    fn the_rcp_worked_examples_score_as_the_chart() {
        // RR 22 (2), SpO2 93 (2), oxygen (2), BP 105 (1), pulse 115 (2), alert, 38.5 (1) = 10.
        let news = score(&full(22, 93, true, 105, 115, Acvpu::Alert, 38.5), Spo2Scale::Scale1);
        assert_eq!((news.total, news.risk), (10, Risk::High));
        // A single 3 (new confusion) with nothing else: low-medium.
        let news = score(&full(16, 97, false, 125, 72, Acvpu::NewConfusion, 36.8), Spo2Scale::Scale1);
        assert_eq!((news.total, news.risk), (3, Risk::LowMedium));
        // A single 3 in a total of 5: the total says more (medium).
        let news = score(&full(16, 97, true, 125, 72, Acvpu::Voice, 36.8), Spo2Scale::Scale1);
        assert_eq!((news.total, news.risk), (5, Risk::Medium));
        // 4 without a 3: low.
        let news = score(&full(21, 95, false, 125, 95, Acvpu::Alert, 36.8), Spo2Scale::Scale1);
        assert_eq!((news.total, news.risk), (4, Risk::Low));
        // 6: medium; 7: high.
        let news = score(&full(21, 95, true, 125, 95, Acvpu::Alert, 38.1), Spo2Scale::Scale1);
        assert_eq!((news.total, news.risk), (7, Risk::High));
        let news = score(&full(21, 95, true, 125, 95, Acvpu::Alert, 37.0), Spo2Scale::Scale1);
        assert_eq!((news.total, news.risk), (6, Risk::Medium));
    }

    #[test]
    fn every_band_edge_of_the_chart() {
        let rr = [(8, 3), (9, 1), (11, 1), (12, 0), (20, 0), (21, 2), (24, 2), (25, 3)];
        for (v, s) in rr {
            assert_eq!(score_respiration(v), s, "respiration {v}");
        }
        let s1 = [(91, 3), (92, 2), (93, 2), (94, 1), (95, 1), (96, 0), (100, 0)];
        for (v, s) in s1 {
            assert_eq!(score_spo2(v, Spo2Scale::Scale1, None), Some(s), "scale 1 SpO2 {v}");
        }
        let s2 = [(83, 3), (84, 2), (85, 2), (86, 1), (87, 1), (88, 0), (92, 0)];
        for (v, s) in s2 {
            for o2 in [None, Some(false), Some(true)] {
                assert_eq!(score_spo2(v, Spo2Scale::Scale2, o2), Some(s), "scale 2 SpO2 {v} {o2:?}");
            }
        }
        let s2_oxygen = [(93, 1), (94, 1), (95, 2), (96, 2), (97, 3), (100, 3)];
        for (v, s) in s2_oxygen {
            assert_eq!(score_spo2(v, Spo2Scale::Scale2, Some(true)), Some(s), "scale 2 SpO2 {v} on O2");
            assert_eq!(score_spo2(v, Spo2Scale::Scale2, Some(false)), Some(0), "scale 2 SpO2 {v} on air");
            assert_eq!(score_spo2(v, Spo2Scale::Scale2, None), None, "scale 2 SpO2 {v}, air unknown");
        }
        let bp = [(90, 3), (91, 2), (100, 2), (101, 1), (110, 1), (111, 0), (219, 0), (220, 3)];
        for (v, s) in bp {
            assert_eq!(score_systolic(v), s, "systolic {v}");
        }
        let hr =
            [(40, 3), (41, 1), (50, 1), (51, 0), (90, 0), (91, 1), (110, 1), (111, 2), (130, 2), (131, 3)];
        for (v, s) in hr {
            assert_eq!(score_pulse(v), s, "pulse {v}");
        }
        let t = [(35.0, 3), (35.1, 1), (36.0, 1), (36.1, 0), (38.0, 0), (38.1, 1), (39.0, 1), (39.1, 2)];
        for (v, s) in t {
            assert_eq!(score_temperature(Temperature::celsius(v).expect("possible")), s, "temperature {v}");
        }
        assert_eq!(score_air_or_oxygen(true), 2);
        assert_eq!(score_air_or_oxygen(false), 0);
        assert_eq!(score_consciousness(Acvpu::Alert), 0);
        for c in [Acvpu::NewConfusion, Acvpu::Voice, Acvpu::Pain, Acvpu::Unresponsive] {
            assert_eq!(score_consciousness(c), 3);
        }
    }

    #[test]
    fn a_partial_set_is_scored_with_what_it_has_and_marked_incomplete() {
        let o = Observations { spo2: Some(92), pulse: Some(112), ..Default::default() };
        let news = score(&o, Spo2Scale::Scale1);
        assert_eq!((news.total, news.risk, news.complete), (4, Risk::Low, false));
        assert_eq!(news.missing().len(), 5);
        assert_eq!(news.score_of(Parameter::Pulse), Some(2));
        // Scale 2 at 95% with air or oxygen unknown: SpO2 is not scored.
        let o = Observations { spo2: Some(95), ..Default::default() };
        let news = score(&o, Spo2Scale::Scale2);
        assert_eq!(news.score_of(Parameter::OxygenSaturation), None);
        assert!(!news.complete);
        assert!(score(&Observations::default(), Spo2Scale::Scale1).scores.is_empty());
    }

    #[test]
    fn impossible_values_are_refused_naming_the_parameter() {
        assert!(respiration_rate(0).unwrap_err().to_string().starts_with("respiration rate 0"));
        assert!(respiration_rate(81).is_err());
        assert!(oxygen_saturation(101).unwrap_err().to_string().starts_with("SpO2 101"));
        assert!(oxygen_saturation(49).is_err());
        assert!(systolic_blood_pressure(301).is_err());
        assert!(systolic_blood_pressure(-5).is_err());
        assert!(pulse(19).is_err());
        assert!(Temperature::celsius(45.06).is_err());
        assert!(Temperature::celsius(f64::NAN).is_err());
        assert!(Temperature::celsius(f64::INFINITY).is_err());
        assert!(Temperature::celsius(24.94).is_err());
        assert_eq!(Temperature::celsius(36.04).map(Temperature::tenths), Ok(360));
        assert_eq!(Temperature::celsius(36.05).map(Temperature::tenths), Ok(361));
        assert_eq!(respiration_rate(80), Ok(80));
        assert_eq!(oxygen_saturation(100), Ok(100));
    }

    #[test]
    fn a_temperature_reads_back_as_it_was_written() {
        let t = Temperature::celsius(38.1).expect("possible");
        let json = serde_json::to_string(&t).expect("serializes");
        assert_eq!(json, "38.1");
        assert_eq!(serde_json::from_str::<Temperature>(&json).expect("reads"), t);
        assert!(serde_json::from_str::<Temperature>("99.0").is_err());
    }

    fn acvpu() -> impl Strategy<Value = Acvpu> {
        prop_oneof![
            Just(Acvpu::Alert),
            Just(Acvpu::NewConfusion),
            Just(Acvpu::Voice),
            Just(Acvpu::Pain),
            Just(Acvpu::Unresponsive)
        ]
    }

    fn observations() -> impl Strategy<Value = Observations> {
        (
            proptest::option::of(1u16..=80),
            proptest::option::of(50u8..=100),
            proptest::option::of(any::<bool>()),
            proptest::option::of(40u16..=300),
            proptest::option::of(20u16..=300),
            proptest::option::of(acvpu()),
            proptest::option::of(250i16..=450),
        )
            .prop_map(|(rr, spo2, o2, bp, hr, c, t)| Observations {
                respiration_rate: rr,
                spo2,
                on_oxygen: o2,
                systolic_bp: bp,
                pulse: hr,
                consciousness: c,
                temperature: t.map(Temperature),
            })
    }

    proptest! {
        /// Each band is exactly the chart's: the score of a value and of its neighbour differ
        /// only across a band edge, and every value between two edges scores alike.
        #[test]
        fn respiration_bands_are_contiguous(v in 1u16..80) {
            let edges = [8, 11, 20, 24];
            if !edges.contains(&v) {
                prop_assert_eq!(score_respiration(v), score_respiration(v + 1));
            }
        }

        #[test]
        fn systolic_and_pulse_bands_are_contiguous(v in 20u16..300) {
            if ![90, 100, 110, 219].contains(&v) {
                prop_assert_eq!(score_systolic(v), score_systolic(v + 1));
            }
            if ![40, 50, 90, 110, 130].contains(&v) {
                prop_assert_eq!(score_pulse(v), score_pulse(v + 1));
            }
        }

        #[test]
        fn temperature_bands_are_contiguous(t in 250i16..450) {
            if ![350, 360, 380, 390].contains(&t) {
                prop_assert_eq!(score_temperature(Temperature(t)), score_temperature(Temperature(t + 1)));
            }
        }

        /// On scale 1 a lower SpO2 never scores lower; on scale 2 on oxygen, the score falls
        /// to 0 in the target range and rises on either side of it.
        #[test]
        fn spo2_scores_move_the_right_way(v in 50u8..100) {
            let s1 = |v| score_spo2(v, Spo2Scale::Scale1, None);
            prop_assert!(s1(v) >= s1(v + 1));
            let s2 = |v| score_spo2(v, Spo2Scale::Scale2, Some(true));
            if v < 88 { prop_assert!(s2(v) >= s2(v + 1)); }
            if v >= 92 { prop_assert!(s2(v) <= s2(v + 1)); }
            if (88..=92).contains(&v) { prop_assert_eq!(s2(v), Some(0)); }
        }

        /// The total is the sum of the sub-scores; the risk follows from the total and any 3;
        /// a set is complete exactly when all seven are scored; and adding a parameter to a
        /// set never lowers its total.
        #[test]
        fn the_aggregate_follows_the_sub_scores(o in observations(), scale2 in any::<bool>()) {
            let scale = if scale2 { Spo2Scale::Scale2 } else { Spo2Scale::Scale1 };
            let news = score(&o, scale);
            let sum: u8 = news.scores.iter().map(|(_, s)| s).sum();
            prop_assert_eq!(news.total, sum);
            prop_assert!(news.total <= 20);
            let any_three = news.scores.iter().any(|(_, s)| *s == 3);
            prop_assert_eq!(news.risk, Risk::of(news.total, any_three));
            prop_assert_eq!(news.complete, news.missing().is_empty());
            match news.total {
                7.. => prop_assert_eq!(news.risk, Risk::High),
                5..=6 => prop_assert_eq!(news.risk, Risk::Medium),
                _ => prop_assert!(news.risk <= Risk::LowMedium),
            }
            let mut more = o;
            more.respiration_rate = more.respiration_rate.or(Some(30));
            prop_assert!(score(&more, scale).total >= news.total);
        }
    }
}
