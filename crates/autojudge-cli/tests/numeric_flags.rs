//! Every numeric flag of every subcommand refuses every value outside its declared domain at
//! parse time. The flags are found by walking the clap command tree (a flag added later is
//! covered, and fails here until `numeric_flag::FLAGS` declares its domain); the domains come
//! from that one registry. A value outside the domain must make the real binary exit with
//! status 2, name the flag, not panic and write nothing; a value inside must parse.

use std::any::TypeId;
use std::path::Path;
use std::process::Command;

use autojudge_cli::list_arg::ListArg;
use autojudge_cli::numeric_flag::{domain_of, Bound, Domain, FLAGS};
use autojudge_cli::Cli;
use clap::{CommandFactory, Parser};
use proptest::prelude::*;

/// Otherwise-valid arguments of each subcommand (`{T}` is a fresh temporary directory); the
/// model and data paths do not exist, so a run that gets past parsing stops at once.
const BASE: &[(&str, &[&str])] = &[
    (
        "generate",
        &["--model", "/nonexistent.gguf", "--prompt", "hi"],
    ),
    ("bench-model", &["--model", "/nonexistent.gguf"]),
    ("serve", &["--model", "/nonexistent.gguf"]),
    (
        "bench-decode",
        &[
            "--model",
            "/nonexistent.gguf",
            "--draft",
            "ngram",
            "--data",
            "/nonexistent.jsonl",
        ],
    ),
    (
        "dtype-agreement",
        &[
            "--model",
            "/nonexistent.gguf",
            "--data",
            "/nonexistent.jsonl",
        ],
    ),
    (
        "draft-sweep",
        &[
            "--model",
            "/nonexistent.gguf",
            "--plan",
            "exit:1",
            "--data",
            "/nonexistent.jsonl",
        ],
    ),
    (
        "mine",
        &[
            "--model",
            "/nonexistent.gguf",
            "--data",
            "/nonexistent.jsonl",
            "--out",
            "{T}/out",
        ],
    ),
    ("merge", &["--out", "{T}/out", "{T}/shard"]),
    ("mine-stats", &["{T}/mined"]),
    (
        "pipeline",
        &[
            "--model",
            "/nonexistent.gguf",
            "--train-data",
            "/nonexistent-train.jsonl",
            "--test-data",
            "/nonexistent-test.jsonl",
            "--out",
            "{T}/out",
        ],
    ),
    (
        "eval",
        &[
            "--model",
            "/nonexistent.gguf",
            "--data",
            "/nonexistent.jsonl",
            "--out",
            "{T}/out",
        ],
    ),
    ("report", &["{T}/eval", "--out", "{T}/out"]),
    ("operating-points", &["{T}/eval", "--out", "{T}/out"]),
    (
        "train",
        &["--data", "{T}/mined", "--out", "{T}/out/judge.safetensors"],
    ),
    (
        "learning-curve",
        &["--data", "{T}/mined", "--out", "{T}/out"],
    ),
    (
        "refeature",
        &[
            "--model",
            "/nonexistent.gguf",
            "--data",
            "/nonexistent.jsonl",
            "{T}/mined",
        ],
    ),
    ("inspect", &["/nonexistent.gguf"]),
];

/// The value types a numeric flag can have (scalars, also as `Option`/`Vec` items, and
/// [`ListArg`]s of them).
fn numeric_type(id: &clap::builder::ValueParser) -> Option<(bool, bool)> {
    macro_rules! kinds {
        ($($t:ty),*) => {
            [$(
                (TypeId::of::<$t>(), false, false),
                (TypeId::of::<ListArg<$t>>(), true, false),
            )*]
        };
    }
    let mut all =
        kinds!(u8, u16, u32, u64, u128, usize, i8, i16, i32, i64, i128, isize, f64).to_vec();
    all.push((TypeId::of::<f32>(), false, true));
    all.push((TypeId::of::<ListArg<f32>>(), true, true));
    let t = id.type_id();
    all.into_iter()
        .find(|(k, ..)| t == *k)
        .map(|(_, list, f32)| (list, f32))
}

/// One numeric flag of one subcommand.
#[derive(Clone, Debug)]
struct Flag {
    command: String,
    long: String,
    domain: Domain,
    /// Takes comma-separated items (a `ListArg`, or a `value_delimiter` list).
    list: bool,
    /// Its values are `f32` (rounded before the domain applies).
    f32: bool,
}

