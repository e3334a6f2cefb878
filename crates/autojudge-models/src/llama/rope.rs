//! Rotary position embedding tables (half-split / NeoX layout) with optional Llama 3.1
//! frequency factors.

use burn::tensor::{backend::Backend, Tensor, TensorData};

use crate::config::LlamaConfig;

/// Precomputed `cos`/`sin` tables, `[max_context, head_dim]`, frequencies duplicated across the
/// two halves so that `x·cos + rotate_half(x)·sin` applies RoPE.
#[derive(Clone, Debug)]
pub struct RopeTables<B: Backend> {
    /// Cosines.
    pub cos: Tensor<B, 2>,
    /// Sines.
    pub sin: Tensor<B, 2>,
    /// Host copy of `cos` (`[max_context · head_dim]`) for the host forward.
    pub cos_host: Vec<f32>,
    /// Host copy of `sin`.
    pub sin_host: Vec<f32>,
}

impl<B: Backend> RopeTables<B> {
    /// Computes the tables in f64 on the host and uploads them.
    pub fn new(cfg: &LlamaConfig, device: &B::Device) -> Self {
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
        RopeTables {
            cos: Tensor::from_data(TensorData::new(cos.clone(), [n, d]), device),
            sin: Tensor::from_data(TensorData::new(sin.clone(), [n, d]), device),
            cos_host: cos,
            sin_host: sin,
        }
    }

    /// Applies RoPE to `x: [heads, len, head_dim]` at positions `start..start+len`.
    pub fn apply(&self, x: Tensor<B, 3>, start: usize) -> Tensor<B, 3> {
        let [_, len, d] = x.dims();
        let cos = self
            .cos
            .clone()
            .slice([start..start + len, 0..d])
            .unsqueeze::<3>();
        let sin = self
            .sin
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
