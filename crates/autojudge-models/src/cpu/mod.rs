//! Host-side kernels for the CPU backend: the projections `y = x · Wᵀ` for the small row counts
//! of decoding and verification (k ≤ 32), where a generic GEMM wastes most of its tile, and the
//! row-wise rest of a decoder layer, so a CPU forward runs without per-op tensor dispatch.

pub(crate) mod host_matrix;
pub(crate) mod isa;
pub(crate) mod layer_ops;
pub(crate) mod matmul;
pub(crate) mod quant_activations;
#[cfg(target_arch = "x86_64")]
mod quant_avx2;
#[cfg(target_arch = "x86_64")]
mod quant_avx512;
pub(crate) mod quant_format;
pub(crate) mod quant_matmul;
pub(crate) mod quant_matrix;

pub use host_matrix::HostMatrix;
pub use isa::{CpuFeatures, Isa, IsaUnavailable, QuantKernelSpeed};
pub use matmul::matmul_xwt;
pub use quant_format::{quantized_kernel_label, QuantFormat};
pub use quant_matrix::{QuantMatrix, QuantPart};
