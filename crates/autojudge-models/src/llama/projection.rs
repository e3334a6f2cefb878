//! [`Projection`]: a weight matrix applied as `y = x · Wᵀ`, either with burn's matmul on the
//! backend's device or with the host kernel of [`crate::cpu`] (for the CPU backend, where it is
//! 1.5–4× faster at the small k of decoding and verification).

use std::sync::Arc;

use burn::tensor::{backend::Backend, DType, Int, Tensor, TensorData};

use super::ComputeDType;
use crate::cpu::{matmul_xwt, HostMatrix, Isa, IsaUnavailable};
use crate::host_tensor::HostTensor;

/// Which kernel runs the projections.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ProjectionKernel {
    /// Host kernel on the CPU backend (burn-flex), burn matmul elsewhere.
    #[default]
    Auto,
    /// burn's matmul on every backend.
    Burn,
    /// The host kernel (only meaningful when the backend's memory is host memory).
    Host,
}

impl ProjectionKernel {
    /// Resolves `Auto` for backend `B`.
    pub fn resolve<B: Backend>(self) -> ProjectionKernel {
        match self {
            ProjectionKernel::Auto
                if std::any::TypeId::of::<B>() == std::any::TypeId::of::<burn::backend::Flex>() =>
            {
                ProjectionKernel::Host
            }
            ProjectionKernel::Auto => ProjectionKernel::Burn,
            other => other,
        }
    }
}

impl std::str::FromStr for ProjectionKernel {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(ProjectionKernel::Auto),
            "burn" => Ok(ProjectionKernel::Burn),
            "host" => Ok(ProjectionKernel::Host),
            other => Err(format!("unknown kernel `{other}` (auto, burn, host)")),
        }
    }
}

/// A `[out, in]` weight matrix in the compute dtype.
#[derive(Clone, Debug)]
pub enum Projection<B: Backend> {
    /// On the backend's device; applied as `(W · xᵀ)ᵀ`.
    Device(Tensor<B, 2>),
    /// In host memory; applied by the host kernel.
    Host(Arc<HostMatrix>),
}

impl<B: Backend> Projection<B> {
    /// Uploads `t` (`[out, in]`) for `kernel` (already resolved) in `dtype`; host matrices run
    /// on `isa` (an error where this CPU lacks it).
    pub fn new(
        t: HostTensor,
        kernel: ProjectionKernel,
        dtype: ComputeDType,
        isa: Isa,
        device: &B::Device,
    ) -> Result<Self, IsaUnavailable> {
        Ok(match kernel {
            ProjectionKernel::Host => {
                let (rows, cols) = (t.shape[0], t.shape[1]);
                let m = HostMatrix::new(rows, cols, t.data, dtype == ComputeDType::F16);
                Projection::Host(Arc::new(m.on_isa(isa)?))
            }
            _ => {
                let dt = dtype.dtype();
                let data = TensorData::new(t.data, t.shape).convert_dtype(dt);
                Projection::Device(Tensor::from_data(data, (device, dt)))
            }
        })
    }

    /// `x [k, in]` → `[k, out]` (f32 in, f32 out).
    pub fn apply(&self, x: Tensor<B, 2>, dtype: ComputeDType) -> Tensor<B, 2> {
        match self {
            Projection::Device(w) => match dtype {
                ComputeDType::F16 => w
                    .clone()
                    .matmul(x.cast(DType::F16).transpose())
                    .transpose()
                    .cast(DType::F32),
                ComputeDType::F32 | ComputeDType::Quant | ComputeDType::Auto => {
                    w.clone().matmul(x.transpose()).transpose()
                }
            },
            Projection::Host(m) => {
                let device = x.device();
                let [k, _] = x.dims();
                let xs = x
                    .into_data()
                    .convert::<f32>()
                    .into_vec::<f32>()
                    .expect("f32 activations");
                let mut y = vec![0.0f32; k * m.rows];
                matmul_xwt(&xs, k, m, &mut y);
                Tensor::from_data(TensorData::new(y, [k, m.rows]), &device)
            }
        }
    }

    /// Rows `ids` of the matrix as f32 `[len, in]` (embedding lookup).
    pub fn rows(&self, ids: &[u32], device: &B::Device) -> Tensor<B, 2> {
        match self {
            Projection::Device(w) => {
                let idx: Vec<i32> = ids.iter().map(|&t| t as i32).collect();
                let idx = Tensor::<B, 1, Int>::from_data(TensorData::new(idx, [ids.len()]), device);
                w.clone().select(0, idx).cast(DType::F32)
            }
            Projection::Host(m) => {
                let c = m.cols;
                let mut out = Vec::with_capacity(ids.len() * c);
                for &id in ids {
                    m.push_row_f32(id as usize, &mut out);
                }
                Tensor::from_data(TensorData::new(out, [ids.len(), c]), device)
            }
        }
    }
}
