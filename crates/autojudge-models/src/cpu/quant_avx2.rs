//! The quantized kernels of `quant_matmul` in AVX2 (with FMA and F16C), for the x86 CPUs
//! without AVX-512 VNNI.
//!
//! Each 16-lane vector of the specification (`quant_matmul::reference_dot` and
//! `reference_dot_super`) runs as two 8-lane halves: lanes 0–7 hold codes 0–31 of a chunk,
//! lanes 8–15 codes 32–63. The integer sums are exact, so they equal the specification's
//! whatever instructions form them:
//!
//! - flat schemes: a lane's 4-code sum is `vpmaddubsw` (pairs, i16) then `vpmaddwd` by ones.
//!   Codes below 64 times |x| ≤ 127 keep every pair sum inside i16, so nothing saturates;
//!   8-bit codes (Q8_0, stored as bytes) are split into their low nibble and the 4 bits above,
//!   summed apart and joined as `lo + 16 · hi` in i32.
//! - k-quant schemes: the pair sums are `vpmaddubsw`, as the specification states them
//!   (saturating), and their scaled sums `vpmaddwd` plus an add, which wraps as `vpdpwssd`.
//!
//! The float steps (conversion, scale products, fused multiply-adds, tree sum) are the
//! specification's, lane for lane, so the results are bit-identical to it.

// Lane and register-block loops index several arrays in step; iterators would hide that.
#![allow(clippy::needless_range_loop)]

use std::arch::x86_64::*;

use super::quant_activations::{QuantActivations, SuperActivations};
use super::quant_format::{ScaleScheme, BYTE_PLANES, CHUNK, SUPER, SUPER_HEADER_SCALES};
use super::quant_matmul::{pair_scale_index, FLAT_OFFSET, FLAT_ZERO, NC};
use super::quant_matrix::QuantPart;

/// Most activation rows per AVX2 kernel pass: two 8-lane accumulators per (weight row,
/// activation row) pair, in 16 registers.
pub const NC_AVX2: usize = 4;

/// How many 256-weight records ahead the k-quant kernel prefetches.
const PF: usize = 4;

