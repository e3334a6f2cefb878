//! The forward pass on the host, for weights whose projections are host matrices (the CPU
//! default): the same computation as [`super::forward`], with every layer fused into a few
//! host kernels over plain `f32` rows and a host KV cache, instead of ~40 tensor ops per layer.
//! On a 135M model at k = 8 those ops cost as much as a third of the step.

use std::sync::Arc;

use autojudge_core::{ExtendOutput, OutputRows, Outputs, TokenId};

use super::session::grown_capacity;
use super::split_outputs::split_outputs;

use super::projection::Projection;
use super::rope::RopeTables;
use super::weights::{HostLayerVectors, HostVectors, LayerWeights, LlamaWeights};
use crate::cpu::layer_ops::{
    add_assign, add_bias_rows, attention, rms_norm_rows, rope_rows, silu_mul_rows, AttentionShape,
};
use crate::cpu::{matmul_xwt, HostMatrix};

/// Per-layer keys and values `[kv_heads, capacity, head_dim]` in host memory. Layers are
/// shared between forks until one of them writes (copy on write).
#[derive(Clone, Debug)]
pub struct HostKvCache {
    keys: Vec<Arc<Vec<f32>>>,
    values: Vec<Arc<Vec<f32>>>,
    kv_heads: usize,
    head_dim: usize,
    /// Allocated positions.
    pub capacity: usize,
}

impl HostKvCache {
    /// A cache for `layers` layers with room for `capacity` positions.
    pub fn new(layers: usize, kv_heads: usize, head_dim: usize, capacity: usize) -> Self {
        let z = || Arc::new(vec![0.0f32; kv_heads * capacity * head_dim]);
        HostKvCache {
            keys: (0..layers).map(|_| z()).collect(),
            values: (0..layers).map(|_| z()).collect(),
            kv_heads,
            head_dim,
            capacity,
        }
    }

    /// Grows to at least `needed` positions (doubling), keeping the first `len` positions.
    pub fn reserve(&mut self, needed: usize, len: usize, max: usize) {
        if needed <= self.capacity {
            return;
        }
        let new_cap = grown_capacity(self.capacity, needed, max);
        let (h, d, old_cap) = (self.kv_heads, self.head_dim, self.capacity);
        for slot in self.keys.iter_mut().chain(self.values.iter_mut()) {
            let mut fresh = vec![0.0f32; h * new_cap * d];
            for g in 0..h {
                fresh[g * new_cap * d..g * new_cap * d + len * d]
                    .copy_from_slice(&slot[g * old_cap * d..g * old_cap * d + len * d]);
            }
            *slot = Arc::new(fresh);
        }
        self.capacity = new_cap;
    }

    /// Writes rows `[k, kv_heads·d]` at positions `start..start+k` of layer `slot`, taking
    /// columns `col..col+kv_heads·d` of rows of `width`.
    fn write(&mut self, slot: usize, src: &[f32], width: usize, col: usize, start: usize) {
        let (h, d, cap) = (self.kv_heads, self.head_dim, self.capacity);
        let (keys, values) = (
            Arc::make_mut(&mut self.keys[slot]),
            Arc::make_mut(&mut self.values[slot]),
        );
        for (t, row) in src.chunks_exact(width).enumerate() {
            for g in 0..h {
                let dst = g * cap * d + (start + t) * d;
                keys[dst..dst + d].copy_from_slice(&row[col + g * d..col + (g + 1) * d]);
                let vcol = col + h * d;
                values[dst..dst + d].copy_from_slice(&row[vcol + g * d..vcol + (g + 1) * d]);
            }
        }
    }
}

fn host(p: &Projection<impl burn::tensor::backend::Backend>) -> &HostMatrix {
    match p {
        Projection::Host(m) => m,
        Projection::Device(_) => unreachable!("host forward over device weights"),
    }
}

/// `x [k, in]` → `[k, out]`.
fn project(m: &HostMatrix, x: &[f32]) -> Vec<f32> {
    let k = x.len() / m.cols;
    let mut y = vec![0.0f32; k * m.rows];
    matmul_xwt(x, k, m, &mut y);
    y
}

/// One session's share of a host forward: its cache, the tokens appended at `start..` and
/// the rows it wants back.
pub struct HostItem<'a> {
    /// The session's KV cache (already reserved for `start + tokens.len()` positions).
    pub cache: &'a mut HostKvCache,
    /// Tokens to append.
    pub tokens: &'a [TokenId],
    /// Position of the first appended token.
    pub start: usize,
    /// Rows wanted back.
    pub outputs: Outputs,
}

/// What one host forward reads.
pub struct HostForward<'a, B: burn::tensor::backend::Backend> {
    /// Model weights (projections on the host).
    pub weights: &'a LlamaWeights<B>,
    /// Their host norms and biases.
    pub vectors: &'a HostVectors,
    /// RoPE tables.
    pub rope: &'a RopeTables<B>,
    /// Layer indices to run, in order (one KV-cache slot each).
    pub layers: &'a [usize],
}

