//! Which decoder layers a model (or a self-speculative draft view of it) runs.

use crate::error::{ModelError, ModelResult};

/// The layers a forward pass runs, in order.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum LayerPlan {
    /// Every layer (the full model).
    All,
    /// Layers `0..n`, then the final norm and LM head (early exit).
    EarlyExit(usize),
    /// Every layer except these (layer skipping).
    Skip(Vec<usize>),
}

impl LayerPlan {
    /// Layer indices to run for a model of `num_layers` layers.
    pub fn layers(&self, num_layers: usize) -> ModelResult<Vec<usize>> {
        let layers: Vec<usize> = match self {
            LayerPlan::All => (0..num_layers).collect(),
            LayerPlan::EarlyExit(n) => {
                if *n > num_layers {
                    return Err(ModelError::InvalidOption {
                        option: "early exit".into(),
                        reason: format!("{n} layers requested, model has {num_layers}"),
                    });
                }
                (0..*n).collect()
            }
            LayerPlan::Skip(skip) => {
                if let Some(bad) = skip.iter().find(|&&l| l >= num_layers) {
                    return Err(ModelError::InvalidOption {
                        option: "skip layers".into(),
                        reason: format!("layer {bad} does not exist (model has {num_layers})"),
                    });
                }
                (0..num_layers).filter(|l| !skip.contains(l)).collect()
            }
        };
        if layers.is_empty() {
            return Err(ModelError::InvalidOption {
                option: "layer plan".into(),
                reason: "runs no layer".into(),
            });
        }
        Ok(layers)
    }

    /// Short label for model names, e.g. `exit12` or `skip3,5`.
    pub fn label(&self) -> String {
        match self {
            LayerPlan::All => "all".into(),
            LayerPlan::EarlyExit(n) => format!("exit{n}"),
            LayerPlan::Skip(s) => format!(
                "skip{}",
                s.iter()
                    .map(|l| l.to_string())
                    .collect::<Vec<_>>()
                    .join(",")
            ),
        }
    }
}

impl std::str::FromStr for LayerPlan {
    type Err = String;
    /// Parses `all`, `exit:N` or `skip:A,B,C`.
    fn from_str(s: &str) -> Result<Self, String> {
        if s == "all" {
            return Ok(LayerPlan::All);
        }
        if let Some(n) = s.strip_prefix("exit:") {
            return n
                .parse()
                .map(LayerPlan::EarlyExit)
                .map_err(|e| format!("bad exit layer `{n}`: {e}"));
        }
        if let Some(list) = s.strip_prefix("skip:") {
            let layers: Result<Vec<usize>, _> = list
                .split(',')
                .filter(|x| !x.is_empty())
                .map(str::parse)
                .collect();
            return layers
                .map(LayerPlan::Skip)
                .map_err(|e| format!("bad skip list `{list}`: {e}"));
        }
        Err(format!(
            "unknown layer plan `{s}` (expected all, exit:N or skip:A,B)"
        ))
    }
}