/// Dispatches `nr` (1 or 2) weight rows × `nc` (≤ [`NC_AVX2`]) activation rows of a
/// flat-scale part to a monomorphized kernel.
///
/// # Safety
/// The CPU must have the features of `Isa::Avx2`; `part.data` holds `part.rows` whole rows
/// and `acts` rows of `part.cols` padded values (`quant_matmul_xwt` checks both);
/// `r + nr ≤ part.rows`, `c + nc ≤ acts.rows`.
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
    // each kernel's contract; the ranges and the block shape are checked here.
    unsafe {
        assert!(r + nr <= part.rows && c + nc <= acts.rows);
        assert!(
            (1..=2).contains(&nr) && (1..=NC_AVX2).contains(&nc),
            "block {nr}×{nc}"
        );
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
                    3 => kernel::<$s, $p, $r, 3>(part, acts, r, c, neg_z, acc),
                    _ => kernel::<$s, $p, $r, 4>(part, acts, r, c, neg_z, acc),
                }
            };
        }
        macro_rules! rows {
            ($s:expr, $p:expr) => {
                if nr == 2 {
                    cols!($s, $p, 2)
                } else {
                    cols!($s, $p, 1)
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

/// The low nibbles of a chunk's 64 codes: (codes 0–31, codes 32–63).
///
/// # Safety
/// `rec` points at a chunk record's 32 nibble bytes; the CPU has AVX2.
#[inline(always)]
unsafe fn nibbles(rec: *const u8) -> (__m256i, __m256i) {
    // SAFETY: the caller passes 32 readable bytes and runs with AVX2 (# Safety).
    unsafe {
        let nib = _mm256_loadu_si256(rec as *const __m256i);
        let m = _mm256_set1_epi8(0x0F);
        (
            _mm256_and_si256(nib, m),
            _mm256_and_si256(_mm256_srli_epi16::<4>(nib), m),
        )
    }
}

/// The bit planes of a chunk record as bytes: plane `p` adds `16 << p` to the codes whose bit
/// is set. (codes 0–31, codes 32–63).
///
/// # Safety
/// `rec` points at a whole chunk record (32 nibble bytes, then `8 · P` plane bytes); the CPU
/// has AVX2.
#[inline(always)]
unsafe fn planes<const P: usize>(rec: *const u8) -> (__m256i, __m256i) {
    // SAFETY: the caller passes a whole chunk record and runs with AVX2 (# Safety).
    unsafe {
        // Output byte i takes the plane's byte i / 8 (bytes 0–3 for codes 0–31, 4–7 for
        // 32–63); ORed with all bits but bit i % 8, it is 0xFF exactly when bit i is set.
        let lo_bytes = _mm256_set_epi64x(
            0x0303_0303_0303_0303,
            0x0202_0202_0202_0202,
            0x0101_0101_0101_0101,
            0,
        );
        let hi_bytes = _mm256_set_epi64x(
            0x0707_0707_0707_0707,
            0x0606_0606_0606_0606,
            0x0505_0505_0505_0505,
            0x0404_0404_0404_0404,
        );
        let others = _mm256_set1_epi64x(0x7fbf_dfef_f7fb_fdfe_u64 as i64);
        let all = _mm256_set1_epi8(-1);
        let (mut lo, mut hi) = (_mm256_setzero_si256(), _mm256_setzero_si256());
        for p in 0..P {
            let bits = _mm256_set1_epi64x((rec.add(32 + 8 * p) as *const i64).read_unaligned());
            let unit = _mm256_set1_epi8((16u8 << p) as i8);
            let spread_lo = _mm256_shuffle_epi8(bits, lo_bytes);
            let spread_hi = _mm256_shuffle_epi8(bits, hi_bytes);
            let set_lo = _mm256_cmpeq_epi8(_mm256_or_si256(spread_lo, others), all);
            let set_hi = _mm256_cmpeq_epi8(_mm256_or_si256(spread_hi, others), all);
            lo = _mm256_or_si256(lo, _mm256_and_si256(set_lo, unit));
            hi = _mm256_or_si256(hi, _mm256_and_si256(set_hi, unit));
        }
        (lo, hi)
    }
}

/// The 64 8-bit codes of a chunk record (stored as bytes), split into low nibbles and the
/// 4 bits above: ((nibbles 0–31, nibbles 32–63), (high 0–31, high 32–63)).
///
/// # Safety
/// `rec` points at 64 readable code bytes; the CPU has AVX2.
#[inline(always)]
unsafe fn bytes_split(rec: *const u8) -> ((__m256i, __m256i), (__m256i, __m256i)) {
    // SAFETY: the caller passes 64 readable bytes and runs with AVX2 (# Safety).
    unsafe {
        let m = _mm256_set1_epi8(0x0F);
        let a = _mm256_loadu_si256(rec as *const __m256i);
        let b = _mm256_loadu_si256(rec.add(32) as *const __m256i);
        (
            (_mm256_and_si256(a, m), _mm256_and_si256(b, m)),
            (
                _mm256_and_si256(_mm256_srli_epi16::<4>(a), m),
                _mm256_and_si256(_mm256_srli_epi16::<4>(b), m),
            ),
        )
    }
}

/// The 64 codes of a chunk record below 64 (`P ≤ 2`) as unsigned bytes: (codes 0–31,
/// codes 32–63).
///
/// # Safety
/// As [`planes`].
#[inline(always)]
unsafe fn codes<const P: usize>(rec: *const u8) -> (__m256i, __m256i) {
    // SAFETY: as `planes` (# Safety).
    unsafe {
        let (lo, hi) = nibbles(rec);
        if P == 0 {
            return (lo, hi);
        }
        let (pl, ph) = planes::<P>(rec);
        (_mm256_or_si256(lo, pl), _mm256_or_si256(hi, ph))
    }
}

/// Per i32 lane, the exact sum of its 4 products `q · x` (`q` < 64 unsigned, `x` signed
/// int8), by `vpmaddubsw` and `vpmaddwd`, times `weight` (1, or 16 for the high part of
/// 8-bit codes).
///
/// # Safety
/// The CPU has AVX2.
#[inline(always)]
unsafe fn sum4(q: __m256i, x: __m256i, weight: i16) -> __m256i {
    // SAFETY: register-only AVX2 operations (# Safety).
    unsafe { _mm256_madd_epi16(_mm256_maddubs_epi16(q, x), _mm256_set1_epi16(weight)) }
}

/// The f16 at `p` as f32 (F16C).
///
/// # Safety
/// `p` points at 2 readable bytes; the CPU has F16C.
#[inline(always)]
pub(super) unsafe fn half_at(p: *const u8) -> f32 {
    // SAFETY: the caller passes 2 readable bytes and has F16C (# Safety).
    unsafe {
        let bits = (p as *const u16).read_unaligned();
        _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(bits as i32)))
    }
}

/// A chunk's lane scales and offsets, each as (lanes 0–7, lanes 8–15): the same roundings as
/// `quant_matmul::lane_scales`.
///
/// # Safety
/// `s` points at the scale bytes of a chunk record; the CPU has AVX2 and F16C.
#[inline(always)]
unsafe fn scales<const S: u8>(s: *const u8, neg_z: f32) -> ([__m256; 2], [__m256; 2]) {
    // SAFETY: the caller passes a chunk record's scale bytes and runs with the kernel's CPU
    // features (# Safety).
    unsafe {
        match S {
            FLAT_OFFSET => {
                // [d₀, d₁, m₀, m₁]
                let v = _mm_cvtph_ps(_mm_loadl_epi64(s as *const __m128i));
                (
                    [
                        _mm256_broadcastss_ps(v),
                        _mm256_broadcastss_ps(_mm_movehdup_ps(v)),
                    ],
                    [
                        _mm256_broadcastss_ps(_mm_movehl_ps(v, v)),
                        _mm256_broadcastss_ps(_mm_shuffle_ps::<0xFF>(v, v)),
                    ],
                )
            }
            _ => {
                // [d₀, d₁]; the offset is d · (−z), rounded once as in the specification.
                let v = _mm_cvtph_ps(_mm_cvtsi32_si128((s as *const i32).read_unaligned()));
                let w = [
                    _mm256_broadcastss_ps(v),
                    _mm256_broadcastss_ps(_mm_movehdup_ps(v)),
                ];
                let z = _mm256_set1_ps(neg_z);
                (w, [_mm256_mul_ps(w[0], z), _mm256_mul_ps(w[1], z)])
            }
        }
    }
}

/// `quant_matmul::tree_sum` on two halves: lanes `i` and `i + 8` (the halves), then `i + 4`,
/// `i + 2`, `i + 1`.
///
/// # Safety
/// The CPU has AVX.
#[inline(always)]
pub(super) unsafe fn tree_sum_halves(lo: __m256, hi: __m256) -> f32 {
    // SAFETY: register-only AVX operations (# Safety).
    unsafe {
        let s8 = _mm256_add_ps(lo, hi);
        let s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps::<1>(s8));
        let s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
        _mm_cvtss_f32(_mm_add_ss(s2, _mm_shuffle_ps::<0x55>(s2, s2)))
    }
}

