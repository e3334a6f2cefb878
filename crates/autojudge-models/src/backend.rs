//! The burn backends this crate is built and tested with.

/// The default CPU backend (burn-flex: pure Rust, SIMD, rayon).
pub type CpuBackend = burn::backend::Flex;

/// CUDA backend (kernels compiled with NVRTC at run time).
#[cfg(feature = "cuda")]
pub type CudaBackend = burn::backend::Cuda;

/// WGPU backend (Vulkan/Metal/DX12).
#[cfg(feature = "wgpu")]
pub type WgpuBackend = burn::backend::Wgpu;
