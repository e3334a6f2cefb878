//! GGML tensor element types: ids, block sizes and byte sizes.

/// A GGML tensor type as stored in GGUF tensor infos.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[allow(non_camel_case_types)]
pub enum GgmlType {
    /// 32-bit float.
    F32,
    /// 16-bit IEEE float.
    F16,
    /// 16-bit brain float.
    BF16,
    /// 4-bit, block 32, scale.
    Q4_0,
    /// 4-bit, block 32, scale and min.
    Q4_1,
    /// 5-bit, block 32, scale.
    Q5_0,
    /// 5-bit, block 32, scale and min.
    Q5_1,
    /// 8-bit, block 32, scale.
    Q8_0,
    /// 8-bit, block 32, scale and sum.
    Q8_1,
    /// 2-bit k-quant.
    Q2_K,
    /// 3-bit k-quant.
    Q3_K,
    /// 4-bit k-quant, super-block 256.
    Q4_K,
    /// 5-bit k-quant, super-block 256.
    Q5_K,
    /// 6-bit k-quant, super-block 256.
    Q6_K,
    /// 8-bit k-quant (intermediate type).
    Q8_K,
    /// Other GGML types (i-quants, integer tensors...) known by id but not decodable here.
    Other(u32),
}

/// Type ids GGML has defined (0..=39); ids beyond are unknown.
const MAX_KNOWN_ID: u32 = 39;

impl GgmlType {
    /// Maps a raw type id; `None` for ids GGML never defined (or removed: 4, 5).
    pub fn from_id(id: u32) -> Option<Self> {
        Some(match id {
            0 => Self::F32,
            1 => Self::F16,
            2 => Self::Q4_0,
            3 => Self::Q4_1,
            6 => Self::Q5_0,
            7 => Self::Q5_1,
            8 => Self::Q8_0,
            9 => Self::Q8_1,
            10 => Self::Q2_K,
            11 => Self::Q3_K,
            12 => Self::Q4_K,
            13 => Self::Q5_K,
            14 => Self::Q6_K,
            15 => Self::Q8_K,
            30 => Self::BF16,
            4 | 5 => return None,
            id if id <= MAX_KNOWN_ID => Self::Other(id),
            _ => return None,
        })
    }

    /// Elements per block.
    pub fn block_len(self) -> usize {
        match self {
            Self::F32 | Self::F16 | Self::BF16 => 1,
            Self::Q4_0 | Self::Q4_1 | Self::Q5_0 | Self::Q5_1 | Self::Q8_0 | Self::Q8_1 => 32,
            Self::Q2_K | Self::Q3_K | Self::Q4_K | Self::Q5_K | Self::Q6_K | Self::Q8_K => 256,
            Self::Other(_) => 0,
        }
    }

    /// Bytes per block; `None` for types whose layout this crate does not know.
    pub fn block_bytes(self) -> Option<usize> {
        Some(match self {
            Self::F32 => 4,
            Self::F16 | Self::BF16 => 2,
            Self::Q4_0 => 18,
            Self::Q4_1 => 20,
            Self::Q5_0 => 22,
            Self::Q5_1 => 24,
            Self::Q8_0 => 34,
            Self::Q8_1 => 36,
            Self::Q2_K => 84,
            Self::Q3_K => 110,
            Self::Q4_K => 144,
            Self::Q5_K => 176,
            Self::Q6_K => 210,
            Self::Q8_K => 292,
            Self::Other(_) => return None,
        })
    }

    /// Whether [`dequantize`](crate::gguf::dequantize) can decode this type.
    pub fn is_supported(self) -> bool {
        Self::SUPPORTED.contains(&self)
    }

    /// Types that can be dequantized.
    pub const SUPPORTED: [GgmlType; 11] = [
        Self::F32,
        Self::F16,
        Self::BF16,
        Self::Q4_0,
        Self::Q4_1,
        Self::Q5_0,
        Self::Q5_1,
        Self::Q8_0,
        Self::Q4_K,
        Self::Q5_K,
        Self::Q6_K,
    ];

    /// Comma-separated names of the supported types (for error messages).
    pub fn supported_names() -> String {
        Self::SUPPORTED
            .iter()
            .map(|t| t.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl std::fmt::Display for GgmlType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Other(id) => write!(f, "ggml type {id}"),
            other => write!(f, "{other:?}"),
        }
    }
}
