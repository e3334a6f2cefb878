//! The GSM8K oracle, in two flavours: lm-eval's `gsm8k_cot_llama` strict match (the reference's
//! setting: case-sensitive "The final answer is", last match, its number regex, its string
//! comparison), and a lenient phrase search (case-insensitive, numeric normalisation so
//! `$1,200.00` = `1200`, optional `\boxed{}` and last-number fallbacks).

use std::sync::OnceLock;

use regex::Regex;

use super::{Answer, Oracle, OracleError};
use crate::Task;

/// Where to look for an answer when the response lacks the "final answer is" phrase.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum AnswerFallback {
    /// The last `\boxed{...}` in the response.
    Boxed,
    /// The last number anywhere in the response.
    LastNumber,
}

impl std::str::FromStr for AnswerFallback {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "boxed" => Ok(AnswerFallback::Boxed),
            "last-number" => Ok(AnswerFallback::LastNumber),
            _ => Err(format!(
                "unknown GSM8K fallback `{s}` (expected boxed or last-number)"
            )),
        }
    }
}

/// GSM8K final-answer extraction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Gsm8kOracle {
    /// lm-eval's `gsm8k_cot_llama` strict match, the setting the reference's tables use: the
    /// last match of `The final answer is ((-?[$0-9.,]{2,})|(-?[0-9]+))` (case-sensitive), its
    /// outer group with `,`, `$` and a trailing `.` removed; answers compare as strings
    /// (`18.00` ≠ `18`), and a response without a match has no answer.
    StrictMatch,
    /// The number after the last "The final answer is" (case-insensitive) within 80
    /// characters, numerically normalised; when absent, the fallbacks in order.
    Lenient {
        /// Fallbacks tried in order when the phrase is absent.
        fallbacks: Vec<AnswerFallback>,
    },
}

impl Default for Gsm8kOracle {
    /// The reference's setting, [`Gsm8kOracle::StrictMatch`].
    fn default() -> Self {
        Gsm8kOracle::StrictMatch
    }
}

impl Gsm8kOracle {
    /// The lenient oracle with both fallbacks: the phrase, then `\boxed{}`, then the last
    /// number.
    pub fn lenient() -> Self {
        Gsm8kOracle::Lenient {
            fallbacks: vec![AnswerFallback::Boxed, AnswerFallback::LastNumber],
        }
    }
}

fn strict_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"The final answer is ((-?[$0-9.,]{2,})|(-?[0-9]+))").expect("valid regex")
    })
}

/// lm-eval's strict match on `response` (see [`Gsm8kOracle::StrictMatch`]).
fn strict_match(response: &str) -> Option<String> {
    let caps = strict_re().captures_iter(response).last()?;
    let outer = caps.get(1)?.as_str().trim();
    // lm-eval's `regexes_to_ignore` (",", "\$", "(?s).*#### ", "\.$": the third cannot match
    // the group, the last removes one trailing period); `ignore_case` leaves digits alone.
    let mut s: String = outer.chars().filter(|c| !matches!(c, ',' | '$')).collect();
    if s.ends_with('.') {
        s.pop();
    }
    Some(s)
}

fn number_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"-?\$?\s?\d[\d,]*(?:\.\d+)?|-?\.\d+").expect("valid regex"))
}

fn phrase_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"(?i)the\s+final\s+answer\s+is").expect("valid regex"))
}

/// Normalises a number string: strips `$`, commas, spaces and a trailing period; integers lose
/// trailing `.0`s. `None` if it is not a number.
pub fn normalize_number(s: &str) -> Option<String> {
    let cleaned: String = s
        .trim()
        .trim_end_matches('.')
        .chars()
        .filter(|c| !matches!(c, '$' | ',' | ' '))
        .collect();
    let v: f64 = cleaned.parse().ok()?;
    if !v.is_finite() {
        return None;
    }
    if v.fract() == 0.0 && v.abs() < 1e15 {
        Some(format!("{}", v as i64))
    } else {
        Some(format!("{v}"))
    }
}

fn first_number(s: &str) -> Option<String> {
    number_re()
        .find_iter(s)
        .find_map(|m| normalize_number(m.as_str()))
}

fn last_number(s: &str) -> Option<String> {
    let all: Vec<_> = number_re().find_iter(s).collect();
    all.iter().rev().find_map(|m| normalize_number(m.as_str()))
}

fn last_boxed(s: &str) -> Option<String> {
    let start = s.rfind("\\boxed{")? + "\\boxed{".len();
    let mut depth = 1;
    let inner: String = s[start..]
        .chars()
        .take_while(|&c| {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                _ => {}
            }
            depth > 0
        })
        .collect();
    first_number(&inner)
}

