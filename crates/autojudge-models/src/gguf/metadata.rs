//! GGUF metadata values.

/// One GGUF metadata value.
#[derive(Clone, Debug, PartialEq)]
pub enum MetadataValue {
    /// Unsigned integer (u8/u16/u32/u64).
    UInt(u64),
    /// Signed integer (i8/i16/i32/i64).
    Int(i64),
    /// Float (f32/f64).
    Float(f64),
    /// Boolean.
    Bool(bool),
    /// UTF-8 string.
    String(String),
    /// Array of values.
    Array(Vec<MetadataValue>),
}

impl MetadataValue {
    /// As an unsigned integer, if it is a non-negative integer.
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            MetadataValue::UInt(v) => Some(v),
            MetadataValue::Int(v) if v >= 0 => Some(v as u64),
            _ => None,
        }
    }

    /// As a float, if numeric.
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            MetadataValue::Float(v) => Some(v),
            MetadataValue::UInt(v) => Some(v as f64),
            MetadataValue::Int(v) => Some(v as f64),
            _ => None,
        }
    }

    /// As a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            MetadataValue::String(s) => Some(s),
            _ => None,
        }
    }

    /// As a bool.
    pub fn as_bool(&self) -> Option<bool> {
        match *self {
            MetadataValue::Bool(b) => Some(b),
            _ => None,
        }
    }

    /// As an array.
    pub fn as_array(&self) -> Option<&[MetadataValue]> {
        match self {
            MetadataValue::Array(v) => Some(v),
            _ => None,
        }
    }
}
