//! The forward pass: `k` new tokens at positions `start..start+k` through the planned layers,
//! reading and writing a [`KvCache`]. One code path for prefill, single-step decode and
//! k-token verification, so their numerics agree.

use autojudge_core::{ExtendOutput, OutputRows, Outputs, TokenId};
use burn::tensor::{
    backend::Backend, module::attention, ops::AttentionModuleOptions, Bool, DType, Tensor,
    TensorData,
};

use super::rope::RopeTables;
use super::session::grown_capacity;
use super::split_outputs::split_outputs;
use super::weights::{LayerWeights, LlamaWeights};

/// Per-layer key/value tensors `[kv_heads, capacity, head_dim]` (f32), preallocated and written
/// in place with `slice_assign`.
#[derive(Clone, Debug)]
pub struct KvCache<B: Backend> {
    /// Keys per planned layer (`None` only transiently while being written).
    pub keys: Vec<Option<Tensor<B, 3>>>,
    /// Values per planned layer.
    pub values: Vec<Option<Tensor<B, 3>>>,
    /// Allocated positions.
    pub capacity: usize,
}

impl<B: Backend> KvCache<B> {
    /// A cache for `layers` layers with room for `capacity` positions.
    pub fn new(
        layers: usize,
        kv_heads: usize,
        head_dim: usize,
        capacity: usize,
        device: &B::Device,
    ) -> Self {
        let z = || {
            Some(Tensor::<B, 3>::zeros(
                [kv_heads, capacity, head_dim],
                (device, DType::F32),
            ))
        };
        KvCache {
            keys: (0..layers).map(|_| z()).collect(),
            values: (0..layers).map(|_| z()).collect(),
            capacity,
        }
    }

    /// Grows to at least `needed` positions (doubling), keeping the first `len` positions.
    pub fn reserve(&mut self, needed: usize, len: usize, max: usize, device: &B::Device) {
        if needed <= self.capacity {
            return;
        }
        let new_cap = grown_capacity(self.capacity, needed, max);
        for slot in self.keys.iter_mut().chain(self.values.iter_mut()) {
            let old = slot.take().expect("cache slot present");
            let [h, _, d] = old.dims();
            let fresh = Tensor::<B, 3>::zeros([h, new_cap, d], (device, DType::F32));
            let fresh = if len > 0 {
                fresh.slice_assign([0..h, 0..len, 0..d], old.slice([0..h, 0..len, 0..d]))
            } else {
                fresh
            };
            *slot = Some(fresh);
        }
        self.capacity = new_cap;
    }
}

/// Mask `[1, kv_heads, group·k, start+k]`, true where query `i` (row `g·k + i`) must not see
/// key `j > start + i`.
fn causal_mask<B: Backend>(
    nkv: usize,
    group: usize,
    k: usize,
    start: usize,
    device: &B::Device,
) -> Tensor<B, 4, Bool> {
    let len = start + k;
    let mut m = Vec::with_capacity(nkv * group * k * len);
    for _ in 0..nkv * group {
        for i in 0..k {
            m.extend((0..len).map(|j| j > start + i));
        }
    }
    Tensor::from_data(TensorData::new(m, [1, nkv, group * k, len]), device)
}

fn rms_norm<B: Backend>(x: Tensor<B, 2>, w: &Tensor<B, 1>, eps: f64) -> Tensor<B, 2> {
    let ms = x.clone().powi_scalar(2).mean_dim(1);
    x * (ms + eps).sqrt().recip() * w.clone().unsqueeze::<2>()
}

/// One session's share of a device forward: its cache, the tokens appended at `start..` and
/// the rows it wants back.
pub struct DeviceItem<'a, B: Backend> {
    /// The session's KV cache (already reserved for `start + tokens.len()` positions).
    pub cache: &'a mut KvCache<B>,
    /// Tokens to append.
    pub tokens: &'a [TokenId],
    /// Position of the first appended token.
    pub start: usize,
    /// Rows wanted back.
    pub outputs: Outputs,
}

