//! [`Isa`]: which instruction set the host kernels run on, chosen once per loaded matrix.
//!
//! | `Isa`        | quantized kernels                     | f32 / f16 kernels  | needs                                  |
//! | ------------ | ------------------------------------- | ------------------ | -------------------------------------- |
//! | `avx512vnni` | 16 lanes, `vpdpbusd` / `vpdpwssd`     | 16 lanes (AVX-512F)| AVX-512 F, BW, DQ, VNNI; FMA; F16C     |
//! | `avx2`       | 2 × 8 lanes, `vpmaddubsw` + `vpmaddwd` | 8 lanes            | AVX2, FMA, F16C                        |
//! | `scalar`     | portable specification                | portable           | nothing                                |
//!
//! Every quantized kernel performs the portable specification's roundings operation for
//! operation, so all three give bit-identical results (the tests hold each to it). The f32
//! and f16 kernels do not: 16-lane and 8-lane accumulators, fused or separate multiply-adds
//! and their horizontal sums differ, so their results differ in the last bits between sets
//! (each set's rows still never depend on k or the batch). An AVX-512 CPU without VNNI runs
//! them at 8 lanes under `avx2`.

use std::fmt;
use std::str::FromStr;

/// An instruction set for the host kernels, or `Auto` for the best one the CPU has.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Isa {
    /// The best set this CPU runs: `avx512vnni`, else `avx2`, else `scalar`.
    #[default]
    Auto,
    /// AVX-512 with VNNI (Intel since Ice Lake / Cascade Lake, AMD since Zen 4).
    Avx512Vnni,
    /// AVX2 with FMA and F16C (Intel since Haswell, AMD since Zen 1): also the path of
    /// AVX-512 CPUs without VNNI.
    Avx2,
    /// Portable code (any CPU, and the specification the SIMD kernels are tested against).
    Scalar,
}

/// An instruction set was requested that this CPU does not have.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("instruction set `{isa}` is not available on this CPU (missing: {})", missing.join(", "))]
pub struct IsaUnavailable {
    /// The set asked for.
    pub isa: Isa,
    /// The CPU features it needs that this CPU lacks.
    pub missing: Vec<&'static str>,
}

impl Isa {
    /// The concrete sets, fastest first.
    pub const CONCRETE: [Isa; 3] = [Isa::Avx512Vnni, Isa::Avx2, Isa::Scalar];

    /// The CPU features the set needs (as `is_x86_feature_detected!` names them).
    pub fn required_features(self) -> &'static [&'static str] {
        match self {
            Isa::Avx512Vnni => &[
                "avx512f",
                "avx512bw",
                "avx512dq",
                "avx512vnni",
                "fma",
                "f16c",
            ],
            Isa::Avx2 => &["avx2", "fma", "f16c"],
            Isa::Auto | Isa::Scalar => &[],
        }
    }

    /// The required features this CPU lacks (empty: the set runs here).
    pub fn missing_features(self) -> Vec<&'static str> {
        self.missing_on(CpuFeatures::this_cpu())
    }

    /// The required features `cpu` lacks.
    pub fn missing_on(self, cpu: &CpuFeatures) -> Vec<&'static str> {
        self.required_features()
            .iter()
            .copied()
            .filter(|f| !cpu.has(f))
            .collect()
    }

    /// The best concrete set this CPU runs (what `Auto` means here).
    pub fn detected() -> Isa {
        static BEST: std::sync::OnceLock<Isa> = std::sync::OnceLock::new();
        *BEST.get_or_init(|| Isa::best_on(CpuFeatures::this_cpu()))
    }

    /// The best concrete set `cpu` runs.
    pub fn best_on(cpu: &CpuFeatures) -> Isa {
        Isa::CONCRETE
            .into_iter()
            .find(|isa| isa.missing_on(cpu).is_empty())
            .unwrap_or(Isa::Scalar)
    }

    /// Every concrete set this CPU runs, fastest first (the sets the tests cover here).
    pub fn available() -> Vec<Isa> {
        Isa::CONCRETE
            .into_iter()
            .filter(|isa| isa.missing_features().is_empty())
            .collect()
    }

    /// `Auto` made concrete; a concrete set checked against this CPU.
    pub fn resolve(self) -> Result<Isa, IsaUnavailable> {
        self.resolve_on(CpuFeatures::this_cpu())
    }

    /// `Auto` made concrete for `cpu`; a concrete set checked against it.
    pub fn resolve_on(self, cpu: &CpuFeatures) -> Result<Isa, IsaUnavailable> {
        if self == Isa::Auto {
            return Ok(Isa::best_on(cpu));
        }
        let missing = self.missing_on(cpu);
        if missing.is_empty() {
            Ok(self)
        } else {
            Err(IsaUnavailable { isa: self, missing })
        }
    }

    /// Whether the quantized kernels have SIMD code for this (resolved) set.
    pub fn quant_kernel(self) -> QuantKernelSpeed {
        match self {
            Isa::Avx512Vnni | Isa::Avx2 => QuantKernelSpeed::Simd,
            Isa::Auto => Isa::detected().quant_kernel(),
            Isa::Scalar => QuantKernelSpeed::Portable,
        }
    }

    /// The name `--isa` takes.
    pub fn name(self) -> &'static str {
        match self {
            Isa::Auto => "auto",
            Isa::Avx512Vnni => "avx512vnni",
            Isa::Avx2 => "avx2",
            Isa::Scalar => "scalar",
        }
    }
}

