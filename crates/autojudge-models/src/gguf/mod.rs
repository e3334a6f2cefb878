//! GGUF v2/v3 reading: header, metadata and tensor directory ([`reader`]), GGML tensor types
//! ([`ggml_type`]) and dequantization of their blocks ([`dequant`]).

pub mod dequant;
pub mod ggml_type;
pub mod metadata;
pub mod reader;
pub mod writer;

pub use ggml_type::GgmlType;
pub use metadata::MetadataValue;
pub use reader::{GgufFile, TensorInfo};
pub use writer::GgufWriter;
