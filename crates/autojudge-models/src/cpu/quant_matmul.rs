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
//! and both end with a fixed tree sum of the 16 lanes. The AVX-512 VNNI kernels and the
//! portable code perform exactly these roundings, so their results are bit-identical
//! ([`reference_dot`] and [`reference_dot_super`] are the specifications the tests hold them
//! to), and a row's result never depends on k or on the batch.

// Lane and register-block loops index several arrays in step; iterators would hide that.
#![allow(clippy::needless_range_loop)]

use rayon::prelude::*;

use super::quant_activations::{QuantActivations, SuperActivations};
use super::quant_format::{ScaleScheme, CHUNK, SUPER};
use super::quant_matrix::{QuantMatrix, QuantPart};

/// Output rows per parallel task.
const TASK_ROWS: usize = 64;
/// Most activation rows per kernel pass.
const NC: usize = 8;

/// Most activation rows per k-quant kernel pass (one weight row at a time: its codes are
/// unpacked once for all 8, and an integer and a float accumulator per pair fit the registers).
const NC_SUPER: usize = 8;

/// The activations one part's kernel reads.
#[derive(Clone, Copy)]
enum PartActs<'a> {
    Flat(&'a QuantActivations),
    Super(&'a SuperActivations),
}

/// Computes `y[k, rows] = x[k, cols] · Wᵀ`.
pub fn quant_matmul_xwt(x: &[f32], k: usize, w: &QuantMatrix, y: &mut [f32]) {
    let (rows, cols) = (w.rows(), w.cols());
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
            rows_block(part, acts, k, r0, (r0 + TASK_ROWS).min(part.rows), at, out);
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
fn rows_block(
    part: &QuantPart,
    acts: PartActs,
    k: usize,
    r0: usize,
    r1: usize,
    at: usize,
    out: OutRows,
) {
    let mut r = r0;
    #[cfg(target_arch = "x86_64")]
    {
        if simd::available() {
            // Activation rows outer, weight rows inner: the task's weight rows and one block
            // of activation rows both stay in L2.
            // Decode (k ≤ 2): k-quant rows one at a time, a single sequential stream per
            // thread (measured on Qwen2.5-Coder-1.5B: 4 rows at a time decoded ~5% slower);
            // flat rows, short on the small models that use them, 4 at a time (1 at a time:
            // SmolLM2 decoded ~25% slower).
            let (br, nc_max) = match acts {
                PartActs::Super(_) if k <= 2 => (1, k),
                PartActs::Flat(_) if k <= 2 => (4, k),
                PartActs::Flat(_) => (2, NC),
                PartActs::Super(_) => (1, NC_SUPER),
            };
            let r_end = r0 + (r1 - r0) / br * br;
            let mut c = 0;
            while c < k {
                let nc = nc_max.min(k - c);
                let mut rr = r0;
                while rr < r_end {
                    let mut acc = [[0.0f32; NC]; 4];
                    // SAFETY: the CPU features were checked; indices are in range by construction.
                    unsafe {
                        match acts {
                            PartActs::Flat(a) => simd::block(part, a, rr, br, c, nc, &mut acc),
                            PartActs::Super(a) => {
                                simd::block_super(part, a, rr, br, c, nc, &mut acc)
                            }
                        }
                    };
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
/// portable code (also the fallback on CPUs without AVX-512 VNNI).
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
const fn pair_scale_index(weights_per_scale: usize, j: usize, t: usize) -> usize {
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

#[cfg(target_arch = "x86_64")]
mod simd {
    use std::arch::x86_64::*;

    use super::super::quant_format::SUPER_HEADER_SCALES;
    use super::{
        pair_scale_index, QuantActivations, QuantPart, ScaleScheme, SuperActivations, CHUNK, NC,
        SUPER,
    };

    /// Whether the AVX-512 VNNI kernel runs on this CPU.
    pub fn available() -> bool {
        static OK: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        *OK.get_or_init(|| {
            is_x86_feature_detected!("avx512f")
                && is_x86_feature_detected!("avx512bw")
                && is_x86_feature_detected!("avx512dq")
                && is_x86_feature_detected!("avx512vnni")
                && is_x86_feature_detected!("f16c")
                && is_x86_feature_detected!("fma")
        })
    }

    const FLAT_OFFSET: u8 = 0;
    const FLAT_ZERO: u8 = 1;

    /// Dispatches `nr` weight rows × `nc` activation rows to a monomorphized kernel.
    ///
    /// # Safety
    /// The CPU must have the features of [`available`]; `r + nr ≤ part.rows`,
    /// `c + nc ≤ acts.rows`.
    #[allow(clippy::too_many_arguments)]
    pub unsafe fn block(
        part: &QuantPart,
        acts: &QuantActivations,
        r: usize,
        nr: usize,
        c: usize,
        nc: usize,
        acc: &mut [[f32; NC]; 4],
    ) {
        // SAFETY: the caller guarantees the CPU features and the row ranges (# Safety), which is
        // each kernel's contract.
        unsafe {
            assert!(r + nr <= part.rows && c + nc <= acts.rows && nc <= NC);
            assert!((nr == 4 && nc <= 2) || nr == 2, "block shape {nr}×{nc}");
            let (scheme, neg_z) = match part.format.scheme {
                ScaleScheme::FlatOffset => (FLAT_OFFSET, 0.0),
                ScaleScheme::FlatZero(z) => (FLAT_ZERO, -(z as f32)),
                other => unreachable!("{other:?} rows take block_super"),
            };
            macro_rules! cols {
                ($s:expr, $p:expr, $r:literal) => {
                    match nc {
                        1 => kernel::<$s, $p, $r, 1>(part, acts, r, c, neg_z, acc),
                        2 => kernel::<$s, $p, $r, 2>(part, acts, r, c, neg_z, acc),
                        3 => kernel::<$s, $p, 2, 3>(part, acts, r, c, neg_z, acc),
                        4 => kernel::<$s, $p, 2, 4>(part, acts, r, c, neg_z, acc),
                        5 => kernel::<$s, $p, 2, 5>(part, acts, r, c, neg_z, acc),
                        6 => kernel::<$s, $p, 2, 6>(part, acts, r, c, neg_z, acc),
                        7 => kernel::<$s, $p, 2, 7>(part, acts, r, c, neg_z, acc),
                        _ => kernel::<$s, $p, 2, 8>(part, acts, r, c, neg_z, acc),
                    }
                };
            }
            macro_rules! rows {
                ($s:expr, $p:expr) => {
                    if nr == 4 {
                        cols!($s, $p, 4)
                    } else {
                        cols!($s, $p, 2)
                    }
                };
            }
            match (scheme, part.format.planes) {
                (FLAT_OFFSET, 0) => rows!(FLAT_OFFSET, 0),
                (FLAT_OFFSET, 1) => rows!(FLAT_OFFSET, 1),
                (FLAT_ZERO, 0) => rows!(FLAT_ZERO, 0),
                (FLAT_ZERO, 1) => rows!(FLAT_ZERO, 1),
                (FLAT_ZERO, 4) => rows!(FLAT_ZERO, 4),
                other => unreachable!("no kernel for {other:?}"),
            }
        }
    }

    /// The 64 codes of a chunk record as unsigned bytes.
    ///
    /// # Safety
    /// `rec` points at a whole chunk record (32 nibble bytes, then `8 · P` high-bit bytes);
    /// the CPU has AVX-512F and AVX-512BW.
    #[inline(always)]
    unsafe fn codes<const P: usize>(rec: *const u8) -> __m512i {
        // SAFETY: the caller passes a whole chunk record and runs with the kernel's CPU features (#
        // Safety).
        unsafe {
            let nib = _mm512_broadcast_i64x4(_mm256_loadu_si256(rec as *const __m256i));
            let high = _mm512_srli_epi16::<4>(nib);
            let both = _mm512_mask_blend_epi8(0xFFFF_FFFF_0000_0000, nib, high);
            let mut q = _mm512_and_si512(both, _mm512_set1_epi8(0x0F));
            for p in 0..P {
                let bits = (rec.add(32 + 8 * p) as *const u64).read_unaligned();
                q = _mm512_mask_add_epi8(
                    q,
                    _cvtu64_mask64(bits),
                    q,
                    _mm512_set1_epi8((16u8 << p) as i8),
                );
            }
            q
        }
    }

    /// Lane scales and offsets of a chunk (the same roundings as `super::lane_scales`).
    ///
    /// # Safety
    /// `s` points at the scale bytes of a chunk record; the CPU has AVX-512F and F16C.
    #[inline(always)]
    unsafe fn scales<const S: u8>(s: *const u8, neg_z: f32) -> (__m512, __m512) {
        // SAFETY: the caller passes a chunk record's scale bytes and runs with the kernel's CPU
        // features (# Safety).
        unsafe {
            let by8 = _mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0);
            match S {
                FLAT_OFFSET => {
                    let v =
                        _mm512_castps128_ps512(_mm_cvtph_ps(_mm_loadl_epi64(s as *const __m128i)));
                    let m_idx = _mm512_add_epi32(by8, _mm512_set1_epi32(2));
                    (
                        _mm512_permutexvar_ps(by8, v),
                        _mm512_permutexvar_ps(m_idx, v),
                    )
                }
                _ => {
                    let v = _mm_cvtph_ps(_mm_cvtsi32_si128((s as *const i32).read_unaligned()));
                    let w = _mm512_permutexvar_ps(by8, _mm512_castps128_ps512(v));
                    (w, _mm512_mul_ps(w, _mm512_set1_ps(neg_z)))
                }
            }
        }
    }

    /// The f16 at `p` as f32 (F16C).
    ///
    /// # Safety
    /// `p` points at 2 readable bytes; the CPU has F16C.
    #[inline(always)]
    unsafe fn half_at(p: *const u8) -> f32 {
        // SAFETY: the caller passes 2 readable bytes and has F16C (# Safety).
        unsafe {
            let bits = (p as *const u16).read_unaligned();
            _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(bits as i32)))
        }
    }

    /// `super::tree_sum` on a vector.
    ///
    /// # Safety
    /// The CPU has AVX-512F and AVX-512DQ.
    #[inline(always)]
    unsafe fn tree_sum(v: __m512) -> f32 {
        // SAFETY: the caller runs with the kernel's CPU features (# Safety).
        unsafe {
            let s8 = _mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps::<1>(v));
            let s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps::<1>(s8));
            let s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
            _mm_cvtss_f32(_mm_add_ss(s2, _mm_shuffle_ps::<0x55>(s2, s2)))
        }
    }

    /// `R` weight rows × `C` activation rows of a chunk-format part, into `out`.
    ///
    /// # Safety
    /// The CPU has the enabled features; `r + R ≤ part.rows`, `c + C ≤ acts.rows`, `R ≤ 4`,
    /// `C ≤ NC` (`block` checks these before dispatching).
    #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vnni,f16c,fma")]
    unsafe fn kernel<const S: u8, const P: usize, const R: usize, const C: usize>(
        part: &QuantPart,
        acts: &QuantActivations,
        r: usize,
        c: usize,
        neg_z: f32,
        out: &mut [[f32; NC]; 4],
    ) {
        // SAFETY: the caller keeps this kernel's # Safety contract (`block` checks the row ranges
        // and the CPU features).
        unsafe {
            let (cb, rb) = (part.format.chunk_bytes(), part.row_bytes());
            let base = part.data.as_ptr().add(r * rb);
            let (pad, lanes) = (acts.padded, acts.padded / 4);
            let xq = acts.codes.as_ptr().add(c * pad);
            let xs = acts.lane_scale.as_ptr().add(c * lanes);
            let xsum = acts.lane_sum.as_ptr().add(c * lanes);
            let mut acc = [[_mm512_setzero_ps(); C]; R];
            for ch in 0..part.chunks_per_row() {
                let mut q = [_mm512_setzero_si512(); R];
                let mut w = [_mm512_setzero_ps(); R];
                let mut m = [_mm512_setzero_ps(); R];
                for i in 0..R {
                    let rec = base.add(i * rb + ch * cb);
                    // The same chunk of the rows two blocks ahead: each block of rows is several
                    // independent streams, which the hardware prefetcher alone follows late.
                    _mm_prefetch::<_MM_HINT_T0>(rec.wrapping_add(2 * R * rb) as *const i8);
                    q[i] = codes::<P>(rec);
                    (w[i], m[i]) = scales::<S>(rec.add(32 + 8 * P), neg_z);
                }
                for j in 0..C {
                    let x = _mm512_loadu_si512(xq.add(j * pad + ch * CHUNK) as *const __m512i);
                    let sc = _mm512_loadu_ps(xs.add(j * lanes + ch * 16));
                    let sm = _mm512_loadu_ps(xsum.add(j * lanes + ch * 16));
                    for i in 0..R {
                        let s = _mm512_dpbusd_epi32(_mm512_setzero_si512(), q[i], x);
                        let t = _mm512_mul_ps(_mm512_cvtepi32_ps(s), sc);
                        acc[i][j] = _mm512_fmadd_ps(t, w[i], acc[i][j]);
                        acc[i][j] = _mm512_fmadd_ps(sm, m[i], acc[i][j]);
                    }
                }
            }
            for i in 0..R {
                for j in 0..C {
                    out[i][j] = tree_sum(acc[i][j]);
                }
            }
        }
    }

    /// Dispatches `nr` weight rows × `nc` activation rows of a k-quant part.
    ///
    /// # Safety
    /// As [`block`].
    #[allow(clippy::too_many_arguments)]
    pub unsafe fn block_super(
        part: &QuantPart,
        acts: &SuperActivations,
        r: usize,
        nr: usize,
        c: usize,
        nc: usize,
        acc: &mut [[f32; NC]; 4],
    ) {
        // SAFETY: the caller guarantees the CPU features and the row ranges (# Safety), which is
        // each kernel's contract.
        unsafe {
            assert!(r + nr <= part.rows && c + nc <= acts.rows && nc <= NC);
            assert_eq!(acts.cols, part.cols);
            assert_eq!(nr, 1, "k-quant blocks are one weight row");
            macro_rules! cols {
                ($z:expr, $p:expr) => {
                    match (nr, nc) {
                        (_, 1) => super_kernel::<$z, $p, 1, 1>(part, acts, r, c, acc),
                        (_, 2) => super_kernel::<$z, $p, 1, 2>(part, acts, r, c, acc),
                        (_, 3) => super_kernel::<$z, $p, 1, 3>(part, acts, r, c, acc),
                        (_, 4) => super_kernel::<$z, $p, 1, 4>(part, acts, r, c, acc),
                        (_, 5) => super_kernel::<$z, $p, 1, 5>(part, acts, r, c, acc),
                        (_, 6) => super_kernel::<$z, $p, 1, 6>(part, acts, r, c, acc),
                        (_, 7) => super_kernel::<$z, $p, 1, 7>(part, acts, r, c, acc),
                        _ => super_kernel::<$z, $p, 1, 8>(part, acts, r, c, acc),
                    }
                };
            }
            match (part.format.scheme, part.format.planes) {
                (ScaleScheme::SuperOffset, 0) => cols!(false, 0),
                (ScaleScheme::SuperOffset, 1) => cols!(false, 1),
                (ScaleScheme::SuperZero, 2) => cols!(true, 2),
                other => unreachable!("no k-quant kernel for {other:?}"),
            }
        }
    }

    /// Pair-lane index vectors picking chunk `j`'s sub-scales (`super::pair_scale_index`).
    const fn pair_index_table(weights_per_scale: usize) -> [[i16; 32]; 4] {
        let mut t = [[0i16; 32]; 4];
        let mut j = 0;
        while j < 4 {
            let mut l = 0;
            while l < 32 {
                t[j][l] = pair_scale_index(weights_per_scale, j, l) as i16;
                l += 1;
            }
            j += 1;
        }
        t
    }
    static PAIR_IDX_32: [[i16; 32]; 4] = pair_index_table(32);
    static PAIR_IDX_16: [[i16; 32]; 4] = pair_index_table(16);

    /// How many blocks of weight rows ahead the k-quant kernel prefetches.
    const PF: usize = 4;

    /// `R` weight rows × `C` activation rows of a k-quant (super-block) part, into `out`.
    ///
    /// # Safety
    /// As `kernel`: the CPU has the enabled features; `r + R ≤ part.rows`, `c + C ≤ a.rows`,
    /// `R ≤ 4`, `C ≤ NC` (`block_super` checks them).
    #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vnni,fma,f16c")]
    unsafe fn super_kernel<const Z: bool, const P: usize, const R: usize, const C: usize>(
        part: &QuantPart,
        a: &SuperActivations,
        r: usize,
        c: usize,
        out: &mut [[f32; NC]; 4],
    ) {
        // SAFETY: the caller keeps this kernel's # Safety contract (`block_super` checks the row
        // ranges and the CPU features).
        unsafe {
            let f = part.format;
            let (rb, sbytes, cbytes) = (part.row_bytes(), f.super_bytes(), f.codes_bytes());
            let header = SUPER_HEADER_SCALES + f.scheme.scale_bytes();
            let base = part.data.as_ptr().add(r * rb);
            let cols = a.cols;
            let n_super = cols / SUPER;
            let idx = if Z { &PAIR_IDX_16 } else { &PAIR_IDX_32 };
            let idx: [__m512i; 4] =
                std::array::from_fn(|j| _mm512_loadu_si512(idx[j].as_ptr() as *const __m512i));
            let mut facc = [[_mm512_setzero_ps(); C]; R];
            for s in 0..n_super {
                let mut d = [0.0f32; R];
                let mut scv = [_mm512_setzero_si512(); R];
                let mut neg32 = [_mm512_setzero_si512(); R];
                let mut mnv = [_mm512_setzero_ps(); R];
                for i in 0..R {
                    let h = base.add(i * rb + s * sbytes);
                    _mm_prefetch::<_MM_HINT_T0>(h.wrapping_add(PF * R * rb) as *const i8);
                    _mm_prefetch::<_MM_HINT_T0>(h.wrapping_add(PF * R * rb + 64) as *const i8);
                    _mm_prefetch::<_MM_HINT_T0>(h.wrapping_add(PF * R * rb + 128) as *const i8);
                    d[i] = half_at(h);
                    if Z {
                        let v = _mm_loadu_si128(h.add(4) as *const __m128i);
                        scv[i] = _mm512_cvtepi8_epi16(_mm256_zextsi128_si256(v));
                        neg32[i] = _mm512_sub_epi16(
                            _mm512_setzero_si512(),
                            _mm512_slli_epi16::<5>(scv[i]),
                        );
                    } else {
                        let v = _mm_loadl_epi64(h.add(4) as *const __m128i);
                        scv[i] = _mm512_cvtepu8_epi16(_mm256_zextsi128_si256(v));
                        let dmin = half_at(h.add(2));
                        let mn = _mm_loadl_epi64(h.add(12) as *const __m128i);
                        mnv[i] = _mm512_mul_ps(
                            _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(mn)),
                            _mm512_set1_ps(-dmin),
                        );
                    }
                }
                let mut iacc = [[_mm512_setzero_si512(); C]; R];
                for (j, ix) in idx.iter().enumerate() {
                    let mut q = [_mm512_setzero_si512(); R];
                    let mut sc = [_mm512_setzero_si512(); R];
                    for i in 0..R {
                        q[i] = codes::<P>(base.add(i * rb + s * sbytes + header + j * cbytes));
                        sc[i] = _mm512_permutexvar_epi16(*ix, scv[i]);
                    }
                    for cc in 0..C {
                        let x = _mm512_loadu_si512(
                            a.codes
                                .as_ptr()
                                .add((c + cc) * cols + s * SUPER + j * CHUNK)
                                as *const __m512i,
                        );
                        for i in 0..R {
                            let p = _mm512_maddubs_epi16(q[i], x);
                            iacc[i][cc] = _mm512_dpwssd_epi32(iacc[i][cc], p, sc[i]);
                        }
                    }
                }
                for cc in 0..C {
                    let dx = *a.scale.get_unchecked((c + cc) * n_super + s);
                    let row = c + cc;
                    for i in 0..R {
                        let mut ai = iacc[i][cc];
                        if Z {
                            let qs = _mm512_zextsi256_si512(_mm256_loadu_si256(
                                a.code_sum16.as_ptr().add(row * cols / 16 + s * 16)
                                    as *const __m256i,
                            ));
                            ai = _mm512_dpwssd_epi32(ai, neg32[i], qs);
                        }
                        let fv = _mm512_set1_ps(d[i] * dx);
                        facc[i][cc] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(ai), fv, facc[i][cc]);
                        if !Z {
                            let xb = _mm512_zextps256_ps512(_mm256_loadu_ps(
                                a.block_sum.as_ptr().add(row * cols / 32 + s * 8),
                            ));
                            facc[i][cc] = _mm512_fmadd_ps(xb, mnv[i], facc[i][cc]);
                        }
                    }
                }
            }
            for i in 0..R {
                for j in 0..C {
                    out[i][j] = tree_sum(facc[i][j]);
                }
            }
        }
    }
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

    #[test]
    fn kernel_equals_the_reference_bit_for_bit_for_every_type_and_k() {
        for t in TYPES {
            let cols = if t.block_len() == 256 { 512 } else { 96 };
            let rows = 70;
            let m = matrix(t, rows, cols);
            for k in [1, 2, 3, 5, 8, 9, 17] {
                let x = acts(k, cols, k);
                let mut y = vec![0.0; k * rows];
                quant_matmul_xwt(&x, k, &m, &mut y);
                let part = &m.parts[0];
                let flat = QuantActivations::new(&x, k, cols);
                let sup = (cols % SUPER == 0).then(|| SuperActivations::new(&x, k, cols));
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
                            "{t} k={k} r={r} c={c}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn each_row_is_independent_of_k() {
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
            quant_matmul_xwt(&x, 9, &m, &mut all);
            for c in 0..9 {
                let mut one = vec![0.0; rows];
                quant_matmul_xwt(&x[c * cols..(c + 1) * cols], 1, &m, &mut one);
                assert_eq!(&all[c * rows..(c + 1) * rows], &one[..], "{t} row {c}");
            }
        }
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
            quant_matmul_xwt(&x, 2, &m, &mut y);
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
        quant_matmul_xwt(&x, k, &a, &mut ya);
        quant_matmul_xwt(&x, k, &b, &mut yb);
        let both = QuantMatrix::new(a.parts.into_iter().chain(b.parts).collect());
        let mut y = vec![0.0; k * 11];
        quant_matmul_xwt(&x, k, &both, &mut y);
        for c in 0..k {
            assert_eq!(&y[c * 11..c * 11 + 6], &ya[c * 6..c * 6 + 6]);
            assert_eq!(&y[c * 11 + 6..c * 11 + 11], &yb[c * 5..c * 5 + 5]);
        }
    }
}
