//! [`QuantMatrix`]: an immutable weight matrix kept as integer codes and block scales (the
//! values stored in its GGUF file, repacked into the chunk layout of [`super::quant_format`]),
//! made of row ranges that may come from different block types (a fused q/k/v whose `v` is
//! stored wider).

use half::f16;
use rayon::prelude::*;

use super::quant_format::{
    QuantFormat, ScaleScheme, BYTE_PLANES, CHUNK, SUPER, SUPER_HEADER_SCALES,
};
use crate::gguf::GgmlType;

/// Rows of one block type inside a [`QuantMatrix`].
#[derive(Debug)]
pub struct QuantPart {
    /// Layout of every row.
    pub format: QuantFormat,
    /// Rows.
    pub rows: usize,
    /// Weights per row (a multiple of the scheme's block length).
    pub cols: usize,
    /// Records of all rows, row-major (`rows × row_bytes`; layouts in [`super::quant_format`]).
    pub data: Vec<u8>,
}

/// Codes and scales of one row, before packing into chunk records.
struct RowCodes {
    /// One code per weight, padded with zeros to whole chunks.
    codes: Vec<u8>,
    /// Per 32 weights `[d, m]` as f16 bits (flat schemes).
    flat: Vec<[u16; 2]>,
    /// Per 256 weights `[d, dmin]` (k-quant schemes).
    supers: Vec<[f32; 2]>,
    /// Per chunk the four scale bytes (k-quant schemes).
    subs: Vec<[u8; 4]>,
}

impl QuantPart {
    /// Chunks per row (a trailing half chunk is padded with zero codes and zero scales).
    pub fn chunks_per_row(&self) -> usize {
        self.cols.div_ceil(CHUNK)
    }

    /// Bytes of one row's records.
    pub fn row_bytes(&self) -> usize {
        if self.format.scheme.has_super_scales() {
            self.cols / SUPER * self.format.super_bytes()
        } else {
            self.chunks_per_row() * self.format.chunk_bytes()
        }
    }

    /// Byte offset of chunk `c`'s codes within a row.
    pub fn codes_offset(&self, c: usize) -> usize {
        let f = self.format;
        if f.scheme.has_super_scales() {
            let header = SUPER_HEADER_SCALES + f.scheme.scale_bytes();
            (c / 4) * f.super_bytes() + header + (c % 4) * f.codes_bytes()
        } else {
            c * f.chunk_bytes()
        }
    }

    /// Whether `cols` weights per row can be packed in `format`.
    pub fn fits(format: QuantFormat, cols: usize) -> bool {
        cols > 0 && cols.is_multiple_of(format.scheme.block_len())
    }

    /// Repacks `rows × cols` weights stored as GGUF blocks of `format.source` (`bytes` holds
    /// whole blocks, row-major). Every code and scale is kept as stored.
    ///
    /// # Panics
    /// If the byte count or `cols` does not fit the type; callers check with
    /// [`QuantPart::fits`] and the GGUF reader validates sizes.
    pub fn from_blocks(format: QuantFormat, rows: usize, cols: usize, bytes: &[u8]) -> Self {
        let t = format.source;
        let block_len = t.block_len();
        let block_bytes = t.block_bytes().expect("validated type");
        let row_src = cols / block_len * block_bytes;
        assert!(
            Self::fits(format, cols) && bytes.len() == rows * row_src,
            "block sizes"
        );
        Self::pack(format, rows, cols, |r| {
            let mut rc = RowCodes::new(format, cols);
            for (b, blk) in bytes[r * row_src..(r + 1) * row_src]
                .chunks_exact(block_bytes)
                .enumerate()
            {
                decode_block(t, blk, b * block_len, &mut rc);
            }
            rc
        })
    }

    /// Quantizes f32 rows to symmetric 8-bit codes with an f16 scale per 32 weights
    /// (`d = max|x| / 127` rounded to f16, codes `round(x / d)` with that f16 `d`), for weights
    /// stored as floats.
    pub fn from_f32(source: GgmlType, rows: usize, cols: usize, data: &[f32]) -> Self {
        let format = QuantFormat::q8(source);
        assert!(
            Self::fits(format, cols) && data.len() == rows * cols,
            "f32 sizes"
        );
        Self::pack(format, rows, cols, |r| {
            let mut rc = RowCodes::new(format, cols);
            for (b, x) in data[r * cols..(r + 1) * cols].chunks_exact(32).enumerate() {
                let amax = x.iter().fold(0.0f32, |m, v| m.max(v.abs()));
                let d = f16::from_f32(amax / 127.0);
                let inv = if d.to_f32() > 0.0 {
                    1.0 / d.to_f32()
                } else {
                    0.0
                };
                for (i, v) in x.iter().enumerate() {
                    let q = (v * inv).round().clamp(-127.0, 127.0) as i32;
                    rc.codes[b * 32 + i] = (q + 128) as u8;
                }
                rc.flat[b] = [d.to_bits(), 0];
            }
            rc
        })
    }

