//! Rotary position embedding tables (half-split / NeoX layout) with optional Llama 3.1
//! frequency factors.

use burn::tensor::{backend::Backend, Tensor, TensorData};

use crate::config::LlamaConfig;

/// Precomputed `cos`/`sin` tables, `[max_context, head_dim]`, frequencies duplicated across the
/// two halves so that `x·cos + rotate_half(x)·sin` applies RoPE; kept where the forward runs.
#[derive(Clone, Debug)]
pub enum RopeTables<B: Backend> {
    /// On the backend's device, for the burn forward.
    Device {
        /// Cosines.
        cos: Tensor<B, 2>,
        /// Sines.
        sin: Tensor<B, 2>,
    },
    /// In host memory (row-major `[max_context · head_dim]`), for the host forward.
    Host {
        /// Cosines.
        cos: Vec<f32>,
        /// Sines.
        sin: Vec<f32>,
    },
}

impl<B: Backend> RopeTables<B> {
    /// Computes the tables in f64 on the host; uploads them to `device`, or keeps them on the
    /// host when `device` is `None` (the host forward).
    pub fn new(cfg: &LlamaConfig, device: Option<&B::Device>) -> Self {
        let d = cfg.head_dim;
        let half = d / 2;
        let n = cfg.max_context;
        let inv_freq: Vec<f64> = (0..half)
            .map(|i| {
                let f = 1.0 / cfg.rope_theta.powf(2.0 * i as f64 / d as f64);
                match &cfg.rope_freq_factors {
                    Some(ff) => f / ff[i] as f64,
                    None => f,
                }
            })
            .collect();
        let mut cos = vec![0.0f32; n * d];
        let mut sin = vec![0.0f32; n * d];
        for p in 0..n {
            for i in 0..half {
                let a = p as f64 * inv_freq[i];
                let (s, c) = a.sin_cos();
                cos[p * d + i] = c as f32;
                cos[p * d + i + half] = c as f32;
                sin[p * d + i] = s as f32;
                sin[p * d + i + half] = s as f32;
            }
        }
        match device {
            Some(device) => RopeTables::Device {
                cos: Tensor::from_data(TensorData::new(cos, [n, d]), device),
                sin: Tensor::from_data(TensorData::new(sin, [n, d]), device),
            },
            None => RopeTables::Host { cos, sin },
        }
    }

    /// The host tables `(cos, sin)`.
    pub fn host(&self) -> (&[f32], &[f32]) {
        match self {
            RopeTables::Host { cos, sin } => (cos, sin),
            RopeTables::Device { .. } => unreachable!("host forward over device RoPE tables"),
        }
    }

    /// Applies RoPE to `x: [heads, len, head_dim]` at positions `start..start+len`.
    pub fn apply(&self, x: Tensor<B, 3>, start: usize) -> Tensor<B, 3> {
        let [_, len, d] = x.dims();
        let (cos, sin) = match self {
            RopeTables::Device { cos, sin } => (cos, sin),
            RopeTables::Host { .. } => unreachable!("burn forward over host RoPE tables"),
        };
        let cos = cos
            .clone()
            .slice([start..start + len, 0..d])
            .unsqueeze::<3>();
        let sin = sin
            .clone()
            .slice([start..start + len, 0..d])
            .unsqueeze::<3>();
        let half = d / 2;
        let x1 = x.clone().narrow(2, 0, half);
        let x2 = x.clone().narrow(2, half, half);
        let rotated = Tensor::cat(vec![x2.neg(), x1], 2);
        x * cos + rotated * sin
    }
}
