//! The load test's options (`careflow loadtest …`): where, who signs the tokens, how long, how
//! fast, how big, which mix of work. Pure parsing: no I/O.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use clap::Args;

/// The development JWT secret `careflow serve` accepts on the embedded laptop run (the same
/// value as the root crate's `DEV_JWT_SECRET`; public, so only good against a laptop).
pub const DEV_JWT_SECRET: &str = "careflow-dev-secret-change-me";

/// The default mix of work (see [`Mix`]).
pub const DEFAULT_MIX: &str = "beds=50,tasks=15,assessments=15,readings=15,offers=5";

/// Options of a load test run.
#[derive(Debug, Clone, Args)]
pub struct LoadtestArgs {
    /// The gateway to load: its base URL (POST {target}/graphql, WebSocket {target}/graphql/ws).
    #[arg(long, env = "CAREFLOW_LOADTEST_TARGET", default_value = "http://127.0.0.1:8080")]
    pub target: String,
    /// HS256 secret the target's tokens are signed with.
    #[arg(
        long,
        env = "CAREFLOW_JWT_SECRET",
        default_value = DEV_JWT_SECRET,
        hide_default_value = true,
        hide_env_values = true
    )]
    pub jwt_secret: String,
    /// Token issuer the target expects.
    #[arg(long, env = "CAREFLOW_JWT_ISSUER", default_value = "careflow")]
    pub jwt_issuer: String,
    /// Token audience the target expects.
    #[arg(long, env = "CAREFLOW_JWT_AUDIENCE", default_value = "careflow")]
    pub jwt_audience: String,
    /// How long to drive commands, after setup (e.g. 30s, 10m, 1h30m).
    #[arg(long, env = "CAREFLOW_LOADTEST_DURATION", default_value = "60s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Commands per second, over every kind of work (an open-loop schedule: one every 1/rate s).
    #[arg(long, env = "CAREFLOW_LOADTEST_RATE", default_value_t = 500.0)]
    pub rate: f64,
    /// Wards to set up (40 beds and a team each; a virtual ward for every five).
    #[arg(long, env = "CAREFLOW_LOADTEST_WARDS", default_value_t = 25)]
    pub wards: u32,
    /// Subscriptions to hold open, spread over bed boards, team inboxes, assessments, virtual
    /// wards and the care market (at least 6: one of each kind).
    #[arg(long, env = "CAREFLOW_LOADTEST_SUBSCRIPTIONS", default_value_t = 1000)]
    pub subscriptions: u32,
    /// Relative weights of the kinds of work: beds, tasks, assessments, readings, offers.
    #[arg(long, env = "CAREFLOW_LOADTEST_MIX", default_value = DEFAULT_MIX)]
    pub mix: Mix,
    /// Also write the report as JSON to this file.
    #[arg(long, env = "CAREFLOW_LOADTEST_JSON")]
    pub json: Option<PathBuf>,
    /// A unique id for this run (1–12 letters or digits), used in every id, ODS code and user
    /// name it creates, so reruns against one target never collide. Default: random.
    #[arg(long, env = "CAREFLOW_LOADTEST_PREFIX")]
    pub prefix: Option<String>,
    /// No progress line on stderr.
    #[arg(long, env = "CAREFLOW_LOADTEST_NO_PROGRESS")]
    pub no_progress: bool,
    /// Most commands in flight at once; a tick that finds them all busy is dropped (and
    /// counted), never delayed.
    #[arg(long, env = "CAREFLOW_LOADTEST_MAX_IN_FLIGHT", default_value_t = 512)]
    pub max_in_flight: usize,
    /// How long after its acknowledgement a command's push may take before it counts as missed.
    #[arg(long, env = "CAREFLOW_LOADTEST_PUSH_TIMEOUT", default_value = "5s", value_parser = parse_duration)]
    pub push_timeout: Duration,
}

/// careflow's load test: a morning on the wards against a gateway's public API.
// (Just [`LoadtestArgs`], to parse them on their own: tests.)
#[derive(Debug, clap::Parser)]
#[command(name = "careflow-loadtest", no_binary_name = true)]
struct Standalone {
    #[command(flatten)]
    args: LoadtestArgs,
}

impl LoadtestArgs {
    /// Parses the options from `args` (flags only, no program name), with the same defaults
    /// and environment variables as the subcommand.
    pub fn parse_from<I, T>(args: I) -> Result<Self, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        use clap::Parser;
        Standalone::try_parse_from(args).map(|s| s.args)
    }
}

