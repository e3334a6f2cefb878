//! `y = x · Wᵀ` for `x: [k, cols]` (k small) and `W: [rows, cols]` (f32 or f16).
//!
//! Work is split over blocks of output rows (rayon). Within a block of 4 weight rows, every
//! weight vector is loaded once per pair of activation rows and fed to 8 independent FMA
//! accumulators, so weights stream from memory once per call whatever k is, and the FMA
//! units, not the tile shape, bound the cost. The matrix's instruction set picks the code:
//! AVX-512F with 16-lane accumulators (under `avx512vnni`), AVX2+FMA+F16C with 8 lanes, or
//! portable code (8 lanes, separate multiply and add). Each sums the same way whatever k is,
//! but the three sum differently, so their results may differ in the last bits.

use rayon::prelude::*;

use super::host_matrix::{HostElems, HostMatrix};
use super::isa::Isa;
use super::quant_matmul::quant_matmul_xwt;

/// Weight rows per block.
const NR: usize = 4;
/// How many blocks of weight rows ahead the AVX-512 kernel prefetches: each weight vector
/// prefetches the same offset of the same row in a later block, so every row of the next
/// blocks is in cache when its block starts (a pointer past the matrix end is harmless:
/// prefetch never faults).
const PREFETCH_BLOCKS: usize = 2;

/// Most activation rows per inner pass.
const NC: usize = 8;

/// Block shape `(weight rows, activation rows)` for `k` activation rows. AVX-512 (32 registers):
/// 2×k for 3 ≤ k ≤ 8, one pass that streams each weight once while all FMAs run, else 4×k;
/// AVX2 (16 registers): 4×2. The shape never changes a result: each (weight row, activation
/// row) pair is always the same FMA sequence.
fn block_shape(k: usize, isa: Isa) -> (usize, usize) {
    if isa == Isa::Avx512Vnni {
        return if k >= 3 { (2, k.min(NC)) } else { (NR, k) };
    }
    (NR, 2)
}
/// Output rows per parallel task.
const TASK_ROWS: usize = 64;

/// Computes `y[k, rows] = x[k, cols] · Wᵀ`.
pub fn matmul_xwt(x: &[f32], k: usize, w: &HostMatrix, y: &mut [f32]) {
    let (rows, cols) = (w.rows, w.cols);
    assert_eq!(x.len(), k * cols, "x shape");
    assert_eq!(y.len(), k * rows, "y shape");
    if let HostElems::Quant(q) = &w.elems {
        return quant_matmul_xwt(x, k, q, y, w.isa());
    }
    // Transposed result [rows, k] so that each task writes one contiguous block.
    let mut yt = vec![0.0f32; rows * k];
    yt.par_chunks_mut(TASK_ROWS * k)
        .enumerate()
        .for_each(|(task, out)| {
            let r0 = task * TASK_ROWS;
            let r1 = (r0 + TASK_ROWS).min(rows);
            rows_block(x, k, w, r0, r1, out);
        });
    if k == 1 {
        y.copy_from_slice(&yt);
        return;
    }
    // Contiguous writes; the strided reads stay within a few cache lines per step.
    for (c, yc) in y.chunks_exact_mut(rows).enumerate() {
        for (r, v) in yc.iter_mut().enumerate() {
            *v = yt[r * k + c];
        }
    }
}

fn rows_block(x: &[f32], k: usize, w: &HostMatrix, r0: usize, r1: usize, out: &mut [f32]) {
    let cols = w.cols;
    let (br, bc) = block_shape(k, w.isa());
    let mut r = r0;
    while r < r1 {
        let nr = br.min(r1 - r);
        let mut c = 0;
        while c < k {
            let nc = bc.min(k - c);
            let mut acc = [[0.0f32; NC]; NR];
            dot_block(w, r, nr, &x[c * cols..(c + nc) * cols], nc, cols, &mut acc);
            for i in 0..nr {
                for j in 0..nc {
                    out[(r - r0 + i) * k + c + j] = acc[i][j];
                }
            }
            c += nc;
        }
        r += nr;
    }
}

