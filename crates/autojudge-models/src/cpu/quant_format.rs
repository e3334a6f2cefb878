//! [`QuantFormat`]: how a quantized weight matrix is laid out for the integer kernel.
//!
//! Every supported GGUF block type is repacked, without changing a single stored value, into
//! chunks of 64 weights' codes, so two kernels (flat and k-quant scales) serve them all:
//!
//! ```text
//! codes  = [32 bytes of nibbles][planes × 8-byte bit masks]   (codes below 8 bits)
//!        = [64 bytes, one code each]                          (8-bit codes: planes = 4)
//! flat   row = per chunk: [codes][scale bytes]
//! k-quant row = per 256 weights: [d: f16][dmin: f16 or 0][16 scale bytes][4 × codes]
//! ```
//!
//! Below 8 bits, byte `i` of the nibbles holds the low 4 bits of the codes of weights `i` (low
//! nibble) and `32 + i` (high nibble); bit `i` of plane `p` is bit `4 + p` of weight `i`'s
//! code. 8-bit codes (Q8_0, requantized rows) take the same 64 bytes as plain bytes, which every
//! kernel loads without unpacking. Codes are unsigned (0 ..= 2^(4+planes) − 1); what a code
//! means comes from the [`ScaleScheme`].

use crate::gguf::GgmlType;

/// Weights per chunk.
pub const CHUNK: usize = 64;
/// Weights per super-block of the k-quant schemes.
pub const SUPER: usize = 256;
/// Bytes of a 256-weight record's `d` and `dmin` (f16 each, as stored in the file).
pub const SUPER_HEADER_SCALES: usize = 4;
/// The plane count of 8-bit codes, which are stored as plain bytes instead of planes.
pub const BYTE_PLANES: usize = 4;

/// How a chunk's scales are stored and how a code `q` becomes a weight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScaleScheme {
    /// Per 32 weights an f16 scale `d` and an f16 offset `m`: `w = q·d + m` (Q4_1, Q5_1).
    /// Scale bytes: `[d₀, d₁, m₀, m₁]` as f16.
    FlatOffset,
    /// Per 32 weights an f16 scale `d` and the power-of-two zero point `z`: `w = (q − z)·d`
    /// (Q4_0 `z = 8`, Q5_0 `z = 16`, Q8_0 and requantized rows `z = 128`). Scale bytes:
    /// `[d₀, d₁]` as f16.
    FlatZero(u16),
    /// Per 256 weights f16 `d` and `dmin`, per 32 weights 6-bit `sc` and `mn`:
    /// `w = d·sc·q − dmin·mn` (Q4_K, Q5_K). Scale bytes: `[sc₀ … sc₇, mn₀ … mn₇]`.
    SuperOffset,
    /// Per 256 weights an f16 `d`, per 16 weights a signed 8-bit `sc`: `w = d·sc·(q − 32)`
    /// (Q6_K). Scale bytes: `[sc₀ … sc₁₅]` as i8.
    SuperZero,
}

impl ScaleScheme {
    /// Scale bytes per chunk (flat schemes) or per 256 weights (k-quant schemes, after `d`
    /// and `dmin`).
    pub fn scale_bytes(self) -> usize {
        match self {
            ScaleScheme::FlatOffset => 8,
            ScaleScheme::FlatZero(_) => 4,
            ScaleScheme::SuperOffset | ScaleScheme::SuperZero => 16,
        }
    }

    /// Whether a row carries per-256 scales (`d`, `dmin`) beside its chunks.
    pub fn has_super_scales(self) -> bool {
        matches!(self, ScaleScheme::SuperOffset | ScaleScheme::SuperZero)
    }

    /// Weights a row's length must be a multiple of.
    pub fn block_len(self) -> usize {
        if self.has_super_scales() {
            SUPER
        } else {
            32
        }
    }
}

/// The layout of one quantized matrix: the GGUF type it came from, the code width and the
/// scale scheme.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuantFormat {
    /// The stored type the codes and scales were taken from (F32/F16/BF16 for requantized
    /// rows).
    pub source: GgmlType,
    /// Bit planes above the nibble: code width is `4 + planes` bits (0, 1, 2 or 4).
    pub planes: usize,
    /// How codes become weights.
    pub scheme: ScaleScheme,
}

impl QuantFormat {
    /// The layout that keeps `t`'s stored values exactly, or `None` when the kernel has no
    /// layout for it (float types are requantized with [`QuantFormat::Q8`] instead).
    pub fn for_stored(t: GgmlType) -> Option<QuantFormat> {
        let (planes, scheme) = match t {
            GgmlType::Q4_0 => (0, ScaleScheme::FlatZero(8)),
            GgmlType::Q4_1 => (0, ScaleScheme::FlatOffset),
            GgmlType::Q5_0 => (1, ScaleScheme::FlatZero(16)),
            GgmlType::Q5_1 => (1, ScaleScheme::FlatOffset),
            GgmlType::Q8_0 => (4, ScaleScheme::FlatZero(128)),
            GgmlType::Q4_K => (0, ScaleScheme::SuperOffset),
            GgmlType::Q5_K => (1, ScaleScheme::SuperOffset),
            GgmlType::Q6_K => (2, ScaleScheme::SuperZero),
            _ => return None,
        };
        Some(QuantFormat {
            source: t,
            planes,
            scheme,
        })
    }

    /// Symmetric 8-bit codes with an f16 scale per 32 weights (Q8_0's values), for rows
    /// stored as floats.
    pub fn q8(source: GgmlType) -> QuantFormat {
        QuantFormat {
            source,
            planes: 4,
            scheme: ScaleScheme::FlatZero(128),
        }
    }

    /// Bytes of one chunk's codes.
    pub fn codes_bytes(self) -> usize {
        32 + 8 * self.planes
    }

    /// Bytes of one chunk record (flat schemes: codes then scales).
    pub fn chunk_bytes(self) -> usize {
        self.codes_bytes() + self.scheme.scale_bytes()
    }

    /// Bytes of one 256-weight record (k-quant schemes: `d`, `dmin`, scales, 4 chunks' codes):
    /// Q4_K 148 (the file's 144), Q5_K 180 (176), Q6_K 212 (210).
    pub fn super_bytes(self) -> usize {
        SUPER_HEADER_SCALES + self.scheme.scale_bytes() + 4 * self.codes_bytes()
    }

    /// A short name for listings: `Q4_K`, or `Q8_0←F16` for requantized rows.
    pub fn label(self) -> String {
        if QuantFormat::for_stored(self.source) == Some(self) {
            self.source.to_string()
        } else {
            format!("Q8_0←{}", self.source)
        }
    }
}

/// What a stored `[rows, cols]` weight of type `t` runs as under `--dtype quant`: its own blocks
/// (`Q4_K`), 8-bit requantized rows (`Q8_0←F16`), or `F32` when its width is not whole blocks.
/// (A 1-D tensor, a norm or bias, always stays f32.)
pub fn quantized_kernel_label(t: GgmlType, shape: &[usize]) -> String {
    let [_, cols] = shape else {
        return "F32".into();
    };
    let f = QuantFormat::for_stored(t).unwrap_or(QuantFormat::q8(t));
    if cols.is_multiple_of(f.scheme.block_len()) {
        f.label()
    } else {
        "F32".into()
    }
}