impl<B: burn::tensor::backend::Backend> HostForward<'_, B> {
    /// Runs the planned layers over every item's tokens and returns each item's requested
    /// rows. The rows of all items go through each projection as one matrix (weights streamed
    /// once per layer); RoPE, the KV write and attention run per item. Every kernel computes a
    /// row with the same instructions whatever the other rows, so an item's outputs are bit
    /// for bit those of running it alone.
    ///
    /// The forward runs on a worker of rayon's pool (the caller blocks once), so its many
    /// short parallel kernels fork and join among spinning workers instead of waking the pool
    /// from outside for each one.
    pub fn run_batch(&self, items: &mut [HostItem<'_>]) -> Vec<ExtendOutput> {
        if rayon::current_thread_index().is_none() {
            return rayon::scope(|_| self.run_batch(items));
        }
        let w = self.weights;
        let c = &w.config;
        let h = c.hidden_size;
        let total: usize = items.iter().map(|it| it.tokens.len()).sum();
        let embed = host(&w.embed);
        let mut x = Vec::with_capacity(total * h);
        for it in items.iter() {
            for &t in it.tokens {
                embed.push_row_f32(t as usize, &mut x);
            }
        }
        for (slot, &li) in self.layers.iter().enumerate() {
            self.layer(&w.layers[li], &self.vectors.layers[li], items, slot, &mut x);
        }
        let x = rms_norm_rows(&x, &self.vectors.final_norm, c.rms_norm_eps);
        // Row range of `x` an output request selects for each item.
        let pick = |r: fn(&Outputs) -> OutputRows| -> Vec<std::ops::Range<usize>> {
            let mut offset = 0;
            items
                .iter()
                .map(|it| {
                    let k = it.tokens.len();
                    let range = r(&it.outputs).range(k);
                    let rows = offset + range.start..offset + range.end;
                    offset += k;
                    rows
                })
                .collect()
        };
        let logit_ranges = pick(|o| o.logits);
        let hidden_ranges = pick(|o| o.hidden);
        let logit_rows: Vec<f32> = logit_ranges
            .iter()
            .flat_map(|r| x[r.start * h..r.end * h].iter().copied())
            .collect();
        let head = host(w.lm_head.as_ref().unwrap_or(&w.embed));
        let logits = if logit_rows.is_empty() {
            Vec::new()
        } else {
            project(head, &logit_rows)
        };
        let counts: Vec<(usize, usize)> = logit_ranges
            .iter()
            .zip(&hidden_ranges)
            .map(|(lr, hr)| (lr.len(), hr.len()))
            .collect();
        let hidden: Vec<f32> = hidden_ranges
            .iter()
            .flat_map(|r| x[r.start * h..r.end * h].iter().copied())
            .collect();
        split_outputs(logits, hidden, c.vocab_size, h, &counts)
    }

    fn layer(
        &self,
        lw: &LayerWeights<B>,
        lv: &HostLayerVectors,
        items: &mut [HostItem<'_>],
        slot: usize,
        x: &mut [f32],
    ) {
        let c = &self.weights.config;
        let (nh, nkv, d) = (c.num_heads, c.num_kv_heads, c.head_dim);
        let (qd, kvd) = (c.q_dim(), c.kv_dim());
        let width = qd + 2 * kvd;
        let hn = rms_norm_rows(x, &lv.attn_norm, c.rms_norm_eps);
        let mut qkv = project(host(&lw.w_qkv), &hn);
        if let Some(b) = &lv.b_qkv {
            add_bias_rows(&mut qkv, b);
        }
        let (cos, sin) = self.rope.host();
        let mut att = Vec::with_capacity(x.len() / c.hidden_size * qd);
        let mut offset = 0;
        for it in items.iter_mut() {
            let k = it.tokens.len();
            let rows = &mut qkv[offset * width..(offset + k) * width];
            offset += k;
            rope_rows(rows, width, 0, nh, d, it.start, cos, sin);
            rope_rows(rows, width, qd, nkv, d, it.start, cos, sin);
            let cache = &mut *it.cache;
            cache.write(slot, rows, width, qd, it.start);
            let q: Vec<f32> = rows
                .chunks_exact(width)
                .flat_map(|row| row[..qd].iter().copied())
                .collect();
            let shape = AttentionShape {
                heads: nh,
                kv_heads: nkv,
                head_dim: d,
                capacity: cache.capacity,
            };
            att.extend(attention(
                &q,
                &cache.keys[slot],
                &cache.values[slot],
                shape,
                it.start,
            ));
        }
        add_assign(x, &project(host(&lw.w_o), &att));
        let hn = rms_norm_rows(x, &lv.ffn_norm, c.rms_norm_eps);
        let gu = project(host(&lw.w_gate_up), &hn);
        let act = silu_mul_rows(&gu, c.intermediate_size);
        add_assign(x, &project(host(&lw.w_down), &act));
    }
}