    fn pack(
        format: QuantFormat,
        rows: usize,
        cols: usize,
        row_codes: impl Fn(usize) -> RowCodes + Sync,
    ) -> Self {
        let mut part = QuantPart {
            format,
            rows,
            cols,
            data: Vec::new(),
        };
        let row_bytes = part.row_bytes();
        let mut data = vec![0u8; rows * row_bytes];
        data.par_chunks_mut(row_bytes)
            .enumerate()
            .for_each(|(r, out)| write_row(&part, &row_codes(r), out));
        part.data = data;
        part
    }

    /// Reorders rows: row `i` of the result is row `perm[i]` of `self`.
    pub fn permute_rows(&self, perm: &[usize]) -> Self {
        assert_eq!(perm.len(), self.rows, "permutation length");
        let rb = self.row_bytes();
        let mut data = Vec::with_capacity(self.data.len());
        for &src in perm {
            data.extend_from_slice(&self.data[src * rb..(src + 1) * rb]);
        }
        QuantPart {
            format: self.format,
            rows: self.rows,
            cols: self.cols,
            data,
        }
    }

    /// Row `r`'s records.
    pub fn row(&self, r: usize) -> &[u8] {
        let rb = self.row_bytes();
        &self.data[r * rb..(r + 1) * rb]
    }

    /// The scale bytes of flat chunk `c` of row `r`.
    pub fn flat_scales(&self, r: usize, c: usize) -> &[u8] {
        let at = self.codes_offset(c) + self.format.codes_bytes();
        &self.row(r)[at..at + self.format.scheme.scale_bytes()]
    }

    /// `d`, `dmin` (f16 values) and the 16 scale bytes of 256-weight block `s` of row `r`
    /// (k-quant schemes).
    pub fn super_header(&self, r: usize, s: usize) -> (f32, f32, &[u8]) {
        let h = &self.row(r)[s * self.format.super_bytes()..];
        (f16_at(h, 0), f16_at(h, 2), &h[4..20])
    }

    /// The 64 codes of chunk `c` of row `r`.
    pub fn chunk_codes(&self, r: usize, c: usize) -> [u8; CHUNK] {
        let rec = &self.row(r)[self.codes_offset(c)..];
        let mut q = [0u8; CHUNK];
        if self.format.planes == BYTE_PLANES {
            q.copy_from_slice(&rec[..CHUNK]);
            return q;
        }
        for i in 0..32 {
            q[i] = rec[i] & 0x0F;
            q[32 + i] = rec[i] >> 4;
        }
        for p in 0..self.format.planes {
            let bits = u64::from_le_bytes(rec[32 + 8 * p..40 + 8 * p].try_into().expect("8"));
            for (i, v) in q.iter_mut().enumerate() {
                *v |= (((bits >> i) & 1) as u8) << (4 + p);
            }
        }
        q
    }

    /// Appends row `r` as f32 to `out`, each weight computed exactly as the GGUF
    /// dequantization computes it (embedding lookup).
    pub fn push_row_f32(&self, r: usize, out: &mut Vec<f32>) {
        for c in 0..self.chunks_per_row() {
            let q = self.chunk_codes(r, c);
            let n = CHUNK.min(self.cols - c * CHUNK);
            for (e, &code) in q.iter().enumerate().take(n) {
                let v = match self.format.scheme {
                    ScaleScheme::FlatOffset => {
                        let s = self.flat_scales(r, c);
                        code as f32 * f16_at(s, 2 * (e / 32)) + f16_at(s, 4 + 2 * (e / 32))
                    }
                    ScaleScheme::FlatZero(z) => {
                        let s = self.flat_scales(r, c);
                        (code as i32 - z as i32) as f32 * f16_at(s, 2 * (e / 32))
                    }
                    ScaleScheme::SuperOffset => {
                        let (d, dmin, s) = self.super_header(r, c / 4);
                        let b = (c % 4) * 2 + e / 32;
                        d * s[b] as f32 * code as f32 - dmin * s[8 + b] as f32
                    }
                    ScaleScheme::SuperZero => {
                        let (d, _, s) = self.super_header(r, c / 4);
                        let b = (c % 4) * 4 + e / 16;
                        d * (s[b] as i8) as f32 * (code as i32 - 32) as f32
                    }
                };
                out.push(v);
            }
        }
    }
}

