//! [`LlamaSession`]: tokens plus a preallocated KV cache; `extend` appends, `truncate` rolls
//! back by moving the length (cached entries past it are simply overwritten later).

use autojudge_core::{
    check_extend, check_truncate, BatchItem, CoreResult, ExtendOutput, ModelInfo, ModelSession,
    Outputs, TokenId,
};
use burn::tensor::backend::Backend;

use super::forward::{DeviceItem, Forward, KvCache};
use super::host_forward::{HostForward, HostItem, HostKvCache};
use super::Llama;

/// Positions a KV cache of `capacity` grows to when it must hold `needed` (doubling, capped at
/// the model's `max` context).
pub(crate) fn grown_capacity(capacity: usize, needed: usize, max: usize) -> usize {
    needed.max(capacity * 2).min(max.max(needed))
}

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
        let mut item = [BatchItem {
            session: self,
            tokens,
            outputs,
        }];
        extend_batch(&mut item).pop().expect("one result per item")
    }

    fn truncate(&mut self, n: usize) -> CoreResult<()> {
        check_truncate(self.tokens.len(), n)?;
        self.tokens.truncate(n);
        Ok(())
    }
}

impl<B: Backend> LlamaSession<B> {
    /// Whether this session runs `model`'s weights through the same layers (one forward
    /// serves both).
    fn batches_with(&self, model: &Llama<B>) -> bool {
        self.model.shares_weights_with(model) && self.model.layers == model.layers
    }
}

/// Extends every item, one result per item in order: an item that fails its checks fails
/// alone, and the others run as one forward per weight set and layer plan (in practice one).
pub(crate) fn extend_batch<B: Backend>(
    items: &mut [BatchItem<'_, LlamaSession<B>>],
) -> Vec<CoreResult<ExtendOutput>> {
    let mut results: Vec<Option<CoreResult<ExtendOutput>>> = items
        .iter()
        .map(|it| {
            check_extend(&it.session.model.info, it.session.tokens.len(), it.tokens)
                .err()
                .map(Err)
        })
        .collect();
    while let Some(first) = results.iter().position(Option::is_none) {
        let mut group: Vec<(usize, &mut BatchItem<'_, LlamaSession<B>>)> = Vec::new();
        let lead = items[first].session.model.clone();
        for (i, it) in items.iter_mut().enumerate() {
            if results[i].is_none() && it.session.batches_with(&lead) {
                group.push((i, it));
            }
        }
        let outs = forward_group(&lead, &mut group);
        for ((i, _), out) in group.iter().zip(outs) {
            results[*i] = Some(Ok(out));
        }
    }
    results
        .into_iter()
        .map(|r| r.expect("every item answered"))
        .collect()
}

/// One forward over checked items that share `model`'s weights and layer plan.
fn forward_group<B: Backend>(
    model: &Llama<B>,
    group: &mut [(usize, &mut BatchItem<'_, LlamaSession<B>>)],
) -> Vec<ExtendOutput> {
    let max = model.info.max_context;
    let shared = &model.shared;
    let outs = match &shared.weights.host_vectors {
        Some(vectors) => {
            let mut host_items: Vec<HostItem<'_>> = group
                .iter_mut()
                .map(|(_, it)| {
                    let start = it.session.tokens.len();
                    let SessionCache::Host(cache) = &mut it.session.cache else {
                        unreachable!("sessions of host weights hold host caches")
                    };
                    cache.reserve(start + it.tokens.len(), start, max);
                    HostItem {
                        cache,
                        tokens: it.tokens,
                        start,
                        outputs: it.outputs,
                    }
                })
                .collect();
            HostForward {
                weights: &shared.weights,
                vectors,
                rope: &shared.rope,
                layers: &model.layers,
            }
            .run_batch(&mut host_items)
        }
        None => {
            let device = model.device();
            let mut device_items: Vec<DeviceItem<'_, B>> = group
                .iter_mut()
                .map(|(_, it)| {
                    let start = it.session.tokens.len();
                    let SessionCache::Device(cache) = &mut it.session.cache else {
                        unreachable!("sessions of device weights hold device caches")
                    };
                    cache.reserve(start + it.tokens.len(), start, max, device);
                    DeviceItem {
                        cache,
                        tokens: it.tokens,
                        start,
                        outputs: it.outputs,
                    }
                })
                .collect();
            Forward {
                weights: &shared.weights,
                rope: &shared.rope,
                layers: &model.layers,
                device,
            }
            .run_batch(&mut device_items)
        }
    };
    for (_, it) in group.iter_mut() {
        it.session.tokens.extend_from_slice(it.tokens);
    }
    outs
}
