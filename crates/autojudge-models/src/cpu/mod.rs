//! Host-side kernels for the CPU backend: the projections `y = x · Wᵀ` for the small row counts
//! of decoding and verification (k ≤ 32), where a generic GEMM wastes most of its tile.

pub mod host_matrix;
pub mod matmul;

pub use host_matrix::HostMatrix;
pub use matmul::matmul_xwt;