/// Every numeric flag, found by walking the command tree; panics on one without a domain.
fn numeric_flags() -> Vec<Flag> {
    let cli = Cli::command();
    let mut out = Vec::new();
    for sub in cli.get_subcommands() {
        for arg in sub.get_arguments() {
            let Some((list_arg, f32)) = numeric_type(arg.get_value_parser()) else {
                continue;
            };
            let long = arg.get_long().unwrap_or_else(|| {
                panic!(
                    "{} {}: a numeric positional argument; give it a --flag with a domain",
                    sub.get_name(),
                    arg.get_id()
                )
            });
            let domain = domain_of(long).unwrap_or_else(|| {
                panic!(
                    "{} --{long}: a numeric flag without a domain in numeric_flag::FLAGS",
                    sub.get_name()
                )
            });
            out.push(Flag {
                command: sub.get_name().to_string(),
                long: long.to_string(),
                domain,
                list: list_arg || arg.get_value_delimiter().is_some(),
                f32,
            });
        }
    }
    out
}

/// What a generated string means: a decimal integer, a float spelling, or not a number.
#[derive(Clone, Copy, Debug)]
enum Meaning {
    Int(i128),
    Real(f64),
    Garbage,
}

/// A candidate value: its text and the meaning of each comma-separated item.
#[derive(Clone, Debug)]
struct Candidate {
    text: String,
    items: Vec<Meaning>,
}

fn int(v: i128) -> Candidate {
    Candidate {
        text: v.to_string(),
        items: vec![Meaning::Int(v)],
    }
}

fn real(x: f64) -> Candidate {
    Candidate {
        text: format!("{x:?}"),
        items: vec![Meaning::Real(x)],
    }
}

fn spelled(text: &str, m: Meaning) -> Candidate {
    Candidate {
        text: text.into(),
        items: vec![m],
    }
}

/// Whether one item lies in the flag's domain, judged from the declared bounds (not by the
/// parser under test).
fn item_in(flag: &Flag, m: Meaning) -> bool {
    match (flag.domain, m) {
        (_, Meaning::Garbage) => false,
        (Domain::Whole { min, max, .. }, Meaning::Int(v)) => {
            v >= i128::from(min) && v <= i128::from(max)
        }
        (Domain::Whole { .. }, Meaning::Real(_)) => false,
        (Domain::Real { min, max, .. }, m) => {
            let x = match m {
                Meaning::Int(v) => v as f64,
                Meaning::Real(x) => x,
                Meaning::Garbage => unreachable!(),
            };
            let inside = |x: f64| {
                let above = match min {
                    Bound::Closed(v) => x >= v,
                    Bound::Open(v) => x > v,
                };
                let below = match max {
                    Bound::Closed(v) => x <= v,
                    Bound::Open(v) => x < v,
                };
                x.is_finite() && above && below
            };
            // An `f32` flag's value must lie inside both as written and once rounded.
            inside(x) && (!flag.f32 || inside(f64::from(x as f32)))
        }
    }
}

fn in_domain(flag: &Flag, c: &Candidate) -> bool {
    c.items.iter().all(|&m| item_in(flag, m))
}

/// A value inside the domain (its lower end, or the middle of an open interval).
fn good(d: Domain) -> Candidate {
    match d {
        Domain::Whole { min, .. } => int(i128::from(min)),
        Domain::Real { min, max, .. } => match min {
            Bound::Closed(v) => real(v),
            Bound::Open(v) => real(v + (max.value().min(1.0) - v) / 2.0),
        },
    }
}

/// Every special value, plus in-list variants for list flags.
fn specials(flag: &Flag) -> Vec<Candidate> {
    let g = good(flag.domain);
    let mut v = vec![
        spelled("nan", Meaning::Real(f64::NAN)),
        spelled("NaN", Meaning::Real(f64::NAN)),
        spelled("inf", Meaning::Real(f64::INFINITY)),
        spelled("-inf", Meaning::Real(f64::NEG_INFINITY)),
        spelled("infinity", Meaning::Real(f64::INFINITY)),
        int(-1),
        real(-0.5),
        int(0),
        real(0.0),
        spelled("1e400", Meaning::Real(f64::INFINITY)),
        spelled("1e300", Meaning::Real(1e300)),
        int(i128::from(u64::MAX) + 1),
        int(i128::from(u64::MAX)),
        int(1 << 40),
        real(1.5),
        real(0.5),
        int(1),
        int(2),
        spelled("abc", Meaning::Garbage),
        spelled("0x10", Meaning::Garbage),
        spelled("1,5", Meaning::Garbage),
    ];
    if flag.list {
        // `1,5` is two good items of a list flag, not garbage.
        v.pop();
        for bad in ["nan", "-1", "0", "abc", "1e400", "inf"] {
            let m = specials_meaning(bad);
            v.push(Candidate {
                text: format!("{},{bad}", g.text),
                items: vec![g.items[0], m],
            });
            v.push(Candidate {
                text: format!("{bad},{}", g.text),
                items: vec![m, g.items[0]],
            });
        }
    } else {
        v.push(spelled("", Meaning::Garbage));
    }
    v
}

