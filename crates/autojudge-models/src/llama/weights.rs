//! Immutable decoder weights on a burn device, fused for few, large matmuls.

use burn::tensor::{backend::Backend, DType, Tensor, TensorData};

use super::ComputeDType;
use crate::config::LlamaConfig;
use crate::error::ModelResult;
use crate::host_tensor::HostTensor;
use crate::weight_name::{LayerWeight, WeightName};
use crate::weight_source::WeightSource;

/// One decoder layer. Projections are stored `[in, out]` (so `x · W`) in the compute dtype;
/// q/k/v and gate/up are fused column-wise.
#[derive(Clone, Debug)]
pub struct LayerWeights<B: Backend> {
    /// RMSNorm weight before attention.
    pub attn_norm: Tensor<B, 1>,
    /// Fused `[hidden, q_dim + 2·kv_dim]` projection.
    pub w_qkv: Tensor<B, 2>,
    /// Fused q/k/v bias (Qwen2), f32.
    pub b_qkv: Option<Tensor<B, 1>>,
    /// Output projection `[q_dim, hidden]`.
    pub w_o: Tensor<B, 2>,
    /// RMSNorm weight before the MLP.
    pub ffn_norm: Tensor<B, 1>,
    /// Fused `[hidden, 2·intermediate]` gate|up projection.
    pub w_gate_up: Tensor<B, 2>,
    /// Down projection `[intermediate, hidden]`.
    pub w_down: Tensor<B, 2>,
}

/// All weights of a Llama-family model.
#[derive(Clone, Debug)]
pub struct LlamaWeights<B: Backend> {
    /// Hyper-parameters.
    pub config: LlamaConfig,
    /// Projection dtype.
    pub dtype: ComputeDType,
    /// Token embedding `[vocab, hidden]` in the compute dtype.
    pub embed: Tensor<B, 2>,
    /// Untied LM head `[vocab, hidden]`; `None` when tied to `embed`.
    pub lm_head: Option<Tensor<B, 2>>,
    /// Final RMSNorm weight.
    pub final_norm: Tensor<B, 1>,
    /// Decoder layers.
    pub layers: Vec<LayerWeights<B>>,
}

/// Uploads a host tensor in `dtype`.
pub fn upload<B: Backend, const D: usize>(
    t: HostTensor,
    dtype: DType,
    device: &B::Device,
) -> Tensor<B, D> {
    let data = TensorData::new(t.data, t.shape).convert_dtype(dtype);
    Tensor::from_data(data, (device, dtype))
}

fn concat_cols(parts: &[&HostTensor]) -> HostTensor {
    // Parts are [rows, c_i] row-major; the result is [rows, Σc_i].
    let rows = parts[0].shape[0];
    let total: usize = parts.iter().map(|p| p.shape[1]).sum();
    let mut data = Vec::with_capacity(rows * total);
    for r in 0..rows {
        for p in parts {
            let c = p.shape[1];
            data.extend_from_slice(&p.data[r * c..(r + 1) * c]);
        }
    }
    HostTensor::new(vec![rows, total], data)
}

fn concat_vec(parts: &[HostTensor]) -> HostTensor {
    let data: Vec<f32> = parts.iter().flat_map(|p| p.data.iter().copied()).collect();
    HostTensor::new(vec![data.len()], data)
}

impl<B: Backend> LlamaWeights<B> {
    /// Loads every weight from `src`, checking shapes against `config` (which the loader has
    /// completed with the tensor-dependent flags).
    pub fn load(
        src: &WeightSource,
        config: &LlamaConfig,
        dtype: ComputeDType,
        device: &B::Device,
    ) -> ModelResult<Self> {
        let c = config;
        let (h, q, kv, inter) = (c.hidden_size, c.q_dim(), c.kv_dim(), c.intermediate_size);
        let dt = dtype.dtype();
        let unpermute = matches!(src, WeightSource::Gguf(_))
            && c.architecture == crate::config::Architecture::Llama;
        let embed = src.require(WeightName::Embed, &[c.vocab_size, h])?;
        let lm_head = if c.tie_embeddings {
            None
        } else {
            Some(upload(
                src.require(WeightName::LmHead, &[c.vocab_size, h])?,
                dt,
                device,
            ))
        };
        let final_norm = upload(
            src.require(WeightName::FinalNorm, &[h])?,
            DType::F32,
            device,
        );
        let mut layers = Vec::with_capacity(c.num_layers);
        for i in 0..c.num_layers {
            let w = |lw| WeightName::Layer(i, lw);
            let mut wq = src.require(w(LayerWeight::Q), &[q, h])?;
            let mut wk = src.require(w(LayerWeight::K), &[kv, h])?;
            let wv = src.require(w(LayerWeight::V), &[kv, h])?;
            let mut biases = if c.attention_bias {
                Some([
                    src.require(w(LayerWeight::QBias), &[q])?,
                    src.require(w(LayerWeight::KBias), &[kv])?,
                    src.require(w(LayerWeight::VBias), &[kv])?,
                ])
            } else {
                None
            };
            if unpermute {
                wq = wq.unpermute_rope_rows(c.num_heads);
                wk = wk.unpermute_rope_rows(c.num_kv_heads);
                if let Some(b) = biases.as_mut() {
                    b[0] = b[0].unpermute_rope_rows(c.num_heads);
                    b[1] = b[1].unpermute_rope_rows(c.num_kv_heads);
                }
            }
            let w_qkv = concat_cols(&[&wq.transposed(), &wk.transposed(), &wv.transposed()]);
            let gate = src.require(w(LayerWeight::Gate), &[inter, h])?.transposed();
            let up = src.require(w(LayerWeight::Up), &[inter, h])?.transposed();
            layers.push(LayerWeights {
                attn_norm: upload(
                    src.require(w(LayerWeight::AttnNorm), &[h])?,
                    DType::F32,
                    device,
                ),
                w_qkv: upload(w_qkv, dt, device),
                b_qkv: biases.map(|b| upload(concat_vec(&b), DType::F32, device)),
                w_o: upload(
                    src.require(w(LayerWeight::O), &[h, q])?.transposed(),
                    dt,
                    device,
                ),
                ffn_norm: upload(
                    src.require(w(LayerWeight::FfnNorm), &[h])?,
                    DType::F32,
                    device,
                ),
                w_gate_up: upload(concat_cols(&[&gate, &up]), dt, device),
                w_down: upload(
                    src.require(w(LayerWeight::Down), &[h, inter])?.transposed(),
                    dt,
                    device,
                ),
            });
        }
        Ok(LlamaWeights {
            config: c.clone(),
            dtype,
            embed: upload(embed, dt, device),
            lm_head,
            final_norm,
            layers,
        })
    }
}
