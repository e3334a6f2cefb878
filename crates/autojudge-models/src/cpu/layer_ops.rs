//! Row-wise host kernels of a decoder layer besides the projections: RMSNorm, RoPE, SwiGLU
//! and causal attention over a host KV cache. Every output row is computed by the same
//! instructions whatever the number of rows `k`, so a k-token verification reproduces k
//! single-token decode steps bit for bit (the lossless guarantee rests on it).

use rayon::prelude::*;

/// `x / rms(x) · w` for each of the `k` rows of `x` (`[k, w.len()]`).
pub fn rms_norm_rows(x: &[f32], w: &[f32], eps: f64) -> Vec<f32> {
    let h = w.len();
    let mut out = vec![0.0f32; x.len()];
    for (row, o) in x.chunks_exact(h).zip(out.chunks_exact_mut(h)) {
        let ms = dot(row, row) / h as f32;
        let inv = ((ms as f64 + eps).sqrt() as f32).recip();
        for ((o, &v), &g) in o.iter_mut().zip(row).zip(w) {
            *o = v * inv * g;
        }
    }
    out
}

/// Dot product in 16 fixed lanes. Not `matmul::dot_portable`: that one keeps 8 lanes to match
/// the AVX2 kernel's association, and at 8 lanes attention made SmolLM2's extend-8 ~15% slower
/// (25.4 vs 21.5 ms); nothing here has to match another kernel's rounding.
#[inline]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 16];
    let n16 = a.len() / 16 * 16;
    for (ca, cb) in a[..n16].chunks_exact(16).zip(b[..n16].chunks_exact(16)) {
        for l in 0..16 {
            lanes[l] += ca[l] * cb[l];
        }
    }
    let mut s: f32 = lanes.iter().sum();
    for i in n16..a.len() {
        s += a[i] * b[i];
    }
    s
}

/// Adds `bias` (`[width]`) to every row of `x` (`[k, width]`).
pub fn add_bias_rows(x: &mut [f32], bias: &[f32]) {
    for row in x.chunks_exact_mut(bias.len()) {
        for (v, &b) in row.iter_mut().zip(bias) {
            *v += b;
        }
    }
}

/// `x += y` elementwise.
pub fn add_assign(x: &mut [f32], y: &[f32]) {
    for (a, &b) in x.iter_mut().zip(y) {
        *a += b;
    }
}

/// Rotary embedding (half-split layout) applied in place to `heads` heads of `head_dim` that
/// start at column `col` of each row of `x` (`[k, width]`); row `t` sits at position
/// `start + t`, and `cos`/`sin` are `[positions, head_dim]` tables.
#[allow(clippy::too_many_arguments)]
pub fn rope_rows(
    x: &mut [f32],
    width: usize,
    col: usize,
    heads: usize,
    head_dim: usize,
    start: usize,
    cos: &[f32],
    sin: &[f32],
) {
    let half = head_dim / 2;
    for (t, row) in x.chunks_exact_mut(width).enumerate() {
        let p = (start + t) * head_dim;
        let (c, s) = (&cos[p..p + head_dim], &sin[p..p + head_dim]);
        for h in 0..heads {
            let v = &mut row[col + h * head_dim..col + (h + 1) * head_dim];
            for i in 0..half {
                let (x1, x2) = (v[i], v[i + half]);
                v[i] = x1 * c[i] + -x2 * s[i];
                v[i + half] = x2 * c[i + half] + x1 * s[i + half];
            }
        }
    }
}

/// SwiGLU: `silu(gate) · up` for rows `[k, 2·inter]` laid out gate | up.
pub fn silu_mul_rows(gate_up: &[f32], inter: usize) -> Vec<f32> {
    let k = gate_up.len() / (2 * inter);
    let mut out = vec![0.0f32; k * inter];
    for (row, o) in gate_up
        .chunks_exact(2 * inter)
        .zip(out.chunks_exact_mut(inter))
    {
        let (g, u) = row.split_at(inter);
        for ((o, &g), &u) in o.iter_mut().zip(g).zip(u) {
            *o = g * (1.0 / (1.0 + (-g).exp())) * u;
        }
    }
    out
}

/// Shape of a causal attention call over a host KV cache.
#[derive(Clone, Copy, Debug)]
pub struct AttentionShape {
    /// Query heads.
    pub heads: usize,
    /// Key/value heads (query head `h` reads KV head `h / (heads / kv_heads)`).
    pub kv_heads: usize,
    /// Elements per head.
    pub head_dim: usize,
    /// Positions allocated per KV head in the cache.
    pub capacity: usize,
}