/// Dot products of weight rows `r..r+nr` with activation rows `x[0..nc]`.
fn dot_block(
    w: &HostMatrix,
    r: usize,
    nr: usize,
    x: &[f32],
    nc: usize,
    cols: usize,
    acc: &mut [[f32; NC]; NR],
) {
    #[cfg(target_arch = "x86_64")]
    {
        if let Some(width) = simd::Width::of(w.isa()) {
            // SAFETY: a matrix's instruction set is one the CPU has (`HostMatrix::on_isa`);
            // bounds asserted inside.
            unsafe { simd::dot_block(width, w, r, nr, x, nc, cols, acc) };
            return;
        }
    }
    for i in 0..nr {
        for j in 0..nc {
            acc[i][j] = match &w.elems {
                HostElems::F32(v) => dot_portable(
                    &v[(r + i) * cols..(r + i + 1) * cols],
                    &x[j * cols..(j + 1) * cols],
                ),
                HostElems::F16(v) => {
                    let row = &v[(r + i) * cols..(r + i + 1) * cols];
                    let xr = &x[j * cols..(j + 1) * cols];
                    let mut lanes = [0.0f32; 8];
                    let n8 = cols / 8 * 8;
                    for b in (0..n8).step_by(8) {
                        for l in 0..8 {
                            lanes[l] += row[b + l].to_f32() * xr[b + l];
                        }
                    }
                    let mut s = lanes.iter().sum::<f32>();
                    for t in n8..cols {
                        s += row[t].to_f32() * xr[t];
                    }
                    s
                }
                HostElems::Quant(_) => unreachable!("quantized rows run in quant_matmul"),
            };
        }
    }
}

/// Portable dot product with 8 lanes (same association as the SIMD path).
fn dot_portable(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 8];
    let n8 = a.len() / 8 * 8;
    for i in (0..n8).step_by(8) {
        for l in 0..8 {
            lanes[l] += a[i + l] * b[i + l];
        }
    }
    let mut s = lanes.iter().sum::<f32>();
    for i in n8..a.len() {
        s += a[i] * b[i];
    }
    s
}

#[cfg(target_arch = "x86_64")]
mod simd {
    use std::arch::x86_64::*;

    use super::{HostElems, HostMatrix, NC, NR, PREFETCH_BLOCKS};

    /// The vector width an instruction set runs the f32 / f16 kernels at.
    #[derive(Clone, Copy)]
    pub enum Width {
        /// 8 lanes (AVX2, FMA, F16C).
        Avx2,
        /// 16 lanes in 32 registers (AVX-512F, FMA, F16C).
        Avx512,
    }

    impl Width {
        /// The width of `isa`, or `None` for the portable code.
        pub fn of(isa: super::Isa) -> Option<Width> {
            match isa {
                super::Isa::Avx512Vnni => Some(Width::Avx512),
                super::Isa::Avx2 => Some(Width::Avx2),
                super::Isa::Scalar | super::Isa::Auto => None,
            }
        }
    }

