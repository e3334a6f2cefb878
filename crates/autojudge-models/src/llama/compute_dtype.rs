//! The dtype the projection weights are stored and multiplied in.

use burn::tensor::DType;

/// Storage/matmul dtype of the linear layers. Norms, RoPE, attention and softmax always run
/// in f32; with `F16` activations are cast around each projection (half the weight bytes per
/// decode step, which is what bounds CPU decoding).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum ComputeDType {
    /// 32-bit floats.
    #[default]
    F32,
    /// 16-bit IEEE floats.
    F16,
}

impl ComputeDType {
    /// The burn dtype.
    pub fn dtype(self) -> DType {
        match self {
            ComputeDType::F32 => DType::F32,
            ComputeDType::F16 => DType::F16,
        }
    }
}

impl std::str::FromStr for ComputeDType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "f32" => Ok(ComputeDType::F32),
            "f16" => Ok(ComputeDType::F16),
            other => Err(format!("unknown dtype `{other}` (expected f32 or f16)")),
        }
    }
}
