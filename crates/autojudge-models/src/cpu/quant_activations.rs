//! Activation rows quantized for the integer kernels, each row on its own (so a row's codes
//! never depend on the other rows of a call: verification of k tokens and batches of sequences
//! give every row the numbers a single decode step gives it). [`QuantActivations`] has a scale
//! per 32 values (for flat weight scales); [`SuperActivations`] one per 256 (for k-quant
//! weights, whose integer sub-scales then apply before any float arithmetic, as llama.cpp's
//! Q8_K does).

use super::quant_format::{CHUNK, SUPER};

/// `v` (|v| ≤ 127 up to rounding) to the nearest integer, halves away from zero, as an int8
/// code: an add and a truncating conversion (`f32::round` is a libm call without SSE4.1).
#[inline]
fn round_code(v: f32) -> i8 {
    ((v + 0.5f32.copysign(v)) as i32).clamp(-127, 127) as i8
}

/// Per row: int8 codes with one f32 scale per 32 values, and per group of 4 values (a lane of
/// the kernel's 16-lane accumulators) the scale of its block and the exact sum of its values.
#[derive(Debug, Default)]
pub struct QuantActivations {
    /// Rows.
    pub rows: usize,
    /// Values per row, padded with zeros to whole chunks of 64.
    pub padded: usize,
    /// `rows × padded` codes in −127 ..= 127.
    pub codes: Vec<i8>,
    /// `rows × padded / 4`: the scale of the 32-value block lane `l` lies in.
    pub lane_scale: Vec<f32>,
    /// `rows × padded / 4`: the lane's block scale times the sum of its 4 codes, i.e. the
    /// sum of the 4 quantized values (the offset term's input). Quantized, not exact, sums:
    /// then a row's result is exactly `Σ w · x̂` for the stored weights `w` and quantized
    /// activations `x̂`, whose error `Σ w · (x̂ − x)` is weighted by the weights themselves
    /// (exact sums would weight it by the unsigned codes: 2–4× the noise for zero-point types).
    pub lane_sum: Vec<f32>,
}

impl QuantActivations {
    /// Quantizes `rows` rows of `cols` values: per 32 values `d = max|x| / 127` and codes
    /// `x · (127 / max|x|)` rounded half away from zero.
    pub fn new(x: &[f32], rows: usize, cols: usize) -> Self {
        assert_eq!(x.len(), rows * cols, "activation shape");
        let padded = cols.div_ceil(CHUNK) * CHUNK;
        let mut a = QuantActivations {
            rows,
            padded,
            codes: vec![0; rows * padded],
            lane_scale: vec![0.0; rows * padded / 4],
            lane_sum: vec![0.0; rows * padded / 4],
        };
        for r in 0..rows {
            let row = &x[r * cols..(r + 1) * cols];
            let codes = &mut a.codes[r * padded..(r + 1) * padded];
            let scale = &mut a.lane_scale[r * padded / 4..(r + 1) * padded / 4];
            let sum = &mut a.lane_sum[r * padded / 4..(r + 1) * padded / 4];
            for (b, xb) in row.chunks(32).enumerate() {
                let amax = xb.iter().fold(0.0f32, |m, v| m.max(v.abs()));
                let d = amax / 127.0;
                let inv = if amax > 0.0 { 127.0 / amax } else { 0.0 };
                for (i, v) in xb.iter().enumerate() {
                    codes[b * 32 + i] = round_code(v * inv);
                }
                for l in 0..8 {
                    scale[b * 8 + l] = d;
                }
            }
            for (l, s) in sum.iter_mut().enumerate() {
                let q: i32 = codes[4 * l..4 * l + 4].iter().map(|&c| c as i32).sum();
                *s = scale[l] * q as f32;
            }
        }
        a
    }

    /// Codes of row `r`.
    pub fn row_codes(&self, r: usize) -> &[i8] {
        &self.codes[r * self.padded..(r + 1) * self.padded]
    }

    /// Lane scales of row `r`.
    pub fn row_lane_scale(&self, r: usize) -> &[f32] {
        &self.lane_scale[r * self.padded / 4..(r + 1) * self.padded / 4]
    }

    /// Lane sums of row `r`.
    pub fn row_lane_sum(&self, r: usize) -> &[f32] {
        &self.lane_sum[r * self.padded / 4..(r + 1) * self.padded / 4]
    }
}

/// Per row: int8 codes with one f32 scale per 256 values, the exact sum of each 32 values and
/// the code sum of each 16.
#[derive(Debug, Default)]
pub struct SuperActivations {
    /// Rows.
    pub rows: usize,
    /// Values per row (a multiple of 256).
    pub cols: usize,
    /// `rows × cols` codes in −127 ..= 127.
    pub codes: Vec<i8>,
    /// `rows × cols / 256` scales.
    pub scale: Vec<f32>,
    /// `rows × cols / 32`: the scale times the sum of each 32 codes, i.e. the sum of the 32
    /// quantized values (the offset term's input; quantized for the reason given at
    /// [`QuantActivations::lane_sum`]).
    pub block_sum: Vec<f32>,
    /// `rows × cols / 16`: the sum of each 16 codes (the zero-point term's input).
    pub code_sum16: Vec<i16>,
}

impl SuperActivations {
    /// Quantizes `rows` rows of `cols` values: per 256 values `d = max|x| / 127` and codes
    /// `x · (127 / max|x|)` rounded half away from zero.
    pub fn new(x: &[f32], rows: usize, cols: usize) -> Self {
        assert!(
            x.len() == rows * cols && cols.is_multiple_of(SUPER),
            "activation shape"
        );
        let mut a = SuperActivations {
            rows,
            cols,
            codes: vec![0; rows * cols],
            scale: vec![0.0; rows * cols / SUPER],
            block_sum: vec![0.0; rows * cols / 32],
            code_sum16: vec![0; rows * cols / 16],
        };
        for (i, xb) in x.chunks_exact(SUPER).enumerate() {
            let amax = xb.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            let inv = if amax > 0.0 { 127.0 / amax } else { 0.0 };
            a.scale[i] = amax / 127.0;
            let codes = &mut a.codes[i * SUPER..(i + 1) * SUPER];
            for (c, v) in codes.iter_mut().zip(xb) {
                *c = round_code(v * inv);
            }
            for (j, c16) in codes.chunks_exact(16).enumerate() {
                a.code_sum16[i * 16 + j] = c16.iter().map(|&c| c as i16).sum();
            }
            for (j, c32) in codes.chunks_exact(32).enumerate() {
                let q: i32 = c32.iter().map(|&c| c as i32).sum();
                a.block_sum[i * 8 + j] = a.scale[i] * q as f32;
            }
        }
        a
    }
}