impl RowCodes {
    fn new(format: QuantFormat, cols: usize) -> Self {
        let n_super = if format.scheme.has_super_scales() {
            cols / SUPER
        } else {
            0
        };
        RowCodes {
            codes: vec![0; cols.div_ceil(CHUNK) * CHUNK],
            flat: vec![[0; 2]; cols.div_ceil(CHUNK) * 2],
            supers: vec![[0.0; 2]; n_super],
            subs: vec![[0; 4]; cols.div_ceil(CHUNK)],
        }
    }
}

/// Writes one row's records.
fn write_row(part: &QuantPart, rc: &RowCodes, out: &mut [u8]) {
    let f = part.format;
    for c in 0..part.chunks_per_row() {
        let at = part.codes_offset(c);
        let rec = &mut out[at..at + f.codes_bytes()];
        let q = &rc.codes[c * CHUNK..(c + 1) * CHUNK];
        if f.planes == BYTE_PLANES {
            rec.copy_from_slice(q);
        } else {
            write_planes(q, f.planes, rec);
        }
        let s = &mut out[at + f.codes_bytes()..];
        match f.scheme {
            ScaleScheme::FlatOffset => {
                let [a, b] = [rc.flat[2 * c], rc.flat[2 * c + 1]];
                for (i, v) in [a[0], b[0], a[1], b[1]].into_iter().enumerate() {
                    s[2 * i..2 * i + 2].copy_from_slice(&v.to_le_bytes());
                }
            }
            ScaleScheme::FlatZero(_) => {
                s[0..2].copy_from_slice(&rc.flat[2 * c][0].to_le_bytes());
                s[2..4].copy_from_slice(&rc.flat[2 * c + 1][0].to_le_bytes());
            }
            ScaleScheme::SuperOffset | ScaleScheme::SuperZero => (),
        }
    }
    if f.scheme.has_super_scales() {
        for (sb, h) in out.chunks_exact_mut(f.super_bytes()).enumerate() {
            let [d, dmin] = rc.supers[sb];
            // Exact: both were read from f16.
            h[0..2].copy_from_slice(&f16::from_f32(d).to_le_bytes());
            h[2..4].copy_from_slice(&f16::from_f32(dmin).to_le_bytes());
            for j in 0..4 {
                let sub = rc.subs[4 * sb + j];
                if f.scheme == ScaleScheme::SuperOffset {
                    // [sc_A, sc_B, mn_A, mn_B] of chunk j → sc[2j..], mn[2j..].
                    h[4 + 2 * j..6 + 2 * j].copy_from_slice(&sub[0..2]);
                    h[12 + 2 * j..14 + 2 * j].copy_from_slice(&sub[2..4]);
                } else {
                    h[4 + 4 * j..8 + 4 * j].copy_from_slice(&sub);
                }
            }
        }
    }
}

/// A chunk's codes below 8 bits as a nibble plane and `planes` bit planes.
fn write_planes(q: &[u8], planes: usize, rec: &mut [u8]) {
    for i in 0..32 {
        rec[i] = (q[i] & 0x0F) | (q[32 + i] << 4);
    }
    for p in 0..planes {
        let bits = q
            .iter()
            .enumerate()
            .fold(0u64, |b, (i, &v)| b | ((((v >> (4 + p)) & 1) as u64) << i));
        rec[32 + 8 * p..40 + 8 * p].copy_from_slice(&bits.to_le_bytes());
    }
}

fn u16_at(b: &[u8], i: usize) -> u16 {
    u16::from_le_bytes([b[i], b[i + 1]])
}

fn f16_at(b: &[u8], i: usize) -> f32 {
    f16::from_bits(u16_at(b, i)).to_f32()
}

/// 6-bit scale and min `j` (0..8) of the 12 packed k-quant scale bytes.
fn scale_min_k4(j: usize, q: &[u8]) -> (u8, u8) {
    if j < 4 {
        (q[j] & 63, q[j + 4] & 63)
    } else {
        (
            (q[j + 4] & 0x0F) | ((q[j - 4] >> 6) << 4),
            (q[j + 4] >> 4) | ((q[j] >> 6) << 4),
        )
    }
}

