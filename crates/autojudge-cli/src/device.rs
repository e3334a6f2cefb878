//! Backend selection at run time among the backends compiled in, and the model flags shared
//! by every command.

use std::path::PathBuf;

use autojudge_models::{ComputeDType, Isa, LayerPlan, LoadOptions};
use clap::{Args, ValueEnum};

/// Which compute device to run on.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum DeviceKind {
    /// burn-flex on the CPU.
    Cpu,
    /// NVIDIA GPU (needs the `cuda` feature).
    Cuda,
    /// WGPU (needs the `wgpu` feature).
    Wgpu,
}

/// Flags that pick and load a model.
#[derive(Args, Clone, Debug)]
pub struct ModelArgs {
    /// A `.gguf` file or an HF model directory.
    #[arg(long, env = "AUTOJUDGE_MODEL")]
    pub model: PathBuf,
    /// Projection dtype: auto (quant on the CPU's host kernel, f32 on a GPU), quant (integer
    /// kernels on the stored GGUF blocks; float weights requantized to 8 bits), f16 or f32.
    #[arg(long, default_value = "auto")]
    pub dtype: ComputeDType,
    /// Cap the context length (tokens).
    #[arg(long, value_parser = crate::numeric_flag::CONTEXT.parser::<usize>())]
    pub max_context: Option<usize>,
    /// Layer plan: all, exit:N (early exit) or skip:A,B (layer skipping).
    #[arg(long, default_value = "all")]
    pub layers: LayerPlan,
    /// Projection kernel: auto (host kernel on CPU), burn or host.
    #[arg(long, default_value = "auto")]
    pub kernel: autojudge_models::ProjectionKernel,
    /// Instruction set of the host kernels: auto (the CPU's best), avx512vnni, avx2 or scalar.
    /// Every set gives the quantized kernels' results bit for bit; one the CPU lacks is an
    /// error naming the missing features.
    #[arg(long, default_value = "auto")]
    pub isa: Isa,
    /// Compute device.
    #[arg(long, value_enum, default_value = "cpu")]
    pub device: DeviceKind,
}

impl ModelArgs {
    /// `--model` as an input path (no output may overwrite it).
    pub fn input(&self) -> crate::output_guard::Input<'_> {
        crate::output_guard::Input {
            flag: "--model",
            path: &self.model,
        }
    }

    /// Load options from the flags.
    pub fn load_options(&self) -> LoadOptions {
        LoadOptions {
            kernel: self.kernel,
            dtype: self.dtype,
            max_context: self.max_context,
            isa: self.isa,
        }
    }
}

/// Runs `$body` with `$B` bound to the chosen backend type and `$dev` to its device.
#[macro_export]
macro_rules! with_backend {
    ($kind:expr, |$B:ident, $dev:ident| $body:expr) => {{
        match $kind {
            $crate::device::DeviceKind::Cpu => {
                type $B = autojudge_models::backend::CpuBackend;
                let $dev = Default::default();
                $body
            }
            #[cfg(feature = "cuda")]
            $crate::device::DeviceKind::Cuda => {
                type $B = autojudge_models::backend::CudaBackend;
                let $dev = Default::default();
                $body
            }
            #[cfg(feature = "wgpu")]
            $crate::device::DeviceKind::Wgpu => {
                type $B = autojudge_models::backend::WgpuBackend;
                let $dev = Default::default();
                $body
            }
            #[allow(unreachable_patterns)]
            other => anyhow::bail!(
                "device {other:?} is not compiled in; rebuild with --features {}",
                format!("{other:?}").to_lowercase()
            ),
        }
    }};
}

/// Peak resident set size of this process in MiB (Linux), if known.
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Resets the peak resident set size that [`peak_rss_mib`] reports to the current size
/// (Linux: `/proc/self/clear_refs`), so each measurement reports its own peak.
pub fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}
