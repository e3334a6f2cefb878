//! The domain of every numeric flag, written once. A [`Domain`] says which numbers a flag
//! accepts; its parsers (`value_parser = NEW_TOKENS.parser::<usize>()`, `.list()`) refuse the
//! rest at parse time, so a bad value is clap's usage error (exit status 2, the flag named)
//! before anything is loaded or written. [`FLAGS`] maps each flag's long name to its domain:
//! the one place a test (or a reader) learns which values a flag takes.
//!
//! A long name means the same quantity in every subcommand (`--max-new-tokens`, `--k`,
//! `--prompts`, ...), so the registry is keyed by the name alone.

use crate::list_arg::ListArg;

/// One end of a [`Domain::Real`] interval.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Bound {
    /// The end value belongs to the domain.
    Closed(f64),
    /// The end value does not belong to the domain.
    Open(f64),
}

impl Bound {
    /// The end value.
    pub fn value(self) -> f64 {
        match self {
            Bound::Closed(v) | Bound::Open(v) => v,
        }
    }
}

/// The numbers a flag accepts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Domain {
    /// Whole numbers written in decimal, from `min` to `max` inclusive.
    Whole {
        /// What is counted (`tokens`); empty for a bare number such as a seed.
        noun: &'static str,
        /// Smallest value.
        min: u64,
        /// Largest value (bounds the memory or time a count allocates).
        max: u64,
    },
    /// Finite numbers between two ends.
    Real {
        /// The unit (`seconds`); empty for a bare number.
        noun: &'static str,
        /// Lower end.
        min: Bound,
        /// Upper end.
        max: Bound,
    },
}

/// A value accepted by a [`Domain`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Number {
    /// From a [`Domain::Whole`].
    Whole(u64),
    /// From a [`Domain::Real`].
    Real(f64),
}

/// A flag's value type, built from a [`Number`] its domain accepted.
pub trait FlagValue: Clone + Send + Sync + 'static {
    /// The value, or `None` when `n` does not fit the type.
    fn from_number(n: Number) -> Option<Self>;
    /// The value as a real number (to check it again after rounding to the type).
    fn to_f64(&self) -> f64;
}

macro_rules! whole_flag_value {
    ($($t:ty),*) => {$(
        impl FlagValue for $t {
            fn from_number(n: Number) -> Option<Self> {
                match n {
                    Number::Whole(v) => <$t>::try_from(v).ok(),
                    Number::Real(_) => None,
                }
            }
            fn to_f64(&self) -> f64 {
                *self as f64
            }
        }
    )*};
}
whole_flag_value!(u16, u32, u64, usize);

impl FlagValue for f64 {
    fn from_number(n: Number) -> Option<Self> {
        Some(match n {
            Number::Whole(v) => v as f64,
            Number::Real(x) => x,
        })
    }
    fn to_f64(&self) -> f64 {
        *self
    }
}

impl FlagValue for f32 {
    fn from_number(n: Number) -> Option<Self> {
        let x = f64::from_number(n)? as f32;
        x.is_finite().then_some(x)
    }
    fn to_f64(&self) -> f64 {
        f64::from(*self)
    }
}

impl Domain {
    /// Whole numbers of `noun` from `min` to `max`.
    pub const fn whole(noun: &'static str, min: u64, max: u64) -> Self {
        Domain::Whole { noun, min, max }
    }

    /// Finite numbers of `noun` between `min` and `max`.
    pub const fn real(noun: &'static str, min: Bound, max: Bound) -> Self {
        Domain::Real { noun, min, max }
    }

    /// The domain in words, as the error message says it (`a finite number of seconds > 0
    /// and <= 3600`).
    pub fn describe(&self) -> String {
        let of = |noun: &str| {
            if noun.is_empty() {
                String::new()
            } else {
                format!(" of {noun}")
            }
        };
        match *self {
            Domain::Whole { noun, min, max } => {
                format!("a whole number{} from {min} to {max}", of(noun))
            }
            Domain::Real { noun, min, max } => {
                let lo = match min {
                    Bound::Closed(v) => format!(">= {v}"),
                    Bound::Open(v) => format!("> {v}"),
                };
                let hi = match max {
                    Bound::Closed(v) => format!("<= {v}"),
                    Bound::Open(v) => format!("< {v}"),
                };
                format!("a finite number{} {lo} and {hi}", of(noun))
            }
        }
    }