/// Whether a quantized kernel is vectorized or the portable specification (which `--dtype
/// auto` avoids: see [`crate::ComputeDType::resolve`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QuantKernelSpeed {
    /// AVX-512 VNNI or AVX2 code.
    Simd,
    /// The portable specification, several times slower than the f16 kernel.
    Portable,
}

/// The CPU features the instruction sets need, as a CPU reports them: this machine's
/// ([`CpuFeatures::this_cpu`]) or any other's ([`CpuFeatures::new`]), so the choice of
/// `auto` can be checked for CPUs the tests do not run on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CpuFeatures {
    names: Vec<&'static str>,
}

/// Every feature name an instruction set may require.
const KNOWN_FEATURES: [&str; 7] = [
    "avx512f",
    "avx512bw",
    "avx512dq",
    "avx512vnni",
    "avx2",
    "fma",
    "f16c",
];

impl CpuFeatures {
    /// A CPU with the features named (names outside those the sets require are ignored).
    pub fn new(names: &[&str]) -> CpuFeatures {
        CpuFeatures {
            names: KNOWN_FEATURES
                .into_iter()
                .filter(|k| names.contains(k))
                .collect(),
        }
    }

    /// This machine's features, probed once.
    pub fn this_cpu() -> &'static CpuFeatures {
        static THIS: std::sync::OnceLock<CpuFeatures> = std::sync::OnceLock::new();
        THIS.get_or_init(|| CpuFeatures {
            names: KNOWN_FEATURES.into_iter().filter(|f| detect(f)).collect(),
        })
    }

    /// Whether the CPU has feature `name`.
    pub fn has(&self, name: &str) -> bool {
        self.names.contains(&name)
    }
}

/// Whether this CPU has the feature `name` (`false` off x86-64).
fn detect(name: &str) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        match name {
            "avx512f" => is_x86_feature_detected!("avx512f"),
            "avx512bw" => is_x86_feature_detected!("avx512bw"),
            "avx512dq" => is_x86_feature_detected!("avx512dq"),
            "avx512vnni" => is_x86_feature_detected!("avx512vnni"),
            "avx2" => is_x86_feature_detected!("avx2"),
            "fma" => is_x86_feature_detected!("fma"),
            "f16c" => is_x86_feature_detected!("f16c"),
            _ => false,
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = name;
        false
    }
}

impl fmt::Display for Isa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Isa {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(Isa::Auto),
            "avx512vnni" => Ok(Isa::Avx512Vnni),
            "avx2" => Ok(Isa::Avx2),
            "scalar" => Ok(Isa::Scalar),
            other => Err(format!(
                "unknown instruction set `{other}` (expected auto, avx512vnni, avx2 or scalar)"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for isa in [Isa::Auto, Isa::Avx512Vnni, Isa::Avx2, Isa::Scalar] {
            assert_eq!(isa.name().parse::<Isa>(), Ok(isa));
        }
        assert!("sse4".parse::<Isa>().is_err());
    }

    #[test]
    fn auto_resolves_to_the_fastest_available_set() {
        let available = Isa::available();
        assert_eq!(available.last(), Some(&Isa::Scalar), "scalar always runs");
        assert_eq!(Isa::Auto.resolve(), Ok(available[0]));
        for isa in Isa::CONCRETE {
            match isa.resolve() {
                Ok(got) => assert_eq!(got, isa),
                Err(e) => {
                    assert!(!available.contains(&isa));
                    assert_eq!(e.isa, isa);
                    assert!(!e.missing.is_empty());
                    assert!(e.to_string().contains(isa.name()), "{e}");
                }
            }
        }
    }

    #[test]
    fn auto_on_other_cpus() {
        let zen4 = CpuFeatures::new(&[
            "avx512f",
            "avx512bw",
            "avx512dq",
            "avx512vnni",
            "avx2",
            "fma",
            "f16c",
        ]);
        let skylake_x =
            CpuFeatures::new(&["avx512f", "avx512bw", "avx512dq", "avx2", "fma", "f16c"]);
        let alder_lake = CpuFeatures::new(&["avx2", "fma", "f16c"]);
        let old = CpuFeatures::new(&["sse4.2"]);
        assert_eq!(Isa::Auto.resolve_on(&zen4), Ok(Isa::Avx512Vnni));
        // AVX-512 without VNNI runs the AVX2 kernels.
        assert_eq!(Isa::Auto.resolve_on(&skylake_x), Ok(Isa::Avx2));
        assert_eq!(Isa::Auto.resolve_on(&alder_lake), Ok(Isa::Avx2));
        assert_eq!(Isa::Auto.resolve_on(&old), Ok(Isa::Scalar));
        let err = Isa::Avx512Vnni.resolve_on(&alder_lake).unwrap_err();
        assert_eq!(
            err.missing,
            vec!["avx512f", "avx512bw", "avx512dq", "avx512vnni"]
        );
        assert_eq!(
            err.to_string(),
            "instruction set `avx512vnni` is not available on this CPU (missing: avx512f, \
             avx512bw, avx512dq, avx512vnni)"
        );
        assert_eq!(
            Isa::Avx2.resolve_on(&old).unwrap_err().missing,
            vec!["avx2", "fma", "f16c"]
        );
        assert_eq!(Isa::Scalar.resolve_on(&old), Ok(Isa::Scalar));
    }

    #[test]
    fn an_avx512_vnni_cpu_also_runs_avx2() {
        // The sets nest: whatever runs the VNNI kernels runs the AVX2 ones.
        if Isa::Avx512Vnni.resolve().is_ok() {
            assert_eq!(Isa::Avx2.resolve(), Ok(Isa::Avx2));
        }
    }
}