/// Decodes one GGUF block starting at weight `at` of the row into unsigned codes and scales
/// (layouts as in ggml's `ggml-quants.c`, read, not copied).
fn decode_block(t: GgmlType, b: &[u8], at: usize, rc: &mut RowCodes) {
    let codes = &mut rc.codes[at..];
    match t {
        GgmlType::Q4_0 | GgmlType::Q4_1 | GgmlType::Q5_0 | GgmlType::Q5_1 => {
            let (scales, qh, qs) = match t {
                GgmlType::Q4_0 => (2, None, &b[2..18]),
                GgmlType::Q4_1 => (4, None, &b[4..20]),
                GgmlType::Q5_0 => (
                    2,
                    Some(u32::from_le_bytes(b[2..6].try_into().unwrap())),
                    &b[6..22],
                ),
                _ => (
                    4,
                    Some(u32::from_le_bytes(b[4..8].try_into().unwrap())),
                    &b[8..24],
                ),
            };
            for j in 0..16 {
                let (h0, h1) = qh.map_or((0, 0), |h| {
                    (((h >> j) & 1) as u8, ((h >> (j + 16)) & 1) as u8)
                });
                codes[j] = (qs[j] & 0x0F) | (h0 << 4);
                codes[j + 16] = (qs[j] >> 4) | (h1 << 4);
            }
            let m = if scales == 4 { u16_at(b, 2) } else { 0 };
            rc.flat[at / 32] = [u16_at(b, 0), m];
        }
        GgmlType::Q8_0 => {
            for j in 0..32 {
                codes[j] = (b[2 + j] as i8 as i32 + 128) as u8;
            }
            rc.flat[at / 32] = [u16_at(b, 0), 0];
        }
        GgmlType::Q4_K | GgmlType::Q5_K => {
            let (qh, qs) = if t == GgmlType::Q4_K {
                (None, &b[16..144])
            } else {
                (Some(&b[16..48]), &b[48..176])
            };
            for chunk in 0..4 {
                let q = &qs[chunk * 32..chunk * 32 + 32];
                for l in 0..32 {
                    let (h1, h2) = qh.map_or((0, 0), |h| {
                        ((h[l] >> (2 * chunk)) & 1, (h[l] >> (2 * chunk + 1)) & 1)
                    });
                    codes[chunk * 64 + l] = (q[l] & 0x0F) | (h1 << 4);
                    codes[chunk * 64 + 32 + l] = (q[l] >> 4) | (h2 << 4);
                }
                let (sc1, m1) = scale_min_k4(2 * chunk, &b[4..16]);
                let (sc2, m2) = scale_min_k4(2 * chunk + 1, &b[4..16]);
                rc.subs[at / CHUNK + chunk] = [sc1, sc2, m1, m2];
            }
            rc.supers[at / SUPER] = [f16_at(b, 0), f16_at(b, 2)];
        }
        GgmlType::Q6_K => {
            for half in 0..2 {
                let ql = &b[half * 64..half * 64 + 64];
                let qh = &b[128 + half * 32..128 + half * 32 + 32];
                let out = &mut codes[half * 128..half * 128 + 128];
                for l in 0..32 {
                    out[l] = (ql[l] & 0x0F) | ((qh[l] & 3) << 4);
                    out[l + 32] = (ql[l + 32] & 0x0F) | (((qh[l] >> 2) & 3) << 4);
                    out[l + 64] = (ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4);
                    out[l + 96] = (ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4);
                }
            }
            for chunk in 0..4 {
                let sc = &b[192 + chunk * 4..196 + chunk * 4];
                rc.subs[at / CHUNK + chunk] = [sc[0], sc[1], sc[2], sc[3]];
            }
            rc.supers[at / SUPER] = [f16_at(b, 208), 0.0];
        }
        other => unreachable!("no quantized layout for {other}"),
    }
}

/// A quantized `[rows, cols]` weight matrix: row ranges ([`QuantPart`]s) stacked in order.
#[derive(Debug)]
pub struct QuantMatrix {
    /// Row ranges, top to bottom.
    pub parts: Vec<QuantPart>,
}

impl QuantMatrix {
    /// Stacks parts of equal width.
    ///
    /// # Panics
    /// If `parts` is empty or their widths differ.
    pub fn new(parts: Vec<QuantPart>) -> Self {
        assert!(!parts.is_empty(), "a quantized matrix needs rows");
        assert!(parts.iter().all(|p| p.cols == parts[0].cols), "part widths");
        QuantMatrix { parts }
    }

    /// Rows.
    pub fn rows(&self) -> usize {
        self.parts.iter().map(|p| p.rows).sum()
    }

    /// Columns.
    pub fn cols(&self) -> usize {
        self.parts[0].cols
    }

