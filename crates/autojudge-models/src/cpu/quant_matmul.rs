//! `y = x · Wᵀ` for a [`QuantMatrix`]: integer dot products of the stored weight codes with
//! int8 activation codes, scales applied per block.
//!
//! Every (weight row, activation row) pair is one fixed sequence of operations on 16 lanes,
//! whatever the number of rows computed together. Flat scales (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0;
//! activations with a scale per 32):
//!
//! ```text
//! for each chunk of 64 weights, lane l (4 weights):
//!     s   = Σ₄ code · xcode                     (exact, i32)
//!     acc = fma(f32(s) · xscale[l], wscale[l], acc)
//!     acc = fma(xsum[l], woffset[l], acc)        (the offset / zero-point term)
//! ```
//!
//! k-quant scales (Q4_K, Q5_K, Q6_K; activations with a scale per 256): the integer sub-scales
//! apply in integer arithmetic, so floats appear once per 256 weights:
//!
//! ```text
//! for each 256 weights: iacc = Σ over 4 chunks of pair sums (code · xcode) · sub-scale (i32)
//!     (Q6_K: iacc += Σ₁₆ (−32 · sub-scale) · Σ₁₆ xcode)
//!     acc = fma(f32(iacc[l]), d · xscale, acc)
//!     (Q4_K, Q5_K: acc = fma(Σ₃₂ x, −dmin · mn, acc) on 8 lanes)
//! ```
//!
//! and both end with a fixed tree sum of the 16 lanes. The AVX-512 VNNI kernels
//! (`quant_avx512`), the AVX2 kernels (`quant_avx2`) and the portable code perform exactly these
//! roundings, so their results are bit-identical ([`reference_dot`] and [`reference_dot_super`]
//! are the specifications the tests hold them to), and a row's result never depends on k, on
//! the batch or on the instruction set.

// Lane and register-block loops index several arrays in step; iterators would hide that.
#![allow(clippy::needless_range_loop)]

use rayon::prelude::*;

use super::isa::Isa;
use super::quant_activations::{QuantActivations, SuperActivations};
use super::quant_format::{ScaleScheme, CHUNK, SUPER};
use super::quant_matrix::{QuantMatrix, QuantPart};

/// Output rows per parallel task.
const TASK_ROWS: usize = 64;
/// Most activation rows per kernel pass (the size of the kernels' output block).
pub(super) const NC: usize = 8;

/// The flat kernels' scale scheme as a const parameter: an f16 scale and offset per 32.
pub(super) const FLAT_OFFSET: u8 = 0;
/// The flat kernels' scale scheme as a const parameter: an f16 scale and a zero point per 32.
pub(super) const FLAT_ZERO: u8 = 1;

/// Most activation rows per k-quant kernel pass (one weight row at a time: its codes are
/// unpacked once for all 8, and an integer and a float accumulator per pair fit the registers).
const NC_SUPER: usize = 8;

