//! [`HostMatrix`]: an immutable `[rows, cols]` weight matrix in host memory: f32, f16 or the
//! integer blocks of a quantized file.

use half::f16;

use super::isa::{Isa, IsaUnavailable};
use super::quant_matrix::QuantMatrix;

/// Element storage of a [`HostMatrix`].
#[derive(Debug)]
pub enum HostElems {
    /// 32-bit floats.
    F32(Vec<f32>),
    /// 16-bit floats (half the bytes streamed per decode step).
    F16(Vec<f16>),
    /// Integer codes and block scales (the stored GGUF blocks, or rows requantized to 8 bits).
    Quant(QuantMatrix),
}

/// A row-major weight matrix `[rows, cols]` (PyTorch `[out, in]` layout), and the instruction
/// set its products run on.
#[derive(Debug)]
pub struct HostMatrix {
    /// Output features.
    pub rows: usize,
    /// Input features.
    pub cols: usize,
    /// Elements.
    pub elems: HostElems,
    /// A concrete set this CPU has (checked where it is set: the kernels rely on it).
    isa: Isa,
}

impl HostMatrix {
    /// Wraps f32 data, converting to f16 when `f16` is set.
    pub fn new(rows: usize, cols: usize, data: Vec<f32>, f16: bool) -> Self {
        assert_eq!(data.len(), rows * cols, "host matrix size");
        let elems = if f16 {
            HostElems::F16(data.iter().map(|&x| half::f16::from_f32(x)).collect())
        } else {
            HostElems::F32(data)
        };
        HostMatrix {
            rows,
            cols,
            elems,
            isa: Isa::detected(),
        }
    }

    /// Wraps a quantized matrix.
    pub fn quantized(m: QuantMatrix) -> Self {
        HostMatrix {
            rows: m.rows(),
            cols: m.cols(),
            elems: HostElems::Quant(m),
            isa: Isa::detected(),
        }
    }

    /// The same matrix on the kernels of `isa` (`Auto`: the CPU's best set), or the error
    /// naming what this CPU lacks.
    pub fn on_isa(mut self, isa: Isa) -> Result<Self, IsaUnavailable> {
        self.isa = isa.resolve()?;
        Ok(self)
    }

    /// The instruction set the products run on (never `Auto`).
    pub fn isa(&self) -> Isa {
        self.isa
    }

    /// What the matrix runs as: `F32`, `F16`, or the block types of its rows (`Q4_K+Q6_K`).
    pub fn label(&self) -> String {
        match &self.elems {
            HostElems::F32(_) => "F32".into(),
            HostElems::F16(_) => "F16".into(),
            HostElems::Quant(q) => q.label(),
        }
    }

    /// Bytes the weights occupy (what one pass over the matrix streams).
    pub fn bytes(&self) -> usize {
        match &self.elems {
            HostElems::F32(v) => 4 * v.len(),
            HostElems::F16(v) => 2 * v.len(),
            HostElems::Quant(q) => q.bytes(),
        }
    }

    /// Appends row `r` as f32 to `out` (embedding lookup).
    pub fn push_row_f32(&self, r: usize, out: &mut Vec<f32>) {
        let c = self.cols;
        match &self.elems {
            HostElems::F32(v) => out.extend_from_slice(&v[r * c..(r + 1) * c]),
            HostElems::F16(v) => out.extend(v[r * c..(r + 1) * c].iter().map(|h| h.to_f32())),
            HostElems::Quant(q) => q.push_row_f32(r, out),
        }
    }
}