    /// Dispatches a `nr × nc` block to a monomorphized kernel, so every (weight row,
    /// activation row) pair is computed by the same instruction sequence whatever the block.
    ///
    /// # Safety
    /// The CPU has the features of `width` (AVX2, FMA and F16C; AVX-512F too for the 16-lane
    /// one). The bounds the pointer arithmetic relies on (`nc · cols ≤ x.len()`,
    /// `r + nr ≤ w.rows`, `nr ≤ NR`, `nc ≤ NC`) are asserted.
    #[allow(clippy::too_many_arguments)]
    pub unsafe fn dot_block(
        width: Width,
        w: &HostMatrix,
        r: usize,
        nr: usize,
        x: &[f32],
        nc: usize,
        cols: usize,
        acc: &mut [[f32; NC]; NR],
    ) {
        // SAFETY: the CPU features are the caller's to guarantee (# Safety); the bounds the pointer
        // arithmetic relies on are asserted first.
        unsafe {
            assert!(
                x.len() >= nc * cols && (r + nr) * cols <= w.rows * cols && nr <= NR && nc <= NC
            );
            // Both block sizes are compile-time constants in the kernels so the accumulators stay
            // in registers (a run-time row count spills them to the stack).
            macro_rules! rows {
                ($m:ident, $p:expr, $c:literal, $acc:expr, $xs:expr) => {
                    match nr {
                        4 => $m::dot::<_, 4, $c>($p, $xs, cols, $acc),
                        3 => $m::dot::<_, 3, $c>($p, $xs, cols, $acc),
                        2 => $m::dot::<_, 2, $c>($p, $xs, cols, $acc),
                        _ => $m::dot::<_, 1, $c>($p, $xs, cols, $acc),
                    }
                };
            }
            macro_rules! go {
                ($f:ident, $p:expr) => {
                    match width {
                        Width::Avx512 => match nc {
                            8 => rows!(avx512, $p, 8, acc, x),
                            7 => rows!(avx512, $p, 7, acc, x),
                            6 => rows!(avx512, $p, 6, acc, x),
                            5 => rows!(avx512, $p, 5, acc, x),
                            4 => rows!(avx512, $p, 4, acc, x),
                            3 => rows!(avx512, $p, 3, acc, x),
                            2 => rows!(avx512, $p, 2, acc, x),
                            _ => rows!(avx512, $p, 1, acc, x),
                        },
                        Width::Avx2 => {
                            let mut c = 0;
                            while c < nc {
                                let n = 2.min(nc - c);
                                let mut part = [[0.0f32; NC]; NR];
                                let xs = &x[c * cols..];
                                match n {
                                    2 => rows!(avx2, $p, 2, &mut part, xs),
                                    _ => rows!(avx2, $p, 1, &mut part, xs),
                                }
                                for i in 0..nr {
                                    for j in 0..n {
                                        acc[i][c + j] = part[i][j];
                                    }
                                }
                                c += n;
                            }
                        }
                    }
                };
            }
            match &w.elems {
                HostElems::F32(v) => go!(f32, v.as_ptr().add(r * cols)),
                HostElems::F16(v) => go!(f16, v.as_ptr().add(r * cols) as *const u16),
                HostElems::Quant(_) => unreachable!("quantized rows run in quant_matmul"),
            }
        }
    }

    /// A weight element type the kernels can widen to f32 lanes.
    pub trait WElem: Copy {
        /// 8 lanes from `p`.
        ///
        /// # Safety
        /// `p` points at 8 readable elements; the CPU has AVX2 and F16C.
        unsafe fn load8(p: *const Self) -> __m256;
        /// 16 lanes from `p`.
        ///
        /// # Safety
        /// `p` points at 16 readable elements; the CPU has AVX-512F and F16C.
        unsafe fn load16(p: *const Self) -> __m512;
        /// One element.
        ///
        /// # Safety
        /// `p` points at one readable element; the CPU has F16C.
        unsafe fn get(p: *const Self) -> f32;
    }

    impl WElem for f32 {
        #[inline(always)]
        unsafe fn load8(p: *const f32) -> __m256 {
            // SAFETY: the caller keeps `WElem::load8`'s contract (8 readable elements at `p`,
            // AVX2).
            unsafe { _mm256_loadu_ps(p) }
        }
        #[inline(always)]
        unsafe fn load16(p: *const f32) -> __m512 {
            // SAFETY: the caller keeps `WElem::load16`'s contract (16 readable elements at `p`,
            // AVX-512F).
            unsafe { _mm512_loadu_ps(p) }
        }
        #[inline(always)]
        unsafe fn get(p: *const f32) -> f32 {
            // SAFETY: the caller keeps `WElem::get`'s contract (one readable element at `p`).
            unsafe { *p }
        }
    }