    /// Whether the real number `x` lies in the domain (a whole domain holds only integers).
    pub fn contains(&self, x: f64) -> bool {
        if !x.is_finite() {
            return false;
        }
        match *self {
            Domain::Whole { min, max, .. } => {
                x.fract() == 0.0 && x >= min as f64 && x <= max as f64
            }
            Domain::Real { min, max, .. } => {
                let above = match min {
                    Bound::Closed(v) => x >= v,
                    Bound::Open(v) => x > v,
                };
                let below = match max {
                    Bound::Closed(v) => x <= v,
                    Bound::Open(v) => x < v,
                };
                above && below
            }
        }
    }

    /// Parses `s` as a number of this domain: decimal digits for a whole domain, any float
    /// spelling for a real one; `Err` says what the domain is.
    pub fn check(&self, s: &str) -> Result<Number, String> {
        let bad = || format!("must be {}", self.describe());
        match *self {
            Domain::Whole { min, max, .. } => {
                let v: u64 = s.parse().map_err(|_| bad())?;
                if (min..=max).contains(&v) {
                    Ok(Number::Whole(v))
                } else {
                    Err(bad())
                }
            }
            Domain::Real { .. } => {
                let x: f64 = s.parse().map_err(|_| bad())?;
                if self.contains(x) {
                    Ok(Number::Real(x))
                } else {
                    Err(bad())
                }
            }
        }
    }

    /// Parses `s` as a `T` of this domain; a real value must still lie in the domain once
    /// rounded to `T` (`1e-50` is not a probability > 0 as an `f32`).
    pub fn parse<T: FlagValue>(&self, s: &str) -> Result<T, String> {
        let bad = || format!("must be {}", self.describe());
        let v = T::from_number(self.check(s)?).ok_or_else(bad)?;
        match self {
            Domain::Real { .. } if !self.contains(v.to_f64()) => Err(bad()),
            _ => Ok(v),
        }
    }

    /// The clap value parser of a flag (or of each item of a `value_delimiter` list) of this
    /// domain.
    pub fn parser<T: FlagValue>(
        self,
    ) -> impl Fn(&str) -> Result<T, String> + Clone + Send + Sync + 'static {
        move |s: &str| self.parse(s)
    }

    /// The clap value parser of a [`ListArg`] whose items are of this domain (`none` is the
    /// empty list).
    pub fn list<T: FlagValue>(
        self,
    ) -> impl Fn(&str) -> Result<ListArg<T>, String> + Clone + Send + Sync + 'static {
        move |s: &str| ListArg::parse_with(s, |item| self.parse(item))
    }

    /// As [`Domain::list`], refusing the empty list.
    pub fn nonempty_list<T: FlagValue>(
        self,
    ) -> impl Fn(&str) -> Result<ListArg<T>, String> + Clone + Send + Sync + 'static {
        move |s: &str| {
            let list = ListArg::parse_with(s, |item| self.parse(item))?;
            if list.items().is_empty() {
                Err(format!(
                    "must list at least one value, each {}",
                    self.describe()
                ))
            } else {
                Ok(list)
            }
        }
    }
}

/// Largest token count of a response, a prompt or a context (sessions allocate from it).
const MAX_TOKENS: u64 = 1 << 20;