fn specials_meaning(s: &str) -> Meaning {
    match s {
        "nan" => Meaning::Real(f64::NAN),
        "inf" | "1e400" => Meaning::Real(f64::INFINITY),
        "abc" => Meaning::Garbage,
        other => Meaning::Int(other.parse().expect("an integer special")),
    }
}

/// The base arguments of `command` with `{T}` replaced by `tmp`.
fn base(command: &str, tmp: &Path) -> Vec<String> {
    let (_, args) = BASE
        .iter()
        .find(|(c, _)| *c == command)
        .unwrap_or_else(|| panic!("{command}: add its otherwise-valid arguments to BASE"));
    args.iter()
        .map(|a| a.replace("{T}", &tmp.display().to_string()))
        .collect()
}

/// The command line of `flag` set to `value`, program name first.
fn argv(flag: &Flag, value: &str, tmp: &Path) -> Vec<String> {
    let mut v = vec!["autojudge".to_string(), flag.command.clone()];
    v.extend(base(&flag.command, tmp));
    v.push(format!("--{}={value}", flag.long));
    v
}

/// Checks one (flag, value): inside the domain it parses in-process; outside, the binary
/// exits 2 naming the flag, without a panic and without writing into `tmp`.
fn check(flag: &Flag, c: &Candidate, tmp: &Path) -> Result<(), String> {
    let args = argv(flag, &c.text, tmp);
    if in_domain(flag, c) {
        return Cli::try_parse_from(&args).map(|_| ()).map_err(|e| {
            format!(
                "{} --{}={:?} lies in {:?} but is refused: {e}",
                flag.command, flag.long, c.text, flag.domain
            )
        });
    }
    let out = Command::new(env!("CARGO_BIN_EXE_autojudge"))
        .args(&args[1..])
        .env("RUST_BACKTRACE", "0")
        .env_remove("AUTOJUDGE_MODEL")
        .env_remove("AUTOJUDGE_GSM8K_TEST")
        .env_remove("AUTOJUDGE_GSM8K_TRAIN")
        .current_dir(tmp)
        .output()
        .map_err(|e| format!("running the binary: {e}"))?;
    let err = String::from_utf8_lossy(&out.stderr);
    let what = format!("{} --{}={:?}", flag.command, flag.long, c.text);
    if out.status.code() != Some(2) {
        return Err(format!(
            "{what}: exit {:?}, want 2: {err}",
            out.status.code()
        ));
    }
    if !err.contains(&format!("--{}", flag.long)) {
        return Err(format!("{what}: the error does not name the flag: {err}"));
    }
    if err.contains("panicked") {
        return Err(format!("{what}: panicked: {err}"));
    }
    let written: Vec<_> = std::fs::read_dir(tmp)
        .map_err(|e| e.to_string())?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    if !written.is_empty() {
        return Err(format!("{what}: wrote {written:?}"));
    }
    Ok(())
}

#[test]
fn the_walk_finds_every_flag_and_every_registered_domain_is_used() {
    let flags = numeric_flags();
    let tmp = tempfile::tempdir().unwrap();
    for sub in Cli::command().get_subcommands() {
        let n = sub.get_name();
        let mut args = vec!["autojudge".to_string(), n.to_string()];
        args.extend(base(n, tmp.path()));
        if let Err(e) = Cli::try_parse_checked_from(&args) {
            panic!("the base arguments of {n} do not parse: {e}");
        }
    }
    for (name, _) in FLAGS {
        assert!(
            flags.iter().any(|f| f.long == *name),
            "numeric_flag::FLAGS lists --{name}, which no subcommand has"
        );
    }
    // Flags that must be there (a walk that finds nothing would pass vacuously).
    for (command, long) in [
        ("mine", "code-timeout"),
        ("train", "c-grid"),
        ("eval", "prob"),
        ("pipeline", "judge-quantiles"),
        ("generate", "max-context"),
        ("mine", "parallel"),
    ] {
        assert!(
            flags.iter().any(|f| f.command == command && f.long == long),
            "{command} --{long} not found"
        );
    }
    eprintln!("{} numeric flags", flags.len());
}

