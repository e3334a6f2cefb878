//! The dtype the projection weights are stored and multiplied in.

use burn::tensor::DType;

use super::ProjectionKernel;
use crate::cpu::{Isa, QuantKernelSpeed};

/// Storage/matmul dtype of the linear layers. Norms, RoPE, attention and softmax always run
/// in f32.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum ComputeDType {
    /// 32-bit floats.
    #[default]
    F32,
    /// 16-bit IEEE floats: activations are cast around each projection (half the weight bytes
    /// of f32 per decode step, which is what bounds CPU decoding).
    F16,
    /// Integer kernels on the host (CPU only): each projection keeps the blocks stored in its
    /// GGUF file (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K, Q6_K) and multiplies their codes
    /// with per-row int8 activations; rows stored as floats are requantized to 8 bits (Q8_0's
    /// values). A row's result never depends on k or the batch, like every host kernel.
    Quant,
    /// The fastest dtype that keeps rows exact: `Quant` on the host kernel where the CPU's
    /// instruction set has SIMD quantized kernels (AVX-512 VNNI or AVX2), `F32` where it has
    /// not (the portable quantized code is several times slower: `docs/results/quant.md`) and
    /// on a GPU.
    Auto,
}

impl ComputeDType {
    /// `Auto` made concrete for projections run by `kernel` (already resolved) on `isa`.
    pub fn resolve(self, kernel: ProjectionKernel, isa: Isa) -> ComputeDType {
        match (self, kernel) {
            (ComputeDType::Auto, ProjectionKernel::Host) => match isa.quant_kernel() {
                QuantKernelSpeed::Simd => ComputeDType::Quant,
                QuantKernelSpeed::Portable => ComputeDType::F32,
            },
            (ComputeDType::Auto, _) => ComputeDType::F32,
            (other, _) => other,
        }
    }

    /// The burn dtype device projections are stored in (`Quant` has none: it is host-only).
    pub fn dtype(self) -> DType {
        match self {
            ComputeDType::F16 => DType::F16,
            ComputeDType::F32 | ComputeDType::Quant | ComputeDType::Auto => DType::F32,
        }
    }
}

impl std::str::FromStr for ComputeDType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "f32" => Ok(ComputeDType::F32),
            "f16" => Ok(ComputeDType::F16),
            "quant" | "q" => Ok(ComputeDType::Quant),
            "auto" => Ok(ComputeDType::Auto),
            other => Err(format!(
                "unknown dtype `{other}` (expected auto, quant, f16 or f32)"
            )),
        }
    }
}

impl std::fmt::Display for ComputeDType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ComputeDType::F32 => "f32",
            ComputeDType::F16 => "f16",
            ComputeDType::Quant => "quant",
            ComputeDType::Auto => "auto",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_takes_quant_only_where_a_simd_quant_kernel_runs() {
        use ComputeDType::*;
        let host = ProjectionKernel::Host;
        assert_eq!(Auto.resolve(host, Isa::Avx512Vnni), Quant);
        assert_eq!(Auto.resolve(host, Isa::Avx2), Quant);
        assert_eq!(Auto.resolve(host, Isa::Scalar), F32);
        assert_eq!(Auto.resolve(ProjectionKernel::Burn, Isa::Avx2), F32);
        // An explicit dtype is kept on every set.
        for isa in [Isa::Avx512Vnni, Isa::Avx2, Isa::Scalar] {
            for d in [F32, F16, Quant] {
                assert_eq!(d.resolve(host, isa), d);
            }
        }
    }
}