/// A kind of work the load test drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Category {
    /// Bed commands from the ward tablets.
    Beds,
    /// Tasks created, claimed and completed in the ward teams' inboxes.
    Tasks,
    /// Assessment section saves by several editors at once.
    Assessments,
    /// Virtual-ward observation readings from a device gateway.
    Readings,
    /// Care providers' offers on posted care requests, made and withdrawn.
    Offers,
}

impl Category {
    /// Every category, in report order.
    pub const ALL: [Category; 5] =
        [Category::Beds, Category::Tasks, Category::Assessments, Category::Readings, Category::Offers];

    /// Its name in `--mix` and in the report.
    pub fn name(self) -> &'static str {
        match self {
            Category::Beds => "beds",
            Category::Tasks => "tasks",
            Category::Assessments => "assessments",
            Category::Readings => "readings",
            Category::Offers => "offers",
        }
    }

    /// Its position in [`Category::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Relative weights of the kinds of work, as `beds=50,tasks=15,assessments=15,readings=15,offers=5`
/// (a kind left out weighs 0; at least one must weigh more than 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mix {
    weights: [u32; 5],
}

impl Mix {
    /// The weight of `category`.
    pub fn weight(&self, category: Category) -> u32 {
        self.weights[category.index()]
    }

    /// The sum of the weights.
    pub fn total(&self) -> u64 {
        self.weights.iter().map(|w| u64::from(*w)).sum()
    }

    /// The share of `category` in the whole, 0–1.
    pub fn share(&self, category: Category) -> f64 {
        let total = self.total();
        if total == 0 { 0.0 } else { f64::from(self.weight(category)) / total as f64 }
    }

    /// The category that `draw` (uniform in `0..total()`) falls in.
    pub fn pick(&self, draw: u64) -> Category {
        let mut left = draw;
        for category in Category::ALL {
            let weight = u64::from(self.weight(category));
            if left < weight {
                return category;
            }
            left -= weight;
        }
        // Only reached for a draw past the total: the last category that weighs anything.
        Category::ALL.into_iter().rev().find(|c| self.weight(*c) > 0).unwrap_or(Category::Beds)
    }
}

impl Default for Mix {
    fn default() -> Self {
        Self { weights: [50, 15, 15, 15, 5] }
    }
}

/// Why a `--mix` is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MixError {
    /// A part is not `name=weight`.
    #[error("{0:?} is not name=weight")]
    Part(String),
    /// An unknown kind of work.
    #[error("unknown kind of work {0:?} (beds, tasks, assessments, readings, offers)")]
    Unknown(String),
    /// A weight that is not a whole number.
    #[error("the weight of {name} must be a whole number, not {weight:?}")]
    Weight {
        /// The kind of work.
        name: String,
        /// What was given.
        weight: String,
    },
    /// A kind named twice.
    #[error("{0} is named twice")]
    Twice(String),
    /// Every weight is 0.
    #[error("at least one kind of work must weigh more than 0")]
    Nothing,
}

impl FromStr for Mix {
    type Err = MixError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut weights = [0u32; 5];
        let mut seen = [false; 5];
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, weight) = part.split_once('=').ok_or_else(|| MixError::Part(part.to_owned()))?;
            let (name, weight) = (name.trim().to_ascii_lowercase(), weight.trim());
            let category = Category::ALL
                .into_iter()
                .find(|c| c.name() == name)
                .ok_or_else(|| MixError::Unknown(name.clone()))?;
            let i = category.index();
            if seen[i] {
                return Err(MixError::Twice(name));
            }
            seen[i] = true;
            weights[i] = weight
                .parse()
                .map_err(|_| MixError::Weight { name: name.clone(), weight: weight.to_owned() })?;
        }
        if weights.iter().all(|w| *w == 0) {
            return Err(MixError::Nothing);
        }
        Ok(Self { weights })
    }
}

impl fmt::Display for Mix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> =
            Category::ALL.iter().map(|c| format!("{}={}", c.name(), self.weight(*c))).collect();
        f.write_str(&parts.join(","))
    }
}

/// Parses a duration written as `30s`, `10m`, `1h30m`, `500ms` or `2.5s` (units `ms`, `s`, `m`,
/// `h`; a bare number is seconds).
pub fn parse_duration(input: &str) -> Result<Duration, String> {
    let text = input.trim();
    if text.is_empty() {
        return Err("a duration such as 30s, 10m or 1h30m".into());
    }
    if let Ok(seconds) = text.parse::<f64>() {
        return seconds_to_duration(seconds, input);
    }
    let mut total = 0.0f64;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        if digits == 0 {
            return Err(format!("{input:?} is not a duration such as 30s, 10m or 1h30m"));
        }
        let number: f64 = rest[..digits]
            .parse()
            .map_err(|_| format!("{input:?}: {:?} is not a number", &rest[..digits]))?;
        rest = &rest[digits..];
        let unit = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let seconds = match &rest[..unit] {
            "ms" => number / 1000.0,
            "s" => number,
            "m" => number * 60.0,
            "h" => number * 3600.0,
            "" => return Err(format!("{input:?}: a unit (ms, s, m, h) after {number}")),
            other => return Err(format!("{input:?}: unknown unit {other:?} (ms, s, m, h)")),
        };
        total += seconds;
        rest = &rest[unit..];
    }
    seconds_to_duration(total, input)
}