#[test]
fn every_numeric_flag_refuses_every_special_value_outside_its_domain() {
    let flags = numeric_flags();
    let jobs: Vec<(Flag, Candidate)> = flags
        .iter()
        .flat_map(|f| specials(f).into_iter().map(move |c| (f.clone(), c)))
        .collect();
    let workers = 4;
    let failures: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers)
            .map(|w| {
                let jobs = &jobs;
                s.spawn(move || {
                    let tmp = tempfile::tempdir().unwrap();
                    jobs.iter()
                        .skip(w)
                        .step_by(workers)
                        .filter_map(|(f, c)| check(f, c, tmp.path()).err())
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("worker"))
            .collect()
    });
    assert!(
        failures.is_empty(),
        "{} of {} checks failed:\n{}",
        failures.len(),
        jobs.len(),
        failures.join("\n")
    );
    eprintln!("{} (flag, value) checks", jobs.len());
}

/// Random values: integers of every size and sign, floats of every class (NaN, infinities,
/// subnormals, huge), text without digits, and lists mixing good and bad items.
fn candidate() -> impl Strategy<Value = Candidate> {
    let scalar = prop_oneof![
        any::<i64>().prop_map(|v| int(i128::from(v))),
        any::<u64>().prop_map(|v| int(i128::from(v))),
        (1u32..64).prop_map(|e| int(i128::from(u64::MAX) + (1i128 << e))),
        (-5i128..5).prop_map(int),
        any::<f64>().prop_map(real),
        (-1e6f64..1e6).prop_map(real),
        (-2.0f64..2.0).prop_map(real),
        prop_oneof![
            Just("e"),
            Just("-"),
            Just("."),
            Just("nan"),
            Just("-nan"),
            Just("+inf")
        ]
        .prop_map(|s| spelled(
            s,
            if s.contains("inf") || s.contains("nan") {
                Meaning::Real(if s.contains("nan") {
                    f64::NAN
                } else {
                    f64::INFINITY
                })
            } else {
                Meaning::Garbage
            }
        )),
        "[a-mp-zA-MP-Z_%#@!]{1,6}".prop_map(|s| spelled(&s, Meaning::Garbage)),
    ];
    prop_oneof![
        3 => scalar.clone(),
        1 => (scalar.clone(), scalar).prop_map(|(a, b)| Candidate {
            text: format!("{},{}", a.text, b.text),
            items: vec![a.items[0], b.items[0]],
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 400,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_values_are_refused_outside_the_domain_and_parsed_inside(
        pick in any::<prop::sample::Index>(),
        c in candidate(),
    ) {
        let flags = numeric_flags();
        let flag = &flags[pick.index(flags.len())];
        // A two-item value is garbage for a scalar flag.
        let c = if !flag.list && c.items.len() > 1 {
            Candidate { items: vec![Meaning::Garbage], ..c }
        } else {
            c
        };
        let tmp = tempfile::tempdir().unwrap();
        if let Err(e) = check(flag, &c, tmp.path()) {
            prop_assert!(false, "{}", e);
        }
    }
}

#[test]
fn cross_flag_constraints_are_usage_errors_naming_both_flags() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path().display().to_string();
    for (args, names) in [
        (
            vec!["mine", "--min-block", "64", "--max-block", "8"],
            ["--min-block", "--max-block"],
        ),
        (
            vec![
                "mine",
                "--draft-proposals",
                "8",
                "--max-draft-proposals",
                "4",
            ],
            ["--draft-proposals", "--max-draft-proposals"],
        ),
        (
            vec![
                "pipeline",
                "--draft-proposals",
                "8",
                "--max-draft-proposals",
                "4",
            ],
            ["--draft-proposals", "--max-draft-proposals"],
        ),
    ] {
        let mut full: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        full.extend(base(args[0], tmp.path()));
        let out = Command::new(env!("CARGO_BIN_EXE_autojudge"))
            .args(&full)
            .env("RUST_BACKTRACE", "0")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        for n in names {
            assert!(err.contains(n), "{args:?}: {err}");
        }
        assert!(
            std::fs::read_dir(&t).unwrap().next().is_none(),
            "{args:?} wrote"
        );
    }
    // The pipeline's splits: one file, overlapping lines.
    let data = tmp.path().join("d.jsonl");
    let out = Command::new(env!("CARGO_BIN_EXE_autojudge"))
        .args(["pipeline", "--model", "/nonexistent.gguf", "--out"])
        .arg(tmp.path().join("out"))
        .arg("--train-data")
        .arg(&data)
        .arg("--test-data")
        .arg(&data)
        .env("RUST_BACKTRACE", "0")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("--test-skip") && err.contains("--train-data"),
        "{err}"
    );
}