/// `R` weight rows × `C` activation rows of a flat-scale part, into `out`.
///
/// # Safety
/// The CPU has the enabled features; `r + R ≤ part.rows`, `c + C ≤ acts.rows`, `R ≤ 4`,
/// `C ≤ NC_AVX2` (`block` checks these before dispatching).
#[target_feature(enable = "avx2,fma,f16c")]
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
        let mut acc = [[[_mm256_setzero_ps(); 2]; C]; R];
        // 8-bit codes (stored as bytes) reach 255: their nibbles and high parts are summed apart.
        let split = P == BYTE_PLANES;
        for ch in 0..part.chunks_per_row() {
            let mut q = [[_mm256_setzero_si256(); 2]; R];
            let mut high = [[_mm256_setzero_si256(); 2]; R];
            let mut w = [[_mm256_setzero_ps(); 2]; R];
            let mut m = [[_mm256_setzero_ps(); 2]; R];
            for i in 0..R {
                let rec = base.add(i * rb + ch * cb);
                // The same chunk of the rows two blocks ahead (as the AVX-512 kernel).
                _mm_prefetch::<_MM_HINT_T0>(rec.wrapping_add(2 * R * rb) as *const i8);
                let ((lo, hi), (hl, hh)) = if split {
                    bytes_split(rec)
                } else {
                    (
                        codes::<P>(rec),
                        (_mm256_setzero_si256(), _mm256_setzero_si256()),
                    )
                };
                q[i] = [lo, hi];
                high[i] = [hl, hh];
                (w[i], m[i]) = scales::<S>(rec.add(32 + 8 * P), neg_z);
            }
            for j in 0..C {
                for h in 0..2 {
                    let x = _mm256_loadu_si256(xq.add(j * pad + ch * CHUNK + 32 * h) as *const _);
                    let sc = _mm256_loadu_ps(xs.add(j * lanes + ch * 16 + 8 * h));
                    let sm = _mm256_loadu_ps(xsum.add(j * lanes + ch * 16 + 8 * h));
                    for i in 0..R {
                        let mut s = sum4(q[i][h], x, 1);
                        if split {
                            s = _mm256_add_epi32(s, sum4(high[i][h], x, 16));
                        }
                        let t = _mm256_mul_ps(_mm256_cvtepi32_ps(s), sc);
                        acc[i][j][h] = _mm256_fmadd_ps(t, w[i][h], acc[i][j][h]);
                        acc[i][j][h] = _mm256_fmadd_ps(sm, m[i][h], acc[i][j][h]);
                    }
                }
            }
        }
        for i in 0..R {
            for j in 0..C {
                out[i][j] = tree_sum_halves(acc[i][j][0], acc[i][j][1]);
            }
        }
    }
}

