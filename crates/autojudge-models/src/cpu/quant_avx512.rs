//! The quantized kernels of `quant_matmul` in AVX-512 VNNI: 16 lanes per vector, `vpdpbusd`
//! for the flat schemes' 4-code sums and `vpmaddubsw` + `vpdpwssd` for the k-quant pair sums
//! (the specification: `quant_matmul::reference_dot` and `reference_dot_super`).

// Lane and register-block loops index several arrays in step; iterators would hide that.
#![allow(clippy::needless_range_loop)]

use std::arch::x86_64::*;

use super::quant_activations::{QuantActivations, SuperActivations};
use super::quant_avx2::{half_at, tree_sum_halves};
use super::quant_format::{ScaleScheme, BYTE_PLANES, CHUNK, SUPER, SUPER_HEADER_SCALES};
use super::quant_matmul::{pair_scale_index, FLAT_OFFSET, FLAT_ZERO, NC};
use super::quant_matrix::QuantPart;

/// Dispatches `nr` weight rows × `nc` activation rows to a monomorphized kernel.
///
/// # Safety
/// The CPU must have the features of `Isa::Avx512Vnni`; `r + nr ≤ part.rows`,
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
/// `rec` points at a whole chunk record (32 nibble bytes, then `8 · P` high-bit bytes; 64
/// code bytes for 8-bit codes); the CPU has AVX-512F and AVX-512BW.
#[inline(always)]
unsafe fn codes<const P: usize>(rec: *const u8) -> __m512i {
    // SAFETY: the caller passes a whole chunk record and runs with the kernel's CPU features (#
    // Safety).
    unsafe {
        if P == BYTE_PLANES {
            return _mm512_loadu_si512(rec as *const __m512i);
        }
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

/// Lane scales and offsets of a chunk (the same roundings as `quant_matmul::lane_scales`).
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
                let v = _mm512_castps128_ps512(_mm_cvtph_ps(_mm_loadl_epi64(s as *const __m128i)));
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

/// `quant_matmul::tree_sum` on a vector: its halves (lanes `i`, `i + 8`) first, then as the
/// AVX2 kernels sum two halves.
///
/// # Safety
/// The CPU has AVX-512F and AVX-512DQ.
#[inline(always)]
unsafe fn tree_sum(v: __m512) -> f32 {
    // SAFETY: the caller runs with the kernel's CPU features (# Safety), which include AVX.
    unsafe { tree_sum_halves(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps::<1>(v)) }
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

/// Pair-lane index vectors picking chunk `j`'s sub-scales (`quant_matmul::pair_scale_index`).
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
                    neg32[i] =
                        _mm512_sub_epi16(_mm512_setzero_si512(), _mm512_slli_epi16::<5>(scv[i]));
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
                            a.code_sum16.as_ptr().add(row * cols / 16 + s * 16) as *const __m256i,
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