/// The activations one part's kernel reads.
#[derive(Clone, Copy)]
enum PartActs<'a> {
    Flat(&'a QuantActivations),
    Super(&'a SuperActivations),
}

/// Computes `y[k, rows] = x[k, cols] · Wᵀ` with the kernels of `isa` (a concrete set this CPU
/// has: the result is the same bits under every set).
pub fn quant_matmul_xwt(x: &[f32], k: usize, w: &QuantMatrix, y: &mut [f32], isa: Isa) {
    let (rows, cols) = (w.rows(), w.cols());
    // The SIMD kernels are `unsafe` on a CPU without their features.
    assert!(
        isa != Isa::Auto,
        "quantized kernels need a resolved instruction set"
    );
    assert!(
        isa.missing_features().is_empty(),
        "quantized kernels asked to run {isa} on a CPU without it"
    );
    assert_eq!(x.len(), k * cols, "x shape");
    assert_eq!(y.len(), k * rows, "y shape");
    let is_super = |p: &QuantPart| p.format.scheme.has_super_scales();
    // The kernels read records and activation rows through raw pointers: hold the sizes.
    for p in &w.parts {
        assert_eq!(p.data.len(), p.rows * p.row_bytes(), "quantized part size");
        assert_eq!(p.cols, cols, "quantized part width");
    }
    let flat = w
        .parts
        .iter()
        .any(|p| !is_super(p))
        .then(|| QuantActivations::new(x, k, cols));
    let sup = w
        .parts
        .iter()
        .any(is_super)
        .then(|| SuperActivations::new(x, k, cols));
    let out = OutRows {
        y: y.as_mut_ptr(),
        rows,
    };
    let mut at = 0;
    for part in &w.parts {
        let acts = match (&flat, &sup) {
            (_, Some(s)) if is_super(part) => PartActs::Super(s),
            (Some(f), _) => PartActs::Flat(f),
            _ => unreachable!("activations built for every part kind"),
        };
        let tasks = part.rows.div_ceil(TASK_ROWS);
        (0..tasks).into_par_iter().for_each(|task| {
            let r0 = task * TASK_ROWS;
            rows_block(
                part,
                acts,
                k,
                r0,
                (r0 + TASK_ROWS).min(part.rows),
                at,
                out,
                isa,
            );
        });
        at += part.rows;
    }
}

/// The output `y[k, rows]`, written in place by parallel tasks that own disjoint row ranges
/// (each writes `y[c·rows + r]` only for its own rows `r`).
#[derive(Clone, Copy)]
struct OutRows {
    y: *mut f32,
    rows: usize,
}

// SAFETY: tasks write disjoint elements (their own rows) and the buffer outlives them
// (`quant_matmul_xwt` joins every task before returning).
unsafe impl Send for OutRows {}
// SAFETY: as for `Send`: shared references only ever write disjoint rows.
unsafe impl Sync for OutRows {}

impl OutRows {
    /// Writes `y[c, r]`.
    ///
    /// # Safety
    /// `c < k`, `r < rows`, and no other task writes row `r`.
    #[inline]
    unsafe fn set(self, c: usize, r: usize, v: f32) {
        // SAFETY: `c < k` and `r < rows` keep the write inside the buffer, and only this task
        // writes row `r` (# Safety).
        unsafe {
            *self.y.add(c * self.rows + r) = v;
        }
    }
}

/// Rows `r0..r1` of `part` (output rows `at + r`) against every activation row.
#[allow(clippy::too_many_arguments)]
fn rows_block(
    part: &QuantPart,
    acts: PartActs,
    k: usize,
    r0: usize,
    r1: usize,
    at: usize,
    out: OutRows,
    isa: Isa,
) {
    let mut r = r0;
    #[cfg(target_arch = "x86_64")]
    if let Some((br, nc_max)) = simd_block_shape(isa, acts, k) {
        // Activation rows outer, weight rows inner: the task's weight rows and one block of
        // activation rows both stay in L2.
        let r_end = r0 + (r1 - r0) / br * br;
        let mut c = 0;
        while c < k {
            let nc = nc_max.min(k - c);
            let mut rr = r0;
            while rr < r_end {
                let mut acc = [[0.0f32; NC]; 4];
                // SAFETY: `quant_matmul_xwt` checked that the CPU has `isa`; the row ranges are
                // in bounds by construction.
                unsafe { simd_block(isa, part, acts, rr, br, c, nc, &mut acc) };
                for i in 0..br {
                    for j in 0..nc {
                        // SAFETY: this task owns rows r0..r1; c + j < k.
                        unsafe { out.set(c + j, at + rr + i, acc[i][j]) };
                    }
                }
                rr += br;
            }
            c += nc;
        }
        r = r_end;
    }
    for rr in r..r1 {
        for c in 0..k {
            let v = match acts {
                PartActs::Flat(a) => reference_dot(part, rr, a, c),
                PartActs::Super(a) => reference_dot_super(part, rr, a, c),
            };
            // SAFETY: as above.
            unsafe { out.set(c, at + rr, v) };
        }
    }
}

/// The block of `(weight rows, most activation rows)` the SIMD kernels of `isa` take for `k`
/// activation rows, or `None` where `isa` has none (the portable code runs).
#[cfg(target_arch = "x86_64")]
fn simd_block_shape(isa: Isa, acts: PartActs, k: usize) -> Option<(usize, usize)> {
    use super::quant_avx2::NC_AVX2;
    match isa {
        // Decode (k ≤ 2): k-quant rows one at a time, a single sequential stream per thread
        // (measured on Qwen2.5-Coder-1.5B: 4 rows at a time decoded ~5% slower); flat rows,
        // short on the small models that use them, 4 at a time (1 at a time: SmolLM2 decoded
        // ~25% slower).
        Isa::Avx512Vnni => Some(match acts {
            PartActs::Super(_) if k <= 2 => (1, k),
            PartActs::Flat(_) if k <= 2 => (4, k),
            PartActs::Flat(_) => (2, NC),
            PartActs::Super(_) => (1, NC_SUPER),
        }),
        // Half the registers of AVX-512 and two of them per accumulator.
        Isa::Avx2 => Some(match acts {
            PartActs::Flat(_) if k <= 2 => (2, k),
            PartActs::Flat(_) | PartActs::Super(_) => (1, NC_AVX2.min(k)),
        }),
        Isa::Scalar | Isa::Auto => None,
    }
}

/// One block of the SIMD kernels of `isa`.
///
/// # Safety
/// The CPU has `isa`; the block lies inside the part and the activations, with the shape
/// [`simd_block_shape`] gave.
#[cfg(target_arch = "x86_64")]
#[allow(clippy::too_many_arguments)]
unsafe fn simd_block(
    isa: Isa,
    part: &QuantPart,
    acts: PartActs,
    r: usize,
    nr: usize,
    c: usize,
    nc: usize,
    acc: &mut [[f32; NC]; 4],
) {
    use super::{quant_avx2, quant_avx512};
    // SAFETY: the caller's contract (# Safety) is each kernel's.
    unsafe {
        match (isa, acts) {
            (Isa::Avx512Vnni, PartActs::Flat(a)) => quant_avx512::block(part, a, r, nr, c, nc, acc),
            (Isa::Avx512Vnni, PartActs::Super(a)) => {
                quant_avx512::block_super(part, a, r, nr, c, nc, acc)
            }
            (Isa::Avx2, PartActs::Flat(a)) => quant_avx2::block(part, a, r, nr, c, nc, acc),
            (Isa::Avx2, PartActs::Super(a)) => quant_avx2::block_super(part, a, r, nr, c, nc, acc),
            (other, _) => unreachable!("no SIMD kernels for {other}"),
        }
    }
}

/// Per-lane weight scale and offset of flat chunk `ch` of row `r` (16 lanes of 4 weights).
fn lane_scales(part: &QuantPart, r: usize, ch: usize) -> ([f32; 16], [f32; 16]) {
    let s = part.flat_scales(r, ch);
    let half_at = |i: usize| half::f16::from_le_bytes([s[2 * i], s[2 * i + 1]]).to_f32();
    let (mut w, mut m) = ([0.0f32; 16], [0.0f32; 16]);
    for l in 0..16 {
        (w[l], m[l]) = match part.format.scheme {
            ScaleScheme::FlatOffset => (half_at(l / 8), half_at(2 + l / 8)),
            ScaleScheme::FlatZero(z) => {
                let d = half_at(l / 8);
                (d, d * -(z as f32))
            }
            ScaleScheme::SuperOffset | ScaleScheme::SuperZero => {
                unreachable!("k-quant rows take reference_dot_super")
            }
        };
    }
    (w, m)
}

/// The tree sum every kernel ends with: lanes `i` and `i + 8`, then `i + 4`, `i + 2`, `i + 1`.
fn tree_sum(a: [f32; 16]) -> f32 {
    let mut v = a;
    for half in [8, 4, 2, 1] {
        for i in 0..half {
            v[i] += v[i + half];
        }
    }
    v[0]
}

/// Row `r` of `part` dotted with activation row `c`: the specification of the kernels, in
/// portable code (also the `scalar` instruction set's kernel).
pub fn reference_dot(part: &QuantPart, r: usize, acts: &QuantActivations, c: usize) -> f32 {
    let (xq, xs, xsum) = (
        acts.row_codes(c),
        acts.row_lane_scale(c),
        acts.row_lane_sum(c),
    );
    let mut acc = [0.0f32; 16];
    for ch in 0..part.chunks_per_row() {
        let q = part.chunk_codes(r, ch);
        let (w, m) = lane_scales(part, r, ch);
        for l in 0..16 {
            let s: i32 = (0..4)
                .map(|e| q[4 * l + e] as i32 * xq[ch * CHUNK + 4 * l + e] as i32)
                .sum();
            let t = s as f32 * xs[ch * 16 + l];
            acc[l] = t.mul_add(w[l], acc[l]);
            acc[l] = xsum[ch * 16 + l].mul_add(m[l], acc[l]);
        }
    }
    tree_sum(acc)
}

/// Which of a 256-weight block's 16 scale bytes covers pair lane `t` (weights `2t`, `2t + 1`)
/// of chunk `j`: one scale per `weights_per_scale` (32 for Q4_K/Q5_K, 16 for Q6_K).
pub(super) const fn pair_scale_index(weights_per_scale: usize, j: usize, t: usize) -> usize {
    (CHUNK / weights_per_scale) * j + 2 * t / weights_per_scale
}

/// Weights per sub-scale of a k-quant scheme.
fn weights_per_scale(scheme: ScaleScheme) -> usize {
    if scheme == ScaleScheme::SuperOffset {
        32
    } else {
        16
    }
}

/// The sub-scale of each of a chunk's 32 pair lanes, from the 16 scale bytes of its
/// 256-weight block.
fn pair_scales(scheme: ScaleScheme, scales: &[u8], j: usize) -> [i16; 32] {
    let n = weights_per_scale(scheme);
    std::array::from_fn(|t| {
        let b = scales[pair_scale_index(n, j, t)];
        match scheme {
            ScaleScheme::SuperOffset => b as i16,
            _ => (b as i8) as i16,
        }
    })
}

/// Row `r` of a k-quant `part` dotted with activation row `c`: the specification of the
/// k-quant kernel, in portable code (also its fallback).
pub fn reference_dot_super(part: &QuantPart, r: usize, a: &SuperActivations, c: usize) -> f32 {
    let scheme = part.format.scheme;
    let cols = a.cols;
    let n_super = cols / SUPER;
    let mut acc = [0.0f32; 16];
    for s in 0..n_super {
        let (d, dmin, scales) = part.super_header(r, s);
        let mut iacc = [0i32; 16];
        for j in 0..4 {
            let q = part.chunk_codes(r, 4 * s + j);
            let x = &a.codes[c * cols + s * SUPER + j * CHUNK..][..CHUNK];
            let sc = pair_scales(scheme, scales, j);
            // maddubs: saturating i16 sums of two u8 × i8 products; dpwssd: i32 lane l gains
            // pair lanes 2l and 2l + 1 times their scales.
            let p: [i16; 32] = std::array::from_fn(|t| {
                let e = |i: usize| q[i] as i16 * x[i] as i16;
                e(2 * t).saturating_add(e(2 * t + 1))
            });
            for l in 0..16 {
                iacc[l] = iacc[l]
                    .wrapping_add(p[2 * l] as i32 * sc[2 * l] as i32)
                    .wrapping_add(p[2 * l + 1] as i32 * sc[2 * l + 1] as i32);
            }
        }
        if scheme == ScaleScheme::SuperZero {
            let sums = &a.code_sum16[(c * cols) / 16 + s * 16..][..16];
            let z = |t: usize| -32 * (scales[t] as i8) as i32 * sums[t] as i32;
            for l in 0..8 {
                iacc[l] = iacc[l].wrapping_add(z(2 * l)).wrapping_add(z(2 * l + 1));
            }
        }
        let f = d * a.scale[c * n_super + s];
        for l in 0..16 {
            acc[l] = (iacc[l] as f32).mul_add(f, acc[l]);
        }
        if scheme == ScaleScheme::SuperOffset {
            let sums = &a.block_sum[(c * cols) / 32 + s * 8..][..8];
            for l in 0..16 {
                let (xb, mn) = if l < 8 {
                    (sums[l], scales[8 + l])
                } else {
                    (0.0, 0)
                };
                acc[l] = xb.mul_add(mn as f32 * -dmin, acc[l]);
            }
        }
    }
    tree_sum(acc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::quant_format::QuantFormat;
    use crate::cpu::quant_matrix::tests::{random_blocks, TYPES};
    use crate::gguf::{dequantize, GgmlType};

    fn acts(k: usize, cols: usize, seed: usize) -> Vec<f32> {
        (0..k * cols)
            .map(|i| (((i + seed) * 37 % 101) as f32 - 50.0) / 17.0)
            .collect()
    }

    fn matrix(t: GgmlType, rows: usize, cols: usize) -> QuantMatrix {
        let b = random_blocks(t, rows, cols, rows as u64 + cols as u64);
        QuantMatrix::new(vec![QuantPart::from_blocks(
            QuantFormat::for_stored(t).unwrap(),
            rows,
            cols,
            &b,
        )])
    }

    /// Asserts that `quant_matmul_xwt` under `isa` equals the specification bit for bit.
    fn assert_kernel_is_the_specification(m: &QuantMatrix, x: &[f32], k: usize, isa: Isa) {
        let (rows, cols) = (m.rows(), m.cols());
        let mut y = vec![0.0; k * rows];
        quant_matmul_xwt(x, k, m, &mut y, isa);
        let part = &m.parts[0];
        let flat = QuantActivations::new(x, k, cols);
        let sup = (cols % SUPER == 0).then(|| SuperActivations::new(x, k, cols));
        for c in 0..k {
            for r in 0..rows {
                let want = if part.format.scheme.has_super_scales() {
                    reference_dot_super(part, r, sup.as_ref().unwrap(), c)
                } else {
                    reference_dot(part, r, &flat, c)
                };
                assert_eq!(
                    y[c * rows + r].to_bits(),
                    want.to_bits(),
                    "{} {isa} k={k} r={r} c={c}: {} vs {want}",
                    part.format.label(),
                    y[c * rows + r]
                );
            }
        }
    }

    #[test]
    fn kernel_equals_the_reference_bit_for_bit_for_every_type_isa_and_k() {
        for isa in Isa::available() {
            for t in TYPES {
                let cols = if t.block_len() == 256 { 512 } else { 96 };
                let m = matrix(t, 70, cols);
                for k in [1, 2, 3, 4, 5, 8, 9, 17] {
                    assert_kernel_is_the_specification(&m, &acts(k, cols, k), k, isa);
                }
                // Activations at full scale in every block: codes ±127 beside the largest
                // weight codes (Q8_0's 255), where a saturating 16-bit pair sum would show.
                let x: Vec<f32> = (0..3 * cols)
                    .map(|i| if (i / 3) % 2 == 0 { 9.0 } else { -9.0 })
                    .collect();
                assert_kernel_is_the_specification(&m, &x, 3, isa);
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]
        /// Any blocks, any row count (SIMD blocks and the portable tail), any k: every
        /// instruction set gives the specification's bits.
        #[test]
        fn every_isa_is_the_specification_on_random_blocks(
            type_index in 0..TYPES.len(),
            rows in 1usize..12,
            k in 1usize..11,
            seed in 0u64..1_000_000,
            blocks in 1usize..3,
        ) {
            let t = TYPES[type_index];
            let cols = blocks * if t.block_len() == 256 { 256 } else { 64 };
            let b = random_blocks(t, rows, cols, seed);
            let m = QuantMatrix::new(vec![QuantPart::from_blocks(
                QuantFormat::for_stored(t).unwrap(),
                rows,
                cols,
                &b,
            )]);
            let x = acts(k, cols, seed as usize);
            for isa in Isa::available() {
                assert_kernel_is_the_specification(&m, &x, k, isa);
            }
        }
    }

    #[test]
    fn each_row_is_independent_of_k() {
        for isa in Isa::available() {
            for t in [
                GgmlType::Q4_1,
                GgmlType::Q4_K,
                GgmlType::Q6_K,
                GgmlType::Q8_0,
            ] {
                let (rows, cols) = (36, 256);
                let m = matrix(t, rows, cols);
                let x = acts(9, cols, 3);
                let mut all = vec![0.0; 9 * rows];
                quant_matmul_xwt(&x, 9, &m, &mut all, isa);
                for c in 0..9 {
                    let mut one = vec![0.0; rows];
                    quant_matmul_xwt(&x[c * cols..(c + 1) * cols], 1, &m, &mut one, isa);
                    assert_eq!(
                        &all[c * rows..(c + 1) * rows],
                        &one[..],
                        "{t} {isa} row {c}"
                    );
                }
            }
        }
    }

    #[test]
    #[should_panic(expected = "quantized kernels need a resolved instruction set")]
    fn an_unresolved_isa_is_refused() {
        let m = matrix(GgmlType::Q4_0, 2, 64);
        let mut y = vec![0.0; 2];
        quant_matmul_xwt(&acts(1, 64, 0), 1, &m, &mut y, Isa::Auto);
    }

    #[test]
    fn products_are_close_to_the_dequantized_f32_products() {
        // A row's result is Σ w · x̂ for the stored weights and the int8 activations, so its
        // error is Σ w · (x̂ − x): at most half a step (max|x| / 254) per value times |w|.
        for t in TYPES {
            let (rows, cols) = (20, if t.block_len() == 256 { 256 } else { 160 });
            let b = random_blocks(t, rows, cols, 11);
            let wf = dequantize(t, &b);
            let m = QuantMatrix::new(vec![QuantPart::from_blocks(
                QuantFormat::for_stored(t).unwrap(),
                rows,
                cols,
                &b,
            )]);
            let x = acts(2, cols, 5);
            let mut y = vec![0.0; 2 * rows];
            quant_matmul_xwt(&x, 2, &m, &mut y, Isa::detected());
            for c in 0..2 {
                let xr = &x[c * cols..(c + 1) * cols];
                let amax = xr.iter().fold(0.0f32, |a, v| a.max(v.abs()));
                for r in 0..rows {
                    let wr = &wf[r * cols..(r + 1) * cols];
                    let exact: f64 = wr.iter().zip(xr).map(|(a, b)| *a as f64 * *b as f64).sum();
                    let bound: f64 =
                        wr.iter().map(|a| a.abs() as f64).sum::<f64>() * amax as f64 / 254.0;
                    let got = y[c * rows + r] as f64;
                    assert!(
                        (got - exact).abs() <= bound * 1.01 + 1e-4,
                        "{t} r={r}: {got} vs {exact} (bound {bound})"
                    );
                }
            }
        }
    }

    #[test]
    fn stacked_parts_of_different_types_fill_their_own_rows() {
        let (cols, k) = (256, 3);
        let a = matrix(GgmlType::Q4_K, 6, cols);
        let b = matrix(GgmlType::Q6_K, 5, cols);
        let x = acts(k, cols, 1);
        let (mut ya, mut yb) = (vec![0.0; k * 6], vec![0.0; k * 5]);
        quant_matmul_xwt(&x, k, &a, &mut ya, Isa::detected());
        quant_matmul_xwt(&x, k, &b, &mut yb, Isa::detected());
        let both = QuantMatrix::new(a.parts.into_iter().chain(b.parts).collect());
        let mut y = vec![0.0; k * 11];
        quant_matmul_xwt(&x, k, &both, &mut y, Isa::detected());
        for c in 0..k {
            assert_eq!(&y[c * 11..c * 11 + 6], &ya[c * 6..c * 6 + 6]);
            assert_eq!(&y[c * 11 + 6..c * 11 + 11], &yb[c * 5..c * 5 + 5]);
        }
    }
}