/// What one forward pass reads: the weights, RoPE tables, the planned layers and the device.
pub struct Forward<'a, B: Backend> {
    /// Model weights.
    pub weights: &'a LlamaWeights<B>,
    /// RoPE tables.
    pub rope: &'a RopeTables<B>,
    /// Layer indices to run, in order (one KV-cache slot each).
    pub layers: &'a [usize],
    /// Device of the weights.
    pub device: &'a B::Device,
}

impl<B: Backend> Forward<'_, B> {
    /// Hidden states `[Σk, hidden]` of every item's tokens (in item order) after the planned
    /// layers and the final norm.
    pub fn hidden(&self, items: &mut [DeviceItem<'_, B>]) -> Tensor<B, 2> {
        let w = self.weights;
        let tokens: Vec<TokenId> = items
            .iter()
            .flat_map(|it| it.tokens.iter().copied())
            .collect();
        let mut x = w.embed.rows(&tokens, self.device);
        // One causal mask per item for every layer: built on the host and uploaded once per
        // forward, not once per layer.
        let c = &w.config;
        let masks: Vec<_> = items
            .iter()
            .map(|it| {
                let k = it.tokens.len();
                (k > 1).then(|| {
                    causal_mask::<B>(
                        c.num_kv_heads,
                        c.num_heads / c.num_kv_heads,
                        k,
                        it.start,
                        self.device,
                    )
                })
            })
            .collect();
        for (slot, &li) in self.layers.iter().enumerate() {
            x = layer_forward(w, &w.layers[li], self.rope, items, &masks, slot, x);
        }
        rms_norm(x, &w.final_norm, w.config.rms_norm_eps)
    }

    /// Runs the planned layers over every item's tokens and returns each item's requested
    /// rows. The rows of all items go through each projection as one matrix; RoPE, the KV
    /// write and attention run per item.
    pub fn run_batch(&self, items: &mut [DeviceItem<'_, B>]) -> Vec<ExtendOutput> {
        let w = self.weights;
        let hs = w.config.hidden_size;
        let hidden = self.hidden(items);
        let mut offset = 0;
        let mut logit_parts = Vec::new();
        let mut hidden_parts = Vec::new();
        let mut counts = Vec::with_capacity(items.len());
        for it in items.iter() {
            let k = it.tokens.len();
            let select = |r: OutputRows, parts: &mut Vec<Tensor<B, 2>>| {
                let range = r.range(k);
                if !range.is_empty() {
                    let rows = offset + range.start..offset + range.end;
                    parts.push(hidden.clone().slice([rows, 0..hs]));
                }
                range.len()
            };
            let nl = select(it.outputs.logits, &mut logit_parts);
            let nh = select(it.outputs.hidden, &mut hidden_parts);
            counts.push((nl, nh));
            offset += k;
        }
        // Every requested row comes back in one device-to-host read: logits then hidden
        // states, flattened into one vector.
        let mut flat = Vec::with_capacity(2);
        let mut logit_len = 0;
        if !logit_parts.is_empty() {
            let logits = lm_head(w, Tensor::cat(logit_parts, 0));
            logit_len = logits.dims().iter().product();
            flat.push(logits.reshape([logit_len]));
        }
        if !hidden_parts.is_empty() {
            let hidden = Tensor::cat(hidden_parts, 0);
            let n: usize = hidden.dims().iter().product();
            flat.push(hidden.reshape([n]));
        }
        let mut rows = match flat.len() {
            0 => Vec::new(),
            1 => host_values(flat.pop().expect("one part")),
            _ => host_values(Tensor::cat(flat, 0)),
        };
        let hidden = rows.split_off(logit_len);
        split_outputs(rows, hidden, w.config.vocab_size, hs, &counts)
    }
}

fn layer_forward<B: Backend>(
    w: &LlamaWeights<B>,
    lw: &LayerWeights<B>,
    rope: &RopeTables<B>,
    items: &mut [DeviceItem<'_, B>],
    masks: &[Option<Tensor<B, 4, Bool>>],
    slot: usize,
    x: Tensor<B, 2>,
) -> Tensor<B, 2> {
    let c = &w.config;
    let [total, _] = x.dims();
    let (qd, kvd) = (c.q_dim(), c.kv_dim());
    let h = rms_norm(x.clone(), &lw.attn_norm, c.rms_norm_eps);
    let mut qkv = lw.w_qkv.apply(h, w.dtype);
    if let Some(b) = &lw.b_qkv {
        qkv = qkv + b.clone().unsqueeze::<2>();
    }
    let mut offset = 0;
    let mut parts = Vec::with_capacity(items.len());
    for (it, mask) in items.iter_mut().zip(masks) {
        let k = it.tokens.len();
        let rows = qkv.clone().slice([offset..offset + k, 0..qd + 2 * kvd]);
        offset += k;
        parts.push(attend(
            c,
            rope,
            it.cache,
            slot,
            rows,
            it.start,
            mask.clone(),
        ));
    }
    let att = if parts.len() == 1 {
        parts.pop().expect("one part")
    } else {
        Tensor::cat(parts, 0)
    };
    let x = x + lw.w_o.apply(att, w.dtype);
    let h = rms_norm(x.clone(), &lw.ffn_norm, c.rms_norm_eps);
    let gu = lw.w_gate_up.apply(h, w.dtype);
    let inter = c.intermediate_size;
    let act = burn::tensor::activation::silu(gu.clone().slice([0..total, 0..inter]))
        * gu.slice([0..total, inter..2 * inter]);
    x + lw.w_down.apply(act, w.dtype)
}

/// RoPE, the KV write and causal attention of one item's `qkv` rows `[k, q + 2·kv]` at
/// positions `start..start+k` with its causal `mask` (`None` for one row); returns `[k, q]`.
fn attend<B: Backend>(
    c: &crate::config::LlamaConfig,
    rope: &RopeTables<B>,
    cache: &mut KvCache<B>,
    slot: usize,
    qkv: Tensor<B, 2>,
    start: usize,
    mask: Option<Tensor<B, 4, Bool>>,
) -> Tensor<B, 2> {
    let [k, _] = qkv.dims();
    let (nh, nkv, d) = (c.num_heads, c.num_kv_heads, c.head_dim);
    let (qd, kvd) = (c.q_dim(), c.kv_dim());
    let heads = |t: Tensor<B, 2>, n: usize| t.reshape([k, n, d]).swap_dims(0, 1);
    let q = rope.apply(heads(qkv.clone().slice([0..k, 0..qd]), nh), start);
    let kk = rope.apply(heads(qkv.clone().slice([0..k, qd..qd + kvd]), nkv), start);
    let vv = heads(qkv.slice([0..k, qd + kvd..qd + 2 * kvd]), nkv);
    let end = start + k;
    let keys = cache.keys[slot]
        .take()
        .expect("cache slot")
        .slice_assign([0..nkv, start..end, 0..d], kk);
    let values = cache.values[slot]
        .take()
        .expect("cache slot")
        .slice_assign([0..nkv, start..end, 0..d], vv);
    let kview = keys.clone().slice([0..nkv, 0..end, 0..d]);
    let vview = values.clone().slice([0..nkv, 0..end, 0..d]);
    cache.keys[slot] = Some(keys);
    cache.values[slot] = Some(values);
    // GQA without copying K/V: the `group` query heads that share a KV head are stacked along
    // the query axis ([kv_heads, group·k, d]), with an explicit causal mask per stacked row.
    let group = nh / nkv;
    let q = q.reshape([1, nkv, group * k, d]);
    let opts = AttentionModuleOptions {
        scale: None,
        softcap: None,
        is_causal: false,
    };
    let att = attention(
        q,
        kview.unsqueeze::<4>(),
        vview.unsqueeze::<4>(),
        mask,
        None,
        opts,
    );
    att.reshape([nh, k, d]).swap_dims(0, 1).reshape([k, qd])
}

/// Logits `[rows, vocab]` for hidden rows `[rows, hidden]`.
pub fn lm_head<B: Backend>(w: &LlamaWeights<B>, hidden: Tensor<B, 2>) -> Tensor<B, 2> {
    w.lm_head
        .as_ref()
        .unwrap_or(&w.embed)
        .apply(hidden, w.dtype)
}

fn host_values<B: Backend>(t: Tensor<B, 1>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .into_vec::<f32>()
        .expect("f32 data")
}