/// Response length in tokens.
pub const NEW_TOKENS: Domain = Domain::whole("tokens", 1, MAX_TOKENS);
/// A cap on the context length.
pub const CONTEXT: Domain = Domain::whole("tokens", 1, MAX_TOKENS);
/// Prompt length of `bench-model`'s prefill.
pub const PREFILL: Domain = Domain::whole("tokens", 1, MAX_TOKENS);
/// Timed decode steps, repetitions (each a stored timing).
pub const STEPS: Domain = Domain::whole("steps", 1, MAX_TOKENS);
/// A draft window: tokens drafted, or verified, per target call.
pub const WINDOW: Domain = Domain::whole("tokens", 1, 1024);
/// Sequences decoded together by `bench-model --batch` (each holds a KV cache).
pub const BATCH: Domain = Domain::whole("sequences", 1, 1024);
/// Prompts (or questions) to run.
pub const PROMPTS: Domain = Domain::whole("prompts", 1, 1 << 30);
/// Dataset lines skipped: zero is the start of the file.
pub const SKIP: Domain = Domain::whole("lines", 0, usize::MAX as u64);
/// Draft tokens proposed in mining regenerations: zero switches the draft off.
pub const PROPOSALS: Domain = Domain::whole("tokens", 0, 1024);
/// Old-continuation tokens a mining target call verifies.
pub const BLOCK: Domain = Domain::whole("tokens", 1, 1 << 16);
/// Prompts run at once (each worker holds KV caches).
pub const PARALLEL: Domain = Domain::whole("workers", 1, 256);
/// Timeout of one unit-test run.
pub const CODE_TIMEOUT: Domain = Domain::real("seconds", Bound::Open(0.0), Bound::Closed(3600.0));
/// Bootstrap resamples (each a stored mean).
pub const BOOTSTRAP: Domain = Domain::whole("resamples", 1, 1_000_000);
/// Top-k baselines: how many of the target's top tokens a draft token may be.
pub const TOP_K: Domain = Domain::whole("tokens", 1, 1 << 20);
/// Target-probability thresholds of the divergence baseline.
pub const TARGET_PROB: Domain = Domain::real("", Bound::Open(0.0), Bound::Closed(1.0));
/// JuDi's KL thresholds (nats); zero accepts only identical distributions.
pub const KL: Domain = Domain::real("nats", Bound::Closed(0.0), Bound::Closed(1000.0));
/// Fraction of prompts held out for validation: both parts must be able to hold prompts.
pub const VAL_FRACTION: Domain = Domain::real("", Bound::Open(0.0), Bound::Open(1.0));
/// Quantile rows of a judge's threshold table.
pub const QUANTILE: Domain = Domain::real("", Bound::Closed(0.0), Bound::Closed(1.0));
/// Inverse regularization strengths.
pub const C: Domain = Domain::real("", Bound::Open(0.0), Bound::Closed(1e12));
/// A seed: any 64-bit value.
pub const SEED: Domain = Domain::whole("", 0, u64::MAX);
/// L-BFGS gradient tolerance, relative to the initial gradient.
pub const TOL: Domain = Domain::real("", Bound::Open(0.0), Bound::Open(1.0));
/// L-BFGS iteration cap.
pub const MAX_ITER: Domain = Domain::whole("iterations", 1, 10_000_000);
/// Recall of important tokens a threshold keeps.
pub const RECALL: Domain = Domain::real("", Bound::Open(0.0), Bound::Closed(1.0));
/// Important mismatches let through per validation prompt (zero: none).
pub const IMPORTANT_PER_PROMPT: Domain = Domain::real(
    "mismatches per prompt",
    Bound::Closed(0.0),
    Bound::Closed(1e6),
);
/// Training sizes of a learning curve.
pub const TRAIN_PROMPTS: Domain = Domain::whole("prompts", 1, 1 << 30);
/// Agreement fractions (operating-point criteria).
pub const AGREEMENT: Domain = Domain::real("", Bound::Closed(0.0), Bound::Closed(1.0));
/// Accuracy drops in points (operating-point criteria).
pub const DROP_POINTS: Domain = Domain::real("points", Bound::Closed(0.0), Bound::Closed(100.0));
/// A judge's threshold on P(important).
pub const THRESHOLD: Domain = Domain::real("", Bound::Closed(0.0), Bound::Closed(1.0));
/// A TCP port (0: any free one).
pub const PORT: Domain = Domain::whole("", 0, 65_535);
/// Requests a server decodes at once.
pub const CONCURRENT: Domain = Domain::whole("requests", 1, 1024);
/// Requests a server lets wait.
pub const QUEUE: Domain = Domain::whole("requests", 0, 1 << 20);

