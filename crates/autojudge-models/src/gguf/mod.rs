//! GGUF v2/v3 files: reading the header, metadata and tensor directory ([`GgufFile`]), GGML
//! tensor types ([`GgmlType`]), dequantization of their blocks ([`dequantize`]), round-to-nearest
//! quantization ([`quantize`]) and writing ([`GgufWriter`]).

pub(crate) mod dequant;
pub(crate) mod ggml_type;
pub(crate) mod metadata;
pub(crate) mod quantize;
pub(crate) mod reader;
pub(crate) mod writer;

pub use dequant::{dequantize, dequantize_into};
pub use ggml_type::GgmlType;
pub use metadata::MetadataValue;
pub use quantize::quantize;
pub use reader::{GgufFile, TensorInfo};
pub use writer::GgufWriter;
