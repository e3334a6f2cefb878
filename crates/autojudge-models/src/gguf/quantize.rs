//! Round-to-nearest quantization of f32 rows into GGML blocks (Q4_0, Q4_1, Q8_0, Q4_K, Q6_K),
//! for writing GGUF files of test models. Each block's scales come from its own min/max; this
//! is not llama.cpp's importance-weighted search, so its error is larger, but every block is a
//! valid block of its type (layouts as in ggml's `ggml-quants.c`, read, not copied).

use half::f16;

use super::GgmlType;

/// Quantizes `data` (whole blocks of `ty`, row-major) into GGML block bytes, or `None` for a
/// type this quantizer does not write or a length that is not whole blocks.
pub fn quantize(ty: GgmlType, data: &[f32]) -> Option<Vec<u8>> {
    let n = ty.block_len();
    if data.is_empty() || !data.len().is_multiple_of(n) {
        return None;
    }
    let block: fn(&[f32], &mut Vec<u8>) = match ty {
        GgmlType::Q4_0 => q4_0,
        GgmlType::Q4_1 => q4_1,
        GgmlType::Q8_0 => q8_0,
        GgmlType::Q4_K => q4_k,
        GgmlType::Q6_K => q6_k,
        _ => return None,
    };
    let mut out = Vec::with_capacity(data.len() / n * ty.block_bytes()?);
    for b in data.chunks_exact(n) {
        block(b, &mut out);
    }
    Some(out)
}

fn push_f16(out: &mut Vec<u8>, v: f32) -> f32 {
    let h = f16::from_f32(v);
    out.extend_from_slice(&h.to_le_bytes());
    h.to_f32()
}

fn inv(d: f32) -> f32 {
    if d > 0.0 {
        1.0 / d
    } else {
        0.0
    }
}

fn amax(x: &[f32]) -> f32 {
    x.iter().fold(0.0f32, |m, v| m.max(v.abs()))
}

/// Nibbles of 32 codes: low = codes 0..16, high = 16..32.
fn push_nibbles(out: &mut Vec<u8>, q: &[u8; 32]) {
    out.extend((0..16).map(|j| q[j] | (q[j + 16] << 4)));
}

fn q4_0(x: &[f32], out: &mut Vec<u8>) {
    // The value of largest magnitude maps to code 0 (−8), as in ggml.
    let m = x
        .iter()
        .copied()
        .fold(0.0f32, |a, v| if v.abs() > a.abs() { v } else { a });
    let d = push_f16(out, m / -8.0);
    let id = inv(d.abs()) * d.signum();
    let q: [u8; 32] = std::array::from_fn(|i| ((x[i] * id + 8.5) as i32).clamp(0, 15) as u8);
    push_nibbles(out, &q);
}

fn q4_1(x: &[f32], out: &mut Vec<u8>) {
    let lo = x.iter().copied().fold(f32::INFINITY, f32::min);
    let hi = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let d = push_f16(out, (hi - lo) / 15.0);
    let m = push_f16(out, lo);
    let q: [u8; 32] = std::array::from_fn(|i| ((x[i] - m) * inv(d)).round().clamp(0.0, 15.0) as u8);
    push_nibbles(out, &q);
}

fn q8_0(x: &[f32], out: &mut Vec<u8>) {
    let d = push_f16(out, amax(x) / 127.0);
    out.extend(
        x.iter()
            .map(|v| ((v * inv(d)).round().clamp(-127.0, 127.0) as i8) as u8),
    );
}

/// Q4_K: 8 sub-blocks of 32 with 6-bit scales and mins, `w = d·sc·q − dmin·m`.
fn q4_k(x: &[f32], out: &mut Vec<u8>) {
    let mut scale = [0.0f32; 8];
    let mut min = [0.0f32; 8];
    for (j, s) in x.chunks_exact(32).enumerate() {
        let lo = s.iter().copied().fold(0.0f32, f32::min);
        let hi = s.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        scale[j] = (hi - lo) / 15.0;
        min[j] = -lo;
    }
    let d = push_f16(out, scale.iter().copied().fold(0.0, f32::max) / 63.0);
    let dmin = push_f16(out, min.iter().copied().fold(0.0, f32::max) / 63.0);
    let sc: [u8; 8] = std::array::from_fn(|j| (scale[j] * inv(d)).round().clamp(0.0, 63.0) as u8);
    let mn: [u8; 8] = std::array::from_fn(|j| (min[j] * inv(dmin)).round().clamp(0.0, 63.0) as u8);
    let mut packed = [0u8; 12];
    for j in 0..4 {
        packed[j] = sc[j] | ((sc[j + 4] >> 4) << 6);
        packed[j + 4] = mn[j] | ((mn[j + 4] >> 4) << 6);
        packed[j + 8] = (sc[j + 4] & 0x0F) | ((mn[j + 4] & 0x0F) << 4);
    }
    out.extend_from_slice(&packed);
    let code = |i: usize| {
        let j = i / 32;
        let step = d * sc[j] as f32;
        ((x[i] + dmin * mn[j] as f32) * inv(step))
            .round()
            .clamp(0.0, 15.0) as u8
    };
    for c in 0..4 {
        out.extend((0..32).map(|l| code(64 * c + l) | (code(64 * c + 32 + l) << 4)));
    }
}

/// Q6_K: 16 sub-blocks of 16 with signed 8-bit scales, `w = d·sc·(q − 32)`.
fn q6_k(x: &[f32], out: &mut Vec<u8>) {
    let scale: [f32; 16] = std::array::from_fn(|j| amax(&x[16 * j..16 * j + 16]) / 31.0);
    let d = f16::from_f32(scale.iter().copied().fold(0.0, f32::max) / 127.0).to_f32();
    let sc: [i8; 16] = std::array::from_fn(|j| (scale[j] * inv(d)).round().clamp(0.0, 127.0) as i8);
    let q: [u8; 256] = std::array::from_fn(|i| {
        let step = d * sc[i / 16] as f32;
        ((x[i] * inv(step)).round().clamp(-32.0, 31.0) as i32 + 32) as u8
    });
    let mut ql = [0u8; 128];
    let mut qh = [0u8; 64];
    for h in 0..2 {
        for l in 0..32 {
            let [q1, q2, q3, q4] = [0, 32, 64, 96].map(|o| q[128 * h + o + l]);
            ql[64 * h + l] = (q1 & 0x0F) | ((q3 & 0x0F) << 4);
            ql[64 * h + 32 + l] = (q2 & 0x0F) | ((q4 & 0x0F) << 4);
            qh[32 * h + l] = (q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6);
        }
    }
    out.extend_from_slice(&ql);
    out.extend_from_slice(&qh);
    out.extend(sc.iter().map(|&s| s as u8));
    push_f16(out, d);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gguf::dequantize;

    #[test]
    fn quantized_blocks_dequantize_close_to_the_input() {
        let x: Vec<f32> = (0..512)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) / 40.0)
            .collect();
        for (ty, tol) in [
            (GgmlType::Q4_0, 0.2),
            (GgmlType::Q4_1, 0.15),
            (GgmlType::Q8_0, 0.01),
            (GgmlType::Q4_K, 0.2),
            (GgmlType::Q6_K, 0.05),
        ] {
            let b = quantize(ty, &x).unwrap();
            assert_eq!(
                b.len(),
                512 / ty.block_len() * ty.block_bytes().unwrap(),
                "{ty}"
            );
            let y = dequantize(ty, &b);
            let err = x
                .iter()
                .zip(&y)
                .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
            assert!(err < tol, "{ty}: max error {err}");
        }
    }
}