/// Work (multiply-adds) above which attention runs its heads in parallel.
const PARALLEL_WORK: usize = 1 << 18;

/// Causal attention for `k` query rows at positions `start..start+k`. `q` is `[k, heads·d]`;
/// `keys`/`values` are `[kv_heads, capacity, d]` and already hold positions `0..start+k`.
/// Returns `[k, heads·d]`.
pub fn attention(
    q: &[f32],
    keys: &[f32],
    values: &[f32],
    shape: AttentionShape,
    start: usize,
) -> Vec<f32> {
    let AttentionShape {
        heads,
        kv_heads,
        head_dim: d,
        capacity,
    } = shape;
    let k = q.len() / (heads * d);
    let group = heads / kv_heads;
    let scale = 1.0 / (d as f32).sqrt();
    // Per head: [k, d] outputs.
    let head = |h: usize| -> Vec<f32> {
        let g = h / group;
        let kh = &keys[g * capacity * d..];
        let vh = &values[g * capacity * d..];
        let mut out = vec![0.0f32; k * d];
        let mut scores = Vec::with_capacity(start + k);
        for t in 0..k {
            let qr = &q[t * heads * d + h * d..t * heads * d + (h + 1) * d];
            let len = start + t + 1;
            scores.clear();
            let mut max = f32::NEG_INFINITY;
            for j in 0..len {
                let s = dot(qr, &kh[j * d..(j + 1) * d]) * scale;
                max = max.max(s);
                scores.push(s);
            }
            let mut sum = 0.0f32;
            for s in scores.iter_mut() {
                *s = (*s - max).exp();
                sum += *s;
            }
            let inv = 1.0 / sum;
            let o = &mut out[t * d..(t + 1) * d];
            for (j, &p) in scores.iter().enumerate() {
                let w = p * inv;
                for (o, &v) in o.iter_mut().zip(&vh[j * d..(j + 1) * d]) {
                    *o += w * v;
                }
            }
        }
        out
    };
    let per_head: Vec<Vec<f32>> = if k * (start + k) * d * heads >= PARALLEL_WORK {
        (0..heads).into_par_iter().map(head).collect()
    } else {
        (0..heads).map(head).collect()
    };
    let mut out = vec![0.0f32; k * heads * d];
    for (h, ph) in per_head.iter().enumerate() {
        for t in 0..k {
            out[t * heads * d + h * d..t * heads * d + (h + 1) * d]
                .copy_from_slice(&ph[t * d..(t + 1) * d]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rms_norm_matches_definition() {
        let x = [1.0f32, -2.0, 3.0, 0.5, 4.0, 0.0];
        let w = [1.0f32, 2.0, 0.5];
        let y = rms_norm_rows(&x, &w, 1e-6);
        for (r, row) in x.chunks(3).enumerate() {
            let rms = (row.iter().map(|v| v * v).sum::<f32>() / 3.0 + 1e-6).sqrt();
            for i in 0..3 {
                assert!((y[r * 3 + i] - row[i] / rms * w[i]).abs() < 1e-6);
            }
        }
    }

    #[test]
    fn attention_single_key_returns_its_value() {
        let shape = AttentionShape {
            heads: 2,
            kv_heads: 1,
            head_dim: 2,
            capacity: 4,
        };
        let keys = [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0];
        let values = [3.0, -1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0];
        let q = [0.3, 0.7, -2.0, 1.0];
        let out = attention(&q, &keys, &values, shape, 0);
        assert_eq!(out, vec![3.0, -1.0, 3.0, -1.0]);
    }

    #[test]
    fn attention_rows_do_not_depend_on_how_many_are_computed() {
        let shape = AttentionShape {
            heads: 4,
            kv_heads: 2,
            head_dim: 8,
            capacity: 16,
        };
        let n = 2 * 16 * 8;
        let keys: Vec<f32> = (0..n)
            .map(|i| ((i * 37 % 23) as f32 - 11.0) / 7.0)
            .collect();
        let values: Vec<f32> = (0..n)
            .map(|i| ((i * 17 % 29) as f32 - 14.0) / 5.0)
            .collect();
        let q: Vec<f32> = (0..6 * 32)
            .map(|i| ((i * 13 % 31) as f32 - 15.0) / 9.0)
            .collect();
        let all = attention(&q, &keys, &values, shape, 3);
        for t in 0..6 {
            let one = attention(&q[t * 32..(t + 1) * 32], &keys, &values, shape, 3 + t);
            assert_eq!(&all[t * 32..(t + 1) * 32], &one[..], "row {t}");
        }
    }
}
