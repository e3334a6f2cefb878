//! [`LlamaSession`]: tokens plus a preallocated KV cache; `extend` appends, `truncate` rolls
//! back by moving the length (cached entries past it are simply overwritten later).

use autojudge_core::{
    check_extend, check_truncate, CoreResult, ExtendOutput, ModelInfo, ModelSession, Outputs,
    TokenId,
};
use burn::tensor::backend::Backend;

use super::forward::{Forward, KvCache};
use super::host_forward::{HostForward, HostKvCache};
use super::Llama;

/// The KV cache of a session: on the backend's device, or in host memory when the model's
/// projections run on the host (then the whole forward does).
#[derive(Clone, Debug)]
enum SessionCache<B: Backend> {
    Device(KvCache<B>),
    Host(HostKvCache),
}

/// A decoding session of a [`Llama`] (or a draft view). `Clone` forks it; the copy shares
/// cache buffers until one side writes (copy on write).
pub struct LlamaSession<B: Backend> {
    model: Llama<B>,
    tokens: Vec<TokenId>,
    cache: SessionCache<B>,
}

impl<B: Backend> Clone for LlamaSession<B> {
    fn clone(&self) -> Self {
        LlamaSession {
            model: self.model.clone(),
            tokens: self.tokens.clone(),
            cache: self.cache.clone(),
        }
    }
}

impl<B: Backend> LlamaSession<B> {
    /// A fresh, empty session.
    pub fn new(model: Llama<B>) -> Self {
        let c = model.config();
        let cap = model.initial_capacity.min(model.info.max_context);
        let layers = model.layers.len();
        let cache = if model.shared.weights.host_vectors.is_some() {
            SessionCache::Host(HostKvCache::new(layers, c.num_kv_heads, c.head_dim, cap))
        } else {
            SessionCache::Device(KvCache::new(
                layers,
                c.num_kv_heads,
                c.head_dim,
                cap,
                model.device(),
            ))
        };
        LlamaSession {
            model,
            tokens: Vec::new(),
            cache,
        }
    }

    /// The model this session runs.
    pub fn model(&self) -> &Llama<B> {
        &self.model
    }

    /// Positions currently allocated in the KV cache.
    pub fn capacity(&self) -> usize {
        match &self.cache {
            SessionCache::Device(c) => c.capacity,
            SessionCache::Host(c) => c.capacity,
        }
    }
}

impl<B: Backend> ModelSession for LlamaSession<B> {
    fn info(&self) -> &ModelInfo {
        &self.model.info
    }

    fn tokens(&self) -> &[TokenId] {
        &self.tokens
    }

    fn extend(&mut self, tokens: &[TokenId], outputs: Outputs) -> CoreResult<ExtendOutput> {
        let start = self.tokens.len();
        check_extend(&self.model.info, start, tokens)?;
        let m = &self.model;
        let (needed, max) = (start + tokens.len(), m.info.max_context);
        let out = match &mut self.cache {
            SessionCache::Device(cache) => {
                cache.reserve(needed, start, max, m.device());
                let fwd = Forward {
                    weights: &m.shared.weights,
                    rope: &m.shared.rope,
                    layers: &m.layers,
                    device: m.device(),
                };
                fwd.run(cache, tokens, start, outputs)
            }
            SessionCache::Host(cache) => {
                cache.reserve(needed, start, max);
                let fwd = HostForward {
                    weights: &m.shared.weights,
                    vectors: m
                        .shared
                        .weights
                        .host_vectors
                        .as_ref()
                        .expect("host vectors"),
                    rope: &m.shared.rope,
                    layers: &m.layers,
                };
                fwd.run(cache, tokens, start, outputs)
            }
        };
        self.tokens.extend_from_slice(tokens);
        Ok(out)
    }

    fn truncate(&mut self, n: usize) -> CoreResult<()> {
        check_truncate(self.tokens.len(), n)?;
        self.tokens.truncate(n);
        Ok(())
    }
}