fn seconds_to_duration(seconds: f64, input: &str) -> Result<Duration, String> {
    if !(0.0..=366.0 * 86_400.0).contains(&seconds) {
        return Err(format!("{input:?} is not a duration between 0 and a year"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// Checks a `--prefix`: 1–12 ASCII letters or digits; returned in upper case.
pub fn check_prefix(prefix: &str) -> Result<String, String> {
    let prefix = prefix.trim();
    if prefix.is_empty() || prefix.len() > 12 || !prefix.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(format!("{prefix:?} must be 1–12 letters or digits"));
    }
    Ok(prefix.to_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_mix_parses_and_prints_back() {
        let mix: Mix = DEFAULT_MIX.parse().unwrap();
        assert_eq!(mix, Mix::default());
        assert_eq!(mix.to_string(), DEFAULT_MIX);
        assert_eq!(mix.total(), 100);
        assert!((mix.share(Category::Beds) - 0.5).abs() < 1e-9);
    }

    #[test]
    fn a_mix_may_leave_kinds_out_in_any_order_and_case() {
        let mix: Mix = " Offers=1, beds = 3 ".parse().unwrap();
        assert_eq!(mix.weight(Category::Beds), 3);
        assert_eq!(mix.weight(Category::Offers), 1);
        assert_eq!(mix.weight(Category::Tasks), 0);
        // Draws 0..3 are beds, 3 is offers; nothing lands on a kind that weighs 0.
        let picks: Vec<Category> = (0..4).map(|d| mix.pick(d)).collect();
        assert_eq!(picks, [Category::Beds, Category::Beds, Category::Beds, Category::Offers]);
        assert_eq!(mix.pick(99), Category::Offers);
    }

    #[test]
    fn bad_mixes_are_refused_naming_the_part() {
        assert_eq!("beds".parse::<Mix>(), Err(MixError::Part("beds".into())));
        assert_eq!("cots=3".parse::<Mix>(), Err(MixError::Unknown("cots".into())));
        assert_eq!(
            "beds=-1".parse::<Mix>(),
            Err(MixError::Weight { name: "beds".into(), weight: "-1".into() })
        );
        assert_eq!("beds=1,beds=2".parse::<Mix>(), Err(MixError::Twice("beds".into())));
        assert_eq!("beds=0,tasks=0".parse::<Mix>(), Err(MixError::Nothing));
        assert_eq!("".parse::<Mix>(), Err(MixError::Nothing));
    }

    #[test]
    fn durations_parse_in_the_usual_units() {
        let d = |s: &str| parse_duration(s).unwrap();
        assert_eq!(d("30s"), Duration::from_secs(30));
        assert_eq!(d("10m"), Duration::from_secs(600));
        assert_eq!(d("1h30m"), Duration::from_secs(5400));
        assert_eq!(d("500ms"), Duration::from_millis(500));
        assert_eq!(d("2.5s"), Duration::from_millis(2500));
        assert_eq!(d("45"), Duration::from_secs(45));
        assert_eq!(d(" 1m5s "), Duration::from_secs(65));
        for bad in ["", "s", "10x", "1h-5m", "-3", "ten minutes", "3m s"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn prefixes_are_short_codes_in_upper_case() {
        assert_eq!(check_prefix("run7"), Ok("RUN7".into()));
        assert!(check_prefix("").is_err());
        assert!(check_prefix("with-dash").is_err());
        assert!(check_prefix("abcdefghijklm").is_err());
    }

    #[test]
    fn the_options_parse_with_their_defaults() {
        let args = LoadtestArgs::parse_from(["--target", "http://gw:8080", "--duration", "5s"]).unwrap();
        assert_eq!(args.target, "http://gw:8080");
        assert_eq!(args.duration, Duration::from_secs(5));
        assert_eq!(args.wards, 25);
        assert_eq!(args.subscriptions, 1000);
        assert_eq!(args.mix, Mix::default());
        assert!(LoadtestArgs::parse_from(["--mix", "nothing=1"]).is_err());
    }
}
