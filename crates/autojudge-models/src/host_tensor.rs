//! [`HostTensor`]: a dequantized f32 tensor in host memory, the common currency of loaders.

/// A row-major f32 tensor on the host.
#[derive(Clone, Debug, PartialEq)]
pub struct HostTensor {
    /// Shape, outermost first.
    pub shape: Vec<usize>,
    /// Elements, row-major.
    pub data: Vec<f32>,
}

impl HostTensor {
    /// Builds a tensor; the caller guarantees `data.len()` is the shape's product.
    pub fn new(shape: Vec<usize>, data: Vec<f32>) -> Self {
        debug_assert_eq!(shape.iter().product::<usize>(), data.len());
        HostTensor { shape, data }
    }

    /// Transposes a 2-D tensor (`[r, c]` → `[c, r]`), cache-blocked.
    pub fn transposed(&self) -> HostTensor {
        assert_eq!(self.shape.len(), 2, "transpose needs a matrix");
        let (r, c) = (self.shape[0], self.shape[1]);
        let mut out = vec![0.0f32; r * c];
        const B: usize = 64;
        for i0 in (0..r).step_by(B) {
            for j0 in (0..c).step_by(B) {
                for i in i0..(i0 + B).min(r) {
                    for j in j0..(j0 + B).min(c) {
                        out[j * r + i] = self.data[i * c + j];
                    }
                }
            }
        }
        HostTensor {
            shape: vec![c, r],
            data: out,
        }
    }

    /// Applies llama.cpp's Q/K row permutation (HF half-split → GGUF interleaved pairs), the
    /// inverse of [`HostTensor::unpermute_rope_rows`]; used when exporting GGUF.
    pub fn permute_rope_rows(&self, n_heads: usize) -> HostTensor {
        self.remap_rope_rows(n_heads, true)
    }

    /// Undoes llama.cpp's Q/K row permutation for GGUF `llama` checkpoints (interleaved RoPE
    /// pairs → HF's half-split layout), so one RoPE implementation serves every source.
    /// Rows are grouped by head: GGUF row `h·d + 2j + t` is HF row `h·d + t·d/2 + j`.
    pub fn unpermute_rope_rows(&self, n_heads: usize) -> HostTensor {
        self.remap_rope_rows(n_heads, false)
    }

    fn remap_rope_rows(&self, n_heads: usize, to_gguf: bool) -> HostTensor {
        let rows = self.shape[0];
        let cols: usize = self.shape[1..].iter().product();
        let d = rows / n_heads;
        let mut out = vec![0.0f32; self.data.len()];
        for h in 0..n_heads {
            for j in 0..d / 2 {
                for t in 0..2 {
                    let (mut src, mut dst) = (h * d + 2 * j + t, h * d + t * (d / 2) + j);
                    if to_gguf {
                        std::mem::swap(&mut src, &mut dst);
                    }
                    out[dst * cols..(dst + 1) * cols]
                        .copy_from_slice(&self.data[src * cols..(src + 1) * cols]);
                }
            }
        }
        HostTensor {
            shape: self.shape.clone(),
            data: out,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transpose_roundtrips() {
        let t = HostTensor::new(vec![3, 70], (0..210).map(|x| x as f32).collect());
        let tt = t.transposed();
        assert_eq!(tt.shape, vec![70, 3]);
        assert_eq!(tt.data[5 * 3 + 2], t.data[2 * 70 + 5]);
        assert_eq!(tt.transposed(), t);
    }

    #[test]
    fn unpermute_inverts_llama_cpp_permute() {
        // llama.cpp permute: w.reshape(h, 2, d/2, c).swapaxes(1, 2).reshape(h*d, c)
        let (h, d, c) = (2, 4, 3);
        let hf: Vec<f32> = (0..h * d * c).map(|x| x as f32).collect();
        let mut gguf = vec![0.0; hf.len()];
        for hh in 0..h {
            for t in 0..2 {
                for j in 0..d / 2 {
                    let src = hh * d + t * (d / 2) + j;
                    let dst = hh * d + 2 * j + t;
                    gguf[dst * c..(dst + 1) * c].copy_from_slice(&hf[src * c..(src + 1) * c]);
                }
            }
        }
        let back = HostTensor::new(vec![h * d, c], gguf.clone()).unpermute_rope_rows(h);
        assert_eq!(back.data, hf);
        assert_eq!(
            HostTensor::new(vec![h * d, c], hf)
                .permute_rope_rows(h)
                .data,
            gguf
        );
    }
}