/// Byte-shuffle controls that fill a half-vector of 16 pair lanes with their sub-scales from
/// 8 widened scales held in each 128-bit half: entry `2j + h` serves half `h` (pair lanes
/// `16h … 16h + 15`) of chunk `j`, picking in each 128-bit half the i16 that
/// `quant_matmul::pair_scale_index` names for its 8 pair lanes (modulo 8).
const fn scale_pick_table(weights_per_scale: usize) -> [[u8; 32]; 8] {
    let mut t = [[0u8; 32]; 8];
    let mut e = 0;
    while e < 8 {
        let (j, h) = (e / 2, e % 2);
        let mut b = 0;
        while b < 32 {
            // Pair lane of byte b: 8 per 128-bit half.
            let lane = 16 * h + b / 2;
            let index = pair_scale_index(weights_per_scale, j, lane) % 8;
            t[e][b] = (2 * index + b % 2) as u8;
            b += 1;
        }
        e += 1;
    }
    t
}
/// `scale_pick_table` for one scale per 32 weights (Q4_K, Q5_K).
static SCALE_PICK_32: [[u8; 32]; 8] = scale_pick_table(32);
/// `scale_pick_table` for one scale per 16 weights (Q6_K).
static SCALE_PICK_16: [[u8; 32]; 8] = scale_pick_table(16);