    impl WElem for u16 {
        #[inline(always)]
        unsafe fn load8(p: *const u16) -> __m256 {
            // SAFETY: the caller keeps `WElem::load8`'s contract (8 readable elements at `p`, AVX2
            // and F16C).
            unsafe { _mm256_cvtph_ps(_mm_loadu_si128(p as *const __m128i)) }
        }
        #[inline(always)]
        unsafe fn load16(p: *const u16) -> __m512 {
            // SAFETY: the caller keeps `WElem::load16`'s contract (16 readable elements at `p`,
            // AVX-512F and F16C).
            unsafe { _mm512_cvtph_ps(_mm256_loadu_si256(p as *const __m256i)) }
        }
        #[inline(always)]
        unsafe fn get(p: *const u16) -> f32 {
            // SAFETY: the caller keeps `WElem::get`'s contract (one readable element at `p`, F16C).
            unsafe { half::f16::from_bits(*p).to_f32() }
        }
    }

    mod avx2 {
        use super::*;

        /// `R` (≤ 4) weight rows × `C` activation rows, `4·C` FMA accumulators of 8 lanes.
        ///
        /// # Safety
        /// The CPU has the enabled features; `w` points at `R` rows of `cols` readable
        /// elements, `x` holds at least `C · cols` values, `R ≤ NR`, `C ≤ NC`.
        #[target_feature(enable = "avx2,fma,f16c")]
        pub unsafe fn dot<T: WElem, const R: usize, const C: usize>(
            w: *const T,
            x: &[f32],
            cols: usize,
            acc: &mut [[f32; NC]; NR],
        ) {
            // SAFETY: the caller keeps this kernel's # Safety contract (features, `R` rows of
            // `cols` elements at `w`, `C · cols` values in `x`).
            unsafe {
                let n8 = cols / 8 * 8;
                let mut a = [[_mm256_setzero_ps(); C]; R];
                let mut i = 0;
                while i < n8 {
                    let mut xv = [_mm256_setzero_ps(); C];
                    for (j, v) in xv.iter_mut().enumerate() {
                        *v = _mm256_loadu_ps(x.as_ptr().add(j * cols + i));
                    }
                    for (row, ar) in a.iter_mut().enumerate() {
                        let wv = T::load8(w.add(row * cols + i));
                        for j in 0..C {
                            ar[j] = _mm256_fmadd_ps(wv, xv[j], ar[j]);
                        }
                    }
                    i += 8;
                }
                for (row, ar) in a.iter().enumerate() {
                    for j in 0..C {
                        let v = ar[j];
                        let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
                        let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
                        let mut s = _mm_cvtss_f32(_mm_add_ss(s, _mm_shuffle_ps(s, s, 0x55)));
                        for t in n8..cols {
                            s += T::get(w.add(row * cols + t)) * x[j * cols + t];
                        }
                        acc[row][j] = s;
                    }
                }
            }
        }
    }

    mod avx512 {
        use super::*;

