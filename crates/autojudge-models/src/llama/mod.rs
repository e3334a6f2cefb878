//! The Llama-family decoder on burn: weights ([`weights`]), RoPE tables ([`rope`]), the forward
//! pass ([`forward`] on a burn device, [`host_forward`] fused on the host), KV-cache sessions ([`session`]) and the model handle with its
//! self-speculative draft views ([`model`]).

pub(crate) mod compute_dtype;
pub(crate) mod forward;
pub(crate) mod host_forward;
pub(crate) mod layer_plan;
pub(crate) mod model;
pub(crate) mod projection;
pub(crate) mod rope;
pub(crate) mod session;
pub(crate) mod split_outputs;
pub(crate) mod weights;

pub use compute_dtype::ComputeDType;
pub use layer_plan::LayerPlan;
pub use model::Llama;
pub use projection::ProjectionKernel;
pub use session::LlamaSession;
pub use weights::LlamaWeights;
