//! [`Llama`]: a handle on shared, immutable weights plus the layer plan it runs; implements
//! the core [`TargetModel`] contract. Self-speculative draft views share the same weights.

use std::sync::Arc;

use autojudge_core::{BatchItem, CoreResult, ExtendOutput, ModelInfo, TargetModel};
use burn::tensor::backend::Backend;

use super::rope::RopeTables;
use super::{LayerPlan, LlamaSession, LlamaWeights};
use crate::config::LlamaConfig;
use crate::error::ModelResult;

/// Default number of KV positions a fresh session allocates (it grows by doubling).
pub const DEFAULT_INITIAL_CAPACITY: usize = 512;

pub(crate) struct Shared<B: Backend> {
    pub weights: LlamaWeights<B>,
    pub rope: RopeTables<B>,
    pub device: B::Device,
}

/// A Llama-family model (or a draft view of one). Cloning is cheap: weights are shared.
pub struct Llama<B: Backend> {
    pub(crate) shared: Arc<Shared<B>>,
    pub(crate) layers: Arc<Vec<usize>>,
    plan: LayerPlan,
    pub(crate) info: Arc<ModelInfo>,
    pub(crate) initial_capacity: usize,
}

impl<B: Backend> Clone for Llama<B> {
    fn clone(&self) -> Self {
        Llama {
            shared: self.shared.clone(),
            layers: self.layers.clone(),
            plan: self.plan.clone(),
            info: self.info.clone(),
            initial_capacity: self.initial_capacity,
        }
    }
}

impl<B: Backend> std::fmt::Debug for Llama<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Llama")
            .field("info", &self.info)
            .field("plan", &self.plan)
            .finish()
    }
}

impl<B: Backend> Llama<B> {
    /// Wraps loaded weights. `info.max_context` may be below the config's (to bound memory).
    pub(crate) fn new(weights: LlamaWeights<B>, mut info: ModelInfo, device: B::Device) -> Self {
        info.max_context = info.max_context.min(weights.config.max_context);
        info.hidden_size = weights.config.hidden_size;
        let mut rope_cfg = weights.config.clone();
        rope_cfg.max_context = info.max_context;
        // The host forward (host projections) keeps its tables on the host.
        let on_device = weights.host_vectors.is_none().then_some(&device);
        let rope = RopeTables::new(&rope_cfg, on_device);
        let layers = (0..weights.config.num_layers).collect();
        Llama {
            shared: Arc::new(Shared {
                weights,
                rope,
                device,
            }),
            layers: Arc::new(layers),
            plan: LayerPlan::All,
            info: Arc::new(info),
            initial_capacity: DEFAULT_INITIAL_CAPACITY,
        }
    }

    /// What each projection runs as and the bytes it streams per forward, in forward order:
    /// `(name, label, bytes)`, e.g. `("blk.0.attn_qkv", "Q4_K+Q6_K", 1_916_928)`; the tied
    /// LM head is listed last as `output (tied to token_embd)`.
    pub fn projection_report(&self) -> Vec<(String, String, usize)> {
        self.shared.weights.projection_report()
    }

    /// The projection dtype the weights were loaded in (`Auto` resolved).
    pub fn dtype(&self) -> super::ComputeDType {
        self.shared.weights.dtype
    }

    /// The instruction set the host kernels run on (`--isa` resolved), or `None` when the
    /// projections run on a device.
    pub fn host_isa(&self) -> Option<crate::cpu::Isa> {
        self.shared.weights.host_isa
    }

    /// A self-speculative draft view running `plan`'s layers over the same weights (no copy).
    pub fn draft_view(&self, plan: LayerPlan) -> ModelResult<Self> {
        let layers = plan.layers(self.config().num_layers)?;
        let mut info = (*self.info).clone();
        let base = info
            .name
            .split('[')
            .next()
            .unwrap_or(&info.name)
            .to_string();
        info.name = if plan == LayerPlan::All {
            base
        } else {
            format!("{base}[{}]", plan.label())
        };
        Ok(Llama {
            shared: self.shared.clone(),
            layers: Arc::new(layers),
            plan,
            info: Arc::new(info),
            initial_capacity: self.initial_capacity,
        })
    }

    /// The layer plan this handle runs.
    pub fn plan(&self) -> &LayerPlan {
        &self.plan
    }

    /// Hyper-parameters.
    pub fn config(&self) -> &LlamaConfig {
        &self.shared.weights.config
    }

    /// Whether sessions run the fused host forward (CPU, host projection matrices) rather
    /// than the burn forward (GPU backends, `ProjectionKernel::Burn`).
    pub fn uses_host_forward(&self) -> bool {
        self.shared.weights.host_vectors.is_some()
    }

    /// The device the weights live on.
    pub fn device(&self) -> &B::Device {
        &self.shared.device
    }

    /// Sets the KV capacity fresh sessions start with.
    pub fn with_initial_capacity(mut self, positions: usize) -> Self {
        self.initial_capacity = positions.max(1);
        self
    }

    /// Whether two handles share the same weights (e.g. a model and its draft view).
    pub fn shares_weights_with(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }
}

impl<B: Backend> TargetModel for Llama<B> {
    type Session = LlamaSession<B>;

    fn info(&self) -> &ModelInfo {
        &self.info
    }

    fn new_session(&self) -> CoreResult<LlamaSession<B>> {
        Ok(LlamaSession::new(self.clone()))
    }

    /// One forward for all items: their rows share every projection (weights streamed once per
    /// layer); on the host forward each item's outputs are bit for bit those of its own
    /// `extend`, on a burn backend equal within that backend's rounding.
    fn extend_batch(
        &self,
        items: &mut [BatchItem<'_, LlamaSession<B>>],
    ) -> Vec<CoreResult<ExtendOutput>> {
        super::session::extend_batch(items)
    }

    /// f32 keys and values of every planned layer, at `positions` rounded up to the cache's
    /// doubling growth (the allocation a session of that length holds).
    fn session_bytes(&self, positions: usize) -> Option<u64> {
        let c = self.config();
        let mut cap = self.initial_capacity.min(self.info.max_context);
        while cap < positions {
            cap = super::session::grown_capacity(cap, cap + 1, self.info.max_context);
        }
        let per_position = 2 * self.layers.len() * c.num_kv_heads * c.head_dim * 4;
        Some((cap * per_position) as u64)
    }
}