        /// `R` (≤ 4) weight rows × `C` activation rows, `4·C` FMA accumulators of 16 lanes.
        ///
        /// # Safety
        /// The CPU has the enabled features; `w` points at `R` rows of `cols` readable
        /// elements, `x` holds at least `C · cols` values, `R ≤ NR`, `C ≤ NC`.
        #[target_feature(enable = "avx512f,fma,f16c")]
        pub unsafe fn dot<T: WElem, const R: usize, const C: usize>(
            w: *const T,
            x: &[f32],
            cols: usize,
            acc: &mut [[f32; NC]; NR],
        ) {
            // SAFETY: the caller keeps this kernel's # Safety contract (features, `R` rows of
            // `cols` elements at `w`, `C · cols` values in `x`).
            unsafe {
                let n16 = cols / 16 * 16;
                let mut a = [[_mm512_setzero_ps(); C]; R];
                let mut i = 0;
                while i < n16 {
                    let mut xv = [_mm512_setzero_ps(); C];
                    for (j, v) in xv.iter_mut().enumerate() {
                        *v = _mm512_loadu_ps(x.as_ptr().add(j * cols + i));
                    }
                    for (row, ar) in a.iter_mut().enumerate() {
                        // Software prefetch of the rows `PREFETCH_BLOCKS` blocks ahead. A prefetch
                        // a fixed distance ahead within the row stream misses every row but the
                        // first of a block (measured: 57% of the kernel's samples stalled on the
                        // second row's load at k = 8); the hardware prefetcher alone lags when
                        // each iteration is long (C FMAs per weight vector).
                        _mm_prefetch::<_MM_HINT_T0>(
                            w.wrapping_add((row + PREFETCH_BLOCKS * R) * cols + i) as *const i8,
                        );
                        let wv = T::load16(w.add(row * cols + i));
                        for j in 0..C {
                            ar[j] = _mm512_fmadd_ps(wv, xv[j], ar[j]);
                        }
                    }
                    i += 16;
                }
                for (row, ar) in a.iter().enumerate() {
                    for j in 0..C {
                        let mut s = _mm512_reduce_add_ps(ar[j]);
                        for t in n16..cols {
                            s += T::get(w.add(row * cols + t)) * x[j * cols + t];
                        }
                        acc[row][j] = s;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(x: &[f32], k: usize, w: &[f32], rows: usize, cols: usize) -> Vec<f32> {
        let mut y = vec![0.0; k * rows];
        for c in 0..k {
            for r in 0..rows {
                y[c * rows + r] = (0..cols)
                    .map(|i| x[c * cols + i] as f64 * w[r * cols + i] as f64)
                    .sum::<f64>() as f32;
            }
        }
        y
    }

    #[test]
    fn matches_reference_for_odd_shapes_and_dtypes() {
        for &(k, rows, cols) in &[
            (1, 7, 13),
            (3, 70, 64),
            (8, 129, 96),
            (5, 4, 8),
            (2, 1, 3),
            (17, 66, 33),
        ] {
            let x: Vec<f32> = (0..k * cols)
                .map(|i| ((i * 37 % 101) as f32 - 50.0) / 50.0)
                .collect();
            let w: Vec<f32> = (0..rows * cols)
                .map(|i| ((i * 53 % 97) as f32 - 48.0) / 48.0)
                .collect();
            let want = reference(&x, k, &w, rows, cols);
            for (isa, f16) in Isa::available()
                .into_iter()
                .flat_map(|i| [(i, false), (i, true)])
            {
                let m = HostMatrix::new(rows, cols, w.clone(), f16)
                    .on_isa(isa)
                    .unwrap();
                let mut y = vec![0.0; k * rows];
                matmul_xwt(&x, k, &m, &mut y);
                let tol = if f16 { 2e-2 } else { 1e-4 } * cols as f32;
                for (a, b) in y.iter().zip(&want) {
                    assert!(
                        (a - b).abs() <= tol,
                        "{isa} k={k} rows={rows} cols={cols} f16={f16}: {a} vs {b}"
                    );
                }
            }
        }
    }

    #[test]
    fn each_row_is_independent_of_k() {
        // The numerics of row c must not depend on how many rows are computed together: the
        // lossless-decoding guarantee (verify-k equals decode-1) rests on it.
        let (rows, cols) = (40, 72);
        let w: Vec<f32> = (0..rows * cols)
            .map(|i| ((i * 29 % 83) as f32 - 41.0) / 7.0)
            .collect();
        let x: Vec<f32> = (0..9 * cols)
            .map(|i| ((i * 31 % 89) as f32 - 44.0) / 9.0)
            .collect();
        for isa in Isa::available() {
            let m = HostMatrix::new(rows, cols, w.clone(), false)
                .on_isa(isa)
                .unwrap();
            let mut all = vec![0.0; 9 * rows];
            matmul_xwt(&x, 9, &m, &mut all);
            for c in 0..9 {
                let mut one = vec![0.0; rows];
                matmul_xwt(&x[c * cols..(c + 1) * cols], 1, &m, &mut one);
                assert_eq!(&all[c * rows..(c + 1) * rows], &one[..], "{isa} row {c}");
            }
        }
    }
}