/// Every numeric flag by long name (without `--`), with its domain.
pub const FLAGS: &[(&str, Domain)] = &[
    ("max-new-tokens", NEW_TOKENS),
    ("max-context", CONTEXT),
    ("prefill", PREFILL),
    ("decode", STEPS),
    ("reps", STEPS),
    ("k", WINDOW),
    ("ks", WINDOW),
    ("batch-k", WINDOW),
    ("batch", BATCH),
    ("prompts", PROMPTS),
    ("mine-prompts", PROMPTS),
    ("eval-prompts", PROMPTS),
    ("skip", SKIP),
    ("train-skip", SKIP),
    ("test-skip", SKIP),
    ("draft-proposals", PROPOSALS),
    ("max-draft-proposals", PROPOSALS),
    ("min-block", BLOCK),
    ("max-block", BLOCK),
    ("parallel", PARALLEL),
    ("code-timeout", CODE_TIMEOUT),
    ("bootstrap", BOOTSTRAP),
    ("topk", TOP_K),
    ("prob", TARGET_PROB),
    ("judi", KL),
    ("val-fraction", VAL_FRACTION),
    ("judge-quantiles", QUANTILE),
    ("c-grid", C),
    ("seed", SEED),
    ("tol", TOL),
    ("max-iter", MAX_ITER),
    ("recall", RECALL),
    ("important-per-prompt", IMPORTANT_PER_PROMPT),
    ("sizes", TRAIN_PROMPTS),
    ("gate-cap", TRAIN_PROMPTS),
    ("first", PROMPTS),
    ("min-agreement-on-correct", AGREEMENT),
    ("max-drop-points", DROP_POINTS),
    ("threshold", THRESHOLD),
    ("port", PORT),
    ("max-concurrent", CONCURRENT),
    ("max-queue", QUEUE),
    ("default-max-tokens", NEW_TOKENS),
];

/// The domain of the numeric flag `--<long>`, if it is one.
pub fn domain_of(long: &str) -> Option<Domain> {
    FLAGS.iter().find(|(n, _)| *n == long).map(|(_, d)| *d)
}

/// Lets every numeric flag of `cmd` take a value with a leading minus (`--seed -1`), so the
/// value reaches its domain's parser and the error names the flag, instead of clap reading
/// `-1` as an unknown option.
pub fn take_negative_numbers(cmd: clap::Command) -> clap::Command {
    cmd.mut_args(|a| match a.get_long() {
        Some(long) if domain_of(long).is_some() => a.allow_negative_numbers(true),
        _ => a,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_accept_their_values_and_name_themselves_in_errors() {
        assert_eq!(NEW_TOKENS.parse::<usize>("1"), Ok(1));
        let e = NEW_TOKENS.parse::<usize>("0").unwrap_err();
        assert_eq!(e, "must be a whole number of tokens from 1 to 1048576");
        assert!(NEW_TOKENS.parse::<usize>("1.0").is_err());
        assert_eq!(SEED.parse::<u64>(&u64::MAX.to_string()), Ok(u64::MAX));
        assert!(SEED.parse::<u64>("18446744073709551616").is_err());
        assert_eq!(CODE_TIMEOUT.parse::<f64>("0.5"), Ok(0.5));
        for bad in ["nan", "inf", "-inf", "1e400", "0", "-1", "3600.5", "x", ""] {
            let e = CODE_TIMEOUT.parse::<f64>(bad).unwrap_err();
            assert_eq!(
                e, "must be a finite number of seconds > 0 and <= 3600",
                "{bad}"
            );
        }
        assert_eq!(VAL_FRACTION.describe(), "a finite number > 0 and < 1");
        assert!(KL.parse::<f32>("0").is_ok());
        assert!(TARGET_PROB.parse::<f32>("1e-50").is_err(), "0 once an f32");
        assert!(TARGET_PROB.parse::<f64>("1e-50").is_ok());
    }

    #[test]
    fn lists_check_every_item() {
        let topk = TOP_K.list::<usize>();
        assert_eq!(topk("2,4").unwrap().items(), [2, 4]);
        assert!(topk("none").unwrap().items().is_empty());
        let e = TARGET_PROB.list::<f32>()("0.5,nan").unwrap_err();
        assert!(e.contains("\"nan\"") && e.contains("must be"), "{e}");
        assert!(TRAIN_PROMPTS.nonempty_list::<usize>()("none").is_err());
    }

    #[test]
    fn every_registered_name_is_unique() {
        for (i, (n, _)) in FLAGS.iter().enumerate() {
            assert!(FLAGS[i + 1..].iter().all(|(m, _)| m != n), "{n} twice");
        }
    }
}
