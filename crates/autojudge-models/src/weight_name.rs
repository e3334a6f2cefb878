//! Canonical weight names of a Llama-family checkpoint and their spellings in GGUF and HF files.

/// A per-layer weight.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LayerWeight {
    /// RMSNorm before attention.
    AttnNorm,
    /// Query projection.
    Q,
    /// Key projection.
    K,
    /// Value projection.
    V,
    /// Query bias (Qwen2).
    QBias,
    /// Key bias (Qwen2).
    KBias,
    /// Value bias (Qwen2).
    VBias,
    /// Attention output projection.
    O,
    /// RMSNorm before the MLP.
    FfnNorm,
    /// MLP gate projection.
    Gate,
    /// MLP up projection.
    Up,
    /// MLP down projection.
    Down,
}

/// A weight of the whole model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WeightName {
    /// Token embedding `[vocab, hidden]`.
    Embed,
    /// Final RMSNorm.
    FinalNorm,
    /// LM head `[vocab, hidden]` (absent when tied to the embedding).
    LmHead,
    /// Llama 3.1 RoPE frequency factors (GGUF only).
    RopeFreqs,
    /// A weight of layer `.0`.
    Layer(usize, LayerWeight),
}

impl WeightName {
    /// The tensor name in a GGUF file (llama.cpp convention).
    pub fn gguf(self) -> String {
        match self {
            WeightName::Embed => "token_embd.weight".into(),
            WeightName::FinalNorm => "output_norm.weight".into(),
            WeightName::LmHead => "output.weight".into(),
            WeightName::RopeFreqs => "rope_freqs.weight".into(),
            WeightName::Layer(i, w) => {
                let s = match w {
                    LayerWeight::AttnNorm => "attn_norm.weight",
                    LayerWeight::Q => "attn_q.weight",
                    LayerWeight::K => "attn_k.weight",
                    LayerWeight::V => "attn_v.weight",
                    LayerWeight::QBias => "attn_q.bias",
                    LayerWeight::KBias => "attn_k.bias",
                    LayerWeight::VBias => "attn_v.bias",
                    LayerWeight::O => "attn_output.weight",
                    LayerWeight::FfnNorm => "ffn_norm.weight",
                    LayerWeight::Gate => "ffn_gate.weight",
                    LayerWeight::Up => "ffn_up.weight",
                    LayerWeight::Down => "ffn_down.weight",
                };
                format!("blk.{i}.{s}")
            }
        }
    }

    /// The tensor name in an HF safetensors checkpoint.
    pub fn hf(self) -> String {
        match self {
            WeightName::Embed => "model.embed_tokens.weight".into(),
            WeightName::FinalNorm => "model.norm.weight".into(),
            WeightName::LmHead => "lm_head.weight".into(),
            WeightName::RopeFreqs => "rope_freqs.weight".into(),
            WeightName::Layer(i, w) => {
                let s = match w {
                    LayerWeight::AttnNorm => "input_layernorm.weight",
                    LayerWeight::Q => "self_attn.q_proj.weight",
                    LayerWeight::K => "self_attn.k_proj.weight",
                    LayerWeight::V => "self_attn.v_proj.weight",
                    LayerWeight::QBias => "self_attn.q_proj.bias",
                    LayerWeight::KBias => "self_attn.k_proj.bias",
                    LayerWeight::VBias => "self_attn.v_proj.bias",
                    LayerWeight::O => "self_attn.o_proj.weight",
                    LayerWeight::FfnNorm => "post_attention_layernorm.weight",
                    LayerWeight::Gate => "mlp.gate_proj.weight",
                    LayerWeight::Up => "mlp.up_proj.weight",
                    LayerWeight::Down => "mlp.down_proj.weight",
                };
                format!("model.layers.{i}.{s}")
            }
        }
    }
}
