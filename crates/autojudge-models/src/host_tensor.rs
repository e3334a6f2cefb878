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

    /// Applies llama.cpp's Q/K row permutation (HF half-split → GGUF interleaved pairs), the
    /// inverse of [`HostTensor::unpermute_rope_rows`]; used when exporting GGUF (the test
    /// models' writer, feature `testing`).
    #[cfg_attr(not(feature = "testing"), allow(dead_code))]
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
        let order = unpermute_rope_order(rows, n_heads);
        let mut out = vec![0.0f32; self.data.len()];
        for (hf, &gguf) in order.iter().enumerate() {
            let (src, dst) = if to_gguf { (hf, gguf) } else { (gguf, hf) };
            out[dst * cols..(dst + 1) * cols]
                .copy_from_slice(&self.data[src * cols..(src + 1) * cols]);
        }
        HostTensor {
            shape: self.shape.clone(),
            data: out,
        }
    }
}

/// For each row of HF's half-split RoPE layout, the GGUF `llama` row it comes from (rows are
/// grouped by head: GGUF row `h·d + 2j + t` is HF row `h·d + t·d/2 + j`).
pub(crate) fn unpermute_rope_order(rows: usize, n_heads: usize) -> Vec<usize> {
    let d = rows / n_heads;
    let mut order = vec![0; rows];
    for h in 0..n_heads {
        for j in 0..d / 2 {
            for t in 0..2 {
                order[h * d + t * (d / 2) + j] = h * d + 2 * j + t;
            }
        }
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;

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