/// 8 scale bytes at `p` as i16 (sign-extended when `SIGNED`), in both 128-bit halves.
///
/// # Safety
/// `p` points at 8 readable bytes; the CPU has AVX2.
#[inline(always)]
unsafe fn widened8<const SIGNED: bool>(p: *const u8) -> __m256i {
    // SAFETY: the caller passes 8 readable bytes and runs with AVX2 (# Safety).
    unsafe {
        let v = _mm_loadl_epi64(p as *const __m128i);
        _mm256_broadcastsi128_si256(if SIGNED {
            _mm_cvtepi8_epi16(v)
        } else {
            _mm_cvtepu8_epi16(v)
        })
    }
}

/// Entry `e` of a scale-pick table as a vector.
///
/// # Safety
/// The CPU has AVX.
#[inline(always)]
unsafe fn pick_at(table: &[[u8; 32]; 8], e: usize) -> __m256i {
    // SAFETY: a 32-byte entry of a static table; AVX (# Safety).
    unsafe { _mm256_loadu_si256(table[e].as_ptr() as *const __m256i) }
}

/// Dispatches one weight row × `nc` (≤ [`NC_AVX2`]) activation rows of a k-quant part.
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
    // each kernel's contract; the ranges, the widths and the block shape are checked here.
    unsafe {
        assert!(r + nr <= part.rows && c + nc <= acts.rows);
        assert_eq!(acts.cols, part.cols);
        assert!(
            nr == 1 && (1..=NC_AVX2).contains(&nc),
            "k-quant block {nr}×{nc}"
        );
        macro_rules! cols {
            ($z:expr, $p:expr) => {
                match nc {
                    1 => super_kernel::<$z, $p, 1>(part, acts, r, c, acc),
                    2 => super_kernel::<$z, $p, 2>(part, acts, r, c, acc),
                    3 => super_kernel::<$z, $p, 3>(part, acts, r, c, acc),
                    _ => super_kernel::<$z, $p, 4>(part, acts, r, c, acc),
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

/// One weight row × `C` activation rows of a k-quant part, into `out[0]`.
///
/// Chunk `j`'s pair lanes take their sub-scales as `quant_matmul::pair_scale_index` says:
/// one per 32 weights (Q4_K, Q5_K: halves `2j`, `2j + 1`) or per 16 (Q6_K: quarters `4j` …
/// `4j + 3`).
///
/// # Safety
/// The CPU has the enabled features; `r < part.rows`, `c + C ≤ a.rows`, `C ≤ NC_AVX2`
/// (`block_super` checks them).
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn super_kernel<const Z: bool, const P: usize, const C: usize>(
    part: &QuantPart,
    a: &SuperActivations,
    r: usize,
    c: usize,
    out: &mut [[f32; NC]; 4],
) {
    // SAFETY: the caller keeps this kernel's # Safety contract (`block_super` checks the row
    // range and the CPU features).
    unsafe {
        let f = part.format;
        let (rb, sbytes, cbytes) = (part.row_bytes(), f.super_bytes(), f.codes_bytes());
        let header = SUPER_HEADER_SCALES + f.scheme.scale_bytes();
        let row = part.data.as_ptr().add(r * rb);
        let cols = a.cols;
        let n_super = cols / SUPER;
        let mut facc = [[_mm256_setzero_ps(); 2]; C];
        for s in 0..n_super {
            let h = row.add(s * sbytes);
            let ahead = h.wrapping_add(PF * sbytes);
            _mm_prefetch::<_MM_HINT_T0>(ahead as *const i8);
            _mm_prefetch::<_MM_HINT_T0>(ahead.wrapping_add(64) as *const i8);
            _mm_prefetch::<_MM_HINT_T0>(ahead.wrapping_add(128) as *const i8);
            let d = half_at(h);
            // The 16 scale bytes after d and dmin: signed for Q6_K, unsigned 6-bit sc then mn
            // for Q4_K / Q5_K. Widened to i16, 8 to a 128-bit half, in both halves; each chunk's
            // pair-lane scales are then one byte shuffle per half-vector (`SCALE_PICK_*`).
            let sb = h.add(SUPER_HEADER_SCALES);
            let first8 = widened8::<Z>(sb);
            let last8 = if Z { widened8::<Z>(sb.add(8)) } else { first8 };
            let pick = if Z { &SCALE_PICK_16 } else { &SCALE_PICK_32 };
            let mut iacc = [[_mm256_setzero_si256(); 2]; C];
            for j in 0..4 {
                let (qlo, qhi) = codes::<P>(h.add(header + j * cbytes));
                // Q6_K's chunks 2 and 3 take scales 8–15.
                let src = if Z && j >= 2 { last8 } else { first8 };
                let slo = _mm256_shuffle_epi8(src, pick_at(pick, 2 * j));
                let shi = _mm256_shuffle_epi8(src, pick_at(pick, 2 * j + 1));
                for cc in 0..C {
                    let x = a
                        .codes
                        .as_ptr()
                        .add((c + cc) * cols + s * SUPER + j * CHUNK);
                    let xlo = _mm256_loadu_si256(x as *const __m256i);
                    let xhi = _mm256_loadu_si256(x.add(32) as *const __m256i);
                    let plo = _mm256_maddubs_epi16(qlo, xlo);
                    let phi = _mm256_maddubs_epi16(qhi, xhi);
                    iacc[cc][0] = _mm256_add_epi32(iacc[cc][0], _mm256_madd_epi16(plo, slo));
                    iacc[cc][1] = _mm256_add_epi32(iacc[cc][1], _mm256_madd_epi16(phi, shi));
                }
            }
            // Q6_K's zero point: lanes 0–7 gain −32 · sc[t] · Σ₁₆ xcode for t = 2l, 2l + 1.
            let neg32 = if Z {
                let v = _mm256_cvtepi8_epi16(_mm_loadu_si128(sb as *const __m128i));
                _mm256_sub_epi16(_mm256_setzero_si256(), _mm256_slli_epi16::<5>(v))
            } else {
                _mm256_setzero_si256()
            };
            // Q4_K / Q5_K's offsets: lanes 0–7 gain Σ₃₂ x · (mn · −dmin); lanes 8–15 the
            // specification's 0 · (0 · −dmin).
            let (mnv, zero_mn) = if Z {
                (_mm256_setzero_ps(), _mm256_setzero_ps())
            } else {
                let neg_dmin = _mm256_set1_ps(-half_at(h.add(2)));
                let mn = _mm_loadl_epi64(sb.add(8) as *const __m128i);
                (
                    _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(mn)), neg_dmin),
                    _mm256_mul_ps(_mm256_setzero_ps(), neg_dmin),
                )
            };
            for cc in 0..C {
                let xrow = c + cc;
                let mut lo = iacc[cc][0];
                if Z {
                    let qs = _mm256_loadu_si256(
                        a.code_sum16.as_ptr().add(xrow * cols / 16 + s * 16) as *const __m256i,
                    );
                    lo = _mm256_add_epi32(lo, _mm256_madd_epi16(neg32, qs));
                }
                let dx = *a.scale.get_unchecked(xrow * n_super + s);
                let fv = _mm256_set1_ps(d * dx);
                facc[cc][0] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(lo), fv, facc[cc][0]);
                facc[cc][1] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(iacc[cc][1]), fv, facc[cc][1]);
                if !Z {
                    let xb = _mm256_loadu_ps(a.block_sum.as_ptr().add(xrow * cols / 32 + s * 8));
                    facc[cc][0] = _mm256_fmadd_ps(xb, mnv, facc[cc][0]);
                    facc[cc][1] = _mm256_fmadd_ps(_mm256_setzero_ps(), zero_mn, facc[cc][1]);
                }
            }
        }
        for cc in 0..C {
            out[0][cc] = tree_sum_halves(facc[cc][0], facc[cc][1]);
        }
    }
}