    /// Bytes streamed per full pass over the matrix.
    pub fn bytes(&self) -> usize {
        self.parts.iter().map(|p| p.data.len()).sum()
    }

    /// Appends row `r` as f32 to `out` (embedding lookup).
    pub fn push_row_f32(&self, mut r: usize, out: &mut Vec<f32>) {
        for p in &self.parts {
            if r < p.rows {
                return p.push_row_f32(r, out);
            }
            r -= p.rows;
        }
        panic!("row out of range");
    }

    /// The formats of its parts, e.g. `Q4_K+Q6_K`.
    pub fn label(&self) -> String {
        let mut labels: Vec<String> = Vec::new();
        for p in &self.parts {
            let l = p.format.label();
            if !labels.contains(&l) {
                labels.push(l);
            }
        }
        labels.join("+")
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::gguf::dequantize;

    /// Deterministic pseudo-random bytes.
    pub(crate) fn bytes(n: usize, seed: u64) -> Vec<u8> {
        let mut s = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (0..n)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (s >> 33) as u8
            })
            .collect()
    }

    /// Random blocks of `t` with finite, moderate f16 scales.
    pub(crate) fn random_blocks(t: GgmlType, rows: usize, cols: usize, seed: u64) -> Vec<u8> {
        let (bl, bb) = (t.block_len(), t.block_bytes().unwrap());
        let mut b = bytes(rows * cols / bl * bb, seed);
        let small = |v: f32| f16::from_f32(v).to_le_bytes();
        for (i, blk) in b.chunks_exact_mut(bb).enumerate() {
            let v = 0.01 + (i % 7) as f32 * 0.003;
            match t {
                GgmlType::Q6_K => blk[208..210].copy_from_slice(&small(v)),
                GgmlType::Q4_1 | GgmlType::Q5_1 | GgmlType::Q4_K | GgmlType::Q5_K => {
                    blk[0..2].copy_from_slice(&small(v));
                    blk[2..4].copy_from_slice(&small(-v * 0.5 + 0.002 * (i % 3) as f32));
                }
                _ => blk[0..2].copy_from_slice(&small(v)),
            }
        }
        b
    }

    pub(crate) const TYPES: [GgmlType; 8] = [
        GgmlType::Q4_0,
        GgmlType::Q4_1,
        GgmlType::Q5_0,
        GgmlType::Q5_1,
        GgmlType::Q8_0,
        GgmlType::Q4_K,
        GgmlType::Q5_K,
        GgmlType::Q6_K,
    ];

    #[test]
    fn repacked_rows_dequantize_bit_for_bit_like_the_gguf_blocks() {
        for t in TYPES {
            let (rows, cols) = (3, if t.block_len() == 256 { 512 } else { 96 });
            let b = random_blocks(t, rows, cols, 7);
            let want = dequantize(t, &b);
            let part = QuantPart::from_blocks(QuantFormat::for_stored(t).unwrap(), rows, cols, &b);
            let mut got = Vec::new();
            for r in 0..rows {
                part.push_row_f32(r, &mut got);
            }
            assert_eq!(got.len(), want.len());
            for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                assert_eq!(g.to_bits(), w.to_bits(), "{t} weight {i}: {g} vs {w}");
            }
        }
    }

    #[test]
    fn requantized_rows_are_within_half_a_step() {
        let (rows, cols) = (4, 96);
        let x: Vec<f32> = (0..rows * cols)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) / 13.0)
            .collect();
        let part = QuantPart::from_f32(GgmlType::F32, rows, cols, &x);
        let mut got = Vec::new();
        for r in 0..rows {
            part.push_row_f32(r, &mut got);
        }
        for (b, (g, w)) in got.chunks(32).zip(x.chunks(32)).enumerate() {
            let step = w.iter().fold(0.0f32, |m, v| m.max(v.abs())) / 127.0;
            for (a, e) in g.iter().zip(w) {
                assert!(
                    (a - e).abs() <= 0.51 * step + 1e-3 * step.max(1.0),
                    "block {b}"
                );
            }
        }
    }

    #[test]
    fn permuted_rows_move_whole_rows() {
        let t = GgmlType::Q4_K;
        let b = random_blocks(t, 3, 256, 3);
        let part = QuantPart::from_blocks(QuantFormat::for_stored(t).unwrap(), 3, 256, &b);
        let p = part.permute_rows(&[2, 0, 1]);
        let (mut a, mut e) = (Vec::new(), Vec::new());
        p.push_row_f32(0, &mut a);
        part.push_row_f32(2, &mut e);
        assert_eq!(a, e);
    }
}