impl Gsm8kOracle {
    /// The answer in `response` (see the variants).
    pub fn extract(&self, response: &str) -> Answer {
        match self {
            Gsm8kOracle::StrictMatch => Answer(strict_match(response)),
            Gsm8kOracle::Lenient { fallbacks } => lenient(fallbacks, response),
        }
    }
}

fn lenient(fallbacks: &[AnswerFallback], response: &str) -> Answer {
    if let Some(m) = phrase_re().find_iter(response).last() {
        // The phrase wins only if a number follows it (on the same line or the next).
        let tail: String = response[m.end()..].chars().take(80).collect();
        if let Some(n) = first_number(&tail) {
            return Answer::found(n);
        }
        if let Some(n) = last_boxed(&tail) {
            return Answer::found(n);
        }
    }
    for f in fallbacks {
        let got = match f {
            AnswerFallback::Boxed => last_boxed(response),
            AnswerFallback::LastNumber => last_number(response),
        };
        if let Some(n) = got {
            return Answer::found(n);
        }
    }
    Answer::missing()
}

impl Oracle for Gsm8kOracle {
    fn name(&self) -> String {
        let fallbacks = match self {
            Gsm8kOracle::StrictMatch => return "gsm8k(lm-eval-strict-match)".into(),
            Gsm8kOracle::Lenient { fallbacks } => fallbacks,
        };
        let f: Vec<&str> = fallbacks
            .iter()
            .map(|f| match f {
                AnswerFallback::Boxed => "boxed",
                AnswerFallback::LastNumber => "last-number",
            })
            .collect();
        format!("gsm8k(phrase;fallbacks={})", f.join(","))
    }

    fn answer(&self, _task: &Task, response: &str) -> Result<Answer, OracleError> {
        Ok(self.extract(response))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strict() -> Gsm8kOracle {
        Gsm8kOracle::Lenient { fallbacks: vec![] }
    }

    #[test]
    fn strict_match_is_lm_evals() {
        let o = Gsm8kOracle::StrictMatch;
        let a = |t: &str| o.extract(t).0;
        assert_eq!(
            a("The final answer is 5. Then The final answer is $1,200."),
            Some("1200".into())
        );
        // Case-sensitive, string comparison, one trailing period removed.
        assert_eq!(a("the final answer is 18"), None);
        assert_eq!(a("The final answer is 18.00"), Some("18.00".into()));
        assert_eq!(a("The final answer is 18.."), Some("18.".into()));
        assert_eq!(a("The final answer is -3 apples"), Some("-3".into()));
        assert_eq!(a("The final answer is 7"), Some("7".into()));
        assert_eq!(a("The final answer is: 7"), None);
        assert_eq!(a("The final answer is \\boxed{7}"), None);
        assert_ne!(o.name(), Gsm8kOracle::lenient().name());
    }

    #[test]
    fn phrase_is_case_insensitive_and_last_wins() {
        let o = strict();
        assert_eq!(
            o.extract("The final answer is 5. Then the FINAL answer is $1,200.")
                .0
                .as_deref(),
            Some("1200")
        );
        assert_eq!(
            o.extract("the final answer is: 18.00").0.as_deref(),
            Some("18")
        );
        assert_eq!(
            o.extract("The final answer is -3 apples").0.as_deref(),
            Some("-3")
        );
        assert_eq!(
            o.extract("The final answer is 0.5.").0.as_deref(),
            Some("0.5")
        );
        assert_eq!(o.extract("I think 42").0, None);
    }

    #[test]
    fn fallbacks_are_options() {
        let text = "so we get \\boxed{72} and later 9";
        assert_eq!(strict().extract(text).0, None);
        let boxed = Gsm8kOracle::Lenient {
            fallbacks: vec![AnswerFallback::Boxed],
        };
        assert_eq!(boxed.extract(text).0.as_deref(), Some("72"));
        let last = Gsm8kOracle::Lenient {
            fallbacks: vec![AnswerFallback::LastNumber],
        };
        assert_eq!(last.extract(text).0.as_deref(), Some("9"));
        assert_eq!(
            Gsm8kOracle::lenient()
                .extract("The final answer is \\boxed{10}")
                .0
                .as_deref(),
            Some("10")
        );
    }

    #[test]
    fn normalisation_compares_numerically() {
        assert_eq!(normalize_number("$1,000.00"), Some("1000".into()));
        assert_eq!(normalize_number("7."), Some("7".into()));
        assert_eq!(normalize_number("abc"), None);
        let o = Gsm8kOracle::lenient();
        let t = Task {
            index: 0,
            id: "t".into(),
            user_prompt: String::new(),
            gold: Some("1000".into()),
            code: None,
        };
        assert_eq!(
            o.is_correct(&t, &o.extract("The final answer is $1,000.")),
            Some(true)
        );
        assert_eq!(
            o.is_correct(&t, &o.extract("The final answer is 999")),
            Some(false)
        );
    }
}
