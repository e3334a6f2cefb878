//! The Llama-family decoder on burn: weights ([`weights`]), RoPE tables ([`rope`]), the forward
//! pass ([`forward`] on a burn device, [`host_forward`] fused on the host), KV-cache sessions ([`session`]) and the model handle with its
//! self-speculative draft views ([`model`]).

pub mod compute_dtype;
pub mod forward;
pub mod host_forward;
pub mod layer_plan;
pub mod model;
pub mod projection;
pub mod rope;
pub mod session;
pub mod weights;

pub use compute_dtype::ComputeDType;
pub use layer_plan::LayerPlan;
pub use model::Llama;
pub use projection::{Projection, ProjectionKernel};
pub use session::LlamaSession;
pub use weights::LlamaWeights;
